/** What the demo keeps of a fetched source page. */
export interface FetchedPage {
  /** Canonical address of the page. */
  url: string
  /** HTTP status; 0 when the host did not answer in time or the connection failed. */
  status: number
  title?: string
  author?: string
  published?: string
  /** Plain text of the article body. */
  text: string
  /** The whole HTML page; kept only by the naive pipeline. */
  html?: string
  /** Time spent fetching, in milliseconds. */
  fetchMs: number
  /** Bytes read from the network. */
  bytes: number
}

/**
 * Naive fetch: downloads the whole page as one string, then extracts from it. The HTML is
 * returned with the result (and kept by the caller).
 */
export async function fetchWholePage(
  url: string,
  fetchUrl: string,
  timeoutMs: number,
): Promise<FetchedPage> {
  const started = performance.now()
  try {
    const res = await fetch(fetchUrl, { signal: AbortSignal.timeout(timeoutMs) })
    const html = await res.text()
    const meta = extractHead(html)
    const text = res.ok ? extractArticle(html) : ''
    return {
      url,
      status: res.status,
      ...meta,
      text,
      html,
      fetchMs: performance.now() - started,
      bytes: Buffer.byteLength(html),
    }
  } catch {
    return { url, status: 0, text: '', fetchMs: performance.now() - started, bytes: 0 }
  }
}

/**
 * Streaming fetch: reads the page chunk by chunk, keeps only the head and the article, and stops
 * reading once the article has ended (the rest of the page is never downloaded or held).
 */
export async function fetchPageStreaming(
  url: string,
  fetchUrl: string,
  timeoutMs: number,
): Promise<FetchedPage> {
  const started = performance.now()
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(), timeoutMs)
  timer.unref()
  let bytes = 0
  try {
    const res = await fetch(fetchUrl, { signal: controller.signal })
    if (!res.ok || !res.body) {
      await res.body?.cancel()
      return { url, status: res.status, text: '', fetchMs: performance.now() - started, bytes }
    }
    const decoder = new TextDecoder()
    const reader = res.body.getReader()
    let buffer = ''
    let head: ReturnType<typeof extractHead> | undefined
    let text = ''
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      bytes += value.byteLength
      buffer += decoder.decode(value, { stream: true })
      if (!head && buffer.includes('</head>')) head = extractHead(buffer)
      const end = buffer.indexOf('</article>')
      if (end >= 0) {
        text = extractArticle(buffer.slice(0, end + 10))
        await reader.cancel()
        break
      }
      if (!buffer.includes('<article')) buffer = buffer.slice(-16)
    }
    return {
      url,
      status: res.status,
      ...(head ?? extractHead(buffer)),
      text,
      fetchMs: performance.now() - started,
      bytes,
    }
  } catch {
    return { url, status: 0, text: '', fetchMs: performance.now() - started, bytes }
  } finally {
    clearTimeout(timer)
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
