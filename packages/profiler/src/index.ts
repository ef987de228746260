export type {
  CacheChannelMessage,
  DbQueryChannelMessage,
  ParallelTaskChannelMessage,
} from './channels.js'
export { CHANNELS } from './channels.js'
export type { CheckResult, Criteria } from './criteria.js'
export { DEFAULT_CRITERIA, validateCriteria } from './criteria.js'
export type {
  HistogramBuckets,
  HistogramSummary,
  LogLinearHistogramOptions,
} from './logLinearHistogram.js'
export { LogLinearHistogram } from './logLinearHistogram.js'
export type { MemoryPeakSource } from './memoryPeakTracker.js'
export { mergeProfiles } from './mergeProfiles.js'
export type { ProfileResult } from './performanceProfile.js'
export { performanceProfile } from './performanceProfile.js'
export { Profile, startProfile } from './profile.js'
export type { Violation } from './profilerError.js'
export { ProfilerError, ProfilerErrorCode } from './profilerError.js'
export type { PromClientRegistry } from './promClientCollector.js'
export { registerProfiles } from './promClientCollector.js'
export { renderPrometheus } from './prometheus.js'
export { subscribeChannels } from './subscribeChannels.js'
export type { SystemMetrics } from './systemMetrics.js'
export { getSystemMetrics } from './systemMetrics.js'
export type {
  EventLoopDelayMetrics,
  GcKind,
  GcMetrics,
  GcPauseStats,
  MergedProfileJSON,
  PerformanceMetrics,
  PerformanceMetricsJSON,
  PerformanceProfileOptions,
  ProfileOptions,
  ProfileResource,
  PrometheusOptions,
  QueryMetrics,
  QueryMetricsJSON,
  TaskMetrics,
} from './types.js'
