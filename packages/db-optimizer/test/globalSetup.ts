// Starting PGlite from scratch runs initdb (about 3 s of CPU here); loading a data directory
// dumped once per test run takes about 0.6 s. Every suite's PGlite starts from this dump, except
// the tests that check createDatabase() itself. The dump is made in a child process so that
// vitest's main process never loads PGlite.
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { TestProject } from 'vitest/node'

declare module 'vitest' {
  export interface ProvidedContext {
    /** Path of a dumped, freshly initialised PGlite data directory (a tar file). */
    pgliteDump: string
  }
}

const DUMP = `
import { writeFileSync } from 'node:fs'
import { PGlite } from '@electric-sql/pglite'
const pglite = new PGlite()
await pglite.waitReady
const dump = await pglite.dumpDataDir('none')
writeFileSync(process.argv[1], new Uint8Array(await dump.arrayBuffer()))
await pglite.close()
`

export default async function setup(project: TestProject): Promise<() => void> {
  const dir = mkdtempSync(join(tmpdir(), 'dbo-pglite-dump-'))
  const file = join(dir, 'datadir.tar')
  await promisify(execFile)(process.execPath, ['--input-type=module', '-e', DUMP, file], {
    cwd: join(import.meta.dirname, '..'),
    timeout: 300_000, // a hang bound: initdb takes a few seconds, minutes on a loaded machine
  })
  project.provide('pgliteDump', file)
  return () => rmSync(dir, { recursive: true, force: true })
}
