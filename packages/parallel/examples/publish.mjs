// A worker task with a side effect: it writes each document once, keyed by its idempotency key
// (the task's second argument), so that running it again (a retry, a redelivery) changes nothing.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'

export function publish({ dir, text }, { idempotencyKey }) {
  try {
    writeFileSync(join(dir, encodeURIComponent(idempotencyKey)), text, { flag: 'wx' })
    return 'written'
  } catch (error) {
    if (error.code === 'EEXIST') return 'already written'
    throw error
  }
}
