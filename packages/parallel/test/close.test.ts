import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { expect, it } from 'vitest'

const run = promisify(execFile)

it('a process exits by itself after close(): no thread or timer keeps it alive', async () => {
  const script = fileURLToPath(new URL('./fixtures/closeChild.mjs', import.meta.url))
  // A thread or timer left behind keeps the child alive for ever: the timeout only bounds that
  // hang (long, because a loaded machine takes seconds to start Node and the threads).
  const { stdout } = await run(process.execPath, [script], { timeout: 90_000 })
  expect(JSON.parse(stdout)).toEqual({ sum: 999_000, closures: [2, 3, 4] })
})
