// The shell floor's work (see FLOOR in bench.mjs) started by a bare Node script: no engine, no tako.yml parsed, one
// execFile per process. What any Node program pays on this machine for the same processes, so that a target below it
// reads as out of reach for a Node CLI rather than as a cost of tako's.
//
//   node scripts/bench-node-floor.mjs REPOS WS JOBS CONCURRENCY
import { execFile } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import path from 'node:path'

const [repos, ws, jobsFile, concurrency] = process.argv.slice(2)
const lanes = Number(concurrency)

function run(cmd, args, cwd) {
  return new Promise((resolve, reject) =>
    execFile(cmd, args, { cwd }, (error) => (error ? reject(new Error(`${cmd} ${args.join(' ')}: ${error.message}`)) : resolve()))
  )
}

/** fn over items, `lanes` at a time, as xargs -P does. */
async function pool(items, fn) {
  let next = 0
  const lane = async () => {
    while (next < items.length) await fn(items[next++], next)
  }
  await Promise.all(Array.from({ length: lanes }, lane))
}

mkdirSync(ws, { recursive: true })
await pool(readdirSync(repos), (repo) => run('git', ['-C', path.join(repos, repo), 'cat-file', '-p', 'HEAD:tako.yml']))
const jobs = readFileSync(jobsFile, 'utf8').trimEnd().split('\n')
await pool(jobs, async (line, job) => {
  for (const repo of line.split(' ')) {
    const dst = path.join(ws, `${job}-${repo}`)
    await run('git', ['clone', '-q', path.join(repos, repo), dst])
    await run('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', 'echo ok > out.txt'], dst)
  }
})
rmSync(ws, { recursive: true, force: true })
