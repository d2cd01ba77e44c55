// `tako completion`: the bash script sourced in a real bash completes commands, options and workflow names.

import { afterAll, describe, expect, it } from '@jest/globals'
import { execFileSync, spawnSync } from 'node:child_process'
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { CLI, runTako } from '../../__fixtures__/cli.js'
import { cleanupTempDirs, makeRepo, tempDir } from '../../__fixtures__/repos.js'

afterAll(cleanupTempDirs)

/** A folder holding a `tako` that runs the bundle: the scripts ask it for workflow names. */
function takoOnPath(): string {
  const bin = path.join(tempDir(), 'bin')
  mkdirSync(bin)
  writeFileSync(path.join(bin, 'tako'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} "$@"\n`)
  chmodSync(path.join(bin, 'tako'), 0o755)
  return `${bin}:${process.env.PATH}`
}

function shellScript(script: string, name: string): string {
  const file = path.join(tempDir(), name)
  writeFileSync(file, script)
  return file
}

/** The bash script sourced, the words given, COMPREPLY printed. */
function complete(script: string, words: string[], cwd: string): string[] {
  const driver = `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); _tako; printf '%s\\n' "\${COMPREPLY[@]}"`
  const out = execFileSync('bash', ['--noprofile', '--norc', '-c', driver, 'bash', shellScript(script, 'tako.bash'), ...words], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, PATH: takoOnPath() }
  })
  return out.split('\n').filter((l) => l !== '')
}

const has = (shell: string): boolean => spawnSync(shell, ['-c', 'exit 0']).status === 0
/** zsh and fish are not on every machine (bash is): their tests show as skipped where they are missing. */
const withZsh = has('zsh') ? it : it.skip
const withFish = has('fish') ? it : it.skip

describe('tako completion bash', () => {
  it('sourced in bash, completes tako ex to tako exec, options, formats and workflow names', async () => {
    const res = await runTako(['completion', 'bash'])
    expect(res.code).toBe(0)
    const root = makeRepo(path.join(tempDir(), 'repo'), {
      'tako.yml': 'version: 1\nworkflows:\n  release: { steps: [echo] }\n  rebuild: { steps: [echo] }\n  test: { steps: [echo] }\n'
    })
    const elsewhere = tempDir()
    expect(complete(res.stdout, ['tako', 'ex'], elsewhere)).toEqual(['exec'])
    expect(complete(res.stdout, ['tako', 'run', '--keep'], elsewhere)).toEqual(['--keep-going'])
    expect(complete(res.stdout, ['tako', 'graph', '--format', 'm'], elsewhere)).toEqual(['mermaid'])
    expect(complete(res.stdout, ['tako', 'exec', 're'], root)).toEqual(['release', 'rebuild'])
    expect(complete(res.stdout, ['tako', 'exec', '--root', root, 't'], elsewhere)).toEqual(['test'])
    expect(complete(res.stdout, ['tako', 'exec', 'x'], elsewhere)).toEqual([])
  })

  withFish('fish, through its own completion engine (complete -C), completes commands, formats and workflow names', async () => {
    const file = shellScript((await runTako(['completion', 'fish'])).stdout, 'tako.fish')
    const root = makeRepo(path.join(tempDir(), 'repo'), { 'tako.yml': 'version: 1\nworkflows:\n  release: { steps: [echo] }\n' })
    const fish = (line: string): string[] =>
      execFileSync('fish', ['--no-config', '-c', 'source $argv[1]; complete -C $argv[2]', file, line], {
        encoding: 'utf8',
        env: { ...process.env, PATH: takoOnPath() }
      })
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => l.split('\t')[0])
    expect(fish('tako ex')).toEqual(['exec'])
    expect(fish('tako graph --format ')).toEqual(['dot', 'json', 'mermaid', 'tree'])
    expect(fish(`tako exec --root ${root} `)).toEqual(['release'])
  })

  withZsh('zsh runs its function in a real zsh (compadd stubbed to print the candidates it is given)', async () => {
    const file = shellScript((await runTako(['completion', 'zsh'])).stdout, 'tako.zsh')
    const root = makeRepo(path.join(tempDir(), 'repo'), { 'tako.yml': 'version: 1\nworkflows:\n  release: { steps: [echo] }\n' })
    const zsh = (...words: string[]): string[] =>
      execFileSync(
        'zsh',
        [
          '-fc',
          'compdef() { :; }; compadd() { [[ $1 == -- ]] && shift; print -l -- "$@" }; source $1; shift; words=("$@"); CURRENT=$#; _tako',
          'zsh',
          file,
          ...words
        ],
        { encoding: 'utf8', env: { ...process.env, PATH: takoOnPath() } }
      )
        .split('\n')
        .filter((l) => l !== '')
    expect(zsh('tako', 'ex')).toContain('exec')
    expect(zsh('tako', 'run', '--k')).toContain('--keep-going')
    expect(zsh('tako', 'graph', '--format', '')).toEqual(['tree', 'mermaid', 'dot', 'json'])
    expect(zsh('tako', 'exec', '--root', root, '')).toEqual(['release'])
  })

  it('zsh and fish scripts name every command; an unknown shell exits 2', async () => {
    const zsh = await runTako(['completion', 'zsh'])
    expect(zsh.stdout).toMatch(/^#compdef tako\n/)
    expect(zsh.stdout).toContain('compadd -- exec validate graph run completion schema help --help --version')
    const fish = await runTako(['completion', 'fish'])
    expect(fish.stdout).toContain(
      "complete -c tako -n __fish_use_subcommand -a run -d 'one command in each repository of the graph, publishers before their subscribers'"
    )
    expect(fish.stdout).toContain("complete -c tako -n '__fish_seen_subcommand_from run' -l keep-going")
    const bad = await runTako(['completion', 'tcsh'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toBe('tako: tako completion: unknown shell "tcsh" (shells: bash, zsh, fish)\n')
  })
})
