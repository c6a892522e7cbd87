// The console is built to web/dist, which the server serves at /. In
// development (`npm run dev:web`) Vite serves it on :5173 and passes the API,
// the WebSockets and the docs through to a server on :8080, so the browser
// sees one origin either way (the session cookie is SameSite=Strict). The
// Host header is passed on unchanged, because the server compares a cookie
// request's Origin with its Host.

import react from '@vitejs/plugin-react'
import { defineConfig } from 'vite'

const server = process.env.MYNTRIX_DEV_SERVER ?? 'http://127.0.0.1:8080'

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
    // The budget: the initial JavaScript must stay under 250 KB gzipped (docs/PERFORMANCE.md).
    chunkSizeWarningLimit: 600,
  },
  server: {
    proxy: Object.fromEntries(
      ['/api', '/docs', '/metrics', '/healthz', '/readyz', '/ws'].map((prefix) => [
        prefix,
        { target: server, changeOrigin: false, ws: prefix === '/ws' },
      ]),
    ),
  },
})
