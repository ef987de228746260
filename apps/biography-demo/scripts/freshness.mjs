// Whether the demo's build outputs are newer than every file they are built from, and a quiet
// build for when they are not. Used by scripts/demo.mjs (`npm run demo`).
import { spawn } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

/** Projects the demo's dist depends on, in build order, relative to the workspace root. */
export const demoProjects = [
  'packages/profiler',
  'packages/cache',
  'packages/db-optimizer',
  'packages/parallel',
  'apps/biography-demo',
]

const projectInputs = ['src', 'package.json', 'tsup.config.ts', 'tsconfig.json']
const sharedInputs = ['tsconfig.base.json', 'tools/build']

/**
 * Returns the first project whose `dist` is missing or older than one of its inputs (its
 * `src`, package.json, tsup and TypeScript configs, or the shared build configuration), or
 * undefined when every dist is up to date.
 * @param {string} root workspace root
 * @param {readonly string[]} [projects] project folders relative to root
 * @returns {string | undefined}
 */
export function staleProject(root, projects = demoProjects) {
  const shared = newest(sharedInputs.map((p) => join(root, p)))
  for (const project of projects) {
    const dir = join(root, project)
    const built = oldest(join(dir, 'dist'))
    if (built === undefined) return project
    const inputs = Math.max(shared, newest(projectInputs.map((p) => join(dir, p))))
    if (inputs > built) return project
  }
  return undefined
}

/**
 * Runs a build command with its output captured: nothing is printed when it succeeds; when it
 * fails, its output is written to stderr. Resolves with the command's exit code.
 * @param {string} command
 * @param {readonly string[]} args
 * @param {{ cwd?: string, env?: NodeJS.ProcessEnv }} [options]
 * @returns {Promise<number>}
 */
export function buildQuietly(command, args, options = {}) {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const output = []
    child.stdout.on('data', (chunk) => output.push(chunk))
    child.stderr.on('data', (chunk) => output.push(chunk))
    child.on('error', (error) => {
      process.stderr.write(`${command} could not be started: ${error.message}\n`)
      resolve(127)
    })
    child.on('close', (code, signal) => {
      const status = code ?? (signal ? 1 : 0)
      if (status !== 0) process.stderr.write(Buffer.concat(output))
      resolve(status)
    })
  })
}

/** Newest modification time (ms) of the files under the given paths; 0 when there are none. */
function newest(paths) {
  let max = 0
  for (const path of paths)
    walk(path, (mtime) => {
      if (mtime > max) max = mtime
    })
  return max
}

/** Oldest modification time (ms) of the files under `path`; undefined when there are none. */
function oldest(path) {
  let min
  walk(path, (mtime) => {
    if (min === undefined || mtime < min) min = mtime
  })
  return min
}

function walk(path, visit) {
  if (!existsSync(path)) return
  const info = statSync(path)
  if (!info.isDirectory()) {
    visit(info.mtimeMs)
    return
  }
  for (const entry of readdirSync(path)) walk(join(path, entry), visit)
}
