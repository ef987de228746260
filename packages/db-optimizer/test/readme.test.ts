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

  // one at a time: each example is its own process, mostly starting PGlite, and several at once
  // only compete for the same two cores; the timeouts bound a hang on a loaded machine
  it.each(examples.map((e) => [e.line, e]))(
    'example at line %i',
    async (_line, example) => {
      const { stderr } = await runExample(example, packageDir, { timeoutMs: 240_000 })
      expect(stderr).not.toMatch(/AssertionError|Error:/)
    },
    300_000,
  )
})
