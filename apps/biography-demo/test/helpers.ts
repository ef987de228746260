import { execFile } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, type RequestListener } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll } from 'vitest'

/** The built CLI (run `npx tsup` first; the Nx test target builds it). */
export const cliPath = fileURLToPath(new URL('../dist/cli.js', import.meta.url))

/** Result of one CLI run. */
export interface CliRun {
  code: number
  stdout: string
  stderr: string
}

/**
 * Runs the built CLI with arguments and extra environment; never rejects. A run still going
 * after 9 minutes is killed (bounded, but far above what load does to one run).
 */
export function runCli(
  args: readonly string[],
  env: Record<string, string | undefined> = {},
): Promise<CliRun> {
  const merged: NodeJS.ProcessEnv = { ...process.env, ...env }
  for (const [key, value] of Object.entries(env)) if (value === undefined) delete merged[key]
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cliPath, ...args],
      { env: merged, maxBuffer: 16 * 1024 * 1024, timeout: 540_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0
        resolve({ code, stdout, stderr })
      },
    )
  })
}

/** Citation numbers used in the chapters and the numbered entries of the "Sources" list. */
export function parseMarkdown(markdown: string): {
  chapters: string[]
  cited: Set<number>
  listed: Map<number, string>
} {
  const [body = '', sourcesPart = ''] = markdown.split('\n## Sources\n')
  const chapters = [...body.matchAll(/^## (\d+)\. (.+)$/gm)].map((m) => m[2]!)
  const cited = new Set([...body.matchAll(/\[(\d+)\](?!\()/g)].map((m) => Number(m[1])))
  const listed = new Map<number, string>()
  for (const m of sourcesPart.matchAll(/^(\d+)\. \[[^\]]*\]\(([^)]+)\)/gm)) {
    listed.set(Number(m[1]), m[2]!)
  }
  return { chapters, cited, listed }
}

/** Env without the service variables: the embedded defaults. */
export const embeddedEnv = { REDIS_URL: undefined, DATABASE_URL: undefined }

/**
 * A fresh temporary folder for the calling suite: made before its tests (its own `beforeAll`
 * hooks registered later see it) and removed after them. Returns the folder's path.
 */
export function useTempDir(prefix: string): () => string {
  let dir: string | undefined
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), prefix))
  })
  afterAll(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  })
  return () => {
    if (dir === undefined) throw new Error('the temporary folder exists only while the suite runs')
    return dir
  }
}

/** A loopback HTTP server for a test: where it listens, and how to stop it. */
export interface LoopbackServer {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  readonly baseUrl: string
  /** Drops open connections (a stalled response included) and stops listening. */
  close(): Promise<void>
}

/** Starts `handler` on a free loopback port and resolves once it listens. */
export async function startHttpServer(handler: RequestListener): Promise<LoopbackServer> {
  const server = createServer(handler)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close() {
      server.closeAllConnections()
      return new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
