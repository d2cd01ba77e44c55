// The live status of a run: a redrawn line on a terminal, a heartbeat elsewhere, colours by NO_COLOR/FORCE_COLOR.

import { describe, expect, it } from '@jest/globals'
import { colorsFor, StatusLine, type StatusStream } from '../../src/cli/status.js'
import { LiveOutput } from '../../src/cli/render.js'
import type { ChildReport } from '../../src/engine/types.js'

function stream(isTTY: boolean): StatusStream & { text: string } {
  return {
    isTTY,
    columns: 200,
    text: '',
    write(chunk: string) {
      this.text += chunk
      return true
    }
  }
}

const label = (id: string, repository: string, workflow: string) => ({ id, repository, workflow })
const child = (id: string, status: ChildReport['status']): ChildReport => ({
  id,
  parent_id: '',
  repository: 'acme/x',
  ref: '',
  workflow: 'w',
  inputs: {},
  event: { type: 't', source: 's', payload: {} },
  status,
  duration_ms: 1,
  workspace: '',
  steps: []
})

/** Waits for `check` with a ceiling that only catches a hang. */
async function until(check: () => boolean): Promise<void> {
  for (let waited = 0; !check(); waited += 10) {
    if (waited > 20_000) throw new Error('timed out waiting')
    await new Promise((r) => setTimeout(r, 10))
  }
}

describe('StatusLine', () => {
  it('on a terminal, redraws one status line below what is printed', () => {
    let now = 1_000_000
    const out = stream(true)
    const status = new StatusLine(out, colorsFor(out, { NO_COLOR: '1' }), { now: () => now, redrawMs: 60_000 })
    status.forwardTo(new LiveOutput((t) => status.print(t)))
    status.discovered({ repository: 'acme/web-app', ref: '', result: 'matched', reason: 'subscription 1 → workflow deploy' })
    status.discovered({ repository: 'acme/api', ref: '', result: 'matched', reason: 'subscription 1 → workflow a; subscription 2 → workflow b' })
    status.stepStarted(label('web-app-deploy-1', 'acme/web-app', 'deploy'), { id: 'build', name: '' })
    now += 80_000
    status.stepStarted(label('api-a-1', 'acme/api', 'a'), { id: 'build', name: '' })
    status.childFinished(child('api-a-1', 'failure'))
    status.close()
    // The line is erased and the cursor put back to column 1 before each print and drawn again after it.
    expect(out.text).toBe(
      '[web-app-deploy-1] ▶ build\n' +
        '0/3 done · 1 running · acme/web-app › deploy running 0ms' +
        '\x1b[2K\x1b[1G[api-a-1] ▶ build\n' +
        '0/3 done · 2 running · acme/web-app › deploy running 1m20s' +
        '\x1b[2K\x1b[1G[api-a-1] ✗ acme/x › w  [api-a-1]  failure  1ms\n' +
        '1/3 done · 1 running · 1 failed · acme/web-app › deploy running 1m20s' +
        '\x1b[2K\x1b[1G'
    )
  })

  it('elsewhere, prints no status line but a heartbeat after a quiet spell', async () => {
    const out = stream(false)
    const status = new StatusLine(out, colorsFor(out, {}), { heartbeatMs: 50 })
    status.forwardTo(new LiveOutput((t) => status.print(t)))
    status.discovered({ repository: 'acme/web-app', ref: '', result: 'matched', reason: 'subscription 1 → workflow deploy' })
    status.stepStarted(label('web-app-deploy-1', 'acme/web-app', 'deploy'), { id: 'build', name: '' })
    expect(out.text).toBe('[web-app-deploy-1] ▶ build\n')
    await until(() => out.text.includes('… still running'))
    status.close()
    expect(out.text).toMatch(/^\[web-app-deploy-1\] ▶ build\n… still running: 0\/1 done · 1 running · acme\/web-app › deploy running \S+\n/)
  })
})

describe('colorsFor', () => {
  const tty = stream(true)
  const pipe = stream(false)
  it('colours a terminal only, unless NO_COLOR or FORCE_COLOR says otherwise', () => {
    expect(colorsFor(tty, {}).red('x')).toBe('\x1b[31mx\x1b[39m')
    expect(colorsFor(pipe, {}).red('x')).toBe('x')
    expect(colorsFor(tty, { NO_COLOR: '1' }).red('x')).toBe('x')
    expect(colorsFor(pipe, { FORCE_COLOR: '1' }).red('x')).toBe('\x1b[31mx\x1b[39m')
    expect(colorsFor(tty, { FORCE_COLOR: '0' }).red('x')).toBe('x')
    expect(colorsFor(tty, { TERM: 'dumb' }).red('x')).toBe('x')
  })
})
