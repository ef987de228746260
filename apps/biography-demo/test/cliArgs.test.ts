import { describe, expect, it } from 'vitest'
import { cliDefaults, parseCliArgs } from '../src/cliArgs.js'
import { DemoError, maskUrl } from '../src/demoError.js'

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
