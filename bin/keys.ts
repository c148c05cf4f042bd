// Keys as users see them. Like the rest of the Hypercore stack (core.id, pear:// links, hypercore-id-encoding)
// the command line prints keys in z-base-32 (52 characters) and reads them in z-base-32 or hex (64 characters).
// Only `feeds --json` (and `create`/`join` with --hex) print hex, for scripts and for the library's API.
import { UsageError } from './errors'

// hypercore-id-encoding ships no types: the slice used here
const idEncoding = require('hypercore-id-encoding') as { encode(key: Buffer): string, decode(id: string): Buffer }

const Z32 = /^[ybndrfg8ejkmcpqxot1uwisza345h769]+$/
const HEX = /^[0-9a-f]+$/

// The key as the stack shows it: 52 z-base-32 characters.
export function keyId(key: Buffer): string {
  return idEncoding.encode(key)
}

// The first characters of the z-base-32 key: enough to tell a multifeed's feeds apart on screen.
export function shortId(key: Buffer): string {
  return keyId(key).slice(0, 8)
}

// A key the user typed: 52 z-base-32 or 64 hex characters, any case, surrounding spaces ignored.
// Anything else is a usage error that says what was expected.
export function parseKey(text: string, what: string, where: string): Buffer {
  const s = text.trim().toLowerCase()
  const valid = (s.length === 52 && Z32.test(s)) || (s.length === 64 && HEX.test(s))
  if (valid) {
    try {
      return idEncoding.decode(s)
    } catch {}
  }
  throw new UsageError(`invalid ${what} "${text}": ${why(s)}`, where)
}

function why(s: string): string {
  const expected = 'expected 52 z-base-32 or 64 hex characters'
  if (s.length === 0) return expected
  if (s.length === 64 && !HEX.test(s)) return `${expected}; 64 characters but not all hex`
  if (s.length === 52 && !Z32.test(s)) return `${expected}; 52 characters but not all z-base-32 (no 0, 2, l or v)`
  return `${expected}, got ${s.length}`
}

// Whether `prefix` (already lower-cased) starts the key in either encoding.
export function keyStartsWith(key: Buffer, prefix: string): boolean {
  return (Z32.test(prefix) && keyId(key).startsWith(prefix)) || (HEX.test(prefix) && key.toString('hex').startsWith(prefix))
}

// Whether `s` could be (the start of) a key in either encoding.
export function looksLikeKey(s: string): boolean {
  return Z32.test(s) || HEX.test(s)
}
