import { once } from 'node:events'
import { createServer, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { escapeHtml } from '../html.js'
import { buildCorpus, type CorpusSource } from './corpusBuilder.js'
import { type Figure, figures } from './figures.js'

/** Options of {@link CorpusServer}. */
export interface CorpusServerOptions {
  /**
   * Multiplies every simulated host latency (0 turns latency off).
   * @default 1
   */
  latencyFactor?: number
  /**
   * Transient faults to test retries: of every `faults + 1` requests for a page, the first
   * `faults` fail, each page always the same way: a 503 (two pages in five), a reset connection
   * (two in five) or a stall that sends nothing until the client gives up, 60 s at most (one in
   * five). 0 turns faults off.
   * @default 0
   */
  faults?: number
}

/** A search hit of the corpus server. */
export interface SearchHit {
  /** Canonical address of the page on the web. */
  url: string
  /** Where the demo fetches it: the corpus server on loopback. */
  fetchUrl: string
}

const defaults: Required<CorpusServerOptions> = { latencyFactor: 1, faults: 0 }
const stallLimitMs = 60_000

/**
 * Serves the offline corpus over HTTP on a loopback ephemeral port, so that fetching and
 * validating sources is real network I/O. Each page waits for its host's simulated latency, then
 * streams in chunks; broken sources answer 404/503 or reset the connection.
 */
export class CorpusServer {
  readonly #options: Required<CorpusServerOptions>
  readonly #pages = new Map<string, CorpusSource>()
  readonly #byFigure = new Map<string, CorpusSource[]>()
  readonly #requests = new Map<string, number>()
  #server: Server | undefined
  #baseUrl = ''

  constructor(options: CorpusServerOptions = {}) {
    this.#options = { ...defaults, ...options }
    if (!(this.#options.latencyFactor >= 0)) {
      throw new TypeError(
        `options.latencyFactor must be a number >= 0, got ${String(options.latencyFactor)}`,
      )
    }
    if (!Number.isInteger(this.#options.faults) || this.#options.faults < 0) {
      throw new TypeError(`options.faults must be an integer >= 0, got ${String(options.faults)}`)
    }
    for (const figure of figures) {
      const corpus = buildCorpus(figure, figures)
      this.#byFigure.set(figure.slug, corpus)
      for (const source of corpus) this.#pages.set(`${source.domain}/${source.id}`, source)
    }
  }

  /** Base URL, e.g. `http://127.0.0.1:40123`; empty before {@link start}. */
  get baseUrl(): string {
    return this.#baseUrl
  }

  /** Number of sources the corpus holds for a figure. */
  sourceCount(figure: Figure): number {
    return this.#byFigure.get(figure.slug)?.length ?? 0
  }

  /** Starts listening on 127.0.0.1 with an ephemeral port. */
  async start(): Promise<string> {
    if (this.#server) return this.#baseUrl
    const server = createServer((req, res) => {
      this.#handle(req.url ?? '/', res).catch(() => res.destroy())
    })
    server.keepAliveTimeout = 5_000
    this.#server = server
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const { port } = server.address() as AddressInfo
    this.#baseUrl = `http://127.0.0.1:${port}`
    return this.#baseUrl
  }

  /** Stops the server and drops open connections. */
  async close(): Promise<void> {
    const server = this.#server
    if (!server) return
    this.#server = undefined
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  async #handle(rawUrl: string, res: ServerResponse): Promise<void> {
    const url = new URL(rawUrl, 'http://corpus')
    if (url.pathname === '/search') {
      const slug = url.searchParams.get('figure') ?? ''
      const hits: SearchHit[] = (this.#byFigure.get(slug) ?? []).map((s) => ({
        url: `https://${s.domain}/${s.id}`,
        fetchUrl: `${this.#baseUrl}/${s.domain}/${s.id}`,
      }))
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify(hits))
      return
    }
    const source = this.#pages.get(url.pathname.slice(1))
    if (!source) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found')
      return
    }
    await delay(source.latencyMs * this.#options.latencyFactor)
    const { faults } = this.#options
    if (faults > 0) {
      const path = url.pathname
      const seen = this.#requests.get(path) ?? 0
      this.#requests.set(path, seen + 1)
      if (seen % (faults + 1) < faults) {
        await fault(faultKind(path), res)
        return
      }
    }
    if (source.status === 0) {
      // An unreachable host: the connection is reset without an answer.
      res.socket?.destroy()
      return
    }
    if (source.status !== 200) {
      res.writeHead(source.status, { 'content-type': 'text/html' }).end('<h1>Unavailable</h1>')
      return
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
    for (const chunk of renderPage(source)) {
      if (res.destroyed) return
      if (!res.write(chunk)) await drainOrClose(res)
    }
    res.end()
  }
}

/** Renders a corpus page as HTML chunks: head, navigation, article, then page state padding. */
export function* renderPage(source: CorpusSource): Generator<string> {
  const head = [
    '<!doctype html><html lang="en"><head><meta charset="utf-8">',
    source.title ? `<title>${escapeHtml(source.title)}</title>` : '',
    source.author ? `<meta name="author" content="${escapeHtml(source.author)}">` : '',
    source.published ? `<meta name="date" content="${source.published}">` : '',
    `<link rel="canonical" href="https://${source.domain}/${source.id}">`,
    '</head><body>',
    `<nav>${navigation}</nav>`,
  ].join('')
  const paragraphs: string[] = []
  for (let i = 0; i < source.sentences.length; i += 3) {
    paragraphs.push(`<p>${escapeHtml(source.sentences.slice(i, i + 3).join(' '))}</p>`)
  }
  const article = `<article>${paragraphs.join('\n')}</article>`
  yield head
  yield article
  let remaining = source.pageBytes - head.length - article.length
  yield '<script type="application/json" id="page-state">['
  while (remaining > 0) {
    const piece = padding.slice(0, Math.min(remaining, padding.length))
    remaining -= piece.length
    yield piece
  }
  yield '{}]</script><footer>© corpus</footer></body></html>'
}

const navigation = Array.from(
  { length: 40 },
  (_, i) => `<a href="/topic/${i}">Topic ${i}</a>`,
).join(' ')

const padding = Array.from(
  { length: 400 },
  (_, i) => `{"id":${i},"slot":"ad-${(i * 7919) % 1000}","w":${300 + (i % 5) * 10},"h":250},`,
).join('')

function drainOrClose(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done)
      res.off('close', done)
      resolve()
    }
    res.once('drain', done)
    res.once('close', done)
  })
}

function faultKind(path: string): 'unavailable' | 'reset' | 'stall' {
  let h = 0
  for (let i = 0; i < path.length; i++) h = (h * 31 + path.charCodeAt(i)) >>> 0
  return h % 5 < 2 ? 'unavailable' : h % 5 < 4 ? 'reset' : 'stall'
}

async function fault(kind: ReturnType<typeof faultKind>, res: ServerResponse): Promise<void> {
  if (kind === 'unavailable') {
    res.writeHead(503, { 'content-type': 'text/html' }).end('<h1>Try again</h1>')
  } else if (kind === 'reset') {
    res.socket?.destroy()
  } else {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, stallLimitMs)
      timer.unref()
      res.once('close', () => {
        clearTimeout(timer)
        resolve()
      })
    })
    res.destroy()
  }
}

function delay(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms).unref()) : Promise.resolve()
}
