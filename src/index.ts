// Entry of the action bundle, for the main step and the post step. The main step first takes the token and the
// runner's secrets out of every environment a step can read (see runner-secrets.ts); the post step runs no
// subscriber code, so it keeps its environment. Either exits at once so no idle HTTP keep-alive socket holds the job open.
import { run } from './main.js'
import { isPostPhase, runPost } from './post.js'
import { takeRunnerSecrets } from './github/runner-secrets.js'

void (isPostPhase() ? runPost() : run(takeRunnerSecrets())).finally(() => process.exit())
