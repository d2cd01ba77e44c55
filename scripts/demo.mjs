// npm run demo: lays examples/ out as real git repositories in a temp dir and runs a real fan-out over them.
import { execFileSync, spawnSync } from 'node:child_process'
import { cpSync, mkdtempSync, readdirSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const project = path.resolve(here, '..')
const tmp = mkdtempSync(path.join(os.tmpdir(), 'tako-demo-'))
const repos = path.join(tmp, 'repos')
const git = (cwd, ...args) => execFileSync('git', args, { cwd, stdio: 'ignore' })

for (const owner of readdirSync(path.join(project, 'examples'))) {
  for (const repo of readdirSync(path.join(project, 'examples', owner))) {
    const dir = path.join(repos, owner, repo)
    cpSync(path.join(project, 'examples', owner, repo), dir, { recursive: true })
    git(dir, 'init', '-q', '-b', 'main')
    git(dir, 'add', '-A')
    git(dir, '-c', 'user.name=demo', '-c', 'user.email=demo@example.invalid', 'commit', '-qm', 'Initial commit')
  }
}

const args = [
  path.join(project, 'dist/cli/index.js'), 'exec', 'release',
  '--root', path.join(repos, 'acme/api-definitions'),
  '--source', 'acme/api-definitions',
  '--repos', repos,
  '--workspace', path.join(tmp, 'run'),
  '--report', path.join(tmp, 'report.json'),
  '-i', 'version=v1.4.0',
  '-i', 'services_affected=User-Service, auth-service',
  ...process.argv.slice(2)
]
// Quoted as a POSIX shell reads it, so the line can be pasted back (with `tako` on the PATH).
const quote = (arg) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`)
console.log(`$ tako ${args.slice(1).map(quote).join(' ')}\n`)
const result = spawnSync(process.execPath, args, { stdio: 'inherit' })
console.log(`\nrepositories: ${repos}\nrun root:     ${path.join(tmp, 'run')}\nreport:       ${path.join(tmp, 'report.json')}`)
process.exit(result.status ?? 1)
