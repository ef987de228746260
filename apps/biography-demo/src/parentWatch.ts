import { fstatSync } from 'node:fs'
import { isMainThread } from 'node:worker_threads'

// Preloaded (`node --import dist/parentWatch.js`) into every bookgen-worker the demo starts. Its
// stdin is a pipe from the demo, which the kernel closes when the demo's process ends, however it
// ends (SIGKILL included): the worker then stops the way SIGTERM stops it (it drains its jobs and
// exits), so no worker outlives the demo. Nothing is done when stdin is not a pipe, nor on the
// worker's threads, which run the preload too (they inherit `--import`).
const stdin = isMainThread ? fstatSync(0) : undefined
if (stdin?.isFIFO() || stdin?.isSocket()) {
  let stopped = false
  const stop = () => {
    if (stopped) return
    stopped = true
    process.kill(process.pid, 'SIGTERM')
  }
  process.stdin.on('end', stop)
  process.stdin.on('error', stop)
  process.stdin.resume()
  // Watching must not keep a worker alive that is done otherwise.
  process.stdin.unref()
}
