export { AsyncLazyLoader } from './asyncLazyLoader.js'
export type { BatchInsertOptions, OnConflictOptions } from './batchInsert.js'
export type { BatchProgress } from './batchRunner.js'
export { MAX_BIND_PARAMETERS } from './batchRunner.js'
export type { BatchUpdateOptions } from './batchUpdate.js'
export type {
  OptimizePoolSizeOptions,
  PgBouncerPool,
  PoolRecommendation,
  PoolStatus,
  ServerBackends,
  ServerStatus,
  ServerStatusOptions,
} from './connectionPool.js'
export { ConnectionPool } from './connectionPool.js'
export type { CreateDatabaseOptions, Database, DatabaseTarget } from './createDatabase.js'
export { createDatabase, parseDatabaseUrl } from './createDatabase.js'
export type { DbOptimizerErrorDetails } from './dbOptimizerError.js'
export { DbOptimizerError, DbOptimizerErrorCode } from './dbOptimizerError.js'
export type { DurationSummary } from './durationStats.js'
export type {
  ChildRelation,
  LoadChildrenOptions,
  LoadOptions,
  WithChildren,
} from './eagerLoading.js'
export { eagerLoad, loadChildren, selectinLoad } from './eagerLoading.js'
export type { ExplainOptions, ExplainResult, PlanNode } from './explain.js'
export { instrumentDatabase, QUERY_CHANNEL } from './instrumentation.js'
export { LazyLoader } from './lazyLoader.js'
export type { PoolPreset, PostgresJsOptions } from './poolPresets.js'
export { optimizeForReadHeavy, optimizeForWriteHeavy } from './poolPresets.js'
export type { QueryLoggingOptions, SlowQueryRecord } from './queryLogging.js'
export { enableQueryLogging } from './queryLogging.js'
export type {
  NPlusOneWarning,
  QueryOptimizerOptions,
  QueryStats,
  TrackNPlusOneOptions,
  WarningLogger,
} from './queryOptimizer.js'
export { QueryOptimizer } from './queryOptimizer.js'
export type { RedactedError } from './redactError.js'
export { redactError } from './redactError.js'
export { statementShape } from './statementShape.js'
export type {
  AnyPgDatabase,
  DriverName,
  QueryChannelMessage,
  QueryEvent,
  ReplicaTarget,
} from './types.js'
