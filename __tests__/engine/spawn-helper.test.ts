import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { existsSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { spawnInGroup, type ExitStatus, type StartRequest, type StartedProcess } from '../../src/engine/process-groups.js'
import { SpawnHelper } from '../../src/engine/spawn-helper.js'
import { cleanupTempDirs, tempDir } from '../../__fixtures__/repos.js'

type Starter = (req: StartRequest) => Promise<StartedProcess>

let helper: SpawnHelper
let cwd: string

beforeAll(async () => {
  helper = await SpawnHelper.open()
  cwd = tempDir()
})

afterAll(() => {
  helper.close()
  cleanupTempDirs()
})

async function run(start: Starter, command: string, args: string[], env: Record<string, string> = { PATH: process.env.PATH ?? '' }) {
  const stdout: Buffer[] = []
  let stderr = ''
  const child = await start({ command, args, cwd, env, stdout: (d) => stdout.push(d), stderr: (d) => (stderr += d.toString()) })
  const status: ExitStatus = await child.exited
  await child.closed
  return { pid: child.pid, status, stdout: Buffer.concat(stdout).toString(), bytes: Buffer.concat(stdout).length, stderr }
}

// The helper's contract is Node's: every case here holds for both.
describe.each(['node', 'helper'] as const)('a process started by %s', (how) => {
  const start: Starter = (req) => (how === 'node' ? spawnInGroup(req) : helper.start(req))

  it('leads its own process group, and is the engine’s child only when Node started it', async () => {
    const { pid, stdout } = await run(start, 'sh', ['-c', 'echo "$(ps -o pgid= -p $$) $PPID"'])
    const [pgid, ppid] = stdout.trim().split(/\s+/).map(Number)
    expect(pgid).toBe(pid)
    expect(ppid).toBe(how === 'node' ? process.pid : helper.pid)
  })

  it('tells an exit code from death by a signal', async () => {
    expect((await run(start, 'sh', ['-c', 'exit 143'])).status).toEqual({ code: 143, signal: null })
    expect((await run(start, 'sh', ['-c', 'kill -TERM $$'])).status).toEqual({ code: null, signal: 'SIGTERM' })
    expect((await run(start, 'sh', ['-c', 'kill -KILL $$'])).status).toEqual({ code: null, signal: 'SIGKILL' })
    expect((await run(start, 'true', [])).status).toEqual({ code: 0, signal: null })
  })

  it('passes arguments and the environment byte for byte, odd names and shell syntax included', async () => {
    const hostile = ['$(touch pwned)', "it's", 'a\nb', ' spaced ', '*', '', 'ünï']
    expect((await run(start, 'printf', ['[%s]', ...hostile])).stdout).toBe(hostile.map((a) => `[${a}]`).join(''))
    const env = { PATH: process.env.PATH ?? '', 'INPUT_MAX-CONCURRENCY': '4', MULTI: 'one\ntwo', QUOTE: `'"$HOME`, EMPTY: '' }
    const printed = await run(start, 'env', ['-0'], env)
    expect(printed.stdout.split('\0').filter(Boolean).sort()).toEqual(Object.entries(env).map(([k, v]) => `${k}=${v}`).sort())
    expect(existsSync(path.join(cwd, 'pwned'))).toBe(false)
  })

  it('keeps stdout and stderr apart and relays large output whole', async () => {
    const { stdout, stderr } = await run(start, 'sh', ['-c', 'echo out; echo err >&2; echo out2'])
    expect(stdout).toBe('out\nout2\n')
    expect(stderr).toBe('err\n')
    expect((await run(start, 'head', ['-c', String(5 * 1024 * 1024), '/dev/zero'])).bytes).toBe(5 * 1024 * 1024)
  })

  it('fails to start a command that is not on PATH as spawn does', async () => {
    await expect(run(start, 'no-such-command-tako', [])).rejects.toMatchObject({ code: 'ENOENT', message: 'spawn no-such-command-tako ENOENT' })
  })

  it('stops reading output held open by a process that left the group', async () => {
    let escaped = ''
    const child = await start({ command: 'sh', args: ['-c', 'setsid sleep 30 & echo $!'], cwd, env: { PATH: process.env.PATH ?? '' }, stdout: (d) => (escaped += d), stderr: () => {} })
    await child.exited
    child.destroyOutput()
    await child.closed
    process.kill(Number(escaped.trim()), 'SIGKILL')
  })
})

describe('the spawn helper', () => {
  it('is refused where python3 is not there, so processes start from Node', async () => {
    await expect(SpawnHelper.open(path.join(os.tmpdir(), 'no-such-python'))).rejects.toThrow()
  })

  it('rejects starts once it has ended', async () => {
    const own = await SpawnHelper.open()
    process.kill(own.pid, 'SIGKILL')
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(own.usable).toBe(false)
    await expect(run((req) => own.start(req), 'true', [])).rejects.toThrow(/spawn helper ended/)
  })
})
