// Runs in a fresh project with only the packed tarball (and its peers) installed.
import assert from 'node:assert/strict'
import {
  createDatabase,
  DbOptimizerError,
  LazyLoader,
  optimizeForReadHeavy,
  QueryOptimizer,
  statementShape,
} from '@bookgen/db-optimizer'

assert.equal(new LazyLoader(() => 42).value, 42)
assert.equal(optimizeForReadHeavy().options.max, 20)
assert.equal(
  statementShape('select * from t where id in ($1, $2)'),
  'select * from t where id in (…)',
)
const error = await createDatabase('mysql://x').catch((e) => e)
assert.ok(error instanceof DbOptimizerError)
assert.equal(error.code, 'INVALID_URL')

// with the optional peers installed, a real round trip on the embedded database
let database
try {
  database = await createDatabase()
} catch (e) {
  assert.equal(e.code, 'DRIVER_MISSING')
  console.log('pack-smoke (esm): PGlite not installed, DRIVER_MISSING as documented')
}
if (database) {
  const optimizer = new QueryOptimizer(database.db)
  const { sql } = await import('drizzle-orm')
  await database.db.execute(sql`select 1`)
  assert.equal(optimizer.getQueryStats().all.count, 1)
  await database.close()
}
console.log('pack-smoke (esm): ok')
