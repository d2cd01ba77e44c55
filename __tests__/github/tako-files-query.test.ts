// The GraphQL query for tako files and what an answer means for one candidate: pure, without a server.

import { describe, expect, it } from '@jest/globals'
import { readAnswer, takoFilesQuery } from '../../src/github/tako-files-query.js'

const blob = (text: string): { text: string; byteSize: number; isBinary: boolean } => ({ text, byteSize: Buffer.byteLength(text), isBinary: false })
const plain = { repository: 'acme/web', ref: '' }

describe('takoFilesQuery', () => {
  it('passes every name and ref as a variable, never inside the query text', () => {
    const { query, variables } = takoFilesQuery([plain, { repository: 'acme/evil")}{x', ref: 'v1"' }])
    expect(query).not.toContain('acme')
    expect(query).not.toContain('v1')
    expect(variables).toMatchObject({ o0: 'acme', n0: 'web', r0: 'HEAD', y0: 'HEAD:tako.yml', a0: 'HEAD:tako.yaml', n1: 'evil")}{x', r1: 'v1"', q1: 'v1"' })
    expect(query).toContain('c1: repository(owner: $o1, name: $n1) { defaultBranchRef { name } ref(qualifiedName: $q1) { name prefix }')
    expect(query).not.toContain('$q0')
  })
})

describe('readAnswer', () => {
  it('takes tako.yml, else tako.yaml, with the commit and the default branch', () => {
    const commit = { oid: 'c'.repeat(40) }
    expect(readAnswer(plain, { defaultBranchRef: { name: 'trunk' }, commit, yml: blob('version: 1\n'), yaml: blob('other') })).toEqual({
      file: { text: 'version: 1\n', file: 'tako.yml' },
      known: { commit: commit.oid, defaultBranch: 'trunk' }
    })
    expect(readAnswer(plain, { commit, yml: null, yaml: blob('v: 1') })?.file).toEqual({ text: 'v: 1', file: 'tako.yaml' })
    expect(readAnswer(plain, { commit, yml: null, yaml: null })?.file).toBeNull()
  })

  it('names a tag by the commit it points to, and a branch as a branch', () => {
    const tagged = readAnswer(
      { repository: 'acme/web', ref: 'v1' },
      { ref: { name: 'v1', prefix: 'refs/tags/' }, commit: { oid: 't'.repeat(40), target: { oid: 'c'.repeat(40) } }, yml: blob('x') }
    )
    expect(tagged?.known).toEqual({ commit: 'c'.repeat(40), tag: 'v1' })
    const branch = readAnswer(
      { repository: 'acme/web', ref: 'dev' },
      { defaultBranchRef: { name: 'main' }, ref: { name: 'dev', prefix: 'refs/heads/' }, commit: { oid: 'd'.repeat(40) }, yml: blob('x') }
    )
    expect(branch?.known).toEqual({ commit: 'd'.repeat(40), branch: 'dev' })
  })

  it('leaves to git what it cannot settle: an unresolved repository or ref, a binary or cut file', () => {
    const commit = { oid: 'c'.repeat(40) }
    expect(readAnswer(plain, null)).toBeUndefined()
    expect(readAnswer(plain, { commit: null, yml: null })).toBeUndefined()
    expect(readAnswer(plain, { commit, yml: { text: null, byteSize: 10, isBinary: true } })).toBeUndefined()
    expect(readAnswer(plain, { commit, yml: { text: 'short', byteSize: 5_000_000, isBinary: false } })).toBeUndefined()
    expect(readAnswer(plain, { commit, yml: { text: null, byteSize: 3, isBinary: true }, yaml: blob('v: 1') })).toBeUndefined()
  })
})
