import { describe, expect, it } from '@jest/globals'
import { normalizeRange, satisfiesRange, toVersion } from '../../src/engine/semver.js'

describe('normalizeRange', () => {
  it.each([
    ['^1.0.0', '^1.0.0'],
    ['  >=1.2.0 <2.0.0 ', '>=1.2.0 <2.0.0'],
    ['1.x || 2.x', '1.x || 2.x'],
    ['[1.0.0...2.0.0)', '>=1.0.0 <2.0.0'],
    ['(1.0.0...2.0.0]', '>1.0.0 <=2.0.0'],
    ['[1.0.0...2.0.0]', '>=1.0.0 <=2.0.0'],
    ['[ 1.0 ... v2 )', '>=1.0.0 <2.0.0'],
    ['[1.5.0...)', '>=1.5.0'],
    ['(...3.0.0)', '<3.0.0']
  ])('%s -> %s', (range, expected) => {
    expect(normalizeRange(range)).toBe(expected)
  })

  it.each([
    ['', 'invalid schema_version range ""'],
    ['not a range', 'invalid schema_version range "not a range"'],
    ['[1.0.0...2.0.0', 'invalid schema_version range "[1.0.0...2.0.0"'],
    ['[x...2.0.0)', 'invalid schema_version range "[x...2.0.0)": "x" is not a version'],
    ['[2.0.0...1.0.0)', 'invalid schema_version range "[2.0.0...1.0.0)": the interval is empty'],
    ['[1.0.0...1.0.0)', 'invalid schema_version range "[1.0.0...1.0.0)": the interval is empty'],
    ['(...)', 'invalid schema_version range "(...)": give at least one bound']
  ])('rejects %j', (range, message) => {
    expect(() => normalizeRange(range)).toThrow(new Error(message))
  })
})

describe('satisfiesRange', () => {
  it.each([
    ['1.2.3', '^1.0.0', true],
    ['2.0.0', '^1.0.0', false],
    ['1.0.0', '[1.0.0...2.0.0)', true],
    ['2.0.0', '[1.0.0...2.0.0)', false],
    ['1.0.0', '(1.0.0...2.0.0]', false],
    ['2.0.0', '(1.0.0...2.0.0]', true],
    ['1.2', '>=1.2.0', true],
    ['v1.2.3', '~1.2.0', true],
    ['v2', '[1.0.0...2.0.0]', true]
  ])('%s in %s is %s', (version, range, expected) => {
    expect(satisfiesRange(version, range)).toBe(expected)
  })

  it('rejects a version that is not one', () => {
    expect(() => satisfiesRange('latest', '^1.0.0')).toThrow(new Error('invalid version "latest"'))
    expect(toVersion('1.2.3.4')).toBeNull()
  })
})
