import { bullmqError } from './bullmqError.js'

/** The parts of `bullmq` this backend uses. */
export type BullmqModule = typeof import('bullmq')

let loading: Promise<BullmqModule> | undefined

/** Imports the optional peer dependency `bullmq` once; rejects with `DRIVER_MISSING` without it. */
export function loadBullmq(): Promise<BullmqModule> {
  loading ??= import('bullmq').catch((error: unknown) => {
    loading = undefined
    throw bullmqError(
      'DRIVER_MISSING',
      'the BullMQ backend needs the optional peer dependency "bullmq": npm install bullmq',
      { cause: error },
    )
  })
  return loading
}
