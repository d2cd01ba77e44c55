import { afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import { spawn } from 'node:child_process'
import { existsSync, readFileSync, realpathSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { runScript, terminateGroup, type RunScriptOptions } from '../../src/engine/process.js'

const baseEnv = Object.fromEntries(Object.entries(process.env).filter((entry): entry is [string, string] => entry[1] !== undefined))

let root: string
let work: string
let tmp: string

beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'tako-process-'))
  work = path.join(root, 'work')
  tmp = path.join(root, 'tmp')
  await mkdir(work)
  await mkdir(tmp)
})

afterEach(async () => {
  await rm(root, { recursive: true, force: true })
})

function run(script: string, extra: Partial<RunScriptOptions> = {}) {
  return runScript({ script, shell: 'bash', cwd: work, env: baseEnv, tempDir: tmp, ...extra })
}

function pidsIn(file: string): number[] {
  return readFileSync(path.join(work, file), 'utf8').split('\n').filter(Boolean).map(Number)
}

/**
 * Dead, or a zombie: killed orphans are reparented to init, and the init of some containers (this
 * sandbox's included) never reaps them, so they stay signalable although nothing runs.
 */
function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH'
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')
  } catch {
    return true
  }
}

/** Waits for a condition; the ceiling only catches a hang. */
async function until(condition: () => boolean): Promise<void> {
  for (const deadline = Date.now() + 20_000; !condition(); await delay(20)) {
    if (Date.now() > deadline) throw new Error('condition not met')
  }
}

describe('runScript', () => {
  it('propagates the exit code', async () => {
    const ok = await run('echo hi')
    expect(ok).toMatchObject({ exitCode: 0, signal: null, timedOut: false, cancelled: false })
    expect(ok.stdout.text()).toBe('hi\n')

    const failed = await run('echo before\nexit 3')
    expect(failed.exitCode).toBe(3)
    expect(failed.signal).toBeNull()
  })

  it('runs bash as GitHub Actions does: -e stops at the failing command, pipefail fails a pipeline', async () => {
    const stopped = await run('echo one\nfalse\necho two')
    expect(stopped.exitCode).toBe(1)
    expect(stopped.stdout.text()).toBe('one\n')

    const pipeline = await run('false | true\necho after')
    expect(pipeline.exitCode).toBe(1)
    expect(pipeline.stdout.text()).toBe('')

    const commandLine = await run('ps -o args= -p $$')
    expect(commandLine.stdout.text()).toMatch(/^bash --noprofile --norc -eo pipefail \S+\.sh\n$/)
  })

  it('runs sh with -e and without pipefail', async () => {
    const stopped = await run('echo one\nfalse\necho two', { shell: 'sh' })
    expect(stopped.exitCode).toBe(1)
    expect(stopped.stdout.text()).toBe('one\n')

    const pipeline = await run('false | true\necho after', { shell: 'sh' })
    expect(pipeline.exitCode).toBe(0)
    expect(pipeline.stdout.text()).toBe('after\n')

    const commandLine = await run('ps -o args= -p $$', { shell: 'sh' })
    expect(commandLine.stdout.text()).toMatch(/^sh -e \S+\.sh\n$/)
  })

  it('gives the process exactly the environment it is passed, and the working directory', async () => {
    const result = await run('echo "$GREETING"\necho "${HOME-no home}"\npwd -P', {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', GREETING: 'hello  "world" $x' }
    })
    expect(result.exitCode).toBe(0)
    expect(result.stdout.text()).toBe(`hello  "world" $x\nno home\n${realpathSync(work)}\n`)
  })

  it('starts steps from a reused launcher shell, not by forking the engine, and gives the exact environment there too', async () => {
    const parent = 'ps -o pid=,args= -p $PPID'
    const first = await run(parent)
    const second = await run(parent)
    // The step is the launcher's child; the engine (node) is not its parent.
    expect(first.stdout.text()).toMatch(/^\s*\d+ tako-launcher --noprofile --norc -c set -m /)
    expect(second.stdout.text()).toBe(first.stdout.text())

    const env = await run('env | LC_ALL=C sort', { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ODD: "a\nb=c 'd'", EMPTY: '' } })
    const lines = env.stdout.text().split('\n')
    // Only what was passed, and what bash itself sets for the script it runs (PWD, SHLVL, _).
    expect(lines.filter((l) => /^[A-Z_]+=/.test(l) && !/^(PWD|SHLVL|_)=/.test(l))).toEqual(['EMPTY=', 'ODD=a', `PATH=${process.env.PATH ?? '/usr/bin:/bin'}`])
    expect(lines).toContain("b=c 'd'")
  })

  it('serves request after request from one launcher past the FIFOs it made ahead (16 at a time)', async () => {
    const launchers = new Set<string>()
    for (let i = 1; i <= 40; i++) {
      const result = await run(`echo "$PPID out ${i}"; echo "err ${i}" >&2`)
      expect([result.exitCode, result.stderr.text()]).toEqual([0, `err ${i}\n`])
      const [launcher, ...said] = result.stdout.text().trim().split(' ')
      expect(said).toEqual(['out', String(i)])
      launchers.add(launcher)
    }
    expect(launchers.size).toBe(1)
  })

  it("forks the engine once for every launcher: launchers running side by side share one parent, the engine's child", async () => {
    // Both steps run until both have written their launcher's parent, so they need two launchers at once.
    const script = 'ps -o ppid= -p $PPID > "parent-$TAKO_N"\nwhile [ ! -s parent-1 ] || [ ! -s parent-2 ]; do sleep 0.05; done'
    const [a, b] = await Promise.all(['1', '2'].map((n) => run(script, { env: { ...baseEnv, TAKO_N: n } })))
    expect([a.exitCode, b.exitCode]).toEqual([0, 0])
    const parents = ['1', '2'].map((n) => Number(readFileSync(path.join(work, `parent-${n}`), 'utf8').trim()))
    expect(parents[0]).toBe(parents[1])
    const stat = readFileSync(`/proc/${parents[0]}/stat`, 'utf8')
    expect(Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])).toBe(process.pid)
    expect(readFileSync(`/proc/${parents[0]}/cmdline`, 'utf8').split('\0')[0]).toBe('tako-launcher')
  })

  it('reads a status of 128+n as a signal only when the engine sent that signal', async () => {
    const exited = await run('exit 143')
    expect(exited).toMatchObject({ exitCode: 143, signal: null })
    const killed = await run('sleep 30', { timeoutMs: 100 })
    expect(killed).toMatchObject({ timedOut: true, exitCode: null, signal: 'SIGTERM' })
  })

  it('ends a step that kills its own launcher, with everything it started, and the next step still runs', async () => {
    // Only ever the launcher: were the engine the parent, this would kill the test's own process.
    const result = await run('sleep 30 &\necho $! > pids\n[ "$(ps -o args= -p $PPID | cut -d" " -f1)" = tako-launcher ] || exit 9\nkill -KILL $PPID\nsleep 30')
    expect(result).toMatchObject({ exitCode: null, signal: 'SIGKILL', timedOut: false })
    const [background] = pidsIn('pids')
    await until(() => isGone(background))
    expect((await run('echo still')).stdout.text()).toBe('still\n')
  })

  it('captures stdout and stderr apart, and both in arrival order', async () => {
    const result = await run('echo out1\nsleep 0.2\necho err1 >&2\nsleep 0.2\necho out2')
    expect(result.stdout.text()).toBe('out1\nout2\n')
    expect(result.stderr.text()).toBe('err1\n')
    expect(result.combined.text()).toBe('out1\nerr1\nout2\n')
    expect(result.combined.tailLines(2)).toBe('err1\nout2')
  })

  it('streams output live, before the script ends', async () => {
    // The script only finishes once the test has seen its first line and created `go`.
    const seen: Array<[string, string]> = []
    const result = await run('echo first\nwhile [ ! -f go ]; do sleep 0.05; done\necho second >&2', {
      timeoutMs: 120_000,
      onOutput: (chunk, stream) => {
        seen.push([stream, chunk])
        if (chunk.includes('first')) void writeFile(path.join(work, 'go'), '')
      }
    })
    expect(result).toMatchObject({ exitCode: 0, timedOut: false })
    expect(seen).toEqual([
      ['stdout', 'first\n'],
      ['stderr', 'second\n']
    ])
  })

  it('does not split a multibyte character in live chunks', async () => {
    const chunks: string[] = []
    // printf writes the two halves of 'é' in separate writes, with a pause between.
    const result = await run("printf '\\303'\nsleep 0.2\nprintf '\\251\\n'", { onOutput: (chunk) => chunks.push(chunk) })
    expect(result.exitCode).toBe(0)
    expect(chunks.join('')).toBe('é\n')
    expect(chunks.join('')).not.toContain('\uFFFD')
  })

  it('keeps memory bounded on huge output and reports what was cut', async () => {
    let streamed = 0
    const size = 20_000_000
    const result = await run(`head -c ${size} /dev/zero | tr '\\0' y`, {
      onOutput: (chunk) => {
        streamed += chunk.length
      }
    })
    const mib = 1024 * 1024
    expect(result.exitCode).toBe(0)
    expect(streamed).toBe(size)
    expect(result.stdout.byteLength).toBe(mib)
    expect(result.stdout.truncatedBytes).toBe(size - mib)
    expect(result.stdout.text()).toBe('y'.repeat(mib))
    expect(result.combined.byteLength).toBe(mib)
    expect(result.combined.tailLines(1)).toBe(`[… ${size - mib} bytes cut]\n${'y'.repeat(mib)}`)

    const small = await run('seq 1 1000', { maxCaptureBytes: 100 })
    expect(small.stdout.byteLength).toBe(100)
    expect(small.stdout.tailLines(1)).toMatch(/^\[… \d+ bytes cut\]\n1000$/)
  })

  it('writes the script to a file in tempDir and removes it afterwards, also when the script fails', async () => {
    const ok = await run('echo "$0"\ntest -f "$0"')
    expect(ok.exitCode).toBe(0)
    const scriptPath = ok.stdout.text().trim()
    expect(path.dirname(scriptPath)).toBe(tmp)
    expect(existsSync(scriptPath)).toBe(false)

    const failed = await run('exit 7')
    expect(failed.exitCode).toBe(7)
    const timedOut = await run('sleep 30', { timeoutMs: 100 })
    expect(timedOut.timedOut).toBe(true)
    expect(await readdir(tmp)).toEqual([])
  })

  it('ends the whole group when the step ends: background processes are not left behind', async () => {
    // `sleep 600 &` keeps stdout open (were it waited for, the test's ceiling would catch the hang), the other two write elsewhere; one is a grandchild of another shell.
    const result = await run(
      [
        'echo $$ > pids',
        'sleep 600 &',
        'echo $! >> pids',
        'sleep 601 > /dev/null 2>&1 &',
        'echo $! >> pids',
        "bash -c 'sleep 602 > /dev/null & echo $!' >> pids",
        'echo done'
      ].join('\n')
    )
    expect(result.exitCode).toBe(0)
    expect(result.stdout.text()).toBe('done\n')
    const pids = pidsIn('pids')
    expect(pids).toHaveLength(4)
    for (const pid of pids) expect(isGone(pid)).toBe(true)
  })

  it('times out: SIGTERM to the group, and the result says so', async () => {
    const result = await run('echo $$ > pids\nsleep 600 &\necho $! >> pids\nsleep 600', { timeoutMs: 300 })
    expect(result).toMatchObject({ timedOut: true, cancelled: false, exitCode: null, signal: 'SIGTERM' })
    for (const pid of pidsIn('pids')) expect(isGone(pid)).toBe(true)
  })

  it('kills a script that traps SIGTERM once the grace period is over', async () => {
    const started = Date.now()
    const result = await run(
      [
        "trap 'echo caught TERM' TERM",
        'echo $$ > pids',
        "(trap '' TERM; touch ready; sleep 600) &",
        'echo $! >> pids',
        'until [ -f ready ]; do sleep 0.01; done',
        'while true; do sleep 0.05 || true; done'
      ].join('\n'),
      { timeoutMs: 1_000, killGraceMs: 500 }
    )
    expect(result).toMatchObject({ timedOut: true, exitCode: null, signal: 'SIGKILL' })
    expect(result.stdout.text()).toContain('caught TERM')
    // Timeout plus grace, at least: timers fire late on a busy machine, never early.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_500)
    for (const pid of pidsIn('pids')) expect(isGone(pid)).toBe(true)
  })

  it('applies the grace period to leftovers that ignore SIGTERM after a normal exit', async () => {
    const started = Date.now()
    const result = await run("(trap '' TERM; touch ready; sleep 30) > /dev/null &\necho $! > pids\nuntil [ -f ready ]; do sleep 0.01; done", {
      killGraceMs: 400
    })
    expect(result.exitCode).toBe(0)
    expect(Date.now() - started).toBeGreaterThanOrEqual(400)
    for (const pid of pidsIn('pids')) expect(isGone(pid)).toBe(true)
  })

  it('is cancelled through an AbortSignal', async () => {
    const controller = new AbortController()
    setTimeout(() => controller.abort(), 300)
    const result = await run('echo $$ > pids\nsleep 600 &\necho $! >> pids\nsleep 600', { signal: controller.signal })
    expect(result).toMatchObject({ cancelled: true, timedOut: false, exitCode: null, signal: 'SIGTERM' })
    for (const pid of pidsIn('pids')) expect(isGone(pid)).toBe(true)
  })

  it('is cancelled by an abort that comes while the script is being started', async () => {
    const controller = new AbortController()
    const pending = run('sleep 600', { signal: controller.signal })
    controller.abort()
    const result = await pending
    expect(result).toMatchObject({ cancelled: true, exitCode: null, signal: 'SIGTERM' })
  })

  it('does not start a script whose signal is already aborted', async () => {
    const result = await run('touch ran', { signal: AbortSignal.abort() })
    expect(result).toMatchObject({ cancelled: true, exitCode: null })
    expect(existsSync(path.join(work, 'ran'))).toBe(false)
  })

  it('does not hang on a process that left the group and holds the output open', async () => {
    const result = await run(
      [
        'setsid sleep 600 &',
        'echo $! > pids',
        // Until setsid has run, the process is still in the group and would simply be killed.
        'until [ "$(ps -o sid= -p $! | tr -d " ")" = "$!" ]; do sleep 0.01; done',
        'echo done'
      ].join('\n')
    )
    const [escaped] = pidsIn('pids')
    try {
      expect(isGone(escaped)).toBe(false)
      expect(result.exitCode).toBe(0)
      expect(result.stdout.text()).toBe('done\n')
    } finally {
      process.kill(escaped, 'SIGKILL')
    }
  })

  it('rejects with a clear message when the working directory is missing or the shell cannot start', async () => {
    await expect(run('true', { cwd: path.join(work, 'nope') })).rejects.toThrow(
      `working directory ${path.join(work, 'nope')} does not exist or is not a directory`
    )
    await expect(run('true', { env: { PATH: root } })).rejects.toThrow(/^cannot start bash: spawn bash ENOENT$/)
    expect(await readdir(tmp)).toEqual([])
  })
})

describe('terminateGroup', () => {
  it('terminates every member of a group and resolves at once for a group that is gone', async () => {
    const child = spawn('sh', ['-c', 'sleep 30 & echo $!; sleep 30'], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] })
    const background = Number(await new Promise<string>((resolve) => child.stdout.once('data', (d) => resolve(String(d)))))
    const leader = child.pid as number
    await terminateGroup(leader, 1_000)
    expect(isGone(leader)).toBe(true)
    expect(isGone(background)).toBe(true)

    // A grace far past the test's ceiling: waiting it out instead of returning would fail the test.
    await terminateGroup(leader, 600_000)
  })

  it('counts a killed member its parent has not reaped yet as gone, without waiting out the grace period', async () => {
    // `set -m` puts the background sleep in its own group; its parent then becomes a sleep that never reaps.
    const parent = spawn('bash', ['-c', 'set -m; sleep 30 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] })
    try {
      const member = Number(await new Promise<string>((resolve) => parent.stdout.once('data', (d) => resolve(String(d)))))
      // Until the exec, bash itself would reap the member.
      while (!readFileSync(`/proc/${parent.pid}/cmdline`, 'utf8').startsWith('sleep')) await delay(10)
      // A grace far past the test's ceiling: counting the zombie as alive would wait it out and fail the test.
      await terminateGroup(member, 600_000)
      expect(readFileSync(`/proc/${member}/stat`, 'utf8')).toMatch(/\) Z /)
    } finally {
      parent.kill('SIGKILL')
    }
  })
})
