// Real parsers for the diagrams tako writes: Mermaid's own parser (under jsdom, which its sanitizer needs) and
// Graphviz compiled to wasm, so validity tests need no browser and no system graphviz.

import { JSDOM } from 'jsdom'

let mermaidReady: Promise<{ parse: (text: string) => Promise<unknown> }> | undefined

/** Resolves when Mermaid accepts the text; rejects with its parse error otherwise. */
export async function parseMermaid(text: string): Promise<unknown> {
  mermaidReady ??= (async () => {
    const dom = new JSDOM('<!doctype html><html><body></body></html>')
    Object.assign(globalThis, { window: dom.window, document: dom.window.document })
    const { default: mermaid } = await import('mermaid')
    mermaid.initialize({ startOnLoad: false, securityLevel: 'strict' })
    return mermaid
  })()
  return (await mermaidReady).parse(text)
}

let graphviz: Promise<{ dot: (text: string, format?: 'svg') => string }> | undefined

/** The SVG Graphviz makes of the DOT text (as `dot -Tsvg`); throws on a syntax error. */
export async function renderDot(text: string): Promise<string> {
  graphviz ??= import('@hpcc-js/wasm-graphviz').then(({ Graphviz }) => Graphviz.load())
  return (await graphviz).dot(text, 'svg')
}
