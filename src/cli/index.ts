#!/usr/bin/env node
// Entry of the `tako` CLI bundle: only runs the CLI and exits with its code.
import { runCli } from './main.js'

void runCli(process.argv.slice(2)).then((code) => {
  process.exitCode = code
})
