// `tako completion bash|zsh|fish`: shell completion for commands, options and the workflow names of the tako file in
// `--root` (or the current folder). Names are asked at completion time through `tako completion workflows`, so the
// script stays right when workflows change. The scripts are written here by hand: no npm library generates
// completion for a hand-parsed CLI without taking over its parsing.

import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { parse } from 'yaml'
import { UsageError } from '../engine/errors.js'
import { parseOptions } from './command-options.js'
import { COMMANDS as TABLE } from './args.js'

export const COMPLETION_HELP = `tako completion — shell completion for tako

Usage:
  tako completion bash    add to ~/.bashrc:  source <(tako completion bash)
  tako completion zsh     add to ~/.zshrc:   source <(tako completion zsh)   (after compinit)
  tako completion fish    tako completion fish > ~/.config/fish/completions/tako.fish
  tako completion workflows [--root DIR] [--config FILE]
                          the workflow names the scripts offer after "tako exec", one per line`

/** Commands and their options, from the CLI's one table (args.ts), so a new option completes without an edit here. */
export const COMMANDS: Record<string, { about: string; options: string[] }> = Object.fromEntries([
  ...TABLE.map((c) => [c.name, { about: c.summary, options: [...c.options.flatMap((o) => (o.alias ? [o.name, o.alias] : [o.name])), '--help'] }]),
  ['help', { about: 'usage', options: [] }]
])

const DIRECTORY_OPTIONS = ['--root', '--repos', '--workspace', '--cache-dir']
const FILE_OPTIONS = ['--config', '--report', '--resume', '--event']
const FREE_OPTIONS = ['--input', '-i', '--source', '--repo', '--from', '--only', '--ignore', '--max-concurrency', '--subscription', '--api-url']
const FORMATS = ['tree', 'mermaid', 'dot', 'json']
const SHELLS = ['bash', 'zsh', 'fish']

interface Io {
  out: (text: string) => void
  err: (text: string) => void
}

export async function completionCommand(argv: string[], io: Io): Promise<number> {
  const o = parseOptions('completion', argv, { values: { '--root': {}, '--config': {} }, flags: ['--help', '-h'] })
  if (o.flags.has('--help') || o.flags.has('-h')) {
    io.out(`${COMPLETION_HELP}\n`)
    return 0
  }
  const [what, ...extra] = o.positional
  if (extra.length > 0 || o.rest) throw new UsageError(`tako completion takes one argument, got: ${[...o.positional, ...(o.rest ?? [])].join(' ')}`)
  if (what === 'workflows') {
    for (const name of await workflowNames(o.values.get('--root')?.[0] ?? '.', o.values.get('--config')?.[0])) io.out(`${name}\n`)
    return 0
  }
  if (o.values.size > 0) throw new UsageError('--root and --config go with "tako completion workflows" only')
  if (what === 'bash') io.out(bashScript())
  else if (what === 'zsh') io.out(zshScript())
  else if (what === 'fish') io.out(fishScript())
  else
    throw new UsageError(
      what === undefined
        ? 'tako completion needs a shell: tako completion bash|zsh|fish'
        : `tako completion: unknown shell "${what}" (shells: ${SHELLS.join(', ')})`
    )
  return 0
}

/** Workflow names of the tako file, read leniently: a file with a mistake elsewhere still completes; none gives none. */
export async function workflowNames(root: string, config?: string): Promise<string[]> {
  const files = config ? [path.resolve(root, config)] : ['tako.yml', 'tako.yaml'].map((f) => path.join(root, f))
  for (const file of files) {
    const text = await readFile(file, 'utf8').catch(() => undefined)
    if (text === undefined) continue
    try {
      const doc = parse(text, { maxAliasCount: 100 }) as { workflows?: unknown }
      const workflows = doc?.workflows
      if (typeof workflows !== 'object' || workflows === null || Array.isArray(workflows)) return []
      return Object.keys(workflows).filter((n) => /^[A-Za-z][A-Za-z0-9_-]*$/.test(n))
    } catch {
      return []
    }
  }
  return []
}

function caseOptions(indent: string, end: string): string {
  return Object.entries(COMMANDS)
    .map(([name, c]) => `${indent}${name}) opts="${c.options.join(' ')}" ${end}`)
    .join('\n')
}

function bashScript(): string {
  return `# bash completion for tako: source <(tako completion bash)
_tako() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}"
  if [[ $COMP_CWORD -eq 1 ]]; then
    COMPREPLY=( $(compgen -W "${Object.keys(COMMANDS).join(' ')} --help --version" -- "$cur") )
    return
  fi
  local cmd="\${COMP_WORDS[1]}" i root=. config=
  for (( i = 2; i < COMP_CWORD; i++ )); do
    case "\${COMP_WORDS[i]}" in
      --) COMPREPLY=( $(compgen -c -- "$cur") ); return ;;
      --root) root="\${COMP_WORDS[i+1]}" ;;
      --root=*) root="\${COMP_WORDS[i]#--root=}" ;;
      --config) config="\${COMP_WORDS[i+1]}" ;;
      --config=*) config="\${COMP_WORDS[i]#--config=}" ;;
    esac
  done
  case "$prev" in
    ${DIRECTORY_OPTIONS.join('|')}) COMPREPLY=( $(compgen -d -- "$cur") ); return ;;
    ${FILE_OPTIONS.join('|')}) COMPREPLY=( $(compgen -f -- "$cur") ); return ;;
    --format) COMPREPLY=( $(compgen -W "${FORMATS.join(' ')}" -- "$cur") ); return ;;
    ${FREE_OPTIONS.join('|')}) return ;;
  esac
  local opts=
  case "$cmd" in
${caseOptions('    ', ';;')}
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=( $(compgen -W "$opts" -- "$cur") )
    return
  fi
  case "$cmd" in
    exec) COMPREPLY=( $(compgen -W "$(command tako completion workflows --root "$root" \${config:+--config "$config"} 2>/dev/null)" -- "$cur") ) ;;
    completion) COMPREPLY=( $(compgen -W "${SHELLS.join(' ')}" -- "$cur") ) ;;
  esac
}
complete -F _tako tako
`
}

function zshScript(): string {
  return `#compdef tako
# zsh completion for tako: source <(tako completion zsh) after compinit, or save as _tako in your $fpath
_tako() {
  local cmd=\${words[2]} i root=. config= opts=
  if (( CURRENT == 2 )); then
    compadd -- ${Object.keys(COMMANDS).join(' ')} --help --version
    return
  fi
  for (( i = 3; i < CURRENT; i++ )); do
    case \${words[i]} in
      --) _command_names; return ;;
      --root) root=\${words[i+1]} ;;
      --root=*) root=\${words[i]#--root=} ;;
      --config) config=\${words[i+1]} ;;
      --config=*) config=\${words[i]#--config=} ;;
    esac
  done
  case \${words[CURRENT-1]} in
    ${DIRECTORY_OPTIONS.join('|')}) _directories; return ;;
    ${FILE_OPTIONS.join('|')}) _files; return ;;
    --format) compadd -- ${FORMATS.join(' ')}; return ;;
    ${FREE_OPTIONS.join('|')}) return ;;
  esac
  case $cmd in
${caseOptions('    ', ';;')}
  esac
  if [[ \${words[CURRENT]} == -* ]]; then
    compadd -- \${=opts}
    return
  fi
  case $cmd in
    exec) compadd -- \${(f)"$(command tako completion workflows --root "$root" \${config:+--config} \${config:+"$config"} 2>/dev/null)"} ;;
    completion) compadd -- ${SHELLS.join(' ')} ;;
  esac
}
if [[ "\${funcstack[1]}" == "_tako" ]]; then
  _tako "$@"
else
  compdef _tako tako
fi
`
}

function fishScript(): string {
  const lines = [
    '# fish completion for tako: tako completion fish > ~/.config/fish/completions/tako.fish',
    'function __tako_root',
    '    set -l tokens (commandline -opc)',
    '    set -l i (contains -i -- --root $tokens); and echo $tokens[(math $i + 1)]; or echo .',
    'end',
    'complete -c tako -f',
    'complete -c tako -n __fish_use_subcommand -l help -d usage',
    'complete -c tako -n __fish_use_subcommand -l version -d version'
  ]
  for (const [name, c] of Object.entries(COMMANDS)) lines.push(`complete -c tako -n __fish_use_subcommand -a ${name} -d '${c.about.replace(/'/g, "\\'")}'`)
  for (const [name, c] of Object.entries(COMMANDS)) {
    for (const option of c.options) {
      const flag = option.startsWith('--') ? `-l ${option.slice(2)}` : `-s ${option.slice(1)}`
      // -x: a value is required and is not a file name; -r -F: a file name.
      const value = DIRECTORY_OPTIONS.includes(option)
        ? ' -x -a "(__fish_complete_directories)"'
        : FILE_OPTIONS.includes(option)
          ? ' -r -F'
          : option === '--format'
            ? ` -x -a '${FORMATS.join(' ')}'`
            : FREE_OPTIONS.includes(option)
              ? ' -x'
              : ''
      lines.push(`complete -c tako -n '__fish_seen_subcommand_from ${name}' ${flag}${value}`)
    }
  }
  lines.push(`complete -c tako -n '__fish_seen_subcommand_from exec' -a '(command tako completion workflows --root (__tako_root) 2>/dev/null)'`)
  lines.push(`complete -c tako -n '__fish_seen_subcommand_from completion' -a '${SHELLS.join(' ')}'`)
  return `${lines.join('\n')}\n`
}
