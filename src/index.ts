// Entry of the action bundle, for the main step and the post step. Both first take the token and the runner's secrets
// out of every environment another process can read (see runner-secrets.ts): the post step runs no subscriber code,
// but a process a subscriber left behind could still read it. Either exits at once so no idle HTTP keep-alive socket
// holds the job open.
import { run } from './main.js'
import { isPostPhase, runPost } from './post.js'
import { takeRunnerSecrets } from './github/runner-secrets.js'

// The phase is read from the state first (STATE_* variables are not taken).
const post = isPostPhase()
const secrets = takeRunnerSecrets()
void (post ? runPost() : run(secrets)).finally(() => process.exit())
