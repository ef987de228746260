import cliProgress from 'cli-progress'

/** One progress bar; a no-op when progress is off. */
export interface ProgressBar {
  increment(by?: number): void
  stop(): void
}

/**
 * Progress bars on stderr for the long steps (cli-progress). Quiet when stderr is not a TTY or
 * when `--quiet` was given: then every bar is a no-op.
 */
export class Progress {
  readonly #multi: cliProgress.MultiBar | undefined

  constructor(enabled: boolean) {
    this.#multi = enabled
      ? new cliProgress.MultiBar(
          {
            stream: process.stderr,
            format: ' {label} |{bar}| {value}/{total}',
            hideCursor: true,
            clearOnComplete: false,
            barsize: 30,
          },
          cliProgress.Presets.shades_classic,
        )
      : undefined
  }

  /** Whether bars are drawn. */
  get enabled(): boolean {
    return this.#multi !== undefined
  }

  /** Starts a bar for `total` units of a step. */
  bar(label: string, total: number): ProgressBar {
    const bar = this.#multi?.create(total, 0, { label: label.padEnd(34) })
    return {
      increment: (by = 1) => bar?.increment(by),
      stop: () => bar?.update(total),
    }
  }

  /** Writes a line above the bars, or to stderr when there are none. */
  log(line: string): void {
    if (this.#multi) this.#multi.log(`${line}\n`)
    else process.stderr.write(`${line}\n`)
  }

  /** Stops drawing (bars stay on screen). */
  stop(): void {
    this.#multi?.stop()
  }
}

/** True when progress bars should be drawn. */
export function progressEnabled(quiet: boolean): boolean {
  return !quiet && process.stderr.isTTY === true && process.env.CI !== 'true'
}
