import { constants, readdirSync, rmdirSync, rmSync } from 'node:fs'
import { access, mkdir, mkdtemp, readdir, rename, rm, stat, statfs } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { DemoError, DemoErrorCode } from './demoError.js'

/**
 * The output folder, written atomically: everything goes to a hidden staging folder inside it
 * first and is moved into place only when the whole run succeeded, so a failed run leaves
 * nothing half-written. The outputs of a run replace those of the previous one as a set: the
 * previous run's outputs that the new run did not write are removed, other files are left alone.
 */
export class OutputFolder {
  readonly path: string
  readonly staging: string
  /** The outermost folder this run created (`path` itself or one of its parents), if any. */
  readonly #createdRoot: string | undefined

  private constructor(path: string, staging: string, createdRoot: string | undefined) {
    this.path = path
    this.staging = staging
    this.#createdRoot = createdRoot
  }

  /** Checks that `dir` is (or can be made) a writable folder and opens a staging folder in it. */
  static async open(dir: string): Promise<OutputFolder> {
    const path = resolve(dir)
    let createdRoot: string | undefined
    try {
      const info = await stat(path).catch(() => undefined)
      if (info && !info.isDirectory()) throw new Error('it exists and is not a folder')
      await refuseVirtualFileSystem(path)
      if (!info) createdRoot = await makeFolders(path)
      await access(path, constants.W_OK)
      const staging = await mkdtemp(join(path, '.bookgen-staging-'))
      return new OutputFolder(path, staging, createdRoot)
    } catch (error) {
      if (createdRoot) removeEmptyFolders(path, createdRoot)
      throw new DemoError(
        DemoErrorCode.OUTPUT_NOT_WRITABLE,
        `Cannot write to the output folder ${path}: ${reason(error)}. Choose another with --out.`,
        { cause: error },
      )
    }
  }

  /**
   * Moves the named files from the staging folder (or its subfolder `from`) into place, then
   * removes the files of `previous` (names an earlier run may have written) that are not part
   * of this set. Returns the paths written.
   */
  async commit(
    files: readonly { from: string; name: string }[],
    previous: (name: string) => boolean = () => false,
  ): Promise<string[]> {
    const written: string[] = []
    for (const file of files) {
      await rename(join(this.staging, file.from), join(this.path, file.name))
      written.push(join(this.path, file.name))
    }
    const names = new Set(files.map((f) => f.name))
    for (const entry of await readdir(this.path, { withFileTypes: true })) {
      if (entry.isFile() && !names.has(entry.name) && previous(entry.name)) {
        await rm(join(this.path, entry.name), { force: true })
      }
    }
    await rm(this.staging, { recursive: true, force: true })
    return written
  }

  /** {@link discard}, synchronously: for signal handlers that exit right after. */
  discardSync(): void {
    rmSync(this.staging, { recursive: true, force: true })
    if (this.#createdRoot) removeEmptyFolders(this.path, this.#createdRoot)
  }

  /**
   * Drops the staging folder, and the folders this run created for the output (the output folder
   * and any parents `mkdir -p` made) while they are empty.
   */
  async discard(): Promise<void> {
    await rm(this.staging, { recursive: true, force: true })
    if (this.#createdRoot) removeEmptyFolders(this.path, this.#createdRoot)
  }
}

/** Kernel file systems no output belongs on (statfs magic numbers). */
const virtualFileSystems: ReadonlyMap<number, string> = new Map([
  [0x9fa0, 'procfs'],
  [0x62656572, 'sysfs'],
  [0x1cd1, 'devpts'],
  [0x64626720, 'debugfs'],
  [0x27e0eb, 'cgroup'],
  [0x63677270, 'cgroup2'],
])

/** Rejects a path whose nearest existing folder is on /proc, /sys or a similar file system. */
async function refuseVirtualFileSystem(path: string): Promise<void> {
  let existing = path
  while (!(await stat(existing).catch(() => undefined)) && dirname(existing) !== existing) {
    existing = dirname(existing)
  }
  const info = await statfs(existing).catch(() => undefined)
  const kind = info && virtualFileSystems.get(Number(info.type))
  if (kind) throw Object.assign(new Error(`${existing} is on ${kind}`), { code: 'EVIRTUAL' })
}

/**
 * `mkdir -p`, one level at a time: each missing folder is created once, and the first error
 * ends it (a recursive mkdir can retry forever where a file system answers ENOENT for a parent
 * that exists, like /proc). Returns the outermost folder created.
 */
async function makeFolders(path: string): Promise<string | undefined> {
  const missing: string[] = []
  for (let dir = path; !(await stat(dir).catch(() => undefined)); dir = dirname(dir)) {
    missing.unshift(dir)
    if (dirname(dir) === dir) break
  }
  for (const [n, dir] of missing.entries()) {
    try {
      await mkdir(dir)
    } catch (error) {
      if (n > 0) removeEmptyFolders(missing[n - 1]!, missing[0]!)
      throw error
    }
  }
  return missing[0]
}

/** Removes `path` and its parents up to `root` (included) while each is empty. */
function removeEmptyFolders(path: string, root: string): void {
  for (let dir = path; ; dir = dirname(dir)) {
    try {
      if (readdirSync(dir).length > 0) return
      rmdirSync(dir)
    } catch {
      // Leave the folder: it is not ours to force.
      return
    }
    if (dir === root || dirname(dir) === dir) return
  }
}

function reason(error: unknown): string {
  const code = (error as { code?: string }).code
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied'
  if (code === 'EROFS') return 'read-only file system'
  if (code === 'ENOTDIR') return 'a parent is not a folder'
  if (code === 'EVIRTUAL') return `${(error as Error).message}, a virtual file system`
  if (code === 'ENOENT') return 'a parent folder cannot be created there'
  return error instanceof Error ? error.message : String(error)
}
