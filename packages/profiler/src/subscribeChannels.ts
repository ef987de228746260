import { subscribeHandlers } from './channels.js'
import { PROBE, Profile } from './profile.js'

let prepared = false

/**
 * Subscribes the profiler's channel handlers now, once per copy of this package and thread, for
 * good (it is never undone; calling it again does nothing). Profiles then record channel
 * messages as before.
 *
 * Call it at startup, before the code that publishes on the `bookgen:*` channels gets hot, in a
 * process that will profile: the first subscriber of a channel deoptimizes the publishers that
 * were optimized for "no subscriber", and a profile started later then pays none of that. It also
 * runs a profile's start and stop once, recording nothing and leaving the kernel's memory mark
 * alone, so that the first real profile does not pay for V8 compiling the profiler's own code.
 * Without it, the first profile that records channels subscribes. Once subscribed, every
 * publisher builds and publishes its messages, profile or not (~20 ns a message from optimized
 * code); between profiles the handlers return at once.
 */
export function subscribeChannels(): void {
  subscribeHandlers()
  if (prepared) return
  prepared = true
  const probe = new Profile({}, PROBE)
  probe.toJSON()
  probe.stop()
  probe.toJSON()
}
