// Entry of the action bundle, for the main step and the post step: run, then exit at once so no idle HTTP
// keep-alive socket holds the job open.
import { run } from './main.js'
import { isPostPhase, runPost } from './post.js'

void (isPostPhase() ? runPost() : run()).finally(() => process.exit())
