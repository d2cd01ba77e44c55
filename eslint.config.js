// ESLint flat config: typescript-eslint's recommended rules plus the type-aware rules that catch real bugs in an
// async engine (a promise nobody awaits, a promise passed where a callback's result is ignored). Formatting is
// Prettier's (`npm run lint` runs both); rules are tuned so that the codebase's deliberate style passes.

import js from '@eslint/js'
import { defineConfig } from 'eslint/config'
import globals from 'globals'
import tseslint from 'typescript-eslint'

export default defineConfig(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'build/'] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
      globals: { ...globals.node }
    },
    rules: {
      // Sanitising what subscribers print means matching control characters (ANSI escapes, NUL, BEL) on purpose.
      'no-control-regex': 'off',
      // An error rethrown for a user says the cause in words ("cannot start git: ENOENT"); no stack or cause chain
      // is shown to users for their own mistakes, so a missing `cause` is the style, not a lost error.
      'preserve-caught-error': 'off'
    }
  },
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname }
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false, attributes: false } }],
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true }]
    }
  }
)
