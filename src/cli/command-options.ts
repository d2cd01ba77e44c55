// Option parsing shared by `tako graph`, `tako run` and `tako completion`: `--name VALUE`, `--name=VALUE`, flags,
// positionals, and everything after `--` kept verbatim (the command `tako run` runs).

import { UsageError } from '../engine/errors.js'

export interface OptionSpec {
  /** Options that take a value; a repeatable one may be given more than once. */
  values: Record<string, { repeatable?: boolean }>
  flags: string[]
}

export interface ParsedOptions {
  values: Map<string, string[]>
  flags: Set<string>
  positional: string[]
  /** After `--`, untouched; undefined when there was no `--`. */
  rest?: string[]
}

export function parseOptions(command: string, argv: string[], spec: OptionSpec): ParsedOptions {
  const parsed: ParsedOptions = { values: new Map(), flags: new Set(), positional: [] }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--') {
      parsed.rest = argv.slice(i + 1)
      break
    }
    if (!arg.startsWith('-') || arg === '-') {
      parsed.positional.push(arg)
      continue
    }
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1
    const name = eq > 0 ? arg.slice(0, eq) : arg
    if (spec.flags.includes(name)) {
      if (eq > 0) throw new UsageError(`${name} takes no value`)
      parsed.flags.add(name)
      continue
    }
    const option = spec.values[name]
    if (!option) {
      const known = [...Object.keys(spec.values), ...spec.flags].sort().join(', ')
      throw new UsageError(`unknown option ${name} for "tako ${command}" (options: ${known}; see tako ${command} --help)`)
    }
    let value: string
    if (eq > 0) value = arg.slice(eq + 1)
    else {
      if (i + 1 >= argv.length) throw new UsageError(`${name} needs a value`)
      value = argv[++i]
    }
    const list = parsed.values.get(name) ?? []
    if (list.length > 0 && !option.repeatable) throw new UsageError(`${name} given more than once`)
    parsed.values.set(name, [...list, value])
  }
  return parsed
}

/** `--repo owner/name=PATH`, repeatable, as a map. */
export function repoMap(values: string[] | undefined): Record<string, string> {
  const repos: Record<string, string> = {}
  for (const value of values ?? []) {
    const eq = value.indexOf('=')
    if (eq <= 0) throw new UsageError(`--repo needs OWNER/NAME=PATH, got "${value}"`)
    repos[value.slice(0, eq)] = value.slice(eq + 1)
  }
  return repos
}

/** A comma- or space-separated list option, repeatable. */
export function listOption(values: string[] | undefined): string[] {
  return (values ?? []).flatMap((v) => v.split(/[\s,]+/)).filter((v) => v !== '')
}
