import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { readdirSync, readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { directStarter, Launcher, withFallback, type ExitStatus, type ProcessStarter } from '../../src/engine/starter.js'

let tmp: string
let launcher: Launcher

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'tako-starter-'))
  // Its request files in a folder of this test's own, to be inspected.
  launcher = await Launcher.open(tmp)
})

afterAll(async () => {
  launcher.close()
  await rm(tmp, { recursive: true, force: true })
})

async function run(starter: ProcessStarter, command: string, args: string[], env: Record<string, string> = { PATH: process.env.PATH ?? '' }) {
  let stdout = ''
  let stderr = ''
  const child = await starter.start({
    command,
    args,
    cwd: tmp,
    env,
    stdout: (d) => (stdout += d.toString()),
    stderr: (d) => (stderr += d.toString())
  })
  const status: ExitStatus = await child.exited
  await child.closed
  return { pid: child.pid, status, stdout, stderr }
}

describe.each(['direct', 'launcher'] as const)('starting a process (%s)', (how) => {
  const starter = (): ProcessStarter => (how === 'direct' ? directStarter : launcher)

  it('leads its own process group, with the engine as its parent only when started directly', async () => {
    const { pid, stdout } = await run(starter(), 'sh', ['-c', 'echo "$(ps -o pgid= -p $$) $PPID"'])
    const [pgid, ppid] = stdout.trim().split(/\s+/).map(Number)
    expect(pgid).toBe(pid)
    if (how === 'direct') expect(ppid).toBe(process.pid)
    else expect(ppid).not.toBe(process.pid)
  })

  it('tells an exit code from death by a signal', async () => {
    expect((await run(starter(), 'sh', ['-c', 'exit 143'])).status).toEqual({ code: 143, signal: null })
    expect((await run(starter(), 'sh', ['-c', 'kill -TERM $$'])).status).toEqual({ code: null, signal: 'SIGTERM' })
    expect((await run(starter(), 'sh', ['-c', 'kill -KILL $$'])).status).toEqual({ code: null, signal: 'SIGKILL' })
    expect((await run(starter(), 'sh', ['-c', 'exit 0'])).status).toEqual({ code: 0, signal: null })
  })

  it('passes arguments and the environment byte for byte, odd names and shell syntax included', async () => {
    const hostile = ['$(touch pwned)', "it's", 'a\nb', ' spaced ', '*', '']
    const args = await run(starter(), 'printf', ['[%s]', ...hostile])
    expect(args.stdout).toBe(hostile.map((a) => `[${a}]`).join(''))
    const env = { PATH: process.env.PATH ?? '', 'INPUT_MAX-CONCURRENCY': '4', MULTI: 'one\ntwo', QUOTE: `'"$HOME` }
    const printed = await run(starter(), 'env', ['-0'], env)
    const entries = printed.stdout.split('\0').filter(Boolean).sort()
    expect(entries).toEqual(Object.entries(env).map(([k, v]) => `${k}=${v}`).sort())
    expect(readdirSync(tmp)).not.toContain('pwned')
  })

  it('keeps stdout and stderr apart', async () => {
    const { stdout, stderr } = await run(starter(), 'sh', ['-c', 'echo out; echo err >&2; echo out2'])
    expect(stdout).toBe('out\nout2\n')
    expect(stderr).toBe('err\n')
  })

  it('fails to start a command that is not on PATH as spawn does', async () => {
    await expect(run(starter(), 'no-such-command-tako', [])).rejects.toMatchObject({ code: 'ENOENT', message: 'spawn no-such-command-tako ENOENT' })
  })
})

describe('the launcher', () => {
  it('leaves no environment on disk once a process has started', async () => {
    await run(launcher, 'true', [], { PATH: process.env.PATH ?? '', SECRET: 'tako-secret-value' })
    // Request files are emptied asynchronously once read.
    await new Promise((resolve) => setTimeout(resolve, 100))
    const dirs = readdirSync(tmp).filter((d) => d.startsWith('tako-launch-'))
    expect(dirs).toHaveLength(1)
    expect(readdirSync(path.join(tmp, dirs[0]))).not.toHaveLength(0)
    for (const file of readdirSync(path.join(tmp, dirs[0]))) {
      expect(readFileSync(path.join(tmp, dirs[0], file), 'utf8')).not.toContain('tako-secret-value')
    }
  })

  it('is replaced by direct starts once it has stopped', async () => {
    const own = await Launcher.open(tmp)
    const starter = withFallback(own)
    expect((await run(starter, 'sh', ['-c', 'echo $PPID'])).stdout.trim()).not.toBe(String(process.pid))
    process.kill(own.pid, 'SIGKILL')
    await new Promise((resolve) => setTimeout(resolve, 100))
    const after = await run(starter, 'sh', ['-c', 'echo $PPID'])
    expect(after.stdout.trim()).toBe(String(process.pid))
    expect(after.status).toEqual({ code: 0, signal: null })
  })
})
