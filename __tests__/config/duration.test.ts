import { describe, expect, it } from '@jest/globals'
import { parseDuration } from '../../src/config/duration.js'
import { didYouMean, suggest } from '../../src/config/suggest.js'

describe('parseDuration', () => {
  it.each([
    ['90s', 90_000],
    ['10m', 600_000],
    ['2h', 7_200_000],
    ['1h30m', 5_400_000],
    ['500ms', 500],
    ['1.5h', 5_400_000],
    [' 2m ', 120_000]
  ])('%s is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms)
  })

  it.each(['soon', '10', '', '-5s', '1d', '5 m', 'm5'])('rejects %j with a message naming it', (text) => {
    expect(() => parseDuration(text)).toThrow(`invalid duration ${JSON.stringify(text)}: use a number and a unit (ms, s, m, h), like 90s, 10m, 2h or 1h30m`)
  })

  it('rejects a zero duration', () => {
    expect(() => parseDuration('0s')).toThrow('invalid duration "0s": it must be longer than 0')
  })
})

describe('suggest', () => {
  it('finds the closest candidate for typos, transpositions and case', () => {
    expect(suggest('workflow', ['version', 'workflows', 'subscriptions'])).toBe('workflows')
    expect(suggest('subscirptions', ['version', 'workflows', 'subscriptions'])).toBe('subscriptions')
    expect(suggest('Steps', ['steps', 'env'])).toBe('steps')
    expect(didYouMean('timout', ['timeout', 'env'])).toBe(' (did you mean "timeout"?)')
  })

  it('stays quiet when nothing is close', () => {
    expect(suggest('colour', ['path', 'ecosystem', 'description'])).toBeUndefined()
    expect(didYouMean('x', ['id', 'if'])).toBe('')
  })
})
