import { setTimeout as sleep } from 'node:timers/promises'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { escapeHtml } from '../src/html.js'
import { type FetchedPage, fetchPageStreaming, fetchWholePage } from '../src/pageFetcher.js'
import { type LoopbackServer, startHttpServer } from './helpers.js'

// The optimized pipeline reads pages as a stream and stops after the article; the naive one
// downloads them whole. Wherever the network cuts the page, both must extract the same head and
// article: the page and its cut points are generated, each piece written after a pause so that
// it arrives as a chunk of its own.

interface Cut {
  html: string
  /** Offsets (sorted, distinct, inside the page) where a chunk ends. */
  cuts: number[]
}

const words = fc.array(
  fc.constantFrom('Curie', 'radium', 'A&B', '"x"', '<b>', 'café', 'Paris', '1903', ' '),
  { maxLength: 8 },
)

const page: fc.Arbitrary<Cut> = fc
  .record(
    {
      title: words.map((w) => w.join(' ')),
      author: words.map((w) => w.join(' ')),
      published: fc.constantFrom('1903-12-10', '1890'),
      paragraphs: fc.array(
        words.map((w) => w.join(' ')),
        { maxLength: 5 },
      ),
      nav: fc.integer({ min: 0, max: 200 }),
      tail: fc.integer({ min: 0, max: 2000 }),
    },
    { requiredKeys: ['paragraphs', 'nav', 'tail'] },
  )
  .map((p) =>
    [
      '<!doctype html><html><head><meta charset="utf-8">',
      p.title !== undefined ? `<title>${escapeHtml(p.title)}</title>` : '',
      p.author !== undefined ? `<meta name="author" content="${escapeHtml(p.author)}">` : '',
      p.published !== undefined ? `<meta name="date" content="${p.published}">` : '',
      `</head><body><nav>${'n'.repeat(p.nav)}</nav><article>`,
      p.paragraphs.map((text) => `<p>${escapeHtml(text)}</p>`).join('\n'),
      `</article><script>${'x'.repeat(p.tail)}</script></body></html>`,
    ].join(''),
  )
  .chain((html) =>
    fc
      .uniqueArray(fc.integer({ min: 1, max: html.length - 1 }), { maxLength: 6 })
      .map((cuts) => ({ html, cuts: cuts.sort((a, b) => a - b) })),
  )

/** What both fetches must agree on (the whole fetch also keeps the HTML; bytes differ by design). */
function extracted(p: FetchedPage) {
  return {
    url: p.url,
    status: p.status,
    failure: p.failure,
    attempts: p.attempts,
    title: p.title,
    author: p.author,
    published: p.published,
    text: p.text,
  }
}

describe('streaming fetch extracts what the whole-page fetch extracts, wherever the page is cut', () => {
  let server: LoopbackServer
  let base = ''
  let current: Cut = { html: '', cuts: [] }

  beforeAll(async () => {
    server = await startHttpServer(async (_req, res) => {
      const { html, cuts } = current
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
      let from = 0
      for (const to of [...cuts, html.length]) {
        if (res.destroyed) return
        res.write(html.slice(from, to))
        from = to
        await sleep(3)
      }
      res.end()
    })
    base = server.baseUrl
  })

  afterAll(() => server.close())

  it('gives the same title, author, date and article text', async () => {
    const policy = { idleTimeoutMs: 10_000, attempts: 1, backoffMs: 0 }
    await fc.assert(
      fc.asyncProperty(page, async (cut) => {
        current = cut
        const url = 'https://encyclopedia.example.org/page'
        const whole = await fetchWholePage(url, `${base}/page`, policy)
        const streamed = await fetchPageStreaming(url, `${base}/page`, policy)
        expect(extracted(streamed)).toEqual(extracted(whole))
      }),
      { numRuns: 50 },
    )
  })
})
