// Event payloads of every size: the file every child gets, the variable while it fits, the fan-out's limit.

import { afterAll, describe, expect, it } from '@jest/globals'
import { createHash } from 'node:crypto'
import path from 'node:path'
import { executeRun, prepareRun } from '../../src/engine/engine.js'
import { LocalRepositorySource } from '../../src/engine/local-source.js'
import { MAX_ENV_PAYLOAD_BYTES, MAX_PAYLOAD_BYTES } from '../../src/engine/payload.js'
import { cleanupTempDirs, makeRepo, tempDir } from '../../__fixtures__/repos.js'

afterAll(cleanupTempDirs)

const SUBSCRIBER = `version: 1
subscriptions:
  - artifact: acme/api
    events: [built]
    workflow: react
workflows:
  react:
    steps:
      - id: read
        run: |
          echo "sum=$(sha256sum "$TAKO_EVENT_PAYLOAD_FILE" | cut -c1-64)" >> "$TAKO_OUTPUT"
          echo "var=$(printf '%s' "$TAKO_EVENT_PAYLOAD" | head -c 200)" >> "$TAKO_OUTPUT"
`

async function fanOut(blob: string): Promise<Awaited<ReturnType<typeof executeRun>>> {
  const base = tempDir()
  const repos: Record<string, string> = {}
  for (const name of ['one', 'two', 'three']) repos[`acme/${name}`] = makeRepo(path.join(base, name), { 'tako.yml': SUBSCRIBER })
  const root = makeRepo(path.join(base, 'api'), {
    'tako.yml': `version: 1
workflows:
  release:
    inputs:
      blob: { type: string }
    steps:
      - id: fan
        uses: tako/fan-out@v1
        with:
          event_type: built
          payload: { blob: "{{ .inputs.blob }}" }
`
  })
  const prepared = await prepareRun({ root, workflow: 'release', inputs: { blob }, source: 'acme/api' })
  const source = new LocalRepositorySource({ repos })
  try {
    return await executeRun(prepared, {
      root,
      workflow: 'release',
      inputs: { blob },
      source: 'acme/api',
      repositorySource: source,
      runRoot: path.join(base, 'run')
    })
  } finally {
    source.close()
  }
}

describe('event payloads', () => {
  it('a 1 MiB payload reaches each of 3 subscribers whole through TAKO_EVENT_PAYLOAD_FILE; the variable says where it is', async () => {
    const blob = 'x'.repeat(1024 * 1024)
    const report = await fanOut(blob)
    expect(report.status).toBe('success')
    const sum = createHash('sha256').update(JSON.stringify({ blob })).digest('hex')
    expect(report.children).toHaveLength(3)
    for (const child of report.children) {
      expect(child.status).toBe('success')
      expect(child.steps[0].outputs.sum).toBe(sum)
      expect(child.steps[0].outputs.var).toMatch(/^tako: the payload \(1\.0 MiB\) is over the 64 KiB .* read it from TAKO_EVENT_PAYLOAD_FILE$/)
    }
  }, 120_000)

  it('a small payload is in both the file and the variable', async () => {
    const report = await fanOut('hello')
    const json = JSON.stringify({ blob: 'hello' })
    for (const child of report.children) {
      expect(child.steps[0].outputs).toEqual({ sum: createHash('sha256').update(json).digest('hex'), var: json })
    }
    expect(Buffer.byteLength(json)).toBeLessThan(MAX_ENV_PAYLOAD_BYTES)
  }, 120_000)

  it('a payload over the limit fails the fan-out step with the limit, and starts no child', async () => {
    const report = await fanOut('y'.repeat(MAX_PAYLOAD_BYTES))
    expect(report.status).toBe('failure')
    expect(report.steps[0].status).toBe('failure')
    expect(report.error).toMatch(/step "fan": fan-out "fan": the event payload is 8\.0 MiB as JSON, over the limit of 8 MiB/)
    expect(report.children).toEqual([])
  }, 120_000)
})
