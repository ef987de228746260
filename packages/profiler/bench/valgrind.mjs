// Instruction counts of one Node process under valgrind (cachegrind without cache simulation):
// what a process executes in user space, whatever else runs on the machine. Shared by
// bench/overhead.mjs and bench/gcCost.mjs.
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'

const run = promisify(execFile)

/**
 * Runs `node ...nodeArgs` under valgrind and returns its instruction count and stdout.
 * @param {string[]} nodeArgs arguments after the node binary
 * @param {{ env?: NodeJS.ProcessEnv, label: string }} options
 */
export async function countInstructions(nodeArgs, { env = process.env, label }) {
  const { stdout, stderr } = await run(
    'valgrind',
    [
      '--tool=cachegrind',
      '--cache-sim=no',
      '--smc-check=all-non-file',
      '--cachegrind-out-file=/dev/null',
      process.execPath,
      ...nodeArgs,
    ],
    { timeout: 900_000, maxBuffer: 1 << 26, env },
  )
  const m = /I\s+refs:\s+([\d,]+)/.exec(stderr)
  if (m === null) throw new Error(`no instruction count for ${label}: ${stderr.slice(-500)}`)
  return { instructions: Number(m[1].replaceAll(',', '')), stdout }
}
