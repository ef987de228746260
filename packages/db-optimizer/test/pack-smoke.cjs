// Runs in a fresh project with only the packed tarball (and its peers) installed.
const assert = require('node:assert/strict')
const {
  AsyncLazyLoader,
  ConnectionPool,
  DbOptimizerError,
  DbOptimizerErrorCode,
  createDatabase,
} = require('@bookgen/db-optimizer')

async function main() {
  assert.equal(DbOptimizerErrorCode.BATCH_FAILED, 'BATCH_FAILED')
  assert.equal(typeof ConnectionPool.getPoolStatus, 'function')
  let loads = 0
  const lazy = new AsyncLazyLoader(async () => ++loads)
  await Promise.all([lazy.get(), lazy.get()])
  assert.equal(loads, 1)
  const error = await createDatabase('ftp://x').catch((e) => e)
  assert.ok(error instanceof DbOptimizerError)
  assert.equal(error.code, 'INVALID_URL')
  console.log('pack-smoke (cjs): ok')
}
main().catch((error) => {
  console.error(error)
  process.exit(1)
})
