import { writeFile } from 'node:fs/promises'
import { Session } from 'node:inspector/promises'
import { ProfilerError, ProfilerErrorCode } from './profilerError.js'

/**
 * V8's sampling CPU profiler of this thread through node:inspector, written as a `.cpuprofile`
 * (the format Chrome DevTools, speedscope and VS Code open). @internal
 */
export class CpuProfiler {
  #session: Session
  #path: string

  private constructor(session: Session, path: string) {
    this.#session = session
    this.#path = path
  }

  /** Starts profiling now; `stop()` writes the profile to `path`. */
  static async start(path: string): Promise<CpuProfiler> {
    const session = new Session()
    try {
      session.connect()
      await session.post('Profiler.enable')
      await session.post('Profiler.start')
    } catch (error) {
      session.disconnect()
      throw new ProfilerError(
        ProfilerErrorCode.CPU_PROFILE_FAILED,
        `could not start the CPU profiler: ${(error as Error)?.message ?? String(error)}`,
        { cause: error },
      )
    }
    return new CpuProfiler(session, path)
  }

  /** Stops profiling without writing anything. */
  cancel(): void {
    this.#session.disconnect()
  }

  /** Stops profiling, writes the `.cpuprofile` and returns its path. */
  async stop(): Promise<string> {
    try {
      const { profile } = await this.#session.post('Profiler.stop')
      await writeFile(this.#path, JSON.stringify(profile))
      return this.#path
    } catch (error) {
      throw new ProfilerError(
        ProfilerErrorCode.CPU_PROFILE_FAILED,
        `could not write the CPU profile to ${JSON.stringify(this.#path)}: ${(error as Error)?.message ?? String(error)}`,
        { cause: error },
      )
    } finally {
      this.#session.disconnect()
    }
  }
}
