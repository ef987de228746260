import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { extractExamples, runExample } from '../../../tools/testing/readme.mjs'

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..')
const examples = extractExamples(join(packageDir, 'README.md'))

// The examples import '@bookgen/db-optimizer', which resolves to dist/: build first (npx tsup).
describe('README examples run as written', () => {
  it('has runnable examples', () => {
    expect(examples.length).toBeGreaterThanOrEqual(5)
  })

  // concurrently: each example is its own process, mostly starting PGlite
  it.concurrent.each(examples.map((e) => [e.line, e]))(
    'example at line %i',
    async (_line, example) => {
      const { stderr } = await runExample(example, packageDir, { timeoutMs: 120_000 })
      expect(stderr).not.toMatch(/AssertionError|Error:/)
    },
    90_000,
  )
})
