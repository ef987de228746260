import type { DriverName } from '../types.js'
import type { Driver } from './driver.js'
import { pglite } from './pglite.js'
import { postgresJs } from './postgresJs.js'

/** Every supported driver; a third one is one more file of the same shape. @internal */
export const DRIVERS: readonly Driver[] = [postgresJs, pglite]

/** The driver a drizzle session's client belongs to, if any. @internal */
export function detectDriver(client: unknown): Driver | undefined {
  return DRIVERS.find((d) => d.detect(client))
}

/** The driver of that name. @internal */
export function driverNamed(name: DriverName): Driver {
  return DRIVERS.find((d) => d.name === name) as Driver
}
