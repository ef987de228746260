import { prime, subscribeHandlers } from './channels.js'
import { PROBE, Profile } from './profile.js'

let prepared = false
// Enough runs of the recording path for V8 to compile the handlers and the sink's methods with
// TurboFan now (measured on Node 20: 500 runs were not, 2,000 were), rather than inside the
// first profile's window.
const STARTUP_PRIME_ROUNDS = 2000

/**
 * Subscribes the profiler's channel handlers now, once per copy of this package and thread, for
 * good (it is never undone; calling it again does nothing). Profiles then record channel
 * messages as before.
 *
 * Call it at startup, before the code that publishes on the `bookgen:*` channels gets hot, in a
 * process that will profile: the first subscriber of a channel deoptimizes the publishers that
 * were optimized for "no subscriber", and a profile started later then pays none of that. It also
 * runs the recording path 2,000 times into a throwaway sink (no profile sees those messages) and
 * a profile's start and stop once, recording nothing and leaving the kernel's memory mark alone,
 * so that the first real profile does not pay for V8 compiling the profiler's own code: that is
 * paid here instead, once (~30 ms of CPU on Node 20, most of it on V8's compiler threads).
 * Without it, the first profile that records channels subscribes. Once subscribed, every
 * publisher builds and publishes its messages, profile or not (~20 ns a message from optimized
 * code); between profiles the handlers return at once.
 */
export function subscribeChannels(): void {
  subscribeHandlers()
  if (prepared) return
  prepared = true
  prime(STARTUP_PRIME_ROUNDS)
  const probe = new Profile({}, PROBE)
  probe.toJSON()
  probe.stop()
  probe.toJSON()
}
