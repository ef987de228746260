import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { RedisCache } from '@bookgen/cache'
import { Queue } from 'bullmq'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type CliRun, cliPath, embeddedEnv, runCli, useTempDir } from './helpers.js'

const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379'

interface Run {
  variant: string
  durationMs: number
  validation: { total: number; fromCache: number }
  embeddings: { total: number; computed: number }
  figures: { slug: string; sources: string[]; chapterTitles: string[]; sha256: string }[]
  distributed?: {
    workers: number
    queue: string
    sent: { validations: number; embeddings: number; total: number }
    perWorker: { pid: number; validations: number; embeddings: number; total: number }[]
    exits: (number | string)[]
  }
}

/** Whether a process with this pid is still running. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Keys left in Redis under a queue's prefix. */
async function queueKeys(queue: string): Promise<string[]> {
  const u = new URL(redisUrl)
  const q = new Queue(queue, {
    connection: { host: u.hostname, port: Number(u.port || 6379) },
    prefix: '{bookgen}',
    skipMetasUpdate: true,
  })
  try {
    // The keys one SCAN call at a time (ioredis' `scan` with its MATCH and COUNT tokens).
    const client = (await q.client) as unknown as {
      scan(...args: (string | number)[]): Promise<[string, string[]]>
      del(...keys: string[]): Promise<number>
    }
    const found: string[] = []
    let cursor = '0'
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `{bookgen}:${queue}:*`, 'COUNT', 1000)
      cursor = next
      found.push(...keys)
    } while (cursor !== '0')
    return found
  } finally {
    await q.close()
  }
}

describe('demo CLI --workers 3 (real Redis, real bookgen-worker processes)', () => {
  const dir = useTempDir('bookgen-demo-workers-')
  // A namespace of its own; the queue's name starts with it and ends with a random suffix.
  const namespace = `bookgen-demo-workers-test-${process.pid}`
  let run: CliRun
  let runs: Run[]
  let metrics: {
    comparison: {
      outputsIdentical: boolean
      distributed: { resultsIdentical: boolean; tasksSent: number; tasksRun: number } | null
    }
    targets: { id: string; met: boolean | null }[]
  }

  beforeAll(async () => {
    run = await runCli(
      [
        '--characters',
        'Ada Lovelace,Alan Turing',
        '--no-compare',
        '--workers',
        '3',
        '--out',
        join(dir(), 'out'),
        '--cache-namespace',
        namespace,
      ],
      { REDIS_URL: redisUrl, DATABASE_URL: undefined },
    )
    metrics = JSON.parse(await readFile(join(dir(), 'out', 'metrics.json'), 'utf8'))
    runs = (metrics as unknown as { runs: Run[] }).runs
  })

  afterAll(async () => {
    const cache = new RedisCache({ url: redisUrl, namespace, commandTimeout: 10_000 })
    await cache.clear()
    await cache.close()
  })

  it('writes, on three worker processes, exactly the biographies of the local run', () => {
    expect(run.code, run.stderr).toBe(0)
    expect(runs.map((r) => r.variant)).toEqual(['optimized-cold', 'distributed'])
    const [local, remote] = runs as [Run, Run]
    expect(remote.figures.map((f) => f.slug)).toEqual(['ada-lovelace', 'alan-turing'])
    for (const [i, expected] of local.figures.entries()) {
      const got = remote.figures[i]!
      expect(got.sources, got.slug).toEqual(expected.sources)
      expect(got.chapterTitles, got.slug).toEqual(expected.chapterTitles)
      expect(got.sha256, got.slug).toBe(expected.sha256)
    }
    expect(metrics.comparison.outputsIdentical).toBe(true)
    expect(metrics.comparison.distributed?.resultsIdentical).toBe(true)
    expect(metrics.targets.find((t) => t.id === 'distributed-identical')?.met).toBe(true)
  })

  it('sends the cache misses to the workers, and their tallies add up to the tasks sent', () => {
    const remote = runs[1]!
    const d = remote.distributed!
    expect(d.workers).toBe(3)
    // A cold cache: every validation and every embedding missed and was sent.
    expect(remote.validation.fromCache).toBe(0)
    expect(d.sent.validations).toBe(remote.validation.total)
    expect(d.sent.embeddings).toBe(remote.embeddings.computed)
    expect(d.sent.embeddings).toBe(remote.embeddings.total)
    expect(d.sent.total).toBe(d.sent.validations + d.sent.embeddings)
    expect(d.perWorker).toHaveLength(3)
    expect(new Set(d.perWorker.map((w) => w.pid)).size).toBe(3)
    const sum = (key: 'validations' | 'embeddings' | 'total') =>
      d.perWorker.reduce((n, w) => n + w[key], 0)
    expect(sum('validations')).toBe(d.sent.validations)
    expect(sum('embeddings')).toBe(d.sent.embeddings)
    expect(sum('total')).toBe(d.sent.total)
    expect(metrics.comparison.distributed).toMatchObject({
      tasksSent: d.sent.total,
      tasksRun: d.sent.total,
    })
  })

  it('stops every worker with SIGTERM and removes its queue from Redis', async () => {
    const d = runs[1]!.distributed!
    expect(d.exits).toEqual([0, 0, 0])
    for (const w of d.perWorker) expect(alive(w.pid), `pid ${w.pid}`).toBe(false)
    expect(d.queue.startsWith(`${namespace}-`)).toBe(true)
    expect(await queueKeys(d.queue)).toEqual([])
  })

  it('reports the distributed run next to the local one, in the terminal and in report.html', async () => {
    const d = runs[1]!.distributed!
    expect(run.stdout).toMatch(
      /^distributed vs local\s+optimized-cold \(local\)\s+distributed \(3 workers × 4 threads\)$/m,
    )
    expect(run.stdout).toMatch(/^duration\s+\S+ m?s\s+\S+ m?s/m)
    expect(run.stdout).toContain(
      `${d.perWorker.map((w) => `pid ${w.pid}: ${w.total}`).join(' · ')} (sum ${d.sent.total})`,
    )
    expect(run.stdout).toMatch(/^results identical\s+–\s+yes$/m)
    expect(run.stdout).toMatch(/workers ready in \d+ ms \(pids \d+, \d+, \d+\)/)
    const html = await readFile(join(dir(), 'out', 'report.html'), 'utf8')
    expect(html).toContain('<table id="distributed">')
    for (const w of d.perWorker) expect(html).toContain(`<li>pid ${w.pid}: ${w.total} (`)
  })
})

describe('demo CLI --workers errors', () => {
  const dir = useTempDir('bookgen-demo-workers-bad-')

  it('exits 2 at once on the embedded defaults, saying that --workers needs REDIS_URL', async () => {
    const out = join(dir(), 'embedded')
    const run = await runCli(['Ada Lovelace', '--workers', '3', '--out', out], embeddedEnv)
    expect(run.code).toBe(2)
    expect(run.stdout).toBe('')
    expect(run.stderr).toContain('error: --workers 3 needs Redis')
    expect(run.stderr).toContain('Set REDIS_URL, e.g. REDIS_URL=redis://127.0.0.1:6379')
    expect(run.stderr).not.toMatch(/\n\s+at /)
  })

  it('exits 2 on a --workers value that is not a positive integer, naming the flag and the value', async () => {
    for (const value of ['0', '-2', '1.5', 'three']) {
      const run = await runCli(['Ada Lovelace', `--workers=${value}`], {
        REDIS_URL: redisUrl,
      })
      expect(run.code, value).toBe(2)
      expect(run.stderr, value).toContain(
        `--workers must be a positive integer of worker processes, e.g. 3, got ${JSON.stringify(value)}`,
      )
    }
  })

  it('stops its workers and removes its queue when it is interrupted during the distributed run (exit 130)', async () => {
    const namespace = `bookgen-demo-workers-int-${process.pid}`
    const { proc, exited, pids, output } = await startUntilReady(
      join(dir(), 'interrupted'),
      namespace,
    )
    const queue = /on queue (\S+) …/.exec(output.stdout)![1]!
    proc.kill('SIGINT')
    expect(await exited).toBe(130)
    expect(output.stderr).toContain('interrupted (SIGINT): nothing was written to')
    for (const pid of pids) expect(alive(pid), `pid ${pid}`).toBe(false)
    expect(await queueKeys(queue)).toEqual([])
    const cache = new RedisCache({ url: redisUrl, namespace, commandTimeout: 10_000 })
    await cache.clear()
    await cache.close()
  })

  it('fails with a clear error, not a hang, when a worker dies during the run, and leaves no worker behind', async () => {
    const namespace = `bookgen-demo-workers-kill-${process.pid}`
    const { exited, pids, output } = await startUntilReady(join(dir(), 'killed'), namespace)
    expect(pids).toHaveLength(2)
    process.kill(pids[1]!, 'SIGKILL')
    expect(await exited).toBe(1)
    expect(output.stderr).toContain(
      `error: bookgen-worker 2/2 (pid ${pids[1]}) exited with SIGKILL while it served the run`,
    )
    expect(alive(pids[0]!)).toBe(false)
    expect(await queueKeys(/on queue (\S+) …/.exec(output.stdout)![1]!)).toEqual([])
    const cache = new RedisCache({ url: redisUrl, namespace, commandTimeout: 10_000 })
    await cache.clear()
    await cache.close()
  })
})

/**
 * Starts the CLI with 2 workers on a slowed corpus (the distributed run lasts well past the
 * moment the test acts) and resolves once the workers are ready, with their pids.
 */
async function startUntilReady(out: string, namespace: string) {
  const env: NodeJS.ProcessEnv = { ...process.env, REDIS_URL: redisUrl }
  delete env.DATABASE_URL
  const proc = spawn(
    process.execPath,
    [
      cliPath,
      'Ada Lovelace',
      '--no-compare',
      '--workers',
      '2',
      '--corpus-latency',
      '20',
      '--out',
      out,
      '--cache-namespace',
      namespace,
    ],
    { env },
  )
  const output = { stdout: '', stderr: '' }
  proc.stderr.on('data', (chunk) => {
    output.stderr += chunk
  })
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)))
  const pids = await new Promise<number[]>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no "workers ready" line:\n${output.stdout}`)),
      400_000,
    )
    proc.stdout.on('data', (chunk) => {
      output.stdout += chunk
      const ready = /workers ready in \d+ ms \(pids ([\d, ]+)\)/.exec(output.stdout)
      if (ready) {
        clearTimeout(timer)
        resolve(ready[1]!.split(', ').map(Number))
      }
    })
    void exited.then(() =>
      reject(new Error(`the CLI exited first:\n${output.stdout}\n${output.stderr}`)),
    )
  })
  return { proc, exited, pids, output }
}
