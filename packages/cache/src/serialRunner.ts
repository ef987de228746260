/**
 * Runs an async job one call at a time. A request while the job runs does not start a second
 * one beside it: it makes the job run once more when the current run ends (requests made during
 * one run count as one). The job must handle its own errors: a rejection is not caught here.
 */
export class SerialRunner {
  readonly #job: () => Promise<void>
  #running: Promise<void> | undefined
  #again = false

  constructor(job: () => Promise<void>) {
    this.#job = job
  }

  /** Starts the job, or, while it runs, asks for one more run after it. */
  request(): void {
    if (this.#running !== undefined) {
      this.#again = true
      return
    }
    this.#running = this.#job().finally(() => {
      this.#running = undefined
      if (this.#again) {
        this.#again = false
        this.request()
      }
    })
  }
}
