import { hostname } from 'node:os'
import { threadId } from 'node:worker_threads'
import type { ProfileResource } from './types.js'
import { VERSION } from './version.js'

let cached: ProfileResource | undefined

/** Where this code runs: host, pid, thread id and package version. @internal */
export function currentResource(): ProfileResource {
  cached ??= Object.freeze({
    host: hostname(),
    pid: process.pid,
    threadId,
    packageVersion: VERSION,
  })
  return { ...cached }
}
