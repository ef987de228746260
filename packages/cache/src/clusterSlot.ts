// The Redis Cluster hash slot of a key (CRC16-XMODEM of the key, or of its {hash tag}, mod 16384),
// so each key's command is charged to the circuit breaker of the master that serves it.

const TABLE = (() => {
  const table = new Uint16Array(256)
  for (let i = 0; i < 256; i++) {
    let crc = i << 8
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1
    table[i] = crc & 0xffff
  }
  return table
})()

/** The hash slot (0…16383) Redis Cluster assigns to `key`. */
export function clusterSlot(key: string): number {
  let bytes = Buffer.from(key)
  const open = bytes.indexOf(0x7b) // {
  if (open !== -1) {
    const close = bytes.indexOf(0x7d, open + 1) // }
    if (close > open + 1) bytes = bytes.subarray(open + 1, close)
  }
  let crc = 0
  for (const byte of bytes) crc = ((crc << 8) ^ TABLE[((crc >> 8) ^ byte) & 0xff]!) & 0xffff
  return crc & 16383
}
