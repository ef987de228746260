import { appendFileSync } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { threadId } from 'node:worker_threads'

/**
 * Environment variable naming the folder where the demo's worker tasks tally their executions.
 * The demo sets it for the `bookgen-worker` processes it starts; unset (local runs, a worker
 * started by hand), nothing is written.
 */
export const tallyDirVariable = 'BOOKGEN_DEMO_TALLY_DIR'

/** The demo's worker tasks, as the tally names them. */
export type TalliedTask = 'validateSource' | 'termVector'

/** Executions of each task by one worker process. */
export interface ProcessTally {
  pid: number
  validations: number
  embeddings: number
  total: number
}

const dir = process.env[tallyDirVariable]

/**
 * Records one completed execution of a task (called by the task itself, on a worker thread, once its result is computed): one line
 * `<task> <idempotency key>` appended to `<pid>.<thread id>.log`. One file per thread, so no
 * two writers share a file; the result of the task is not touched.
 */
export function tallyTask(task: TalliedTask, idempotencyKey = ''): void {
  if (dir === undefined || dir === '') return
  appendFileSync(join(dir, `${process.pid}.${threadId}.log`), `${task} ${idempotencyKey}\n`)
}

/** Reads the tally of a folder: executions per worker process, by pid. */
export async function readTally(folder: string): Promise<Map<number, ProcessTally>> {
  const byPid = new Map<number, ProcessTally>()
  for (const name of (await readdir(folder)).sort()) {
    const match = /^(\d+)\.\d+\.log$/.exec(name)
    if (!match) continue
    const pid = Number(match[1])
    const tally = byPid.get(pid) ?? { pid, validations: 0, embeddings: 0, total: 0 }
    byPid.set(pid, tally)
    for (const line of (await readFile(join(folder, name), 'utf8')).split('\n')) {
      const task = line.slice(0, line.indexOf(' '))
      if (task === 'validateSource') tally.validations++
      else if (task === 'termVector') tally.embeddings++
      else continue
      tally.total++
    }
  }
  return byPid
}
