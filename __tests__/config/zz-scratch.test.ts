import { test } from '@jest/globals'
import { readFileSync } from 'node:fs'
import { parseConfig } from '../../src/config/load.js'
import { formatIssue } from '../../src/config/errors.js'
test('scratch', () => {
  const docs = readFileSync('/tmp/scratch/in.txt', 'utf8').split(/^====\n/m)
  for (const d of docs) {
    const t0 = Date.now()
    const r = parseConfig(d, 'tako.yml')
    console.log(d.slice(0, 300) + '\n--> ' + (Date.now() - t0) + 'ms\n' + r.issues.map(formatIssue).join('\n') + (r.config ? '\nCONFIG ' + JSON.stringify(r.config) : ''))
  }
})
