export type {
  CacheChannelMessage,
  DbQueryChannelMessage,
  ParallelTaskChannelMessage,
} from './channels.js'
export { CHANNELS } from './channels.js'
export type { CheckResult, Criteria } from './criteria.js'
export { DEFAULT_CRITERIA, validateCriteria } from './criteria.js'
export type { HistogramSummary, LogLinearHistogramOptions } from './logLinearHistogram.js'
export { LogLinearHistogram } from './logLinearHistogram.js'
export type { MemoryPeakSource } from './memoryPeakTracker.js'
export type { ProfileResult } from './performanceProfile.js'
export { performanceProfile } from './performanceProfile.js'
export { Profile, startProfile } from './profile.js'
export type { Violation } from './profilerError.js'
export { ProfilerError, ProfilerErrorCode } from './profilerError.js'
export type { SystemMetrics } from './systemMetrics.js'
export { getSystemMetrics } from './systemMetrics.js'
export type {
  EventLoopDelayMetrics,
  GcKind,
  GcMetrics,
  GcPauseStats,
  PerformanceMetrics,
  PerformanceMetricsJSON,
  PerformanceProfileOptions,
  ProfileOptions,
  PrometheusOptions,
  QueryMetrics,
  TaskMetrics,
} from './types.js'
