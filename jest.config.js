/** Jest in ESM mode over TypeScript sources (see STYLE.md, toolchain facts). */
export default {
  testEnvironment: 'node',
  roots: ['<rootDir>/__tests__'],
  testMatch: ['**/*.test.ts'],
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json', diagnostics: { ignoreCodes: [151002] } }] },
  // A ceiling that only catches a hang: tests wait for events, never assert elapsed time (a busy 2-core runner is slow).
  testTimeout: 300000,
  maxWorkers: 2
}
