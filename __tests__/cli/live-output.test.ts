// The CLI's live output: each child's lines whole and prefixed, however its output was cut into chunks.

import { describe, expect, it } from '@jest/globals'
import { LiveOutput } from '../../src/cli/render.js'
import { step } from '../../__fixtures__/reports.js'

describe('LiveOutput', () => {
  it('joins a line cut across chunks, prefixes every line, and ends an unfinished one with its step', () => {
    let out = ''
    const live = new LiveOutput((text) => (out += text))
    const web = { id: 'web-update-1', repository: 'acme/web', workflow: 'update' }
    const db = { id: 'db-migrate-1', repository: 'acme/db', workflow: 'migrate' }
    live.output(web, 'comp')
    live.output(db, 'migr')
    live.output(web, 'iling ')
    live.output(web, 'done\nnext')
    live.output(db, 'ating\n')
    live.output(web, ' line\n\nlast without newline')
    expect(out).toBe('[web-update-1] compiling done\n[db-migrate-1] migrating\n[web-update-1] next line\n[web-update-1] \n')
    live.stepFinished(web, step('build'))
    expect(out.split('\n').slice(4, 6)).toEqual(['[web-update-1] last without newline', expect.stringMatching(/^\[web-update-1\] ✓ build /)])
  })
})
