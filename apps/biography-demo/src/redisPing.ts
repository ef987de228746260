import { connect as connectTcp, type Socket } from 'node:net'
import { connect as connectTls } from 'node:tls'

/**
 * Checks that a Redis server answers at `url` (AUTH when the URL has a password, then PING).
 * Resolves on PONG; rejects with a short reason otherwise. Used before a run so that an
 * unreachable Redis is reported up front instead of silently degrading to cache misses.
 */
export function redisPing(url: string, timeoutMs = 2000): Promise<void> {
  const parsed = new URL(url)
  const port = Number(parsed.port || 6379)
  const host = parsed.hostname || '127.0.0.1'
  const commands: string[][] = []
  if (parsed.password) {
    const user = decodeURIComponent(parsed.username)
    const password = decodeURIComponent(parsed.password)
    commands.push(user ? ['AUTH', user, password] : ['AUTH', password])
  }
  commands.push(['PING'])
  return new Promise((resolve, reject) => {
    const socket: Socket =
      parsed.protocol === 'rediss:'
        ? connectTls({ host, port, servername: host })
        : connectTcp({ host, port })
    const timer = setTimeout(() => fail('no answer within ' + timeoutMs + ' ms'), timeoutMs)
    timer.unref()
    let buffer = ''
    let answered = 0
    function fail(reason: string): void {
      clearTimeout(timer)
      socket.destroy()
      reject(new Error(reason))
    }
    socket.once(parsed.protocol === 'rediss:' ? 'secureConnect' : 'connect', () => {
      socket.write(commands.map(encode).join(''))
    })
    socket.on('data', (chunk) => {
      buffer += chunk.toString('utf8')
      let end = buffer.indexOf('\r\n')
      while (end >= 0) {
        const line = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        if (line.startsWith('-')) return fail(line.slice(1))
        answered++
        if (answered === commands.length) {
          clearTimeout(timer)
          socket.end()
          return line === '+PONG' ? resolve() : fail(`unexpected answer ${line}`)
        }
        end = buffer.indexOf('\r\n')
      }
    })
    socket.on('error', (error: NodeJS.ErrnoException) =>
      fail(error.code === 'ECONNREFUSED' ? 'connection refused' : error.message),
    )
  })
}

function encode(args: string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`
}
