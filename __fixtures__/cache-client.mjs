// Runs the real @actions/cache in its own process, as the bundled action does: the library takes its whole
// configuration from process.env and reports through workflow commands on stdout.
// Usage: node cache-client.mjs '{"op":"save"|"restore","key":"k","paths":["p"],"restoreKeys":["k-"]}'
// The environment selects the service (see cacheServiceEnv); the last stdout line is {"result": ...}.
import * as cache from '@actions/cache'

const { op, key, paths, restoreKeys } = JSON.parse(process.argv[2])
const result = op === 'save' ? await cache.saveCache(paths, key) : await cache.restoreCache(paths, key, restoreKeys ?? [])
process.stdout.write(`\n${JSON.stringify({ result: result ?? null })}\n`)
