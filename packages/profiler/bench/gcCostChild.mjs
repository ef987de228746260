// One run of bench/gcCost.mjs: `node bench/gcCostChild.mjs <source> <task>`.
// Sources of a window's heap peak and GC pauses, each the way the profiler would use it:
//   none         nothing watches the collections (the baseline)
//   gcProfiler   v8.GCProfiler: the heap before and after every collection, recorded during it
//   observer     a PerformanceObserver on 'gc' entries (kind and pause only)
//   observerHeap the same, reading v8.getHeapStatistics() whenever entries are delivered
//   finalization a FinalizationRegistry sentinel re-armed after each collection that took it,
//                reading v8.getHeapSpaceStatistics() in its cleanup callback
// Tasks:
//   churn  short-lived arrays in 1,000 batches with an event-loop turn between them (the
//          observers deliver there), so that every source sees hundreds of scavenges
//   spike  the profiler's test: 2.5 M rows built and freed without an await, then a synchronous
//          read; prints the peak the source saw against the heap while the rows lived
import { PerformanceObserver } from 'node:perf_hooks'
import { GCProfiler, getHeapSpaceStatistics, getHeapStatistics, setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

const [source, task] = process.argv.slice(2)
let peak = getHeapStatistics().used_heap_size
let collections = 0
let pauseMs = 0
const fold = (used) => {
  if (used > peak) peak = used
}

let finish = () => {}
if (source === 'gcProfiler') {
  const profiler = new GCProfiler()
  profiler.start()
  finish = () => {
    for (const s of profiler.stop().statistics) {
      collections++
      pauseMs += s.cost / 1000
      fold(s.beforeGC.heapStatistics.usedHeapSize)
    }
  }
} else if (source === 'observer' || source === 'observerHeap') {
  const withHeap = source === 'observerHeap'
  const take = (entries) => {
    for (const e of entries) {
      collections++
      pauseMs += e.duration
    }
    if (withHeap && entries.length > 0) fold(getHeapStatistics().used_heap_size)
  }
  const observer = new PerformanceObserver((list) => take(list.getEntries()))
  observer.observe({ entryTypes: ['gc'] })
  finish = () => {
    take(observer.takeRecords())
    observer.disconnect()
  }
} else if (source === 'finalization') {
  const registry = new FinalizationRegistry(() => {
    collections++
    let used = 0
    for (const s of getHeapSpaceStatistics()) used += s.space_used_size
    fold(used)
    registry.register({}, 0)
  })
  registry.register({}, 0)
} else if (source !== 'none') {
  throw new Error(`unknown source ${source}`)
}

if (task === 'churn') {
  // Little JavaScript work per collection (a 1 MiB young generation fills after ~12 arrays of
  // 10,000 slots), so that what a source does per collection stands out of the run's noise.
  let keep = 0
  let last = null
  for (let b = 0; b < 1000; b++) {
    for (let i = 0; i < 12; i++) last = new Array(10_000)
    keep += last.length
    await new Promise(setImmediate)
  }
  finish()
  console.log(JSON.stringify({ source, task, keep, collections, pauseMs }))
} else if (task === 'spike') {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc')
  const start = getHeapStatistics().used_heap_size
  let rows = []
  for (let i = 0; i < 2_500_000; i++) rows.push({ id: i, text: `row ${i}` })
  const during = process.memoryUsage().heapUsed
  rows = null
  gc()
  fold(getHeapStatistics().used_heap_size)
  finish()
  const seen = peak >= during
  console.log(
    JSON.stringify({
      source,
      task,
      startMiB: +(start / 2 ** 20).toFixed(1),
      duringMiB: +(during / 2 ** 20).toFixed(1),
      peakMiB: +(peak / 2 ** 20).toFixed(1),
      seen,
    }),
  )
} else {
  throw new Error(`unknown task ${task}`)
}
