import { parseArgs } from 'node:util'
import { type Figure, figures } from './corpus/figures.js'
import { DemoError, DemoErrorCode, maskUrl } from './demoError.js'

/** Parsed command line of the demo. */
export interface CliArgs {
  help: boolean
  figures: Figure[]
  /** True when no character was given and the default one was chosen. */
  defaulted: boolean
  out: string
  compare: boolean
  dataDir: string | undefined
  quiet: boolean
  debug: boolean
  dbSchema: string
  cacheNamespace: string
  /** Milliseconds a page fetch may go without data (`--fetch-timeout`). */
  fetchTimeoutMs: number
  /** Multiplier of the corpus hosts' latency (`--corpus-latency`). */
  corpusLatency: number
  /** Transient faults per page of the corpus server (`--corpus-faults`). */
  corpusFaults: number
  /**
   * `bookgen-worker` processes of the distributed run (`--workers`); undefined: no distributed
   * run.
   */
  workers: number | undefined
  /** Internal: run variants in this child process; the config arrives over IPC. */
  internalRun: boolean
}

/** Defaults of the command line options. */
export const cliDefaults = {
  character: 'Marie Curie',
  out: './out',
  compare: true,
  dbSchema: 'bookgen_demo',
  cacheNamespace: 'bookgen-demo',
  fetchTimeoutMs: 10_000,
  corpusLatency: 1,
  corpusFaults: 0,
} as const

/** The --help text. */
export const usage = `Usage: bookgen-demo [options] ["Name" ...]
       npm run demo -- "Marie Curie"

With no name, the demo writes the biography of Marie Curie.

Generates biographies end to end from a bundled offline corpus (served on a loopback port):
validation, embeddings, deduplication, chapters, storage, Markdown. By default it runs the
same work three times (naive, optimized cold, optimized warm) and prints one comparison table.

Options:
  --characters <list|all>  Comma-separated names, or "all" for every figure of the corpus
  --out <dir>              Output folder for Markdown, metrics.json and report.html (default: ./out)
  --compare                Run naive, optimized cold and optimized warm (default)
  --no-compare             Run the optimized pipeline once
  --data-dir <dir>         Keep the embedded PostgreSQL (PGlite) data in this folder
                           (default: a temporary folder, removed at the end)
  --db-schema <name>       PostgreSQL schema used with DATABASE_URL (default: bookgen_demo)
  --cache-namespace <ns>   Redis key namespace used with REDIS_URL (default: bookgen-demo)
  --fetch-timeout <ms>     A page fetch attempt that receives nothing for this long is retried
                           (default: 10000; doubled on each retry, 3 attempts; 5xx, resets too)
  --workers <n>            Also run the optimized pipeline distributed: start n bookgen-worker
                           processes and send the validations and embeddings to them through a
                           BullMQ queue on Redis (needs REDIS_URL); reported next to the local run
  --quiet                  No progress bars or step messages
  --debug                  Print stack traces on errors
  -h, --help               Show this help

Adverse conditions (to check that every variant still writes the same biography):
  --corpus-latency <x>     Multiply the corpus hosts' simulated latency by x (default: 1)
  --corpus-faults <n>      Of every n+1 requests for a page, the first n fail: a 503, a reset
                           connection or a stall, by page (default: 0)

Environment:
  REDIS_URL     use this Redis server as the cache (default: an in-process memory cache)
  DATABASE_URL  use this PostgreSQL server (default: embedded PGlite)

Figures: ${figures.map((f) => f.name).join(', ')}

Exit codes: 0 ok, 1 run failed (or a worker process failed), 2 bad arguments or unknown figure
(or --workers without REDIS_URL), 3 output folder not writable, 4 Redis or PostgreSQL
unreachable, 5 the variants wrote different biographies (not comparable).`

/** Parses and validates argv (without the node and script entries). */
export function parseCliArgs(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): CliArgs {
  let parsed: ReturnType<typeof parse>
  try {
    parsed = parse(argv)
  } catch (error) {
    throw new DemoError(DemoErrorCode.BAD_ARGUMENT, `${parseErrorMessage(error)}. See --help.`, {
      cause: error,
    })
  }
  const { values, positionals } = parsed
  const help = values.help === true
  const names = [
    ...positionals,
    ...(values.characters ?? [])
      .flatMap((c) => c.split(','))
      .map((c) => c.trim())
      .filter(Boolean),
  ]
  let selected: Figure[] = []
  if (names.some((n) => n.toLowerCase() === 'all')) selected = [...figures]
  else {
    const unknown: string[] = []
    for (const name of names) {
      const figure = findByName(name)
      if (!figure) unknown.push(name)
      else if (!selected.includes(figure)) selected.push(figure)
    }
    if (unknown.length > 0) {
      throw new DemoError(
        DemoErrorCode.UNKNOWN_CHARACTER,
        `Unknown character ${unknown.map((u) => JSON.stringify(u)).join(', ')}. Available: ${figures.map((f) => f.name).join(', ')} (or --characters all).`,
      )
    }
  }
  const defaulted = selected.length === 0
  if (defaulted) selected = [findByName(cliDefaults.character)!]
  if (values.compare && values['no-compare']) {
    throw new DemoError(
      DemoErrorCode.BAD_ARGUMENT,
      '--compare and --no-compare cannot be used together',
    )
  }
  if (values.out !== undefined && values.out.trim() === '') {
    throw new DemoError(DemoErrorCode.BAD_ARGUMENT, '--out must be a folder path, got ""')
  }
  return {
    help,
    figures: selected,
    defaulted,
    out: values.out ?? cliDefaults.out,
    compare: values['no-compare'] ? false : cliDefaults.compare,
    dataDir: values['data-dir'],
    quiet: values.quiet === true,
    debug: values.debug === true,
    dbSchema: values['db-schema'] ?? env.BOOKGEN_DEMO_DB_SCHEMA ?? cliDefaults.dbSchema,
    cacheNamespace:
      values['cache-namespace'] ?? env.BOOKGEN_DEMO_CACHE_NAMESPACE ?? cliDefaults.cacheNamespace,
    fetchTimeoutMs: numberOption(values['fetch-timeout'], '--fetch-timeout', {
      fallback: cliDefaults.fetchTimeoutMs,
      integer: true,
      min: 1,
      form: 'a positive integer of milliseconds, e.g. 10000',
    }),
    corpusLatency: numberOption(values['corpus-latency'], '--corpus-latency', {
      fallback: cliDefaults.corpusLatency,
      integer: false,
      min: 0,
      form: 'a number >= 0, e.g. 2.5',
    }),
    corpusFaults: numberOption(values['corpus-faults'], '--corpus-faults', {
      fallback: cliDefaults.corpusFaults,
      integer: true,
      min: 0,
      form: 'an integer >= 0, e.g. 1',
    }),
    workers:
      values.workers === undefined
        ? undefined
        : numberOption(values.workers, '--workers', {
            fallback: 0,
            integer: true,
            min: 1,
            form: 'a positive integer of worker processes, e.g. 3',
          }),
    internalRun: values['internal-run'] === true,
  }
}

/**
 * `--workers` sends tasks through a BullMQ queue, which lives in Redis: without `REDIS_URL` (the
 * embedded defaults) there is none, and the CLI stops before anything runs.
 */
export function assertWorkersHaveRedis(
  workers: number | undefined,
  urls: { redisUrl?: string },
): void {
  if (workers === undefined || urls.redisUrl !== undefined) return
  throw new DemoError(
    DemoErrorCode.REDIS_REQUIRED,
    `--workers ${workers} needs Redis: the distributed run sends its tasks to the bookgen-worker processes through a BullMQ queue, and the embedded defaults have no Redis. Set REDIS_URL, e.g. REDIS_URL=redis://127.0.0.1:6379 npm run demo -- --workers ${workers}`,
  )
}

function numberOption(
  raw: string | undefined,
  flag: string,
  rule: { fallback: number; integer: boolean; min: number; form: string },
): number {
  if (raw === undefined) return rule.fallback
  const value = raw.trim() === '' ? Number.NaN : Number(raw)
  if (!Number.isFinite(value) || value < rule.min || (rule.integer && !Number.isInteger(value))) {
    throw new DemoError(
      DemoErrorCode.BAD_ARGUMENT,
      `${flag} must be ${rule.form}, got ${JSON.stringify(raw)}`,
    )
  }
  return value
}

/** parseArgs' message, without its advice on positionals (whose quotes it leaves unbalanced). */
function parseErrorMessage(error: unknown): string {
  const message = (error as Error).message
  const unknown = /^Unknown option '([^']+)'/.exec(message)
  if (unknown) {
    return `Unknown option '${unknown[1]}' (a name that starts with '-' goes after '--', as in: -- '${unknown[1]}')`
  }
  return message
}

/**
 * The service URLs of the environment, checked: each names its variable and the expected form
 * when it is wrong. Empty values count as unset.
 */
export function serviceUrls(env: NodeJS.ProcessEnv): { redisUrl?: string; databaseUrl?: string } {
  const redisUrl = checkedUrl(env, 'REDIS_URL', ['redis:', 'rediss:'], 'redis://127.0.0.1:6379')
  const databaseUrl = checkedUrl(
    env,
    'DATABASE_URL',
    ['postgres:', 'postgresql:'],
    'postgres://postgres@127.0.0.1:5432/test',
  )
  return { ...(redisUrl ? { redisUrl } : {}), ...(databaseUrl ? { databaseUrl } : {}) }
}

function checkedUrl(
  env: NodeJS.ProcessEnv,
  name: string,
  protocols: readonly string[],
  example: string,
): string | undefined {
  const raw = env[name]
  if (!raw) return undefined
  let url: URL | undefined
  try {
    url = new URL(raw)
  } catch {
    url = undefined
  }
  if (!url || !protocols.includes(url.protocol) || url.hostname === '') {
    throw new DemoError(
      DemoErrorCode.BAD_ARGUMENT,
      `${name} must be a ${protocols.map((p) => `${p}//`).join(' or ')} URL with a host, such as ${example}, got ${JSON.stringify(maskUrl(raw))}`,
    )
  }
  return raw
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      characters: { type: 'string', multiple: true },
      out: { type: 'string' },
      compare: { type: 'boolean' },
      'no-compare': { type: 'boolean' },
      'data-dir': { type: 'string' },
      'db-schema': { type: 'string' },
      'cache-namespace': { type: 'string' },
      'fetch-timeout': { type: 'string' },
      'corpus-latency': { type: 'string' },
      'corpus-faults': { type: 'string' },
      workers: { type: 'string' },
      quiet: { type: 'boolean', short: 'q' },
      debug: { type: 'boolean' },
      'internal-run': { type: 'boolean' },
    },
  })
}

function findByName(name: string): Figure | undefined {
  const wanted = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, ' ')
    .trim()
  return figures.find(
    (f) =>
      f.name.toLowerCase() === wanted ||
      f.slug === wanted.replace(/ /g, '-') ||
      f.surname.toLowerCase() === wanted,
  )
}
