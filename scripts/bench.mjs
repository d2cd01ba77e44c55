// npm run bench: wall time and peak RSS of a real tako fan-out against the floor a shell reaches for the same
// work (issue #3: 200 subscribers, target within 1.2x of the floor and under 200 MB; issue #5: 500 children).
// Informational only: it always exits 0 and is not part of the test suite.
//
//   node scripts/bench.mjs [--dir DIR] [--update-baseline]
//
// --dir puts the repositories and workspaces under DIR (default: the system temp folder). Both sides do the
// same file work, but on a busy ext4 disk its cost drifts from run to run (inodes freed by one run slow the
// next run's allocations); a tmpfs such as /dev/shm leaves the difference that is the tool's own.
import { spawn } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const project = path.resolve(here, '..')
const cli = path.join(project, 'dist/cli/index.js')
const baselineFile = path.join(here, 'bench-baseline.json')
const gnuTime = '/usr/bin/time'
const RUNS = 3
const CONCURRENCY = 4
const TARGET_RATIO = 1.2
const TARGET_RSS_MB = 200
const CASES = [
  { name: 'fan-out 200', children: 200 },
  { name: 'fan-out 500', children: 500 }
]

const SUBSCRIBER = `version: 1
subscriptions:
  - artifact: acme/pub
    events: [bench_event]
    workflow: w
workflows:
  w:
    steps:
      - run: echo ok > out.txt
`
const PUBLISHER = `version: 1
events:
  produces:
    - { type: bench_event }
workflows:
  release:
    steps:
      - id: fan
        uses: tako/fan-out@v1
        with:
          event_type: bench_event
`
// Per repository, what tako does for a child: read its tako.yml from git, clone it, run the step in the clone.
const FLOOR = `set -eo pipefail
ls "$REPOS" | xargs -P ${CONCURRENCY} -I{} sh -ec '
  git -C "$1/$2" cat-file -p HEAD:tako.yml >/dev/null
  git clone -q "$1/$2" "$3/$2"
  cd "$3/$2"
  bash --noprofile --norc -eo pipefail -c "echo ok > out.txt"
' _ "$REPOS" {} "$WS"
rm -rf "$WS"
`

const dirArg = process.argv.indexOf('--dir')
const benchRoot = dirArg >= 0 ? path.resolve(process.argv[dirArg + 1] ?? '') : os.tmpdir()
const tmp = mkdtempSync(path.join(benchRoot, 'tako-bench-'))
const cleanup = () => rmSync(tmp, { recursive: true, force: true })
for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => { cleanup(); process.exit(130) })

function run(cmd, args, { cwd, env, log } = {}) {
  return new Promise((resolve, reject) => {
    const fd = log ? openSync(log, 'w') : 'ignore'
    const started = process.hrtime.bigint()
    const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', fd, fd] })
    child.on('error', reject)
    child.on('close', (code) => {
      if (typeof fd === 'number') closeSync(fd)
      resolve({ code, ms: Number(process.hrtime.bigint() - started) / 1e6 })
    })
  })
}

async function git(cwd, ...args) {
  const res = await run('git', ['-c', 'user.name=bench', '-c', 'user.email=bench@example.invalid', ...args], { cwd })
  if (res.code !== 0) throw new Error(`git ${args.join(' ')} failed in ${cwd}`)
}

/** A publisher repo and n identical subscriber repos laid out as <dir>/repos/acme/sub-NNN. */
async function layout(dir, n) {
  const template = path.join(dir, 'template')
  mkdirSync(template, { recursive: true })
  writeFileSync(path.join(template, 'tako.yml'), SUBSCRIBER)
  await git(template, 'init', '-q', '-b', 'main')
  await git(template, 'add', '-A')
  await git(template, 'commit', '-qm', 'subscriber')
  const repos = path.join(dir, 'repos')
  for (let i = 1; i <= n; i++) cpSync(template, path.join(repos, 'acme', `sub-${String(i).padStart(3, '0')}`), { recursive: true })
  const pub = path.join(dir, 'pub')
  mkdirSync(pub)
  writeFileSync(path.join(pub, 'tako.yml'), PUBLISHER)
  await git(pub, 'init', '-q', '-b', 'main')
  await git(pub, 'add', '-A')
  await git(pub, 'commit', '-qm', 'publisher')
  return { repos, pub }
}

async function floorRun(dir, repos) {
  const ws = path.join(dir, 'floor-ws')
  const log = path.join(dir, 'floor.log')
  const res = await run('bash', ['--noprofile', '--norc', '-c', FLOOR], { env: { REPOS: path.join(repos, 'acme'), WS: ws }, log })
  if (res.code !== 0) throw new Error(`floor failed (exit ${res.code}):\n${tail(log)}`)
  return res.ms
}

async function takoRun(dir, repos, pub, n) {
  const ws = path.join(dir, 'tako-ws')
  const report = path.join(dir, 'report.json')
  const log = path.join(dir, 'tako.log')
  const rssFile = path.join(dir, 'rss.txt')
  const args = [cli, 'exec', 'release', '--root', pub, '--source', 'acme/pub', '--repos', repos, '--workspace', ws, '--report', report, '--max-concurrency', String(CONCURRENCY)]
  const useTime = existsSync(gnuTime)
  const res = useTime
    ? await run(gnuTime, ['-f', '%M', '-o', rssFile, process.execPath, ...args], { log })
    : await run(process.execPath, ['--require', path.join(here, 'bench-rss.cjs'), ...args], { log })
  if (res.code !== 0) throw new Error(`tako failed (exit ${res.code}):\n${tail(log)}`)
  const children = JSON.parse(readFileSync(report, 'utf8')).children
  const ok = children.filter((c) => c.status === 'success').length
  if (children.length !== n || ok !== n) throw new Error(`tako ran ${children.length} children, ${ok} succeeded; expected ${n}`)
  const rssKb = useTime
    ? Number(readFileSync(rssFile, 'utf8').trim().split('\n').pop())
    : Number(/tako-bench-peak-rss-kb=(\d+)/.exec(readFileSync(log, 'utf8'))?.[1])
  rmSync(ws, { recursive: true, force: true })
  return { ms: res.ms, rssMb: rssKb / 1024 }
}

function tail(file) {
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-15).join('\n')
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

async function bench(c) {
  const dir = path.join(tmp, String(c.children))
  const { repos, pub } = await layout(dir, c.children)
  const floors = []
  const takos = []
  // Interleaved, so drift in machine load hits both sides alike.
  for (let i = 0; i < RUNS; i++) {
    floors.push(await floorRun(dir, repos))
    takos.push(await takoRun(dir, repos, pub, c.children))
    process.stdout.write('.')
  }
  rmSync(dir, { recursive: true, force: true })
  const floorMs = median(floors)
  const takoMs = median(takos.map((t) => t.ms))
  return {
    case: c.name,
    children: c.children,
    floor_ms: Math.round(floorMs),
    tako_ms: Math.round(takoMs),
    ratio: Number((takoMs / floorMs).toFixed(2)),
    peak_rss_mb: Number(Math.max(...takos.map((t) => t.rssMb)).toFixed(1))
  }
}

function verdict(r) {
  // Issue #5 sets only a memory target for 500 children; the ratio there is for information.
  const overRatio = r.children === 200 && r.ratio > TARGET_RATIO
  return overRatio || r.peak_rss_mb > TARGET_RSS_MB ? 'OVER' : 'PASS'
}

function table(rows, baseline) {
  const head = ['case', 'floor (median)', 'tako (median)', 'ratio', 'peak RSS', 'target', 'result', 'vs baseline']
  const lines = rows.map((r) => {
    const base = baseline?.results?.find((b) => b.case === r.case)
    const delta = base
      ? `time ${signed(((r.tako_ms - base.tako_ms) / base.tako_ms) * 100)}%, RSS ${signed(r.peak_rss_mb - base.peak_rss_mb)} MB`
      : '-'
    return [
      r.case,
      `${r.floor_ms} ms`,
      `${r.tako_ms} ms`,
      `${r.ratio.toFixed(2)}x`,
      `${r.peak_rss_mb.toFixed(1)} MB`,
      r.children === 200 ? `<=${TARGET_RATIO}x, <${TARGET_RSS_MB} MB` : `<${TARGET_RSS_MB} MB`,
      verdict(r),
      delta
    ]
  })
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)))
  const fmt = (cells) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()
  return [fmt(head), fmt(widths.map((w) => '-'.repeat(w))), ...lines.map(fmt)].join('\n')
}

const signed = (x) => `${x >= 0 ? '+' : ''}${x.toFixed(1)}`

async function main() {
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run npm run build:cli first`)
  const rss = existsSync(gnuTime) ? 'GNU time (%M)' : 'getrusage of the node process'
  console.log(`tako bench: ${CASES.map((c) => c.children).join(' / ')} subscribers, one trivial step each, --max-concurrency ${CONCURRENCY}; ` +
    `floor = git cat-file + git clone + bash per repo via xargs -P ${CONCURRENCY}; median of ${RUNS}; peak RSS of the tako process by ${rss}`)
  console.log(`machine: ${os.cpus().length} cpus, node ${process.version}, ${os.platform()}; files under ${benchRoot}`)
  const load0 = os.loadavg().map((l) => l.toFixed(2)).join(' ')
  const results = []
  for (const c of CASES) results.push(await bench(c))
  process.stdout.write('\n\n')
  const baseline = existsSync(baselineFile) ? JSON.parse(readFileSync(baselineFile, 'utf8')) : undefined
  console.log(table(results, baseline))
  // Other work on the machine moves both sides, the floor most; a high load makes the ratio unreliable.
  console.log(`\nload average: ${load0} before, ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} after (${os.cpus().length} cpus)`)
  if (process.argv.includes('--update-baseline')) {
    const data = { node: process.version, cpus: os.cpus().length, dir: benchRoot, results }
    writeFileSync(baselineFile, `${JSON.stringify(data, null, 2)}\n`)
    console.log(`\nbaseline written to ${path.relative(project, baselineFile)}`)
  }
}

try {
  await main()
} catch (error) {
  console.error(`bench: ${error.message}`)
} finally {
  cleanup()
}
