// Shared by the benchmarks: bundles a TypeScript subject into one plain JS
// file, so it runs on bare `node` and no TypeScript loader inflates its RSS or
// CPU. Native modules (better-sqlite3) and optional drivers stay external.
import { build } from 'esbuild'

export async function bundleSubject(entry, outfile, external = []) {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external,
  })
}
