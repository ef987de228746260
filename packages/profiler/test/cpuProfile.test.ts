import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { performanceProfile } from '../src/index.js'

const dir = await mkdtemp(join(tmpdir(), 'bookgen-cpuprofile-'))
afterAll(() => rm(dir, { recursive: true, force: true }))

function busyHashing(ms: number): number {
  let h = 0
  const until = performance.now() + ms
  while (performance.now() < until) for (let i = 0; i < 1000; i++) h = (h * 31 + i) | 0
  return h
}

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string } }[]
  startTime: number
  endTime: number
  samples: number[]
  timeDeltas: number[]
}

describe('performanceProfile(fn, { cpuProfile })', () => {
  it('writes a .cpuprofile of fn that names its functions, and keeps fn s result', async () => {
    const path = join(dir, 'run.cpuprofile')
    const prof = await performanceProfile(() => busyHashing(200), { cpuProfile: path })
    expect(typeof prof.result).toBe('number')
    const profile = JSON.parse(await readFile(path, 'utf8')) as CpuProfile
    expect(profile.endTime).toBeGreaterThan(profile.startTime)
    expect(profile.samples.length).toBeGreaterThan(0)
    expect(profile.samples.length).toBe(profile.timeDeltas.length)
    const ids = new Set(profile.nodes.map((n) => n.id))
    expect(profile.samples.every((id) => ids.has(id))).toBe(true)
    const hashing = profile.nodes.find((n) => n.callFrame.functionName === 'busyHashing')
    expect(hashing?.callFrame.url).toContain('cpuProfile.test.ts')
  })

  it('writes the profile when fn throws, and rethrows fn s error', async () => {
    const path = join(dir, 'failed.cpuprofile')
    await expect(
      performanceProfile(
        () => {
          busyHashing(20)
          throw new Error('boom')
        },
        { cpuProfile: path },
      ),
    ).rejects.toThrow('boom')
    expect(JSON.parse(await readFile(path, 'utf8')).nodes.length).toBeGreaterThan(0)
  })

  it('rejects a bad path option with INVALID_OPTION and an unwritable one with CPU_PROFILE_FAILED', async () => {
    await expect(performanceProfile(() => {}, { cpuProfile: '' })).rejects.toMatchObject({
      code: 'INVALID_OPTION',
    })
    await expect(performanceProfile(() => {}, { cpuProfile: 5 as never })).rejects.toThrow(
      'options.cpuProfile must be a file path or null, got 5',
    )
    await expect(
      performanceProfile(() => {}, { cpuProfile: join(dir, 'missing', 'dir', 'x.cpuprofile') }),
    ).rejects.toMatchObject({
      code: 'CPU_PROFILE_FAILED',
      cause: expect.objectContaining({ code: 'ENOENT' }),
    })
    // a bad profile option after the CPU profiler started leaves no session behind
    await expect(
      performanceProfile(() => {}, { cpuProfile: join(dir, 'y.cpuprofile'), sampleIntervalMs: -1 }),
    ).rejects.toMatchObject({ code: 'INVALID_OPTION' })
  })
})
