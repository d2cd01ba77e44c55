#!/usr/bin/env node
// Prints the section of CHANGELOG.md for one version (the release notes), without its heading.
// Used by script/release (to refuse a version with no notes) and by the release workflow (the notes it publishes).
// Usage: node script/changelog.mjs X.Y.Z [CHANGELOG.md]; exit 1 with a message when the section is missing or empty.

import { readFileSync } from 'node:fs'

const [version, file = 'CHANGELOG.md'] = process.argv.slice(2)
if (!version || !/^\d+\.\d+\.\d+$/.test(version)) {
  console.error(`usage: node script/changelog.mjs X.Y.Z [CHANGELOG.md] (got ${JSON.stringify(version ?? '')})`)
  process.exit(2)
}

let text
try {
  text = readFileSync(file, 'utf8')
} catch (error) {
  console.error(`${file}: cannot be read (${error.code ?? error.message})`)
  process.exit(1)
}

// Keep a Changelog headings: "## [1.2.3] - 2026-12-01", "## [1.2.3]", "## 1.2.3".
const lines = text.split(/\r?\n/)
const isVersionHeading = (line) => /^## /.test(line)
const escaped = version.replaceAll('.', '\\.')
const heading = new RegExp(`^## \\[?v?${escaped}\\]?(\\s|$)`)
const start = lines.findIndex((line) => heading.test(line))
if (start < 0) {
  console.error(`${file}: no section "## [${version}]"; move the Unreleased entries under "## [${version}] - YYYY-MM-DD" first`)
  process.exit(1)
}
let end = lines.findIndex((line, i) => i > start && (isVersionHeading(line) || /^\[[^\]]+\]:\s/.test(line)))
if (end < 0) end = lines.length
const body = lines
  .slice(start + 1, end)
  .join('\n')
  .trim()
if (body === '') {
  console.error(`${file}:${start + 1}: the section of ${version} is empty; say what changed`)
  process.exit(1)
}
process.stdout.write(`${body}\n`)
