// Runs a package README's examples as written: every ```ts block (except those whose info string
// says `no-run`) is written to a temporary file inside the package folder, so that the package's
// own name resolves through the workspace to its built dist, and executed with tsx.
import { execFile } from 'node:child_process'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** Returns the runnable TypeScript examples of a README, in order, with their line numbers. */
export function extractExamples(readmePath) {
  const text = readFileSync(readmePath, 'utf8')
  const examples = []
  const fence = /^```(ts|typescript)([^\n]*)\n([\s\S]*?)^```/gm
  for (let m = fence.exec(text); m !== null; m = fence.exec(text)) {
    if (/\bno-run\b/.test(m[2])) continue
    const line = text.slice(0, m.index).split('\n').length
    examples.push({ line, code: m[3] })
  }
  return examples
}

/**
 * Executes one example with tsx from `packageDir` and resolves with its stdout and stderr.
 * Rejects (with the output) when the example exits non-zero or runs longer than timeoutMs.
 */
export async function runExample(example, packageDir, { timeoutMs = 120_000, env = {} } = {}) {
  const file = join(packageDir, `.readme-example-${process.pid}-${example.line}.mts`)
  writeFileSync(file, example.code)
  try {
    const tsx = join(packageDir, '..', '..', 'node_modules', '.bin', 'tsx')
    const { stdout, stderr } = await run(tsx, [file], {
      cwd: packageDir,
      timeout: timeoutMs,
      env: { ...process.env, ...env },
    })
    return { stdout, stderr }
  } finally {
    rmSync(file, { force: true })
  }
}
