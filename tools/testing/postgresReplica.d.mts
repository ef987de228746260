/** One server of a throwaway primary/replica pair. */
export interface PostgresMember {
  readonly port: number
  /** postgres://postgres@127.0.0.1:PORT/postgres */
  readonly url: string
}

/** A throwaway primary with one streaming hot-standby replica. */
export interface PostgresReplicaPair {
  readonly primary: PostgresMember
  readonly replica: PostgresMember
  /** Stops both servers and removes their folder. */
  stop(): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
}

export declare function startPostgresReplica(): Promise<PostgresReplicaPair>
