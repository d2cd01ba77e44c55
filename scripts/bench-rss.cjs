// Preload for `npm run bench` where GNU time is missing: prints this process's peak RSS (kB) to stderr at exit.
process.on('exit', () => {
  process.stderr.write(`\ntako-bench-peak-rss-kb=${process.resourceUsage().maxRSS}\n`)
})
