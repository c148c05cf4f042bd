// Every message of the feed exchange, as compact-encoding codecs. PROTOCOL.md is the prose twin of this file.
import c from 'compact-encoding'
import { BAD_MESSAGE } from './errors'

type Codec<T> = c.Encoder<T>
type State = Parameters<Codec<unknown>['decode']>[0]

export const PROTOCOL = 'hyper-multifeed'
export const VERSION = '3.2.1'
// One channel per connection that greets every multifeed on it at once (3.1.0): see PROTOCOL.md "Hello".
export const HELLO_PROTOCOL = 'hyper-multifeed/hello'

export interface Limits {
  maxEntriesPerMessage: number
  maxSymbolsPerMessage: number
  maxStringLength: number
}

// Lengths travel as 6-byte integers inside reconciliation elements; forks are bounded the same way.
export const MAX_LENGTH = 2 ** 48 - 1

function length(state: State, what = 'length'): number {
  const n = c.uint.decode(state)
  if (n > MAX_LENGTH) throw BAD_MESSAGE(`${what} ${n} is beyond ${MAX_LENGTH}`)
  return n
}

export const LIMITS: Limits = {
  maxEntriesPerMessage: 4096,
  maxSymbolsPerMessage: 4096,
  maxStringLength: 256
}

function boundedString(max: number): Codec<string> {
  return {
    preencode(state, s) { c.string.preencode(state, s) },
    encode(state, s) { c.string.encode(state, s) },
    decode(state) {
      const s = c.string.decode(state)
      if (s.length > max) throw BAD_MESSAGE(`string longer than ${max} characters`)
      return s
    }
  }
}

function boundedArray<T>(item: Codec<T>, max: number): Codec<T[]> {
  return {
    preencode(state, list) {
      c.uint.preencode(state, list.length)
      for (const v of list) item.preencode(state, v)
    },
    encode(state, list) {
      c.uint.encode(state, list.length)
      for (const v of list) item.encode(state, v)
    },
    decode(state) {
      const n = c.uint.decode(state)
      if (n > max) throw BAD_MESSAGE(`list of ${n} items, the limit is ${max}`)
      // each item is at least one byte, so a length beyond the buffer is a lie: refuse before allocating
      if (n > state.end - state.start) throw BAD_MESSAGE('list longer than the message')
      const list = new Array<T>(n)
      for (let i = 0; i < n; i++) list[i] = item.decode(state)
      return list
    }
  }
}

export interface Handshake {
  version: string
  client: string
  capability: Buffer
  owner?: Buffer | null // an authorized multifeed's owner key (2.2.0): absent in open mode
}

export const handshake: Codec<Handshake> = {
  preencode(state, m) {
    c.string.preencode(state, m.version)
    c.string.preencode(state, m.client)
    c.fixed32.preencode(state, m.capability)
    if (m.owner) c.fixed32.preencode(state, m.owner)
  },
  encode(state, m) {
    c.string.encode(state, m.version)
    c.string.encode(state, m.client)
    c.fixed32.encode(state, m.capability)
    if (m.owner) c.fixed32.encode(state, m.owner)
  },
  decode(state) {
    const str = boundedString(LIMITS.maxStringLength)
    const version = str.decode(state)
    const client = str.decode(state)
    const capability = c.fixed32.decode(state) as Buffer
    const owner = state.start < state.end ? c.fixed32.decode(state) as Buffer : null
    return { version, client, capability, owner }
  }
}

// First message after the handshake: the size of the advertised set and an order-free digest of it.
export interface Summary {
  count: number
  digest: Buffer
}

export const summary: Codec<Summary> = {
  preencode(state, m) {
    c.uint.preencode(state, m.count)
    c.fixed32.preencode(state, m.digest)
  },
  encode(state, m) {
    c.uint.encode(state, m.count)
    c.fixed32.encode(state, m.digest)
  },
  decode(state) {
    return { count: c.uint.decode(state), digest: c.fixed32.decode(state) as Buffer }
  }
}

export interface FeedEntry {
  key: Buffer
  length: number
  fork?: number // the core's fork (3.0.0); absent when encoding: 0. Decoded entries always carry it.
}

const feedEntry: Codec<FeedEntry> = {
  preencode(state, m) {
    c.fixed32.preencode(state, m.key)
    c.uint.preencode(state, m.length)
    c.uint.preencode(state, m.fork ?? 0)
  },
  encode(state, m) {
    c.fixed32.encode(state, m.key)
    c.uint.encode(state, m.length)
    c.uint.encode(state, m.fork ?? 0)
  },
  decode(state) {
    return { key: c.fixed32.decode(state) as Buffer, length: length(state), fork: length(state, 'fork') }
  }
}

// A batch of whole entries: the plain list, the answer to a `want`, and live announcements.
// `last` marks the final batch of a plain list or of an answer.
export interface Feeds {
  last: boolean
  entries: FeedEntry[]
}

export const feeds: Codec<Feeds> = {
  preencode(state, m) {
    c.bool.preencode(state, m.last)
    boundedArray(feedEntry, LIMITS.maxEntriesPerMessage).preencode(state, m.entries)
  },
  encode(state, m) {
    c.bool.encode(state, m.last)
    boundedArray(feedEntry, LIMITS.maxEntriesPerMessage).encode(state, m.entries)
  },
  decode(state) {
    return {
      last: c.bool.decode(state),
      entries: boundedArray(feedEntry, LIMITS.maxEntriesPerMessage).decode(state)
    }
  }
}

// Coded symbols of the rateless IBLT, initiator to responder. Raw: decoded by riblt's own codec.
export interface Symbols {
  symbols: Buffer
}

// Responder to initiator: 0 = send more symbols, 1 = give up and fall back to plain lists.
export interface More {
  fallback: boolean
}

export const more: Codec<More> = {
  preencode(state) { c.uint.preencode(state, 0) },
  encode(state, m) { c.uint.encode(state, m.fallback ? 1 : 0) },
  decode(state) {
    const v = c.uint.decode(state)
    if (v > 1) throw BAD_MESSAGE('unknown more flag ' + v)
    return { fallback: v === 1 }
  }
}

// What the responder learned from decoding, told to the initiator.
export interface ShortEntry {
  hash: Buffer // the 8-byte salted key hash, for keys the initiator has
  length: number
}

const shortEntry: Codec<ShortEntry> = {
  preencode(state, m) {
    c.fixed(8).preencode(state, m.hash)
    c.uint.preencode(state, m.length)
  },
  encode(state, m) {
    c.fixed(8).encode(state, m.hash)
    c.uint.encode(state, m.length)
  },
  decode(state) {
    return { hash: c.fixed(8).decode(state) as Buffer, length: length(state) }
  }
}

export interface Diff {
  last: boolean // a long diff is split over several messages
  short: ShortEntry[] // the responder's length for keys both have
  full: FeedEntry[] // keys only the responder has
  want: Buffer[] // key hashes only the initiator has: answer with a `feeds` batch
}

export const diff: Codec<Diff> = {
  preencode(state, m) {
    c.bool.preencode(state, m.last)
    boundedArray(shortEntry, LIMITS.maxEntriesPerMessage).preencode(state, m.short)
    boundedArray(feedEntry, LIMITS.maxEntriesPerMessage).preencode(state, m.full)
    boundedArray(c.fixed(8), LIMITS.maxEntriesPerMessage).preencode(state, m.want)
  },
  encode(state, m) {
    c.bool.encode(state, m.last)
    boundedArray(shortEntry, LIMITS.maxEntriesPerMessage).encode(state, m.short)
    boundedArray(feedEntry, LIMITS.maxEntriesPerMessage).encode(state, m.full)
    boundedArray(c.fixed(8), LIMITS.maxEntriesPerMessage).encode(state, m.want)
  },
  decode(state) {
    return {
      last: c.bool.decode(state),
      short: boundedArray(shortEntry, LIMITS.maxEntriesPerMessage).decode(state),
      full: boundedArray(feedEntry, LIMITS.maxEntriesPerMessage).decode(state),
      want: boundedArray(c.fixed(8) as Codec<Buffer>, LIMITS.maxEntriesPerMessage).decode(state) as Buffer[]
    }
  }
}

// Either side, once, the first time it has downloaded everything the remote advertised in the
// exchange: lets a finite replication (`live: false`) end once both sides are done (since 2.1.0).
export interface Done {
  flags: number // reserved, 0
}

export const done: Codec<Done> = {
  preencode(state, m) { c.uint.preencode(state, m.flags) },
  encode(state, m) { c.uint.encode(state, m.flags) },
  decode(state) { return { flags: c.uint.decode(state) } }
}

// A membership record of an authorized multifeed (2.2.0). See lib/membership.ts and PROTOCOL.md.
export interface MemberRecord {
  type: number // 1 authorize, 2 revoke
  admin: boolean // authorize only: the feed's writer may authorize and revoke members
  feed: Buffer // the feed the record is about
  by: Buffer | null // the signing admin's feed key; null: signed by the owner
  signer: Buffer | null // the ed25519 public key of the admin's writer that signed; null: the owner's
  signature: Buffer
}

// In an authorized multifeed's sets a membership record is an entry keyed by its id with this length:
// no feed is that long.
export const RECORD_LENGTH = MAX_LENGTH

export const RECORD_AUTHORIZE = 1
export const RECORD_REVOKE = 2

// flags: 1 admin, 2 `by` and `signer` follow (an admin's record); without them the owner signed
export const memberRecord: Codec<MemberRecord> = {
  preencode(state, m) {
    c.uint.preencode(state, m.type)
    c.uint.preencode(state, 0)
    c.fixed32.preencode(state, m.feed)
    if (m.by !== null) c.fixed32.preencode(state, m.by)
    if (m.by !== null) c.fixed32.preencode(state, m.signer!)
    c.fixed64.preencode(state, m.signature)
  },
  encode(state, m) {
    c.uint.encode(state, m.type)
    c.uint.encode(state, (m.admin ? 1 : 0) | (m.by !== null ? 2 : 0))
    c.fixed32.encode(state, m.feed)
    if (m.by !== null) c.fixed32.encode(state, m.by)
    if (m.by !== null) c.fixed32.encode(state, m.signer!)
    c.fixed64.encode(state, m.signature)
  },
  decode(state) {
    const type = c.uint.decode(state)
    if (type !== RECORD_AUTHORIZE && type !== RECORD_REVOKE) throw BAD_MESSAGE('unknown record type ' + type)
    const flags = c.uint.decode(state)
    if (flags > 3 || (type === RECORD_REVOKE && (flags & 1) !== 0)) throw BAD_MESSAGE('unknown record flags ' + flags)
    const feed = c.fixed32.decode(state) as Buffer
    const by = (flags & 2) !== 0 ? c.fixed32.decode(state) as Buffer : null
    const signer = by !== null ? c.fixed32.decode(state) as Buffer : null // the owner's key is known to both sides
    return { type, admin: (flags & 1) !== 0, feed, by, signer, signature: c.fixed64.decode(state) as Buffer }
  }
}

// The hello channel's one message (3.1.0): multifeeds the sender replicates on this connection, each as
// the first 8 bytes of its discovery key and a 16-byte proof of its set (lib/caps.ts helloProof).
export interface Greeting {
  tag: Buffer
  proof: Buffer
}

export const HELLO_TAG_BYTES = 8
export const HELLO_PROOF_BYTES = 16

const greeting: Codec<Greeting> = {
  preencode(state, m) {
    c.fixed(HELLO_TAG_BYTES).preencode(state, m.tag)
    c.fixed(HELLO_PROOF_BYTES).preencode(state, m.proof)
  },
  encode(state, m) {
    c.fixed(HELLO_TAG_BYTES).encode(state, m.tag)
    c.fixed(HELLO_PROOF_BYTES).encode(state, m.proof)
  },
  decode(state) {
    return { tag: c.fixed(HELLO_TAG_BYTES).decode(state) as Buffer, proof: c.fixed(HELLO_PROOF_BYTES).decode(state) as Buffer }
  }
}

export const greetings: Codec<Greeting[]> = boundedArray(greeting, LIMITS.maxEntriesPerMessage)

// The hello channel's second message (3.1.0): multifeeds the sender no longer replicates on this
// connection, by tag, after it greeted them.
export const farewells: Codec<Buffer[]> = boundedArray(c.fixed(HELLO_TAG_BYTES) as Codec<Buffer>, LIMITS.maxEntriesPerMessage)

// The hello channel's handshake: the sender's protocol version.
export const helloHandshake: Codec<string> = boundedString(LIMITS.maxStringLength)

// Membership records, either side, whenever it learns the remote lacks them (2.2.0; type 6).
export interface Records {
  records: MemberRecord[]
}

export const records: Codec<Records> = {
  preencode(state, m) { boundedArray(memberRecord, LIMITS.maxEntriesPerMessage).preencode(state, m.records) },
  encode(state, m) { boundedArray(memberRecord, LIMITS.maxEntriesPerMessage).encode(state, m.records) },
  decode(state) { return { records: boundedArray(memberRecord, LIMITS.maxEntriesPerMessage).decode(state) } }
}

// The uint at `offset` of a message, without decoding the rest (0 if it does not decode): a count to
// bound before the message is decoded.
export function peekUint(buf: Uint8Array, offset: number): number {
  try {
    return c.uint.decode({ start: offset, end: buf.byteLength, buffer: buf })
  } catch {
    return 0
  }
}

export function encode<T>(codec: Codec<T>, m: T): Buffer {
  return c.encode(codec, m) as Buffer
}

// Decodes a whole message: a truncated message, trailing bytes or an out-of-range field is ERR_BAD_MESSAGE.
export function decode<T>(codec: Codec<T>, buf: Uint8Array, name: string): T {
  const state: State = { start: 0, end: buf.byteLength, buffer: buf }
  let m: T
  try {
    m = codec.decode(state)
  } catch (err) {
    const e = err as Error & { code?: string }
    if (e.code === 'ERR_BAD_MESSAGE') throw e
    throw BAD_MESSAGE(`malformed ${name} message: ${e.message}`)
  }
  if (state.start !== state.end) throw BAD_MESSAGE(`${state.end - state.start} trailing bytes after ${name} message`)
  return m
}

// Storage, not wire: one record per feed in the local-only index (user data of the index core).
export interface IndexRecord {
  name: string | null
  writable: boolean
  length: number // contiguous length when the record was last saved; trusted only after a clean close
  fork?: number // the core's fork then; absent or 0: never truncated
  behind?: boolean // saved while blocks were still landing: the core may hold more, read it at open
}

// flags: 1 writable, 2 name follows, 4 length follows (records of 0.1.0 before lengths were kept lack
// it), 8 fork follows (only when it is not 0), 16 the length may be behind the core
export const indexRecord: Codec<IndexRecord> = {
  preencode(state, m) {
    c.uint.preencode(state, 0)
    if (m.name !== null) c.string.preencode(state, m.name)
    c.uint.preencode(state, m.length)
    if (m.fork) c.uint.preencode(state, m.fork)
  },
  encode(state, m) {
    c.uint.encode(state, (m.writable ? 1 : 0) | (m.name !== null ? 2 : 0) | 4 | (m.fork ? 8 : 0) | (m.behind === true ? 16 : 0))
    if (m.name !== null) c.string.encode(state, m.name)
    c.uint.encode(state, m.length)
    if (m.fork) c.uint.encode(state, m.fork)
  },
  decode(state) {
    const flags = c.uint.decode(state)
    if (flags > 31) throw BAD_MESSAGE('unknown index record flags ' + flags)
    const name = (flags & 2) !== 0 ? c.string.decode(state) : null
    const len = (flags & 4) !== 0 ? length(state) : 0
    return { writable: (flags & 1) !== 0, name, length: len, fork: (flags & 8) !== 0 ? length(state, 'fork') : 0, behind: (flags & 16) !== 0 }
  }
}
