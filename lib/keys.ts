// Parsing keys from users and files: a 32-byte Buffer, 64 hex characters, or the 52 z-base-32
// characters the Holepunch stack shows keys in (hypercore-id-encoding).
import b4a from 'b4a'
import { INVALID_KEY } from './errors'

const idEncoding: { decode(id: string): Uint8Array } = require('hypercore-id-encoding')

export function toKey(value: unknown, what = 'key'): Buffer {
  if (b4a.isBuffer(value)) {
    const buf = value as Buffer
    if (buf.byteLength !== 32) throw INVALID_KEY(`${what} must be 32 bytes, got ${buf.byteLength}`, value)
    return buf
  }
  if (typeof value === 'string') {
    if (/^[0-9a-fA-F]{64}$/.test(value)) return b4a.from(value.toLowerCase(), 'hex') as Buffer
    if (/^[ybndrfg8ejkmcpqxot1uwisza345h769]{52}$/.test(value)) {
      const buf = b4a.from(idEncoding.decode(value)) as Buffer
      if (buf.byteLength === 32) return buf
    }
    throw INVALID_KEY(`${what} must be 64 hex or 52 z-base-32 characters`, value)
  }
  throw INVALID_KEY(`${what} must be a Buffer or a hex or z-base-32 string`, value)
}

export function toHex(key: Buffer): string {
  return b4a.toString(key, 'hex')
}
