import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { extractExamples, runExample } from '../../../tools/testing/readme.mjs'
import { REDIS_URL } from './helpers.js'

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..')
const examples = extractExamples(join(packageDir, 'README.md'))

describe('README examples run as written (against the built dist)', () => {
  it('has runnable examples', () => {
    expect(examples.length).toBeGreaterThanOrEqual(8)
  })

  it.each(examples.map((e) => [e.line, e] as const))(
    'example at line %i',
    async (_line, example) => {
      const { stderr } = await runExample(example, packageDir, {
        timeoutMs: 120_000,
        env: { REDIS_URL },
      })
      expect(stderr).not.toMatch(/Error|Unhandled/)
    },
  )
})
