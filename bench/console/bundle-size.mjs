// The console's initial JavaScript: every script and module preload that
// web/dist/index.html names (what a first visit downloads before anything
// is drawn), gzipped, against the 250 KB budget. Lazily loaded chunks (the 3D
// page and its three.js) are listed apart.
//
//   npm run build:web && node bench/console/bundle-size.mjs

import fs from 'node:fs'
import path from 'node:path'
import zlib from 'node:zlib'

const dist = path.resolve(import.meta.dirname, '../../web/dist')
const BUDGET_KB = 250
const html = fs.readFileSync(path.join(dist, 'index.html'), 'utf8')
const initial = new Set(
  [...html.matchAll(/<(?:script[^>]*\ssrc|link[^>]*rel="modulepreload"[^>]*\shref)="\/([^"]+\.js)"/g)].map(
    (m) => m[1],
  ),
)
const gz = (file) => zlib.gzipSync(fs.readFileSync(path.join(dist, file)), { level: 9 }).length / 1024
const all = fs
  .readdirSync(path.join(dist, 'assets'))
  .filter((f) => f.endsWith('.js'))
  .map((f) => `assets/${f}`)
let total = 0
console.log('| chunk | loaded | gzip KB |')
console.log('| --- | --- | ---: |')
for (const file of all) {
  const kb = gz(file)
  const first = initial.has(file)
  if (first) total += kb
  console.log(`| ${file} | ${first ? 'initially' : 'on demand'} | ${kb.toFixed(1)} |`)
}
console.log(`\ninitial JavaScript: ${total.toFixed(1)} KB gzip (budget ${BUDGET_KB} KB)`)
if (total > BUDGET_KB) process.exit(1)
