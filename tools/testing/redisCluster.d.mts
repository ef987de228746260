import type { ThrowawayRedis } from './servers.mjs'

/** A throwaway Redis Cluster started by `startRedisCluster`. */
export interface ThrowawayRedisCluster {
  /** Every node (masters first as created, then replicas); roles change after a failover. */
  readonly nodes: readonly ThrowawayRedis[]
  /** Startup nodes for an ioredis `Cluster`. */
  readonly startupNodes: readonly { host: string; port: number }[]
  /** The nodes that serve slots as masters now. */
  masters(): Promise<ThrowawayRedis[]>
  /** SIGKILLs a master and waits until a replica took over and the cluster is ok again. */
  failMaster(master: ThrowawayRedis): Promise<ThrowawayRedis>
  /** Stops every node and removes their folders. */
  stop(): Promise<void>
}

export declare function redisCli(port: number, ...args: string[]): Promise<string>
export declare function startRedisCluster(options?: {
  masters?: number
  replicasPerMaster?: number
  nodeTimeoutMs?: number
}): Promise<ThrowawayRedisCluster>
