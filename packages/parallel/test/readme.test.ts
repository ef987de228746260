import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { extractExamples, runExample } from '../../../tools/testing/readme.mjs'

const packageDir = fileURLToPath(new URL('..', import.meta.url))
const examples = extractExamples(fileURLToPath(new URL('../README.md', import.meta.url)))

/**
 * What an example says it prints: the comment after a `console.log(...)` line, and comment-only
 * lines right below one. Comments with `...` are abbreviated and not checked.
 */
function expectedOutputs(code: string): string[] {
  const expected: string[] = []
  let afterLog = false
  for (const line of code.split('\n')) {
    const trimmed = line.trim()
    const onLog = /console\.log\(.*\) \/\/ (.+)$/.exec(trimmed)
    if (onLog) {
      expected.push(onLog[1] as string)
      afterLog = true
    } else if (afterLog && trimmed.startsWith('// ')) expected.push(trimmed.slice(3))
    else afterLog = trimmed.includes('console.log(')
  }
  return expected.filter((e) => !e.includes('...'))
}

// Colours (FORCE_COLOR, set by some task runners) are not part of what an example prints.
// biome-ignore lint/suspicious/noControlCharactersInRegex: the escape character starts a colour
const squash = (text: string) => text.replace(/\u001b\[[0-9;]*m/g, '').replace(/\s+/g, ' ')

describe('README examples run as written', () => {
  it('has examples that say what they print', () => {
    expect(examples.length).toBeGreaterThanOrEqual(7)
    expect(examples.flatMap((e) => expectedOutputs(e.code)).length).toBeGreaterThanOrEqual(18)
  })

  it.each(examples.map((e) => [e.line, e] as const))('example at line %i', async (_, example) => {
    const { stdout } = await runExample(example, packageDir, { timeoutMs: 120_000 })
    for (const expected of expectedOutputs(example.code)) {
      expect(squash(stdout)).toContain(squash(expected))
    }
  })
})
