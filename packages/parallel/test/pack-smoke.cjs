// Runs in a fresh project with only the packed tarball installed (CommonJS).
const { writeFileSync } = require('node:fs')
const { join } = require('node:path')
const { defineWorkerTask, ParallelTaskExecutor, ParallelError } = require('@bookgen/parallel')

async function main() {
  const file = join(process.cwd(), 'smoke-task.cjs')
  writeFileSync(file, 'exports.triple = (n) => n * 3\n')
  const triple = defineWorkerTask(file, 'triple')
  const executor = new ParallelTaskExecutor({ maxWorkers: 2 })
  const values = await executor.parallelMap(triple, [1, 2, 3])
  const missing = await executor.parallelMap(defineWorkerTask(file, 'nope'), [1]).catch((e) => e)
  await executor.close()
  if (JSON.stringify(values) !== '[3,6,9]') throw new Error(`unexpected ${values}`)
  if (!(missing instanceof ParallelError) || missing.code !== 'WORKER_TASK_NOT_FOUND') {
    throw new Error(`expected WORKER_TASK_NOT_FOUND, got ${missing}`)
  }
  console.log('cjs ok')
}
main().catch((error) => {
  console.error(error)
  process.exit(1)
})
