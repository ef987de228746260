// A throwaway Redis Cluster (3 masters + 3 replicas by default) on free loopback ports, each node
// in its own temporary folder, for tests that need a Cluster they may kill and fail over.
// Nothing here runs on import.
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { startRedis, waitFor, which } from './servers.mjs'

const run = promisify(execFile)

/** Runs redis-cli against one port and resolves its stdout. */
export async function redisCli(port, ...args) {
  const { stdout } = await run('redis-cli', ['-p', String(port), ...args], { timeout: 10_000 })
  return stdout
}

/**
 * Starts a Redis Cluster on loopback: `masters` masters with `replicasPerMaster` replicas each.
 * Resolves once every node reports `cluster_state:ok` and knows every other node.
 * @param {{ masters?: number, replicasPerMaster?: number, nodeTimeoutMs?: number }} [options]
 */
export async function startRedisCluster(options = {}) {
  if (!which('redis-cli')) {
    throw new Error('redis-cli is not installed (Debian: apt-get install redis-server redis-tools)')
  }
  const masters = options.masters ?? 3
  const replicas = options.replicasPerMaster ?? 1
  const nodeTimeout = options.nodeTimeoutMs ?? 1000
  const count = masters * (1 + replicas)
  const nodes = []
  try {
    for (let i = 0; i < count; i++) {
      nodes.push(
        await startRedis({
          args: [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            'nodes.conf',
            '--cluster-node-timeout',
            String(nodeTimeout),
            // A replica may take over however long it was cut off (tests kill masters on purpose).
            '--cluster-replica-validity-factor',
            '0',
          ],
        }),
      )
    }
    await run(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...nodes.map((n) => `127.0.0.1:${n.port}`),
        '--cluster-replicas',
        String(replicas),
        '--cluster-yes',
      ],
      { timeout: 60_000 },
    )
    await waitFor(
      async () => {
        for (const node of nodes) {
          const info = await redisCli(node.port, 'cluster', 'info')
          if (!info.includes('cluster_state:ok')) return false
          if (!info.includes(`cluster_known_nodes:${count}`)) return false
        }
        return true
      },
      30_000,
      'cluster_state:ok on every node',
    )
  } catch (error) {
    for (const node of nodes) await node.stop().catch(() => {})
    throw error
  }

  /** One node's view of the cluster (`CLUSTER NODES`): each node's port, role and slot count. */
  const viewOf = async (port) => {
    const text = await redisCli(port, 'cluster', 'nodes')
    return text
      .trim()
      .split('\n')
      .map((line) => {
        const [, address, flags, , , , , state, ...slots] = line.split(' ')
        return {
          port: Number(address.split(':')[1].split('@')[0]),
          master: flags.includes('master') && !flags.includes('fail'),
          failed: flags.includes('fail'),
          connected: state === 'connected',
          slots: slots.length,
        }
      })
  }

  /** The nodes that are masters now, from the point of view of a live node. */
  const roles = async () => {
    for (const node of nodes) {
      try {
        return await viewOf(node.port)
      } catch {
        // that node is down: ask the next one
      }
    }
    throw new Error('no cluster node answers')
  }

  return {
    nodes,
    /** Startup nodes for an ioredis Cluster. */
    startupNodes: nodes.map((n) => ({ host: '127.0.0.1', port: n.port })),
    /** The node handles of the masters that serve slots now. */
    async masters() {
      const live = await roles()
      return nodes.filter((n) => live.some((r) => r.port === n.port && r.master && r.slots > 0))
    },
    /**
     * SIGKILLs a master and waits until one of its replicas has taken over its slots and the
     * cluster is ok again. Resolves the killed node's handle (restart() brings it back as a replica).
     */
    async failMaster(master) {
      await master.kill()
      await waitFor(
        async () => {
          // Every live node must agree: the killed master no longer serves its slots in any
          // node's view (else a client is sent back and forth by MOVED while gossip converges),
          // and every node's cluster state is ok.
          for (const node of nodes) {
            if (node === master) continue
            const view = await viewOf(node.port).catch(() => undefined)
            if (view === undefined) return false
            if (view.some((r) => r.port === master.port && r.master)) return false
            const info = await redisCli(node.port, 'cluster', 'info').catch(() => '')
            if (!info.includes('cluster_state:ok')) return false
          }
          return true
        },
        30_000,
        `a replica taking over from port ${master.port}`,
      )
      return master
    },
    /** Stops every node and removes their folders. */
    async stop() {
      for (const node of nodes) await node.stop().catch(() => {})
    },
  }
}
