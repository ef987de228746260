// Does this machine run two CPU-bound threads (or processes) at full speed side by side?
// Each worker computes the same fixed amount of work and reports its own compute time; "alone"
// runs one worker, "pair" runs two at once. scaling = 2 × alone / pair wall time (2.00 = perfect).
// Usage: node bench/scaling.mjs            (threads and processes, all workloads, ~10 s)
//        node bench/scaling.mjs --child K  (internal: one process computing workload K)
// Imported as a module (bench/bullmq.ts's worker tasks), it only exports hashBuiltDocument.
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads'
import { embedDocument, hashDocument, hashDocumentSha256 } from './tasks.mjs'

const DOCS = Array.from({ length: 2000 }, (_, i) => `document ${i} `.repeat(200))

/** Register-only loop: no memory traffic at all. */
function registerLoop(text) {
  let h = 2166136261
  for (let i = 0; i < 100_000; i++) h = Math.imul(h ^ i, 16777619)
  return h + text.length
}

const WORKLOADS = {
  register: { fn: registerLoop, docs: 2000 },
  fnv: { fn: hashDocument, docs: 1000 },
  embed: { fn: embedDocument, docs: 2000 },
  sha256: { fn: hashDocumentSha256, docs: 1000 },
}

function compute(kind) {
  const { fn, docs } = WORKLOADS[kind]
  for (let i = 0; i < 20; i++) fn(DOCS[i]) // warm the JIT
  const start = performance.now()
  for (let i = 0; i < docs; i++) fn(DOCS[i])
  return performance.now() - start
}

/**
 * The CPU-heavy task with a tiny payload: document `i` of `chars` characters is built where the
 * task runs, then hashed (`hashDocument`). Over a queue only `{ i, chars }` travels, so the work
 * measured is the hashing, not the transport of the text.
 */
export function hashBuiltDocument({ i, chars }) {
  const text = `document ${i} `.repeat(Math.ceil(chars / 11)).slice(0, chars)
  // A flat copy: the repeated-and-sliced string would make every charCodeAt of the hash slower
  // than on the flat strings the other rows receive.
  return hashDocument(Buffer.from(text, 'latin1').toString('latin1'))
}

const isScript =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href

if (!isMainThread && typeof workerData === 'string') {
  // One of this script's own threads (a pool thread importing the module has other workerData).
  parentPort.postMessage(compute(workerData))
} else if (!isMainThread || !isScript) {
  // Imported for hashBuiltDocument: nothing runs.
} else if (process.argv[2] === '--child') {
  const ms = compute(process.argv[3])
  const { user, system } = process.cpuUsage()
  process.stdout.write(`${ms} ${(user + system) / 1000}`)
} else {
  const self = fileURLToPath(import.meta.url)
  const steal = () => Number(readFileSync('/proc/stat', 'utf8').split('\n')[0].split(/\s+/)[8])
  const thread = (kind) =>
    new Promise((resolve, reject) => {
      const w = new Worker(self, { workerData: kind })
      w.once('message', resolve)
      w.once('error', reject)
    })
  const proc = (kind) =>
    new Promise((resolve, reject) => {
      let out = ''
      const child = spawn(process.execPath, [self, '--child', kind])
      child.stdout.on('data', (d) => {
        out += d
      })
      child.once('error', reject)
      child.once('close', () => {
        const [ms, cpu] = out.split(' ').map(Number)
        childCpu += cpu
        resolve(ms)
      })
    })
  let childCpu = 0
  // CPU time used by everything on the machine except this benchmark, in cores (0..2).
  const busyMs = () => {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].split(/\s+/).slice(1).map(Number)
    return (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) * 10
  }
  const others = async (fn) => {
    const t0 = performance.now()
    const b0 = busyMs()
    const c0 = process.cpuUsage()
    const k0 = childCpu
    const result = await fn()
    const c = process.cpuUsage(c0)
    const ours = (c.user + c.system) / 1000 + childCpu - k0
    others.cores.push(Math.max(0, busyMs() - b0 - ours) / (performance.now() - t0))
    return result
  }
  others.cores = []
  const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]
  console.log(
    "workload | unit    | alone ms | pair ms (each) | scaling (2.00 = perfect) | others' load (cores)",
  )
  for (const kind of Object.keys(WORKLOADS)) {
    for (const [unit, start] of [
      ['thread', thread],
      ['process', proc],
    ]) {
      others.cores = []
      const alone = []
      const pair = []
      for (let round = 0; round < 3; round++) {
        alone.push(await others(() => start(kind)))
        const [a, b] = await others(() => Promise.all([start(kind), start(kind)]))
        pair.push(Math.max(a, b))
      }
      const a = median(alone)
      const p = median(pair)
      console.log(
        `${kind.padEnd(8)} | ${unit.padEnd(7)} | ${a.toFixed(0).padStart(8)} | ${p.toFixed(0).padStart(14)} | ${((2 * a) / p).toFixed(2).padStart(24)} | ${Math.max(...others.cores).toFixed(2)} max`,
      )
    }
  }
  console.log(
    `steal ticks so far: ${steal()}, load: ${readFileSync('/proc/loadavg', 'utf8').trim()}`,
  )
}
