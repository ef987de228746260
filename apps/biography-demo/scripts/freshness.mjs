// Whether the demo's build outputs are newer than every file they are built from, and a quiet
// build for when they are not. Used by scripts/demo.mjs (`npm run demo`).
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'

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
 * SHA-256 of every input file of the projects (paths and contents), to tell a build that is up
 * to date from one whose sources were only touched (a checkout, an editor) when their mtimes say
 * otherwise.
 * @param {string} root workspace root
 * @param {readonly string[]} [projects]
 * @returns {string}
 */
export function inputsHash(root, projects = demoProjects) {
  const hash = createHash('sha256')
  const paths = [
    ...sharedInputs.map((p) => join(root, p)),
    ...projects.flatMap((project) => projectInputs.map((p) => join(root, project, p))),
  ]
  for (const path of paths) {
    walkFiles(path, (file) => {
      hash.update(`${relative(root, file)}\n`)
      hash.update(readFileSync(file))
    })
  }
  return hash.digest('hex')
}

/**
 * Whether the demo needs a build: a project's dist is missing, or older than its inputs and
 * the inputs differ from those recorded by the last build `npm run demo` ran.
 * @param {string} root workspace root
 * @param {string} stampFile where {@link recordBuild} wrote the inputs' hash
 * @param {readonly string[]} [projects]
 * @returns {string | undefined} the first stale project, or undefined
 */
export function needsBuild(root, stampFile, projects = demoProjects) {
  const stale = staleProject(root, projects)
  if (stale === undefined) return undefined
  const missing = projects.find((p) => oldest(join(root, p, 'dist')) === undefined)
  if (missing !== undefined) return missing
  const recorded = existsSync(stampFile) ? readFileSync(stampFile, 'utf8').trim() : ''
  return recorded === inputsHash(root, projects) ? undefined : stale
}

/**
 * Records the inputs' hash after a successful build.
 * @param {string} root
 * @param {string} stampFile
 * @param {readonly string[]} [projects]
 */
export function recordBuild(root, stampFile, projects = demoProjects) {
  writeFileSync(stampFile, `${inputsHash(root, projects)}\n`)
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

function walkFiles(path, visit) {
  if (!existsSync(path)) return
  if (!statSync(path).isDirectory()) {
    visit(path)
    return
  }
  for (const entry of readdirSync(path).sort()) walkFiles(join(path, entry), visit)
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
