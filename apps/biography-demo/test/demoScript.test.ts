import { execFile } from 'node:child_process'
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { buildQuietly, needsBuild, recordBuild, staleProject } from '../scripts/freshness.mjs'
import { useTempDir } from './helpers.js'

const script = fileURLToPath(new URL('../scripts/demo.mjs', import.meta.url))

function file(path: string, mtimeSeconds: number): void {
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(path, 'x')
  utimesSync(path, mtimeSeconds, mtimeSeconds)
}

describe('staleProject', () => {
  const dir = useTempDir('bookgen-demo-fresh-')

  it('names the first project whose dist is missing or older than an input', () => {
    const root = join(dir(), 'ws')
    file(join(root, 'tsconfig.base.json'), 1000)
    file(join(root, 'tools/build/tsup.mjs'), 1000)
    file(join(root, 'a/src/index.ts'), 2000)
    file(join(root, 'a/package.json'), 1000)
    file(join(root, 'b/src/index.ts'), 2000)
    expect(staleProject(root, ['a', 'b'])).toBe('a')
    file(join(root, 'a/dist/index.js'), 3000)
    expect(staleProject(root, ['a', 'b'])).toBe('b')
    file(join(root, 'b/dist/index.js'), 3000)
    file(join(root, 'b/dist/worker.js'), 1500)
    expect(staleProject(root, ['a', 'b'])).toBe('b')
    file(join(root, 'b/dist/worker.js'), 3000)
    expect(staleProject(root, ['a', 'b'])).toBeUndefined()
    file(join(root, 'tools/build/tsup.mjs'), 4000)
    expect(staleProject(root, ['a', 'b'])).toBe('a')
  })
})

describe('needsBuild', () => {
  const dir = useTempDir('bookgen-demo-stamp-')

  it('trusts a recorded build when the sources were only touched, not changed', () => {
    const root = join(dir(), 'ws')
    const stamp = join(root, 'a/dist/.inputs-sha256')
    file(join(root, 'tsconfig.base.json'), 1000)
    file(join(root, 'a/src/index.ts'), 2000)
    expect(needsBuild(root, stamp, ['a'])).toBe('a')
    file(join(root, 'a/dist/index.js'), 3000)
    expect(needsBuild(root, stamp, ['a'])).toBeUndefined()
    recordBuild(root, stamp, ['a'])
    // A checkout rewrites the file with the same content and a newer mtime.
    file(join(root, 'a/src/index.ts'), 4000)
    expect(staleProject(root, ['a'])).toBe('a')
    expect(needsBuild(root, stamp, ['a'])).toBeUndefined()
    writeFileSync(join(root, 'a/src/index.ts'), 'changed')
    expect(needsBuild(root, stamp, ['a'])).toBe('a')
  })
})

describe('buildQuietly', () => {
  afterEach(() => {
    vi.restoreAllMocks()
  })

  it('prints nothing when the build succeeds, and its whole output with the code when it fails', async () => {
    const written: string[] = []
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk))
      return true
    })
    const ok = await buildQuietly(process.execPath, ['-e', 'console.log("compiled 12 files")'])
    expect(ok).toBe(0)
    expect(written).toEqual([])
    const failed = await buildQuietly(process.execPath, [
      '-e',
      'console.log("step 1"); console.error("src/x.ts: error"); process.exit(3)',
    ])
    expect(failed).toBe(3)
    expect(written.join('')).toContain('step 1')
    expect(written.join('')).toContain('src/x.ts: error')
  })
})

describe('npm run demo (scripts/demo.mjs)', () => {
  // BOOKGEN_DEMO_NO_BUILD: a build started from a test would replace the dist other tasks read.
  it('runs the built CLI in-process and prints the help, with nothing on stderr', async () => {
    const { code, stdout, stderr } = await new Promise<{
      code: number
      stdout: string
      stderr: string
    }>((resolve) => {
      execFile(
        process.execPath,
        [script, '--help'],
        { timeout: 540_000, env: { ...process.env, BOOKGEN_DEMO_NO_BUILD: '1' } },
        (error, stdout, stderr) =>
          resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
      )
    })
    expect(code).toBe(0)
    expect(stdout).toMatch(/^Usage: bookgen-demo/)
    expect(stderr).toBe('')
  })
})
