// Entry of the action bundle: run, then exit at once so no idle HTTP keep-alive socket holds the job open.
import { run } from './main.js'

run().finally(() => process.exit())
