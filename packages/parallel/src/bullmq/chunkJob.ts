/** The data of one BullMQ job: one chunk of a run. Short names: it is stored per job. */
export interface ChunkJobData {
  /** Run id. */
  r: string
  /** Chunk number within the run. */
  c: number
  /** Index of each task of the chunk within the run (its place in the results). */
  i: number[]
  /** Task name. */
  t: string
  /** Task version. */
  v: number
  /** The inputs, from `packChunk`. */
  p: string
  /** Per-task timeout on the worker (ms). */
  to?: number
  /** Extra attempts on the worker after a failure. */
  rt?: number
  /** Base backoff between attempts (ms). */
  rd?: number
  /** The caller's bound of one serialized result (bytes); the worker's own applies too. */
  mb?: number
  /** How long the results are kept (s). */
  ttl: number
  /** Each task's idempotency key, when the caller gave them (parallel to `i`). */
  k?: string[]
  /** With `ki`: the keys are `${kp}:${ki[n]}` (the caller's run id and task indices). */
  kp?: string
  /** The caller's index of each task (parallel to `i`). */
  ki?: number[]
}

/** The idempotency key of each task of a chunk (parallel to `data.i`). */
export function chunkKeys(data: ChunkJobData): string[] {
  if (data.k !== undefined) return data.k
  const { kp, ki } = data
  if (kp !== undefined && ki !== undefined) return ki.map((index) => `${kp}:${index}`)
  return data.i.map((index) => `${data.r}:${index}`)
}

/** Default queue prefix: a hash tag, so that every key of a queue lives in one Cluster slot. */
export const DEFAULT_PREFIX = '{bookgen}'

/** Default bound of one serialized input or result (64 MiB). */
export const DEFAULT_MAX_PAYLOAD_BYTES = 64 * 1024 * 1024

/** Default time results are kept for collection by run id (s). */
export const DEFAULT_RESULT_TTL = 3600

/**
 * Records one batch of task outcomes (ARGV: ttl, the batch, then its indices). The batch goes on
 * the results stream when one of its tasks is new; a task reported before keeps its first
 * outcome (readers take the first they see).
 */
export const REPORT_SCRIPT = `
local new = 0
for i = 3, #ARGV do
  if redis.call('SETBIT', KEYS[2], ARGV[i], 1) == 0 then new = new + 1 end
end
if new > 0 then redis.call('XADD', KEYS[1], '*', 'b', ARGV[2]) end
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[1])
return new
`

/** Which of the given indices already have a result. */
export const DONE_SCRIPT = `
local done = {}
for i = 1, #ARGV do done[i] = redis.call('GETBIT', KEYS[1], ARGV[i]) end
return done
`

/** The subset of an ioredis client (as BullMQ exposes it) these modules call. */
export interface RedisCommands {
  eval(script: string, keys: number, ...args: (string | number | Buffer)[]): Promise<unknown>
  smismember(key: string, ...members: string[]): Promise<number[]>
  sadd(key: string, ...members: string[]): Promise<number>
  expire(key: string, seconds: number): Promise<number>
  del(...keys: string[]): Promise<number>
  exists(...keys: string[]): Promise<number>
  xtrim(key: string, strategy: 'MINID', threshold: string): Promise<number>
  xreadBuffer(...args: (string | number)[]): Promise<[Buffer, [Buffer, Buffer[]][]][] | null>
  duplicate(): RedisCommands
  on(event: 'error', listener: (error: Error) => void): unknown
  disconnect(): void
  quit(): Promise<unknown>
}
