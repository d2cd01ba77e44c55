// npm run demo: lays examples/ out as real git repositories in a temp dir, each with a local bare origin, runs a real
// fan-out over them, and shows the branches tako/pull-request@v1 pushed to those origins.
import { execFileSync, spawnSync } from 'node:child_process'
import { cpSync, mkdtempSync, readdirSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const project = path.resolve(here, '..')
const tmp = mkdtempSync(path.join(os.tmpdir(), 'tako-demo-'))
const repos = path.join(tmp, 'repos')
const origins = path.join(tmp, 'origins')
const git = (cwd, ...args) => execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })

const names = []
for (const owner of readdirSync(path.join(project, 'examples'))) {
  for (const repo of readdirSync(path.join(project, 'examples', owner))) {
    const dir = path.join(repos, owner, repo)
    const origin = path.join(origins, owner, `${repo}.git`)
    cpSync(path.join(project, 'examples', owner, repo), dir, { recursive: true })
    git(tmp, 'init', '-q', '--bare', '-b', 'main', origin)
    git(dir, 'init', '-q', '-b', 'main')
    git(dir, 'add', '-A')
    git(dir, '-c', 'user.name=demo', '-c', 'user.email=demo@example.invalid', 'commit', '-qm', 'Initial commit')
    git(dir, 'remote', 'add', 'origin', origin)
    git(dir, 'push', '-q', 'origin', 'main')
    names.push(`${owner}/${repo}`)
  }
}

// tako commits with the user's git identity; a machine without one gets a demo identity for this run only.
const env = { ...process.env }
let identity = ''
try {
  identity = git(tmp, 'config', 'user.email').trim()
} catch {
  // No identity configured: the demo sets one below.
}
if (!identity)
  Object.assign(env, {
    GIT_AUTHOR_NAME: 'tako demo',
    GIT_AUTHOR_EMAIL: 'demo@example.invalid',
    GIT_COMMITTER_NAME: 'tako demo',
    GIT_COMMITTER_EMAIL: 'demo@example.invalid'
  })

const args = [
  path.join(project, 'dist/cli/index.js'),
  'exec',
  'release',
  '--root',
  path.join(repos, 'acme/api-definitions'),
  '--source',
  'acme/api-definitions',
  '--repos',
  repos,
  '--workspace',
  path.join(tmp, 'run'),
  '--report',
  path.join(tmp, 'report.json'),
  '-i',
  'version=v1.4.0',
  '-i',
  'services_affected=User-Service, auth-service',
  ...process.argv.slice(2)
]
// Quoted as a POSIX shell reads it, so the line can be pasted back (with `tako` on the PATH).
const quote = (arg) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`)
console.log(`$ tako ${args.slice(1).map(quote).join(' ')}\n`)
const result = spawnSync(process.execPath, args, { stdio: 'inherit', env })

console.log('\nBranches pushed to the origins (local bare repositories):')
let pushed = 0
for (const name of names) {
  const origin = path.join(origins, `${name}.git`)
  for (const branch of git(origin, 'for-each-ref', '--format=%(refname:short)', 'refs/heads/tako/').split('\n').filter(Boolean)) {
    pushed++
    console.log(`  ${name} ${branch}: ${git(origin, 'log', '-1', '--format=%s (%an)', branch).trim()}`)
    console.log(git(origin, 'diff', '--stat', 'main', branch).trimEnd().replace(/^/gm, '    '))
  }
}
if (pushed === 0) console.log('  (none)')
console.log(`\nrepositories: ${repos}\norigins:      ${origins}\nrun root:     ${path.join(tmp, 'run')}\nreport:       ${path.join(tmp, 'report.json')}`)
process.exit(result.status ?? 1)
