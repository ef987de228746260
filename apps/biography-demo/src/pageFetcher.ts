import { exponentialBackoff, retry } from './retry.js'

/**
 * Why a fetch did not get a definitive answer. All three are transient: the same page may
 * answer on the next try, so a verdict built on them is never cached.
 */
export type FetchFailure = 'timeout' | 'connection' | 'server-error'

/** What the demo keeps of a fetched source page. */
export interface FetchedPage {
  /** Canonical address of the page. */
  url: string
  /** HTTP status of the last attempt; 0 when the host did not answer (timeout, reset). */
  status: number
  /** Set when the last attempt failed transiently (after every retry was spent). */
  failure?: FetchFailure
  /** Attempts made (1 when the first one gave a definitive answer). */
  attempts: number
  title?: string
  author?: string
  published?: string
  /** Plain text of the article body. */
  text: string
  /** The whole HTML page; kept only by the naive pipeline. */
  html?: string
  /** Time spent fetching, every attempt and backoff included, in milliseconds. */
  fetchMs: number
  /** Bytes read from the network (last attempt). */
  bytes: number
}

/** How pages are fetched: deadlines and retries, the same for both pipelines. */
export interface FetchPolicy {
  /**
   * Milliseconds an attempt may go without receiving anything (the response head or the next
   * chunk of the body) before it is abandoned as a timeout. The deadline restarts with every
   * chunk, so it measures a stall, not the size of the page or how busy the machine is; it
   * doubles on each retry.
   * @default 10_000
   */
  idleTimeoutMs: number
  /**
   * Attempts per page, the first one included. Timeouts, failed connections and 5xx answers
   * are retried; 2xx and 4xx answers are definitive.
   * @default 3
   */
  attempts: number
  /**
   * Milliseconds before the first retry; doubled for each next one, with jitter.
   * @default 50
   */
  backoffMs: number
}

/** Defaults of {@link FetchPolicy}. */
export const defaultFetchPolicy: Readonly<FetchPolicy> = {
  idleTimeoutMs: 10_000,
  attempts: 3,
  backoffMs: 50,
}

/**
 * Naive fetch: downloads the whole page as one string, then extracts from it. The HTML is
 * returned with the result (and kept by the caller).
 */
export function fetchWholePage(
  url: string,
  fetchUrl: string,
  policy: FetchPolicy = defaultFetchPolicy,
): Promise<FetchedPage> {
  return withRetries(url, policy, async (deadline) => {
    const res = await fetch(fetchUrl, { signal: deadline.signal })
    deadline.touch()
    const parts: string[] = []
    let bytes = 0
    if (res.body) {
      const decoder = new TextDecoder()
      const reader = res.body.getReader()
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        deadline.touch()
        bytes += value.byteLength
        parts.push(decoder.decode(value, { stream: true }))
      }
      parts.push(decoder.decode())
    }
    const html = parts.join('')
    if (res.status >= 500) return failed(res.status, 'server-error', bytes)
    const meta = extractHead(html)
    const text = res.ok ? extractArticle(html) : ''
    return { status: res.status, ...meta, text, html, bytes }
  })
}

/**
 * Streaming fetch: reads the page chunk by chunk, keeps only the head and the article, and stops
 * reading once the article has ended (the rest of the page is never downloaded or held).
 */
export function fetchPageStreaming(
  url: string,
  fetchUrl: string,
  policy: FetchPolicy = defaultFetchPolicy,
): Promise<FetchedPage> {
  return withRetries(url, policy, async (deadline) => {
    const res = await fetch(fetchUrl, { signal: deadline.signal })
    deadline.touch()
    if (!res.ok || !res.body) {
      await res.body?.cancel()
      if (res.status >= 500) return failed(res.status, 'server-error', 0)
      return { status: res.status, text: '', bytes: 0 }
    }
    let bytes = 0
    const decoder = new TextDecoder()
    const reader = res.body.getReader()
    let buffer = ''
    let head: ReturnType<typeof extractHead> | undefined
    let text = ''
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      deadline.touch()
      bytes += value.byteLength
      buffer += decoder.decode(value, { stream: true })
      if (!head && buffer.includes('</head>')) head = extractHead(buffer)
      const end = buffer.indexOf('</article>')
      if (end >= 0) {
        text = extractArticle(buffer.slice(0, end + 10))
        await reader.cancel()
        break
      }
      // Only once the head is read: a head cut across chunks keeps its start (its title).
      if (head && !buffer.includes('<article')) buffer = buffer.slice(-16)
    }
    return { status: res.status, ...(head ?? extractHead(buffer)), text, bytes }
  })
}

type Attempt = Omit<FetchedPage, 'url' | 'attempts' | 'fetchMs'>

/** Runs one fetch attempt after the other under the policy; network errors become failures. */
async function withRetries(
  url: string,
  policy: FetchPolicy,
  attempt: (deadline: IdleDeadline) => Promise<Attempt>,
): Promise<FetchedPage> {
  const started = performance.now()
  const { result, attempts } = await retry(
    async (n) => {
      const deadline = new IdleDeadline(policy.idleTimeoutMs * 2 ** (n - 1))
      try {
        return await attempt(deadline)
      } catch {
        return failed(0, deadline.expired ? 'timeout' : 'connection', 0)
      } finally {
        deadline.clear()
      }
    },
    {
      attempts: policy.attempts,
      delayMs: exponentialBackoff(policy.backoffMs),
      shouldRetry: (r) => r.failure !== undefined,
    },
  )
  return { url, ...result, attempts, fetchMs: performance.now() - started }
}

function failed(status: number, failure: FetchFailure, bytes: number): Attempt {
  return { status, failure, text: '', bytes }
}

/** An abort signal that fires after `ms` without a {@link touch}. */
class IdleDeadline {
  readonly #controller = new AbortController()
  readonly #timer: NodeJS.Timeout
  #expired = false

  constructor(ms: number) {
    this.#timer = setTimeout(() => {
      this.#expired = true
      this.#controller.abort(new Error(`no data for ${ms} ms`))
    }, ms)
    this.#timer.unref()
  }

  get signal(): AbortSignal {
    return this.#controller.signal
  }

  /** Whether the deadline fired. */
  get expired(): boolean {
    return this.#expired
  }

  /** Something arrived: the deadline starts again. */
  touch(): void {
    if (!this.#expired) this.#timer.refresh()
  }

  clear(): void {
    clearTimeout(this.#timer)
  }
}

function extractHead(html: string): { title?: string; author?: string; published?: string } {
  const title = /<title>([^<]*)<\/title>/.exec(html)?.[1]
  const author = /<meta name="author" content="([^"]*)">/.exec(html)?.[1]
  const published = /<meta name="date" content="([^"]*)">/.exec(html)?.[1]
  return {
    ...(title ? { title: unescapeHtml(title) } : {}),
    ...(author ? { author: unescapeHtml(author) } : {}),
    ...(published ? { published } : {}),
  }
}

function extractArticle(html: string): string {
  const body = /<article>([\s\S]*?)<\/article>/.exec(html)?.[1] ?? ''
  return unescapeHtml(
    body
      .replace(/<\/p>\s*/g, '\n')
      .replace(/<[^>]+>/g, '')
      .trim(),
  )
}

function unescapeHtml(value: string): string {
  return value
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&')
}
