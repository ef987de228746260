import { constants, readdirSync, rmdirSync, rmSync } from 'node:fs'
import { access, mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { DemoError, DemoErrorCode } from './demoError.js'

/**
 * The output folder, written atomically: everything goes to a hidden staging folder inside it
 * first and is moved into place only when the whole run succeeded, so a failed run leaves
 * nothing half-written.
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
      if (!info) createdRoot = await mkdir(path, { recursive: true })
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

  /** Moves the named files from the staging folder (or its subfolder `from`) into place. */
  async commit(files: readonly { from: string; name: string }[]): Promise<string[]> {
    const written: string[] = []
    for (const file of files) {
      await rename(join(this.staging, file.from), join(this.path, file.name))
      written.push(join(this.path, file.name))
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
  return error instanceof Error ? error.message : String(error)
}
