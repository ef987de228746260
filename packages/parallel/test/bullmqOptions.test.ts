// Option checks of the BullMQ backend and of serveTasks: one test per option, in the order of
// the checks. None of them connects to Redis.
import { describe, expect, it } from 'vitest'
import {
  BullmqErrorCode,
  bullmqBackend,
  defineTaskRegistry,
  serveTasks,
} from '../src/bullmq/index.js'
import { defineWorkerTask, ParallelError, ParallelErrorCode } from '../src/index.js'
import registry, { double } from './fixtures/bullmqRegistry.js'

const base = { connection: 'redis://127.0.0.1:6379', queue: 'q', tasks: registry }
const invalid = (message: string) => ({
  code: 'INVALID_OPTION',
  message: expect.stringContaining(message),
})

describe('bullmqBackend options', () => {
  it('options must be an object', () => {
    expect(() => bullmqBackend(null as never)).toThrow(
      expect.objectContaining(invalid('options must be an object')),
    )
  })
  it('options.connection must be a redis URL or ioredis options', () => {
    expect(() => bullmqBackend({ ...base, connection: 5 as never })).toThrow(
      expect.objectContaining(invalid('options.connection must be a redis:// URL')),
    )
    expect(() => bullmqBackend({ ...base, connection: 'http://x' })).toThrow(
      expect.objectContaining(
        invalid('options.connection must be a redis:// or rediss:// URL, got "http://x"'),
      ),
    )
  })
  it('options.tasks must be a registry', () => {
    expect(() => bullmqBackend({ ...base, tasks: {} as never })).toThrow(
      expect.objectContaining(
        invalid('options.tasks must be a registry from defineTaskRegistry()'),
      ),
    )
  })
  it('options.queue must be a plain name', () => {
    expect(() => bullmqBackend({ ...base, queue: 'a:b' })).toThrow(
      expect.objectContaining(invalid('options.queue must be 1-100 characters')),
    )
  })
  it('options.prefix must not contain a colon', () => {
    expect(() => bullmqBackend({ ...base, prefix: 'a:b' })).toThrow(
      expect.objectContaining(invalid("options.prefix must be a non-empty string without ':'")),
    )
  })
  it('options.concurrency, maxPayloadBytes, resultTtl and loadTimeout must be positive integers', () => {
    for (const key of ['concurrency', 'maxPayloadBytes', 'resultTtl', 'loadTimeout']) {
      expect(() => bullmqBackend({ ...base, [key]: 0 })).toThrow(
        expect.objectContaining(invalid(`options.${key} must be a positive integer, got 0`)),
      )
    }
  })
  it("options.chunkSize must be a positive integer or 'auto'", () => {
    expect(() => bullmqBackend({ ...base, chunkSize: 1.5 })).toThrow(
      expect.objectContaining(invalid('options.chunkSize must be a positive integer, got 1.5')),
    )
  })
  it('map checks its options before connecting', async () => {
    const b = bullmqBackend(base)
    await expect(b.map(double, [1], { runId: 'a:b' })).rejects.toMatchObject(
      invalid('options.runId must be 1-100 characters'),
    )
    await expect(b.map(double, [1], { timeout: -1 })).rejects.toMatchObject(
      invalid('options.timeout must be a non-negative integer, got -1'),
    )
    await expect(b.map(double, 5 as never)).rejects.toMatchObject({ code: 'INVALID_ITEMS' })
    await expect(b.map(double, [1], [] as never)).rejects.toMatchObject(
      invalid('options must be an object'),
    )
    await b.close()
  })
})

describe('serveTasks options', () => {
  it('checks the queue, the registry and every number before loading BullMQ', async () => {
    await expect(serveTasks({ ...base, queue: '' })).rejects.toMatchObject(invalid('options.queue'))
    await expect(serveTasks({ ...base, tasks: undefined as never })).rejects.toMatchObject(
      invalid('options.tasks must be a registry'),
    )
    for (const key of [
      'concurrency',
      'threads',
      'lockDuration',
      'stalledInterval',
      'maxStalledCount',
    ]) {
      await expect(serveTasks({ ...base, [key]: -1 })).rejects.toMatchObject(
        invalid(`options.${key} must be a positive integer, got -1`),
      )
    }
  })
})

describe('defineTaskRegistry', () => {
  const task = defineWorkerTask(new URL('./fixtures/bullmqTasks.mjs', import.meta.url), 'double')
  it('names tasks with a version (1 by default) and identifies them', () => {
    const other = defineWorkerTask(new URL('./fixtures/bullmqTasks.mjs', import.meta.url), 'echo')
    const r = defineTaskRegistry({ a: task, b: { task: other, version: 3 } })
    expect(r.names).toEqual(['a', 'b'])
    expect(r.get('a')?.version).toBe(1)
    expect(r.identify(other)).toEqual({ name: 'b', version: 3 })
    expect(() => defineTaskRegistry({ a: task, b: task })).toThrow(
      expect.objectContaining(invalid('entries.b: the same worker task is registered as "a"')),
    )
  })
  it('rejects bad names, entries and versions with the entry in the message', () => {
    expect(() => defineTaskRegistry({ 'a b': task })).toThrow(
      expect.objectContaining(invalid('a task name must be')),
    )
    expect(() => defineTaskRegistry({ a: (() => 1) as never })).toThrow(
      expect.objectContaining(invalid('entries.a must be a worker task')),
    )
    expect(() => defineTaskRegistry({ a: { task, version: 1.5 } })).toThrow(
      expect.objectContaining(invalid('entries.a.version must be a non-negative integer, got 1.5')),
    )
  })
})

describe('error codes', () => {
  it('the BullMQ codes are ParallelErrorCode values (one code union for both backends)', () => {
    for (const [name, code] of Object.entries(BullmqErrorCode)) {
      expect(ParallelErrorCode[name as keyof typeof ParallelErrorCode]).toBe(code)
    }
    expect(Object.keys(BullmqErrorCode)).toEqual([
      'DRIVER_MISSING',
      'TASK_NOT_ALLOWED',
      'TASK_VERSION_MISMATCH',
      'PAYLOAD_TOO_LARGE',
      'JOB_FAILED',
    ])
  })
  it('a caller-side TASK_NOT_ALLOWED is a ParallelError whose code is a ParallelErrorCode', () => {
    const b = bullmqBackend(base)
    const other = defineWorkerTask<number, number>(
      new URL('./fixtures/tasks.mjs', import.meta.url),
      'notRegistered',
    )
    let caught: unknown
    try {
      b.identify(other as never)
    } catch (error) {
      caught = error
    }
    expect(caught).toBeInstanceOf(ParallelError)
    const code: ParallelErrorCode = (caught as ParallelError).code
    expect(code).toBe(ParallelErrorCode.TASK_NOT_ALLOWED)
  })
})
