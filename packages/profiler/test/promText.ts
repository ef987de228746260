import { execFile } from 'node:child_process'

/** One sample line of a text exposition. */
export interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

/** Every sample line of a text exposition (comments skipped), label values unescaped. */
export function samples(text: string): Sample[] {
  const out: Sample[] = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (m === null) throw new Error(`not a sample line: ${line}`)
    const labels: Record<string, string> = {}
    const pairs = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g
    for (const [, key, raw] of (m[2] ?? '').matchAll(pairs)) {
      labels[key!] = raw!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c))
    }
    out.push({ name: m[1]!, labels, value: Number(m[3]) })
  }
  return out
}

/** The samples named `name` whose labels include `where`. */
export function pick(text: string, name: string, where: Record<string, string> = {}): Sample[] {
  return samples(text).filter(
    (s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v),
  )
}

/** `promtool check metrics` on the text: its complaints, or '' when it accepts it. */
export function promtool(text: string): Promise<string> {
  return new Promise((resolve) => {
    const child = execFile(
      'promtool',
      ['check', 'metrics'],
      { timeout: 60_000 },
      (error, stdout, stderr) => {
        const said = `${stdout}${stderr}`.trim()
        resolve(error && said === '' ? String(error) : said)
      },
    )
    child.stdin?.end(text)
  })
}
