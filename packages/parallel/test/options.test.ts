import { describe, expect, it } from 'vitest'
import { DEFAULT_OPTIONS, ParallelTaskExecutor } from '../src/index.js'

// One test per option, in the order of resolveOptions / resolveRunOptions in src/options.ts.
function rejects(options: unknown, message: string) {
  let thrown: unknown
  try {
    new ParallelTaskExecutor(options as never)
  } catch (error) {
    thrown = error
  }
  expect(thrown).toMatchObject({ name: 'ParallelError', code: 'INVALID_OPTION' })
  expect((thrown as Error).message).toContain(message)
}

describe('executor options', () => {
  it('options must be a plain object', () => {
    rejects(['a', 'b'], 'options must be a plain object, got array(2)')
    rejects(new Map(), 'options must be a plain object, got object Map')
    rejects(null, 'options must be a plain object')
    rejects(4, 'options must be a plain object, got 4')
  })
  it('maxWorkers', () =>
    rejects({ maxWorkers: 0 }, 'options.maxWorkers must be a positive integer, got 0'))
  it('threads', () =>
    rejects({ threads: 1.5 }, 'options.threads must be a positive integer, got 1.5'))
  it('minThreads', () =>
    rejects(
      { threads: 2, minThreads: 3 },
      'options.minThreads must be an integer from 0 to 2, got 3',
    ))
  it('mode', () =>
    rejects({ mode: 'fork' }, "options.mode must be 'threads' or 'inline', got \"fork\""))
  it('timeout', () =>
    rejects({ timeout: -5 }, 'options.timeout must be a positive number of milliseconds, got -5'))
  it('loadTimeout', () =>
    rejects({ loadTimeout: 0 }, 'options.loadTimeout must be a positive number'))
  it('idleTimeout', () =>
    rejects({ idleTimeout: Number.NaN }, 'options.idleTimeout must be a positive number'))
  it('retries', () =>
    rejects({ retries: -1 }, 'options.retries must be an integer from 0 to 1000, got -1'))
  it('retryDelay', () =>
    rejects(
      { retryDelay: Number.POSITIVE_INFINITY },
      'options.retryDelay must be a finite number >= 0',
    ))
  it('maxRetryDelay', () =>
    rejects({ maxRetryDelay: -1 }, 'options.maxRetryDelay must be a finite number >= 0'))
  it('chunkSize', () =>
    rejects({ chunkSize: 0 }, "options.chunkSize must be 'auto' or a positive integer, got 0"))
  it('maxQueue', () =>
    rejects({ maxQueue: 0 }, 'options.maxQueue must be a positive integer, got 0'))
  it('workerSetup', () =>
    rejects(
      { workerSetup: 5 },
      'options.workerSetup must be a file: URL or an absolute path, got 5',
    ))
  it('resourceLimits', () =>
    rejects({ resourceLimits: [] }, 'options.resourceLimits must be a plain object'))
  it('has one object of defaults', () => {
    expect(DEFAULT_OPTIONS).toMatchObject({ retries: 0, chunkSize: 'auto', maxQueue: 1024 })
  })
})

describe('per-call options', () => {
  const ex = new ParallelTaskExecutor({ mode: 'inline' })
  const call = (options: unknown) => ex.executeParallel([() => 1], options as never)
  it('options must be a plain object (the original positional id list is refused)', async () => {
    await expect(call(['a', 'b'])).rejects.toMatchObject({
      code: 'INVALID_OPTION',
      message: 'options must be a plain object, got array(2)',
    })
    await expect(ex.mapParallel((x: number) => x, [1], 'x' as never)).rejects.toMatchObject({
      code: 'INVALID_OPTION',
    })
    expect(() => ex.stream([() => 1], [] as never)).not.toThrow()
    await expect(ex.stream([() => 1], [] as never).next()).rejects.toMatchObject({
      code: 'INVALID_OPTION',
    })
  })
  it('signal', async () => {
    await expect(call({ signal: {} })).rejects.toThrow('options.signal must be an AbortSignal')
  })
  it('onResult', async () => {
    await expect(call({ onResult: 1 })).rejects.toThrow(
      'options.onResult must be a function, got 1',
    )
  })
  it('taskIds', async () => {
    await expect(call({ taskIds: ['a', 'b'] })).rejects.toThrow(
      'options.taskIds must be an array of 1 ids',
    )
  })
  it('timeout', async () => {
    await expect(call({ timeout: 0 })).rejects.toThrow('options.timeout must be a positive number')
  })
  it('retries', async () => {
    await expect(call({ retries: 1.5 })).rejects.toThrow('options.retries must be an integer')
  })
  it('retryDelay', async () => {
    await expect(call({ retryDelay: -1 })).rejects.toThrow('options.retryDelay must be a finite')
  })
  it('chunkSize', async () => {
    await expect(call({ chunkSize: 'big' })).rejects.toThrow("options.chunkSize must be 'auto'")
  })
  it('maxQueue', async () => {
    await expect(call({ maxQueue: -1 })).rejects.toThrow(
      'options.maxQueue must be a positive integer',
    )
  })
})

describe('options.backend', () => {
  it('must be a ChunkBackend, and not with inline mode', () => {
    rejects({ backend: {} }, 'options.backend must be a ChunkBackend')
    const backend = { prepare() {}, run() {}, close() {}, concurrency: 2, loadTimeout: 1 }
    rejects({ backend, mode: 'inline' }, "options.backend cannot be used with mode 'inline'")
  })
})
