#!/usr/bin/env node
// `npm run demo`: builds the four packages and the demo only when a source is newer than its
// dist and differs from what the last build saw (quietly: the build's output is shown only when
// it fails), then runs the CLI in this process with the same arguments.
// BOOKGEN_DEMO_NO_BUILD=1 runs the dist as it is (the tests use it: a build started from inside
// a test would replace the dist other tasks are reading).
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { buildQuietly, needsBuild, recordBuild } from './freshness.mjs'

const root = fileURLToPath(new URL('../../../', import.meta.url))
const stamp = join(root, 'apps', 'biography-demo', 'dist', '.inputs-sha256')
const stale = process.env.BOOKGEN_DEMO_NO_BUILD === '1' ? undefined : needsBuild(root, stamp)
if (stale !== undefined) {
  const quiet = process.argv.includes('--quiet') || process.argv.includes('-q')
  if (!quiet) process.stderr.write(`building the demo (${stale} changed) …\n`)
  const nx = join(root, 'node_modules', '.bin', 'nx')
  const code = await buildQuietly(
    nx,
    ['run', '@bookgen/biography-demo:build', '--outputStyle=static'],
    {
      cwd: root,
      env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', FORCE_COLOR: '0' },
    },
  )
  if (code !== 0) {
    process.stderr.write(`error: the build failed (exit ${code}); its output is above\n`)
    process.exit(code)
  }
  recordBuild(root, stamp)
}
await import(pathToFileURL(join(root, 'apps', 'biography-demo', 'dist', 'cli.js')).href)
