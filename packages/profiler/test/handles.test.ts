import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const run = promisify(execFile)
const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url))

// Lets pending fs requests of the dynamic import settle before resources are compared.
const settle = 'await new Promise((r) => setTimeout(r, 20))'

// A handle left behind keeps the child alive for ever; the timeout only bounds that hang (it is
// long because a loaded machine can take seconds to start Node and import the package).
async function runScript(code: string): Promise<{ stdout: string }> {
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', code], {
    timeout: 90_000,
    // Runners such as nx set FORCE_COLOR, which would colour the printed booleans.
    env: { ...process.env, FORCE_COLOR: '0' },
  })
  return { stdout }
}

describe('process lifetime', () => {
  it('starts nothing on import', async () => {
    const { stdout } = await runScript(`
      ${settle}
      const before = process.getActiveResourcesInfo().sort().join()
      await import(${JSON.stringify(dist)})
      ${settle}
      console.log(before === process.getActiveResourcesInfo().sort().join())
    `)
    expect(stdout.trim()).toBe('true')
  })

  it('leaves no handle behind once profiles stop, so the process exits by itself', async () => {
    const { stdout } = await runScript(`
      import { channel } from 'node:diagnostics_channel'
      const { performanceProfile, startProfile, getSystemMetrics } = await import(${JSON.stringify(dist)})
      ${settle}
      const before = process.getActiveResourcesInfo().sort().join()
      const p = startProfile({ sampleIntervalMs: 1, eventLoopResolutionMs: 1 })
      await performanceProfile(async (prof) => {
        channel('bookgen:cache').publish({ op: 'hit', key: 'k', namespace: 'n', durationMs: 1 })
        await new Promise((r) => setTimeout(r, 20))
        prof.updateMemoryPeak()
      })
      getSystemMetrics()
      p.stop()
      ${settle}
      console.log(before === process.getActiveResourcesInfo().sort().join())
    `)
    expect(stdout.trim()).toBe('true')
  })

  it('does not keep the process alive even when a profile is never stopped', async () => {
    const { stdout } = await runScript(`
      const { startProfile } = await import(${JSON.stringify(dist)})
      startProfile({ sampleIntervalMs: 1 })
      console.log('started')
    `)
    expect(stdout.trim()).toBe('started')
  })
})
