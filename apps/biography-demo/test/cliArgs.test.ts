import { describe, expect, it } from 'vitest'
import { assertWorkersHaveRedis, cliDefaults, parseCliArgs, serviceUrls } from '../src/cliArgs.js'
import { DemoError, exitCodeFor, maskUrl } from '../src/demoError.js'

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (error) {
    return error instanceof DemoError ? error.code : 'not a DemoError'
  }
  return undefined
}

describe('parseCliArgs', () => {
  it('takes names as arguments or --characters, with the documented defaults', () => {
    const args = parseCliArgs(['Marie Curie', '--characters', 'turing,Ada Lovelace'], {})
    expect(args.figures.map((f) => f.slug)).toEqual(['marie-curie', 'alan-turing', 'ada-lovelace'])
    expect(args.out).toBe(cliDefaults.out)
    expect(args.compare).toBe(true)
    expect(args.dbSchema).toBe('bookgen_demo')
    expect(args.quiet).toBe(false)
  })

  it('selects every figure with --characters all and turns the comparison off with --no-compare', () => {
    const args = parseCliArgs(['--characters', 'all', '--no-compare', '--out', 'x'], {})
    expect(args.figures).toHaveLength(5)
    expect(args.compare).toBe(false)
    expect(args.out).toBe('x')
  })

  it('rejects unknown characters and unknown options with codes', () => {
    expect(codeOf(() => parseCliArgs(['Nobody'], {}))).toBe('UNKNOWN_CHARACTER')
    expect(codeOf(() => parseCliArgs(['Ada Lovelace', '--nope'], {}))).toBe('BAD_ARGUMENT')
    expect(codeOf(() => parseCliArgs(['Ada Lovelace', '--compare', '--no-compare'], {}))).toBe(
      'BAD_ARGUMENT',
    )
  })

  it('writes Marie Curie when no character is given', () => {
    const args = parseCliArgs(['--quiet'], {})
    expect(args.figures.map((f) => f.name)).toEqual(['Marie Curie'])
    expect(args.defaulted).toBe(true)
    expect(parseCliArgs(['Ada Lovelace'], {}).defaulted).toBe(false)
  })

  it('reads the schema and namespace from the environment', () => {
    const args = parseCliArgs(['Ada Lovelace'], {
      BOOKGEN_DEMO_DB_SCHEMA: 'mine',
      BOOKGEN_DEMO_CACHE_NAMESPACE: 'ns',
    })
    expect(args.dbSchema).toBe('mine')
    expect(args.cacheNamespace).toBe('ns')
  })
})

describe('maskUrl', () => {
  it('hides passwords and keeps the rest', () => {
    expect(maskUrl('postgres://user:pw@db.local:5432/app')).toBe(
      'postgres://user:***@db.local:5432/app',
    )
    expect(maskUrl('redis://:pw@127.0.0.1:6379')).toBe('redis://:***@127.0.0.1:6379')
    expect(maskUrl('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379')
  })
})

describe('parseCliArgs numeric options', () => {
  it('reads --fetch-timeout, --corpus-latency and --corpus-faults, with their defaults', () => {
    const defaults = parseCliArgs(['Ada Lovelace'], {})
    expect(defaults.fetchTimeoutMs).toBe(10_000)
    expect(defaults.corpusLatency).toBe(1)
    expect(defaults.corpusFaults).toBe(0)
    const set = parseCliArgs(
      ['Ada Lovelace', '--fetch-timeout', '500', '--corpus-latency', '2.5', '--corpus-faults', '1'],
      {},
    )
    expect([set.fetchTimeoutMs, set.corpusLatency, set.corpusFaults]).toEqual([500, 2.5, 1])
  })

  it.each([
    ['--fetch-timeout', '0', 'a positive integer of milliseconds, e.g. 10000'],
    ['--fetch-timeout', '1.5', 'a positive integer of milliseconds, e.g. 10000'],
    ['--corpus-latency', '-1', 'a number >= 0, e.g. 2.5'],
    ['--corpus-latency', 'fast', 'a number >= 0, e.g. 2.5'],
    ['--corpus-faults', '', 'an integer >= 0, e.g. 1'],
  ])('rejects %s %j, naming the flag and the expected form', (flag, value, form) => {
    let error: unknown
    try {
      parseCliArgs(['Ada Lovelace', `${flag}=${value}`], {})
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(DemoError)
    expect((error as DemoError).code).toBe('BAD_ARGUMENT')
    expect((error as DemoError).message).toBe(
      `${flag} must be ${form}, got ${JSON.stringify(value)}`,
    )
  })
})

describe('serviceUrls', () => {
  it('returns the URLs when they are well formed, and nothing for empty values', () => {
    expect(
      serviceUrls({ REDIS_URL: 'redis://127.0.0.1:6379', DATABASE_URL: 'postgresql://u@h/db' }),
    ).toEqual({ redisUrl: 'redis://127.0.0.1:6379', databaseUrl: 'postgresql://u@h/db' })
    expect(serviceUrls({ REDIS_URL: '', DATABASE_URL: '' })).toEqual({})
  })

  it.each([
    [
      { REDIS_URL: 'notaurl' },
      'REDIS_URL must be a redis:// or rediss:// URL with a host, such as redis://127.0.0.1:6379, got "notaurl"',
    ],
    [
      { DATABASE_URL: 'mysql://x' },
      'DATABASE_URL must be a postgres:// or postgresql:// URL with a host, such as postgres://postgres@127.0.0.1:5432/test, got "mysql://x"',
    ],
    [
      { DATABASE_URL: 'mysql://root:secret@x' },
      'DATABASE_URL must be a postgres:// or postgresql:// URL with a host, such as postgres://postgres@127.0.0.1:5432/test, got "mysql://root:***@x"',
    ],
  ])('names the variable and the expected form: %j', (env, message) => {
    let error: unknown
    try {
      serviceUrls(env)
    } catch (caught) {
      error = caught
    }
    expect((error as DemoError).code).toBe('BAD_ARGUMENT')
    expect((error as DemoError).message).toBe(message)
  })
})

describe('parseCliArgs unknown options', () => {
  it('names the option with balanced quotes', () => {
    let message = ''
    try {
      parseCliArgs(['--fast'], {})
    } catch (error) {
      message = (error as Error).message
    }
    expect(message).toBe(
      "Unknown option '--fast' (a name that starts with '-' goes after '--', as in: -- '--fast'). See --help.",
    )
    expect((message.match(/'/g) ?? []).length % 2).toBe(0)
    expect(message).not.toContain('"')
  })
})

describe('parseCliArgs --workers', () => {
  it('reads a positive number of worker processes; none by default', () => {
    expect(parseCliArgs(['Ada Lovelace'], {}).workers).toBeUndefined()
    expect(parseCliArgs(['Ada Lovelace', '--workers', '3'], {}).workers).toBe(3)
    expect(parseCliArgs(['--characters', 'all', '--workers=1'], {}).workers).toBe(1)
  })

  it.each(['0', '-1', '2.5', 'three', ''])(
    'rejects --workers %j, naming the flag and the value',
    (value) => {
      let error: unknown
      try {
        parseCliArgs(['Ada Lovelace', `--workers=${value}`], {})
      } catch (caught) {
        error = caught
      }
      expect((error as DemoError).code).toBe('BAD_ARGUMENT')
      expect((error as DemoError).message).toBe(
        `--workers must be a positive integer of worker processes, e.g. 3, got ${JSON.stringify(value)}`,
      )
    },
  )

  it('needs REDIS_URL: REDIS_REQUIRED on the embedded defaults, saying how to give it', () => {
    expect(() => assertWorkersHaveRedis(undefined, {})).not.toThrow()
    expect(() => assertWorkersHaveRedis(3, { redisUrl: 'redis://127.0.0.1:6379' })).not.toThrow()
    let error: unknown
    try {
      assertWorkersHaveRedis(3, {})
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(DemoError)
    expect((error as DemoError).code).toBe('REDIS_REQUIRED')
    expect((error as DemoError).message).toMatch(/^--workers 3 needs Redis: /)
    expect((error as DemoError).message).toContain(
      'Set REDIS_URL, e.g. REDIS_URL=redis://127.0.0.1:6379 npm run demo -- --workers 3',
    )
    expect(exitCodeFor('REDIS_REQUIRED')).toBe(2)
    expect(exitCodeFor('WORKER_FAILED')).toBe(1)
  })
})
