// A cheap clock for the memory tier's hot path: Date.now() costs about as much as the rest of a
// memory hit. It is refreshed by an unref'd timer while a MemoryCache is open, and every 256
// reads so tight loops of awaited hits (which starve timers) still see time move.
const RESOLUTION_MS = 20

let now = Date.now()
let reads = 0
let users = 0
let timer: NodeJS.Timeout | undefined

/** Milliseconds since the epoch, at most about RESOLUTION_MS behind Date.now(). */
export function coarseNow(): number {
  if ((++reads & 255) === 0) now = Date.now()
  return now
}

/** Exact time, and refreshes the coarse clock. */
export function exactNow(): number {
  now = Date.now()
  return now
}

/** How far behind Date.now() the coarse clock may be in normal operation. */
export const COARSE_CLOCK_SLACK_MS = RESOLUTION_MS * 3

export function retainClock(): void {
  if (users++ === 0) {
    now = Date.now()
    timer = setInterval(() => {
      now = Date.now()
    }, RESOLUTION_MS)
    timer.unref()
  }
}

export function releaseClock(): void {
  if (--users === 0 && timer !== undefined) {
    clearInterval(timer)
    timer = undefined
  }
}
