import { describe, expect, it } from '@jest/globals'
import fc from 'fast-check'
import { OutputBuffer } from '../../src/engine/output-buffer.js'

describe('OutputBuffer', () => {
  it('keeps everything under the limit', () => {
    const buf = new OutputBuffer(100)
    buf.append('hello ')
    buf.append(Buffer.from('world'))
    expect(buf.text()).toBe('hello world')
    expect(buf.truncatedBytes).toBe(0)
    expect(buf.byteLength).toBe(11)
  })

  it('keeps the last maxBytes and counts what was cut', () => {
    const buf = new OutputBuffer(5)
    buf.append('abc')
    buf.append('defg')
    buf.append('hi')
    expect(buf.text()).toBe('efghi')
    expect(buf.truncatedBytes).toBe(4)
  })

  it('keeps the tail of a single chunk larger than the limit', () => {
    const buf = new OutputBuffer(4)
    buf.append('0123456789')
    expect(buf.text()).toBe('6789')
    expect(buf.truncatedBytes).toBe(6)
  })

  it('stays bounded over many tiny chunks', () => {
    const buf = new OutputBuffer(1000)
    for (let i = 0; i < 200_000; i++) buf.append(String(i % 10))
    expect(buf.byteLength).toBe(1000)
    expect(buf.truncatedBytes).toBe(199_000)
    expect(buf.text()).toBe('0123456789'.repeat(100))
  })

  it('with a zero limit keeps nothing and counts everything', () => {
    const buf = new OutputBuffer(0)
    buf.append('abc€')
    expect(buf.text()).toBe('')
    expect(buf.truncatedBytes).toBe(6)
  })

  it('never starts in the middle of a multibyte character', () => {
    // 'a€b' is 61 e2 82 ac 62: keeping 3 bytes would start inside '€'.
    const buf = new OutputBuffer(3)
    buf.append('a€b')
    expect(buf.text()).toBe('b')
    expect(buf.truncatedBytes).toBe(4)

    const emoji = new OutputBuffer(6)
    emoji.append('x😀😀')
    expect(emoji.text()).toBe('😀')
    expect(emoji.truncatedBytes).toBe(5)
  })

  it('joins a character split across chunks', () => {
    const bytes = Buffer.from('é€😀')
    const buf = new OutputBuffer(100)
    for (const byte of bytes) buf.append(Buffer.from([byte]))
    expect(buf.text()).toBe('é€😀')
  })

  it('keeps a utf-8 safe suffix for any text, chunking and limit', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'binary', maxLength: 20 }), { maxLength: 20 }), fc.integer({ min: 0, max: 64 }), (chunks, max) => {
        const buf = new OutputBuffer(max)
        for (const chunk of chunks) buf.append(chunk)
        const full = chunks.join('')
        const kept = buf.text()
        expect(kept).not.toContain('\uFFFD')
        expect(full.endsWith(kept)).toBe(true)
        expect(Buffer.byteLength(kept)).toBeLessThanOrEqual(max)
        // At most one character (4 bytes) is dropped beyond the limit.
        expect(Buffer.byteLength(kept)).toBeGreaterThanOrEqual(Math.min(max, Buffer.byteLength(full)) - 3)
        expect(Buffer.byteLength(kept) + buf.truncatedBytes).toBe(Buffer.byteLength(full))
      })
    )
  })

  describe('tailLines byte bound', () => {
    it('keeps the end of huge lines within maxBytes and says what was cut', () => {
      const buf = new OutputBuffer(1024 * 1024)
      buf.append(`${'a'.repeat(50_000)}\n${'é'.repeat(30_000)}\nlast line\n`)
      const tail = buf.tailLines(30, 1000)
      const [note, ...rest] = tail.split('\n')
      expect(note).toMatch(/^\[… \d+ bytes cut\]$/)
      expect(Buffer.byteLength(rest.join('\n'))).toBeLessThanOrEqual(1000)
      expect(rest[rest.length - 1]).toBe('last line')
      expect(rest.join('\n')).not.toContain('\ufffd')
      const cut = Number(/\d+/.exec(note)?.[0])
      expect(cut + Buffer.byteLength(rest.join('\n'))).toBe(50_000 + 1 + 60_000 + 1 + 'last line'.length)
    })
  })

  describe('tailLines', () => {
    it('gives the last n lines without a marker when nothing was cut', () => {
      const buf = new OutputBuffer()
      buf.append('one\ntwo\r\nthree\nfour\n')
      expect(buf.tailLines(2)).toBe('three\nfour')
      expect(buf.tailLines(10)).toBe('one\ntwo\nthree\nfour')
      expect(buf.tailLines(0)).toBe('')
    })

    it('defaults to 30 lines', () => {
      const buf = new OutputBuffer()
      for (let i = 1; i <= 40; i++) buf.append(`line ${i}\n`)
      const tail = buf.tailLines().split('\n')
      expect(tail).toHaveLength(30)
      expect(tail[0]).toBe('line 11')
      expect(tail[29]).toBe('line 40')
    })

    it('starts with a line saying how much was cut', () => {
      const buf = new OutputBuffer(13)
      buf.append('first line\nsecond\nthird\n')
      expect(buf.truncatedBytes).toBe(11)
      expect(buf.tailLines(5)).toBe('[… 11 bytes cut]\nsecond\nthird')
      expect(buf.tailLines(1)).toBe('[… 11 bytes cut]\nthird')
    })

    it('keeps a last line without a newline', () => {
      const buf = new OutputBuffer()
      buf.append('a\nb')
      expect(buf.tailLines(1)).toBe('b')
    })
  })
})
