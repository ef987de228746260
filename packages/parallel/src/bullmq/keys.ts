/**
 * Redis keys of one run, next to the queue's own. Every key starts with the queue prefix, whose
 * hash tag (`{bookgen}` by default) puts them in the queue's Cluster slot: the scripts that touch
 * several of them at once stay valid on a Redis Cluster.
 */
export interface RunKeys {
  /** Stream of results: one entry (field `b`) per batch of outcomes. */
  results: string
  /** Bitmap of the indices whose result is in the stream. */
  done: string
  /** Set of cancelled chunk numbers (`*`: the whole run). */
  cancel: string
}

/** The keys of run `runId` on queue `queue` under `prefix`. */
export function runKeys(prefix: string, queue: string, runId: string): RunKeys {
  const base = `${prefix}:${queue}:bookgen-run:${runId}`
  return { results: `${base}:results`, done: `${base}:done`, cancel: `${base}:cancel` }
}

/** The BullMQ job id of chunk `chunk` of run `runId` (stable: adding it twice is a no-op). */
export function chunkJobId(runId: string, chunk: number): string {
  return `${runId}.${chunk}`
}
