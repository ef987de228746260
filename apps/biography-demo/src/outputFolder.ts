import { constants, readdirSync, rmdirSync, rmSync } from 'node:fs'
import { access, mkdir, mkdtemp, readdir, rename, rm, rmdir, stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { DemoError, DemoErrorCode } from './demoError.js'

/**
 * The output folder, written atomically: everything goes to a hidden staging folder inside it
 * first and is moved into place only when the whole run succeeded, so a failed run leaves
 * nothing half-written.
 */
export class OutputFolder {
  readonly path: string
  readonly staging: string
  readonly #created: boolean

  private constructor(path: string, staging: string, created: boolean) {
    this.path = path
    this.staging = staging
    this.#created = created
  }

  /** Checks that `dir` is (or can be made) a writable folder and opens a staging folder in it. */
  static async open(dir: string): Promise<OutputFolder> {
    const path = resolve(dir)
    let created = false
    try {
      const info = await stat(path).catch(() => undefined)
      if (info && !info.isDirectory()) throw new Error('it exists and is not a folder')
      if (!info) {
        await mkdir(path, { recursive: true })
        created = true
      }
      await access(path, constants.W_OK)
      const staging = await mkdtemp(join(path, '.bookgen-staging-'))
      return new OutputFolder(path, staging, created)
    } catch (error) {
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
    try {
      if (this.#created && readdirSync(this.path).length === 0) rmdirSync(this.path)
    } catch {
      // Leave the folder: it is not ours to force.
    }
  }

  /** Drops the staging folder, and the output folder itself if this run created it empty. */
  async discard(): Promise<void> {
    await rm(this.staging, { recursive: true, force: true })
    if (this.#created && (await readdir(this.path).catch(() => ['?'])).length === 0) {
      await rmdir(this.path).catch(() => {})
    }
  }
}

function reason(error: unknown): string {
  const code = (error as { code?: string }).code
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied'
  if (code === 'EROFS') return 'read-only file system'
  if (code === 'ENOTDIR') return 'a parent is not a folder'
  return error instanceof Error ? error.message : String(error)
}
