// The version the CLI and the action report; kept equal to package.json by a test.
export const VERSION = '0.1.0'
