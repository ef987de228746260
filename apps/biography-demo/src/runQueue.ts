import { randomUUID } from 'node:crypto'

/** Key prefix of the queues (`bullmqBackend` and `bookgen-worker` default). */
const prefix = '{bookgen}'

/**
 * A queue name of its own for one distributed run: the cache namespace (reduced to the characters
 * a queue name allows) and a random suffix, so that runs sharing a Redis never share a queue.
 */
export function runQueueName(namespace: string): string {
  const base = namespace.replace(/[^A-Za-z0-9_.-]+/g, '-').slice(0, 80) || 'bookgen-demo'
  return `${base}-${randomUUID().slice(0, 8)}`
}

/**
 * Removes a run's queue from Redis once its workers and its caller are gone: BullMQ's keys
 * (`obliterate`) and the backend's run keys, every key under `{bookgen}:<queue>:`. Bounded: it
 * gives up after `timeoutMs` (the keys are then left behind, and the error says so).
 */
export async function removeQueue(
  redisUrl: string,
  queue: string,
  timeoutMs = 30_000,
): Promise<void> {
  const { Queue } = await import('bullmq')
  // skipMetasUpdate: opening the queue must not write its meta key again.
  const q = new Queue(queue, { connection: connectionOf(redisUrl), prefix, skipMetasUpdate: true })
  q.on('error', () => {})
  let timer: NodeJS.Timeout | undefined
  const removal = (async () => {
    await q.obliterate({ force: true })
    // The keys one SCAN call at a time (ioredis' `scan` with its MATCH and COUNT tokens).
    const client = (await q.client) as unknown as {
      scan(...args: (string | number)[]): Promise<[string, string[]]>
      del(...keys: string[]): Promise<number>
    }
    let cursor = '0'
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:${queue}:*`, 'COUNT', 1000)
      cursor = next
      if (keys.length > 0) await client.del(...keys)
    } while (cursor !== '0')
  })()
  try {
    await Promise.race([
      removal,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`removing queue ${queue} took longer than ${timeoutMs} ms`)),
          timeoutMs,
        )
      }),
    ])
  } finally {
    clearTimeout(timer)
    removal.catch(() => {})
    await q.close().catch(() => {})
  }
}

/** ioredis options of a `redis://` / `rediss://` URL. */
function connectionOf(url: string) {
  const u = new URL(url)
  return {
    host: u.hostname || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.pathname.length > 1 ? { db: Number(u.pathname.slice(1)) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    maxRetriesPerRequest: 3,
  }
}
