import { BroadcastChannel, type MessagePort, receiveMessageOnPort } from 'node:worker_threads'
import { readVmHwm, resetVmHwm } from './procStatus.js'

/**
 * Every thread of the process and every copy of this package (the ESM and CJS builds loaded
 * together) reaches the same named BroadcastChannel. A profile about to reset the kernel's
 * high-water mark first posts the mark it is about to erase; every other open profile folds it
 * into its own peak, so a reset never lowers a peak some other window relies on.
 */
const CHANNEL = 'bookgen:profiler:vmhwm'

/** A message on the handover channel: the high-water mark a reset is about to erase, bytes. */
interface HandoverMessage {
  hwm: number
}

/** One profile's view of the kernel mark: its own resets and those of everyone else. @internal */
export class HwmHandover {
  #channel: BroadcastChannel | undefined
  #carry = 0
  #handovers = 0
  /** True when the kernel mark was reset for this window (Linux with clear_refs permitted). */
  readonly valid: boolean

  /**
   * `probe`: read the mark but neither post nor reset it (a profile run only so that V8 compiles
   * this code, see `PROBE`).
   */
  constructor(probe = false) {
    // Listen first: a reset elsewhere after this line is handed over.
    const channel = new BroadcastChannel(CHANNEL)
    channel.onmessage = (event) => this.#fold((event as MessageEvent).data)
    channel.unref()
    this.#channel = channel
    const before = readVmHwm()
    if (before !== null && !probe) channel.postMessage({ hwm: before } satisfies HandoverMessage)
    this.valid = before !== null && !probe && resetVmHwm()
    if (!this.valid) this.close()
  }

  /**
   * The window's high-water mark: the kernel's, or a larger one erased by another profile's reset
   * during the window. Null where the kernel mark was not reset for this window.
   */
  read(): number | null {
    if (!this.valid) return null
    // Kernel first, then the queue: a reset posted after this read is already in the queue.
    const hwm = readVmHwm() ?? 0
    this.#drain()
    return Math.max(hwm, this.#carry)
  }

  /** How many resets by other profiles were handed over to this one. */
  get handovers(): number {
    return this.#handovers
  }

  /** Stops listening; the figures read so far stay. */
  close(): void {
    if (this.#channel === undefined) return
    this.#drain()
    this.#channel.close()
    this.#channel = undefined
  }

  #drain(): void {
    if (this.#channel === undefined) return
    // Node accepts a BroadcastChannel here too; its types only name MessagePort.
    const port = this.#channel as unknown as MessagePort
    for (let m = receiveMessageOnPort(port); m !== undefined; m = receiveMessageOnPort(port)) {
      this.#fold(m.message)
    }
  }

  #fold(message: unknown): void {
    const hwm = (message as HandoverMessage | null)?.hwm
    if (typeof hwm !== 'number' || !(hwm >= 0)) return
    this.#handovers++
    if (hwm > this.#carry) this.#carry = hwm
  }
}
