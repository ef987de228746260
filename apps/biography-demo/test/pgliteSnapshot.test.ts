import { createHash } from 'node:crypto'
import { cp, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { PGlite } from '@electric-sql/pglite'
import { describe, expect, it } from 'vitest'
import { pgliteSettings } from '../src/db/database.js'
import { pgliteSnapshot, restorePgliteSnapshot, snapshotKey } from '../src/db/pgliteSnapshot.js'
import { useTempDir } from './helpers.js'

const migrations = fileURLToPath(new URL('../drizzle', import.meta.url))
const startParams = [...PGlite.defaultStartParams, ...pgliteSettings]

/** Every entry of a folder tree: its kind and, for a file, its size and the SHA-256 of its bytes. */
async function treeDigest(folder: string): Promise<Record<string, string>> {
  const digest: Record<string, string> = {}
  for (const entry of await readdir(folder, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name)
    const key = path.slice(folder.length + 1)
    if (entry.isDirectory()) digest[key] = 'dir'
    else {
      const bytes = await readFile(path)
      const { size } = await stat(path)
      digest[key] = `file ${size} ${createHash('sha256').update(bytes).digest('hex')}`
    }
  }
  return digest
}

describe('PGlite snapshot', () => {
  const dir = useTempDir('bookgen-demo-snapshot-')

  it('is keyed by the migrations and the start parameters', async () => {
    const key = await snapshotKey(migrations, startParams)
    expect(key).toMatch(/^[0-9a-f]{16}$/)
    expect(await snapshotKey(migrations, startParams)).toBe(key)
    expect(await snapshotKey(migrations, [...startParams, '-c', 'work_mem=8MB'])).not.toBe(key)
    const copy = await mkdtemp(join(tmpdir(), 'bookgen-demo-migrations-'))
    try {
      await cp(migrations, copy, { recursive: true })
      expect(await snapshotKey(copy, startParams)).toBe(key)
      await writeFile(join(copy, '0001_next.sql'), 'alter table sources add column x int;')
      expect(await snapshotKey(copy, startParams)).not.toBe(key)
    } finally {
      await rm(copy, { recursive: true, force: true })
    }
  })

  it('fills an empty data folder with the migrated database and leaves an existing one alone', async () => {
    const pgdata = join(dir(), 'pgdata')
    expect(await restorePgliteSnapshot(pgdata, migrations, startParams)).toBe(true)
    // The parallel copy holds every folder and file of the snapshot, byte for byte.
    const snapshot = join(await pgliteSnapshot(migrations, startParams), 'pgdata')
    const copied = await treeDigest(pgdata)
    expect(Object.keys(copied).length).toBeGreaterThan(100)
    expect(copied).toEqual(await treeDigest(snapshot))
    const client = new PGlite(pgdata, { startParams })
    try {
      const tables = await client.query<{ name: string }>(
        "select table_name as name from information_schema.tables where table_schema = 'public' order by 1",
      )
      expect(tables.rows.map((r) => r.name)).toEqual([
        'biographies',
        'chapters',
        'generation_jobs',
        'sources',
      ])
      const applied = await client.query<{ n: number }>(
        'select count(*)::int as n from drizzle.__drizzle_migrations',
      )
      expect(applied.rows[0]!.n).toBe(1)
      await client.query(
        "insert into biographies (id, slug, name, variant) values (gen_random_uuid(), 'x', 'X', 'naive')",
      )
    } finally {
      await client.close()
    }
    expect(await restorePgliteSnapshot(pgdata, migrations, startParams)).toBe(false)
    const again = new PGlite(pgdata, { startParams })
    try {
      const rows = await again.query<{ n: number }>('select count(*)::int as n from biographies')
      expect(rows.rows[0]!.n).toBe(1)
    } finally {
      await again.close()
    }
  })
})
