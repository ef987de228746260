/** A throwaway server started for a test or for the services script. */
export interface ThrowawayServer {
  readonly port: number
  /** Connection URL: redis://127.0.0.1:PORT or postgres://postgres@127.0.0.1:PORT/postgres */
  readonly url: string
  /** SIGKILL: the server disappears, as in a crash. */
  kill(): Promise<void>
  /** Starts the server again on the same port. */
  restart(): Promise<void>
  /** Stops the server and removes its folder. */
  stop(): Promise<void>
}

export interface ThrowawayRedis extends ThrowawayServer {
  readonly pid: number | undefined
  /** SIGSTOP: the server hangs with connections open (a slow server). */
  pause(): void
  /** SIGCONT after pause(). */
  resume(): void
}

export declare function getFreePort(): Promise<number>
export declare function canConnect(host: string, port: number, timeoutMs?: number): Promise<boolean>
export declare function redisPing(host: string, port: number, timeoutMs?: number): Promise<boolean>
export declare function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void>
export declare function which(name: string): string | undefined
export declare function startRedis(options?: {
  port?: number
  args?: string[]
}): Promise<ThrowawayRedis>
export declare function findPostgresBin(): string | undefined
export declare function startPostgres(options?: { port?: number }): Promise<ThrowawayServer>
