// Public surface of the tako.yml loader.

export * from './types.js'
export * from './load.js'
export * from './errors.js'
export * from './duration.js'
