// Entry of the action bundle: takes the token and the runner's secrets out of every environment a step can read
// (see runner-secrets.ts), runs, then exits at once so no idle HTTP keep-alive socket holds the job open.
import { run } from './main.js'
import { takeRunnerSecrets } from './github/runner-secrets.js'

run(takeRunnerSecrets()).finally(() => process.exit())
