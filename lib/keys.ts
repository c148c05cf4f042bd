// Parsing keys from users and files: Buffer or 64-char hex, nothing else.
import b4a from 'b4a'
import { INVALID_KEY } from './errors'

export function toKey(value: unknown, what = 'key'): Buffer {
  if (b4a.isBuffer(value)) {
    const buf = value as Buffer
    if (buf.byteLength !== 32) throw INVALID_KEY(`${what} must be 32 bytes, got ${buf.byteLength}`, value)
    return buf
  }
  if (typeof value === 'string') {
    if (!/^[0-9a-fA-F]{64}$/.test(value)) throw INVALID_KEY(`${what} must be 64 hex characters`, value)
    return b4a.from(value.toLowerCase(), 'hex') as Buffer
  }
  throw INVALID_KEY(`${what} must be a Buffer or a hex string`, value)
}

export function toHex(key: Buffer): string {
  return b4a.toString(key, 'hex')
}
