/** A throwaway PgBouncer. */
export interface ThrowawayPgBouncer {
  readonly port: number
  /** URL of `database` through the pooler (default `postgres`). */
  url(database?: string): string
  /** URL of the admin console database `pgbouncer`. */
  readonly adminUrl: string
  /** Stops PgBouncer and removes its folder. */
  stop(): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
}

export declare function findPgBouncer(): string | undefined
export declare function startPgBouncer(options: {
  host?: string
  port: number
  poolMode?: 'transaction' | 'session' | 'statement'
  poolSize?: number
}): Promise<ThrowawayPgBouncer>
