#!/usr/bin/env node
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { isTaskRegistry } from './taskRegistry.js'
import { serveTasks } from './taskServer.js'

const USAGE = `usage: bookgen-worker --queue <name> --tasks <module> [options]

  --queue <name>            queue to serve (the callers' bullmqBackend({ queue }))
  --tasks <module>          module exporting a defineTaskRegistry() registry (default or "tasks")
  --concurrency <n>         chunks processed at once (default 2)
  --threads <n>             worker threads running the tasks (default: available CPUs)
  --redis <url>             Redis URL (default: $REDIS_URL or redis://127.0.0.1:6379)
  --prefix <prefix>         queue key prefix (default {bookgen})
  --lock-duration <ms>      job lock without renewal: a killed worker's jobs return after it (default 30000)
  --stalled-interval <ms>   how often stalled jobs are looked for (default 30000)
  --worker-setup <module>   module every worker thread imports first (e.g. a TypeScript loader)
`

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      queue: { type: 'string' },
      tasks: { type: 'string' },
      concurrency: { type: 'string' },
      threads: { type: 'string' },
      redis: { type: 'string' },
      prefix: { type: 'string' },
      'lock-duration': { type: 'string' },
      'stalled-interval': { type: 'string' },
      'worker-setup': { type: 'string' },
      help: { type: 'boolean' },
    },
  })
  if (values.help || values.queue === undefined || values.tasks === undefined) {
    process.stdout.write(USAGE)
    process.exit(values.help ? 0 : 2)
  }
  const log = (line: string) => process.stdout.write(`[bookgen-worker ${process.pid}] ${line}\n`)
  const tasksUrl = pathToFileURL(resolve(values.tasks)).href
  log(`starting: loading tasks from ${tasksUrl}`)
  const mod = (await import(tasksUrl)) as Record<string, unknown>
  const registry = isTaskRegistry(mod.default) ? mod.default : mod.tasks
  if (!isTaskRegistry(registry)) {
    throw new Error(
      `--tasks ${values.tasks}: the module exports no registry from defineTaskRegistry() (as default or "tasks")`,
    )
  }
  const server = await serveTasks({
    connection: values.redis ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    queue: values.queue,
    tasks: registry,
    onState: log,
    ...(values.concurrency !== undefined ? { concurrency: Number(values.concurrency) } : {}),
    ...(values.threads !== undefined ? { threads: Number(values.threads) } : {}),
    ...(values.prefix !== undefined ? { prefix: values.prefix } : {}),
    ...(values['lock-duration'] !== undefined
      ? { lockDuration: Number(values['lock-duration']) }
      : {}),
    ...(values['stalled-interval'] !== undefined
      ? { stalledInterval: Number(values['stalled-interval']) }
      : {}),
    ...(values['worker-setup'] !== undefined
      ? { executor: { workerSetup: pathToFileURL(resolve(values['worker-setup'])).href } }
      : {}),
  })
  let signals = 0
  const stop = (signal: string) => {
    signals++
    log(`${signal}${signals > 1 ? ' again' : ''}`)
    server.close(signals > 1).then(
      () => process.exit(0),
      (error: unknown) => {
        log(`error while stopping: ${(error as Error)?.message ?? error}`)
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
}

main().catch((error: unknown) => {
  process.stderr.write(
    `[bookgen-worker ${process.pid}] failed: ${(error as Error)?.stack ?? String(error)}\n`,
  )
  process.exit(1)
})
