import { existsSync } from 'node:fs'
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { DemoError } from '../src/demoError.js'
import { OutputFolder } from '../src/outputFolder.js'
import { useTempDir } from './helpers.js'

async function openError(path: string): Promise<DemoError> {
  const error = await OutputFolder.open(path).then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(DemoError)
  return error as DemoError
}

describe('OutputFolder', () => {
  const dir = useTempDir('bookgen-demo-outfolder-')

  it.each([
    ['/proc/bookgen-demo-x', /\/proc is on procfs, a virtual file system/],
    ['/proc/self/bookgen/nested', /is on procfs, a virtual file system/],
    ['/sys/bookgen-demo-x', /\/sys is on sysfs, a virtual file system/],
  ])('refuses %s at once with OUTPUT_NOT_WRITABLE', async (path, message) => {
    const error = await openError(path)
    expect(error.code).toBe('OUTPUT_NOT_WRITABLE')
    expect(error.message).toMatch(message)
    expect(existsSync(path)).toBe(false)
  })

  it('replaces the previous outputs as a set and leaves files it did not write alone', async () => {
    const out = join(dir(), 'set')
    await mkdir(out)
    for (const name of ['marie-curie.md', 'ada-lovelace.md', 'notes.txt', 'metrics.json']) {
      await writeFile(join(out, name), 'old')
    }
    const folder = await OutputFolder.open(out)
    await writeFile(join(folder.staging, 'ada-lovelace.md'), 'new')
    await writeFile(join(folder.staging, 'metrics.json'), 'new')
    const written = await folder.commit(
      [
        { from: 'ada-lovelace.md', name: 'ada-lovelace.md' },
        { from: 'metrics.json', name: 'metrics.json' },
      ],
      (name) => name.endsWith('.md') || name === 'metrics.json',
    )
    expect(written).toEqual([join(out, 'ada-lovelace.md'), join(out, 'metrics.json')])
    expect((await readdir(out)).sort()).toEqual(['ada-lovelace.md', 'metrics.json', 'notes.txt'])
    expect(await readFile(join(out, 'ada-lovelace.md'), 'utf8')).toBe('new')
    expect(await readFile(join(out, 'notes.txt'), 'utf8')).toBe('old')
  })

  it('creates missing parents and removes them again when the run is discarded', async () => {
    const out = join(dir(), 'a', 'b', 'c')
    const folder = await OutputFolder.open(out)
    expect(existsSync(folder.staging)).toBe(true)
    await folder.discard()
    expect(existsSync(join(dir(), 'a'))).toBe(false)
  })
})
