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
  maxWorkers: 2,
  // report-file.test.ts writes a report larger than V8's longest string, and a worker keeps that heap afterwards.
  // Freeing 1 GB took the kernel here longer than the 500 ms Jest waits for a worker to exit at the end ("a worker
  // process has failed to exit gracefully"): a worker past 512 MB after a test file is replaced by a fresh one.
  workerIdleMemoryLimit: '512MB'
}
