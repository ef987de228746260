import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { readTally } from '../src/taskTally.js'
import { useTempDir } from './helpers.js'

describe('readTally', () => {
  const dir = useTempDir('bookgen-demo-tally-')

  it('counts executions per worker process over its threads, by task', async () => {
    const folder = join(dir(), 'tally')
    await mkdir(folder)
    await writeFile(join(folder, '4711.1.log'), 'validateSource run:0\nvalidateSource run:1\n')
    await writeFile(join(folder, '4711.2.log'), 'termVector run:5\n')
    await writeFile(join(folder, '4712.1.log'), 'termVector run:6\ntermVector run:7\n')
    await writeFile(join(folder, 'notes.txt'), 'validateSource x\n')
    const tally = await readTally(folder)
    expect([...tally.values()]).toEqual([
      { pid: 4711, validations: 2, embeddings: 1, total: 3 },
      { pid: 4712, validations: 0, embeddings: 2, total: 2 },
    ])
  })
})
