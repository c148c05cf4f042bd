// Rateless invertible Bloom lookup tables (Yang, Gilad, Alizadeh, "Practical Rateless Set Reconciliation",
// SIGCOMM 2024), after the reference implementation github.com/yangl1996/riblt.
//
// The encoder maps every element of its set onto an infinite sequence of coded symbols: each element goes to
// index 0 and then to the indices of a pseudo-random walk whose density falls as 1/(1 + i/2). A coded symbol is
// the XOR of its elements, the XOR of their checksums and how many there are. The decoder subtracts its own set
// from the symbols it receives, then peels: a symbol holding a single element (count +1 or -1 and a checksum that
// matches its sum) reveals that element, which is removed from every other symbol it maps to. Once symbol 0,
// which holds every element, is empty the symmetric difference is known. About 1.35 d symbols suffice for a
// large difference d.
//
// Hashing: the checksum of an element is the first 4 bytes (little-endian uint32) of a 16-byte BLAKE2b of the
// element keyed with the per-connection salt; bytes 8..15 of that same hash (little-endian uint64) seed the
// mapping's PRNG. Both sides must agree on this, so it is part of the wire protocol.
//
// Both sides keep, for every element, where its walk stands (PRNG state and next index) in a bucket keyed by that
// next index, so producing or receiving symbol i only touches the elements that map to i: nothing is recomputed
// when more symbols are produced or arrive.
import * as sodium from 'sodium-universal'
import * as c from 'compact-encoding'
import * as b4a from 'b4a'

export interface CodedSymbol {
  sum: Uint8Array // elementBytes: XOR of the elements
  checksum: number // uint32: XOR of the elements' checksums
  count: number // signed int: how many elements (encoder side: >= 0)
}

export interface RibltOptions {
  salt: Uint8Array // keys every hash; 16 to 64 bytes (BLAKE2b key), 32 in the protocol
  elementBytes?: number // width of every element, 14 by default
}

export const DEFAULT_ELEMENT_BYTES = 14
// The largest count a coded symbol may carry on the wire or into a decoder.
export const MAX_SYMBOL_COUNT = 2 ** 32

const HASH_BYTES = 16 // crypto_generichash_BYTES_MIN
const KEY_MIN = 16
const KEY_MAX = 64
const MAX_ELEMENT_BYTES = 65536
// Symbol indices stay int32 (typed-array indices): far beyond any budget a caller would allow.
const MAX_SYMBOLS = 2 ** 30

// ---- the random mapping (mapping.go of the reference) ----
//
//   r = prng * 0xda942042e4dd58b5 (mod 2^64); prng = r
//   last += ceil((last + 1.5) * (2^32 / sqrt(float64(r) + 1) - 1))
//
// The 64-bit product is done in 32-bit halves (no BigInt). Every floating point step (uint64 to double, +1,
// sqrt, division, subtraction, multiplication) is correctly rounded both in Go and in JavaScript, so the indices
// are bit-identical to the reference while they stay below 2^53. Indices at or beyond MAX_INDEX are never reached
// by anyone (no peer sends 2^52 symbols), so a walk that gets there is simply dropped.

const TWO32 = 4294967296
const MUL_HI = 0xda942042
const MUL_LO = 0xe4dd58b5
const MUL_LO_0 = MUL_LO & 0xffff
const MUL_LO_1 = MUL_LO >>> 16
const MAX_INDEX = 2 ** 52

// step() returns the next index and leaves the new PRNG state here, so the hot path allocates nothing.
let stepHi = 0
let stepLo = 0

function step(hi: number, lo: number, last: number): number {
  // lo * MUL_LO = u + t * 2^16 with u, t < 2^48 (exact in doubles)
  const u = lo * MUL_LO_0
  const t = lo * MUL_LO_1
  const th = Math.floor(t / 65536)
  const carry = Math.floor(((t - th * 65536) * 65536 + u) / TWO32)
  const nhi = (th + carry + Math.imul(hi, MUL_LO) + Math.imul(lo, MUL_HI)) >>> 0
  const nlo = Math.imul(lo, MUL_LO) >>> 0
  stepHi = nhi
  stepLo = nlo
  const r = nhi * TWO32 + nlo // float64(r), rounded to nearest like Go's conversion
  const next = last + Math.ceil((last + 1.5) * (TWO32 / Math.sqrt(r + 1) - 1))
  return next < MAX_INDEX ? next : Infinity
}

// ---- hashing ----

const generichash = sodium.crypto_generichash // once: under esModuleInterop the namespace member is a getter

function readU32(b: Uint8Array, o: number): number {
  return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0
}

class Hasher {
  private readonly salt: Uint8Array
  private readonly out = new Uint8Array(HASH_BYTES)
  checksum = 0
  seedHi = 0
  seedLo = 0

  constructor(salt: Uint8Array) {
    this.salt = salt
  }

  hash(element: Uint8Array): void {
    generichash(this.out, element, this.salt)
    this.checksum = readU32(this.out, 0)
    this.seedLo = readU32(this.out, 8)
    this.seedHi = readU32(this.out, 12)
  }
}

// ---- element storage shared by both sides ----

const LOCAL = 0 // in the local set (the encoder's whole set): applied to every symbol it maps to
const LOCAL_ONLY = 1 // a decoder's local element found to be local-only: no longer applied to new symbols
const REMOTE_ONLY = 2 // decoded as remote-only: applied to every symbol it maps to

// Elements and symbol sums are stored padded to whole 32-bit words (`ew` words, `stride` bytes, the padding always
// zero) so XOR runs a word at a time.
function wordsFor(eb: number): number {
  return (eb + 3) >>> 2
}

class Elements {
  readonly eb: number
  readonly ew: number
  readonly stride: number
  n = 0
  words: Uint32Array
  bytes: Uint8Array // view of words
  check: Uint32Array
  hi: Uint32Array // PRNG state of the walk
  lo: Uint32Array
  next: Float64Array // the next index the element maps to
  link: Int32Array // next element in the same bucket
  state: Uint8Array
  // open-addressing set of the elements, by checksum (already uniformly random): element + 1, 0 when free
  private table = new Int32Array(256)
  // buckets: the first element whose walk stands at index i; dense below heads.length, a map above
  private heads: Int32Array = new Int32Array(1024).fill(-1)
  private readonly far = new Map<number, number>()

  constructor(eb: number, cap = 64) {
    this.eb = eb
    this.ew = wordsFor(eb)
    this.stride = this.ew * 4
    this.words = new Uint32Array(cap * this.ew)
    this.bytes = new Uint8Array(this.words.buffer)
    this.check = new Uint32Array(cap)
    this.hi = new Uint32Array(cap)
    this.lo = new Uint32Array(cap)
    this.next = new Float64Array(cap)
    this.link = new Int32Array(cap)
    this.state = new Uint8Array(cap)
  }

  private grow(): void {
    const cap = this.check.length * 2
    const words = new Uint32Array(cap * this.ew)
    words.set(this.words)
    this.words = words
    this.bytes = new Uint8Array(words.buffer)
    this.check = growU32(this.check, cap)
    this.hi = growU32(this.hi, cap)
    this.lo = growU32(this.lo, cap)
    const next = new Float64Array(cap)
    next.set(this.next)
    this.next = next
    this.link = growI32(this.link, cap)
    const state = new Uint8Array(cap)
    state.set(this.state)
    this.state = state
  }

  // The element equal to src[off .. off + eb) with that checksum, or -1.
  find(src: Uint8Array, off: number, checksum: number): number {
    const eb = this.eb
    const bytes = this.bytes
    const table = this.table
    const mask = table.length - 1
    for (let slot = checksum & mask; ; slot = (slot + 1) & mask) {
      const v = table[slot]
      if (v === 0) return -1
      const e = v - 1
      if (this.check[e] !== checksum) continue
      const o = e * this.stride
      let i = 0
      while (i < eb && bytes[o + i] === src[off + i]) i++
      if (i === eb) return e
    }
  }

  private index(e: number): void {
    const table = this.table
    const mask = table.length - 1
    let slot = this.check[e] & mask
    while (table[slot] !== 0) slot = (slot + 1) & mask
    table[slot] = e + 1
  }

  // Adds an element (the caller has checked it is new) and schedules its walk.
  push(src: Uint8Array, off: number, checksum: number, hi: number, lo: number, next: number, state: number): number {
    if (this.n === this.check.length) this.grow()
    const e = this.n++
    const eb = this.eb
    this.bytes.set(eb === src.byteLength && off === 0 ? src : src.subarray(off, off + eb), e * this.stride)
    this.check[e] = checksum
    this.hi[e] = hi
    this.lo[e] = lo
    this.next[e] = next
    this.state[e] = state
    if (this.n * 2 > this.table.length) {
      this.table = new Int32Array(this.table.length * 2)
      for (let i = 0; i < this.n; i++) this.index(i)
    } else {
      this.index(e)
    }
    this.schedule(e)
    return e
  }

  // Put e in the bucket of its next index (never, if the walk has left the reachable range).
  schedule(e: number): void {
    const idx = this.next[e]
    if (idx < this.heads.length) {
      const i = idx | 0 // an int32 key keeps the typed-array access fast
      this.link[e] = this.heads[i]
      this.heads[i] = e
    } else if (idx !== Infinity) {
      const head = this.far.get(idx)
      this.link[e] = head === undefined ? -1 : head
      this.far.set(idx, e)
    }
  }

  // Makes buckets below `limit` dense, so take() works there.
  reach(limit: number): void {
    const old = this.heads.length
    if (limit <= old) return
    let len = old * 2
    while (len < limit) len *= 2
    const heads = new Int32Array(len).fill(-1)
    heads.set(this.heads)
    this.heads = heads
    for (const [idx, head] of this.far) {
      if (idx < len) {
        heads[idx] = head
        this.far.delete(idx)
      }
    }
  }

  // Applies every element whose walk stands in [from, to) to the symbols [from, to): symbol i is
  // sums[(i - base) * ew ..], checks[i - base], counts[i - base], and gets `delta` added to its count per element.
  // Element by element: each is walked through the whole range at once and then parked in the bucket of its next
  // index, at or beyond `to`. Elements in state `skip` are dropped instead (they leave the sequence for good).
  sweep(from: number, to: number, base: number, sums: Uint32Array, checks: Uint32Array, counts: Float64Array,
    delta: number, skip: number): void {
    this.reach(to)
    const ew = this.ew
    const heads = this.heads
    const words = this.words
    const check = this.check
    const next = this.next
    const hi = this.hi
    const lo = this.lo
    const link = this.link
    const state = this.state
    for (let idx = from; idx < to; idx++) {
      let e = heads[idx]
      if (e === -1) continue
      heads[idx] = -1
      while (e !== -1) {
        const following = link[e]
        if (state[e] !== skip) {
          const eo = e * ew
          const c = check[e]
          let at = next[e]
          let h = hi[e]
          let l = lo[e]
          do {
            const i = (at - base) | 0 // below 2^31: an int32 index keeps typed-array access fast
            const so = i * ew
            for (let k = 0; k < ew; k++) sums[so + k] ^= words[eo + k]
            checks[i] ^= c
            counts[i] += delta
            at = step(h, l, at) // a zero step applies the element to the same symbol again, as the reference does
            h = stepHi
            l = stepLo
          } while (at < to)
          next[e] = at
          hi[e] = h
          lo[e] = l
          this.schedule(e)
        }
        e = following
      }
    }
  }

  copy(e: number): Uint8Array {
    const out = b4a.allocUnsafe(this.eb)
    out.set(this.bytes.subarray(e * this.stride, e * this.stride + this.eb))
    return out
  }
}

function growU32(a: Uint32Array, cap: number): Uint32Array {
  const b = new Uint32Array(cap)
  b.set(a)
  return b
}

function growI32(a: Int32Array, cap: number): Int32Array {
  const b = new Int32Array(cap)
  b.set(a)
  return b
}

function options(opts: RibltOptions): { salt: Uint8Array, eb: number } {
  if (typeof opts !== 'object' || opts === null) throw new TypeError('options are required')
  const salt = opts.salt
  if (!(salt instanceof Uint8Array) || salt.byteLength < KEY_MIN || salt.byteLength > KEY_MAX) {
    throw new TypeError(`salt must be a Uint8Array of ${KEY_MIN} to ${KEY_MAX} bytes`)
  }
  const eb = opts.elementBytes === undefined ? DEFAULT_ELEMENT_BYTES : opts.elementBytes
  if (!Number.isInteger(eb) || eb < 1 || eb > MAX_ELEMENT_BYTES) {
    throw new TypeError(`elementBytes must be an integer from 1 to ${MAX_ELEMENT_BYTES}`)
  }
  return { salt: b4a.from(salt), eb }
}

function checkElement(element: Uint8Array, eb: number): void {
  if (!(element instanceof Uint8Array) || element.byteLength !== eb) {
    throw new TypeError(`an element must be a Uint8Array of ${eb} bytes`)
  }
}

// ---- encoder ----

export class Encoder {
  private readonly eb: number
  private readonly hasher: Hasher
  private readonly els: Elements
  private _produced = 0

  constructor(opts: RibltOptions) {
    const { salt, eb } = options(opts)
    this.eb = eb
    this.hasher = new Hasher(salt)
    this.els = new Elements(eb)
  }

  get produced(): number {
    return this._produced
  }

  // Number of distinct elements in the set.
  get size(): number {
    return this.els.n
  }

  // Adds an element to the set (a duplicate is ignored). Every element maps to symbol 0, so the set is closed
  // once symbols have been produced.
  add(element: Uint8Array): void {
    checkElement(element, this.eb)
    if (this._produced > 0) throw new Error('cannot add elements after symbols have been produced')
    const h = this.hasher
    h.hash(element)
    if (this.els.find(element, 0, h.checksum) !== -1) return
    this.els.push(element, 0, h.checksum, h.seedHi, h.seedLo, 0, LOCAL)
  }

  // The next n coded symbols. Their sums are views of one fresh buffer per call.
  produce(n: number): CodedSymbol[] {
    if (!Number.isInteger(n) || n < 0) throw new RangeError('n must be a non-negative integer')
    if (this._produced + n > MAX_SYMBOLS) throw new RangeError(`at most ${MAX_SYMBOLS} symbols`)
    const eb = this.eb
    const els = this.els
    const from = this._produced
    const acc = new Uint32Array(n * els.ew)
    const accBytes = new Uint8Array(acc.buffer)
    const checks = new Uint32Array(n)
    const counts = new Float64Array(n)
    els.sweep(from, from + n, from, acc, checks, counts, 1, -1)
    this._produced += n
    const sums = b4a.allocUnsafe(n * eb)
    const out: CodedSymbol[] = new Array<CodedSymbol>(n)
    for (let i = 0; i < n; i++) {
      const so = i * eb
      sums.set(accBytes.subarray(i * els.stride, i * els.stride + eb), so)
      out[i] = { sum: sums.subarray(so, so + eb), checksum: checks[i], count: counts[i] }
    }
    return out
  }
}

// ---- decoder ----

export class Decoder {
  private readonly eb: number
  private readonly hasher: Hasher
  private readonly els: Elements // the local set, then every element decoded as remote-only
  private readonly remoteIds: number[] = []
  private readonly localIds: number[] = []

  // coded symbols received, minus the local set, minus decoded remote-only, plus decoded local-only
  private readonly ew: number
  private readonly stride: number
  private sums: Uint32Array
  private sumBytes: Uint8Array // view of sums
  private checks: Uint32Array
  private counts: Float64Array
  private queued: Uint8Array
  private _received = 0

  private queue: number[] = [] // symbols that may hold a single element
  private walk: Float64Array = new Float64Array(64) // scratch: indices of one walk
  private walkNext = 0 // scratch: where that walk goes next
  private readonly scratch: Uint8Array

  private count0 = 0 // the encoder's count in symbol 0: the size of its set
  private _failed = false
  private _decoded = false
  private peels = 0 // bumped on every peel: symbols verified empty before it must be checked again
  private emptyUpTo = 0 // symbols [0, emptyUpTo) were verified empty after `emptyAt` peels
  private emptyAt = -1

  constructor(opts: RibltOptions) {
    const { salt, eb } = options(opts)
    this.eb = eb
    this.hasher = new Hasher(salt)
    this.els = new Elements(eb)
    this.scratch = new Uint8Array(eb)
    this.ew = wordsFor(eb)
    this.stride = this.ew * 4
    this.sums = new Uint32Array(64 * this.ew)
    this.sumBytes = new Uint8Array(this.sums.buffer)
    this.checks = new Uint32Array(64)
    this.counts = new Float64Array(64)
    this.queued = new Uint8Array(64)
  }

  get received(): number {
    return this._received
  }

  // Number of distinct elements in the local set.
  get size(): number {
    return this.els.n - this.remoteIds.length
  }

  // Adds an element to the local set (a duplicate is ignored); only before the first addSymbols.
  add(element: Uint8Array): void {
    checkElement(element, this.eb)
    if (this._received > 0) throw new Error('cannot add local elements after symbols have been received')
    const h = this.hasher
    h.hash(element)
    if (this.els.find(element, 0, h.checksum) !== -1) return
    this.els.push(element, 0, h.checksum, h.seedHi, h.seedLo, 0, LOCAL)
  }

  // True once the whole difference is recovered: symbol 0, which every element maps to, is empty (and so is
  // every other symbol received; if not, the encoder lied and the decoder has failed).
  decoded(): boolean {
    return this._decoded && !this._failed
  }

  // True if the symbols received are inconsistent with any honest encoder (malformed symbols, an element decoded
  // twice or on the wrong side, ...). Sticky: a failed decoder ignores further symbols.
  failed(): boolean {
    return this._failed
  }

  remoteOnly(): Uint8Array[] {
    return this.remoteIds.map((e) => this.els.copy(e))
  }

  localOnly(): Uint8Array[] {
    return this.localIds.map((e) => this.els.copy(e))
  }

  // Appends the next symbols of the encoder's sequence and peels. Never throws: malformed or inconsistent input
  // marks the decoder failed.
  addSymbols(symbols: CodedSymbol[]): boolean {
    if (this._failed) return false
    try {
      if (!Array.isArray(symbols)) return this.fail()
      for (const s of symbols) if (!validSymbol(s, this.eb)) return this.fail()
      if (symbols.length === 0) return this.decoded()
      if (this._received + symbols.length > MAX_SYMBOLS) return this.fail()
      // every element maps to symbol 0, so no symbol of an honest encoder counts more elements than it does
      const count0 = this._received === 0 ? symbols[0].count : this.count0
      for (const s of symbols) if (s.count > count0) return this.fail()
      this.count0 = count0

      const from = this._received
      const to = from + symbols.length
      this.reserve(to)
      for (let i = 0; i < symbols.length; i++) {
        const s = symbols[i]
        this.sumBytes.set(s.sum, (from + i) * this.stride)
        this.checks[from + i] = s.checksum
        this.counts[from + i] = s.count
      }
      this._received = to

      this.subtractKnown(from, to)
      for (let i = from; i < to; i++) this.enqueue(i)
      this.peel()
      if (this._failed) return false
      this._decoded = this.verifyEmpty()
      return this.decoded()
    } catch {
      return this.fail()
    }
  }

  private fail(): false {
    this._failed = true
    this._decoded = false
    return false
  }

  private reserve(n: number): void {
    let cap = this.checks.length
    if (n <= cap) return
    while (cap < n) cap *= 2
    const sums = new Uint32Array(cap * this.ew)
    sums.set(this.sums)
    this.sums = sums
    this.sumBytes = new Uint8Array(sums.buffer)
    this.checks = growU32(this.checks, cap)
    const counts = new Float64Array(cap)
    counts.set(this.counts)
    this.counts = counts
    const queued = new Uint8Array(cap)
    queued.set(this.queued)
    this.queued = queued
  }

  // Applies every known element (the local set and the decoded remote-only ones) to the new symbols [from, to).
  private subtractKnown(from: number, to: number): void {
    // a local element decoded as local-only is dropped: its +1 would cancel the local set's -1
    this.els.sweep(from, to, 0, this.sums, this.checks, this.counts, -1, LOCAL_ONLY)
  }

  private enqueue(idx: number): void {
    const count = this.counts[idx]
    if ((count === 1 || count === -1) && this.queued[idx] === 0) {
      this.queued[idx] = 1
      this.queue.push(idx)
    }
  }

  private peel(): void {
    const eb = this.eb
    const els = this.els
    const h = this.hasher
    const scratch = this.scratch
    const queue = this.queue
    for (let qi = 0; qi < queue.length; qi++) {
      const j = queue[qi]
      this.queued[j] = 0
      // re-check now: the symbol may have changed since it was queued
      const count = this.counts[j]
      if (count !== 1 && count !== -1) continue
      scratch.set(this.sumBytes.subarray(j * this.stride, j * this.stride + eb))
      h.hash(scratch)
      if (h.checksum !== this.checks[j]) continue

      // Where does this element map among the symbols we hold? It must include j, or the symbol only looked
      // pure (a checksum collision, or a forgery): then it is not peeled.
      const n = this.walkFrom(h.seedHi, h.seedLo, this._received)
      const nextHi = stepHi
      const nextLo = stepLo
      const next = this.walkNext
      let hit = false
      for (let i = 0; i < n; i++) if (this.walk[i] === j) { hit = true; break }
      if (!hit) continue

      // each peel empties a symbol: more elements than symbols means a lying encoder
      if (this.remoteIds.length + this.localIds.length >= this._received) { this.fail(); break }
      const known = els.find(scratch, 0, h.checksum)

      if (count === 1) {
        // remote-only: must be new to us (not local, not decoded before), and the encoder's set must hold it
        if (known !== -1 || this.remoteIds.length >= this.count0) { this.fail(); break }
        const e = els.push(scratch, 0, h.checksum, nextHi, nextLo, next, REMOTE_ONLY)
        this.remoteIds.push(e)
        this.applyWalk(e, n, -1)
      } else {
        // local-only: must be one of our local elements, not decoded before
        if (known === -1 || els.state[known] !== LOCAL) { this.fail(); break }
        els.state[known] = LOCAL_ONLY
        this.localIds.push(known)
        this.applyWalk(known, n, 1)
      }
      this.peels++
    }
    queue.length = 0
  }

  // Fills this.walk with the indices below `limit` that an element with this seed maps to; leaves the walk's
  // state just past them in stepHi/stepLo/walkNext.
  private walkFrom(seedHi: number, seedLo: number, limit: number): number {
    let walk = this.walk
    let hi = seedHi
    let lo = seedLo
    let last = 0
    let n = 0
    while (last < limit) {
      if (n === walk.length) {
        const bigger = new Float64Array(n * 2)
        bigger.set(walk)
        walk = this.walk = bigger
      }
      walk[n++] = last
      last = step(hi, lo, last)
      hi = stepHi
      lo = stepLo
    }
    stepHi = hi
    stepLo = lo
    this.walkNext = last
    return n
  }

  private applyWalk(e: number, n: number, delta: number): void {
    const ew = this.ew
    const words = this.els.words
    const eo = e * ew
    const checksum = this.els.check[e]
    const sums = this.sums
    for (let i = 0; i < n; i++) {
      const idx = this.walk[i] | 0
      const so = idx * ew
      for (let k = 0; k < ew; k++) sums[so + k] ^= words[eo + k]
      this.checks[idx] ^= checksum
      this.counts[idx] += delta
      this.enqueue(idx)
    }
  }

  private isEmpty(idx: number): boolean {
    if (this.counts[idx] !== 0 || this.checks[idx] !== 0) return false
    const sums = this.sums
    for (let k = idx * this.ew, end = k + this.ew; k < end; k++) if (sums[k] !== 0) return false
    return true
  }

  // Symbol 0 empty means done; then every other symbol must be empty too, else the encoder lied.
  private verifyEmpty(): boolean {
    if (this._received === 0 || !this.isEmpty(0)) return false
    if (this.emptyAt !== this.peels) {
      this.emptyAt = this.peels
      this.emptyUpTo = 1
    }
    for (let i = this.emptyUpTo; i < this._received; i++) {
      if (!this.isEmpty(i)) return this.fail()
    }
    this.emptyUpTo = this._received
    return true
  }
}

function validSymbol(s: CodedSymbol, eb: number): boolean {
  if (typeof s !== 'object' || s === null) return false
  const { sum, checksum, count } = s
  return sum instanceof Uint8Array && sum.byteLength === eb &&
    Number.isInteger(checksum) && checksum >= 0 && checksum < TWO32 &&
    Number.isInteger(count) && count >= 0 && count <= MAX_SYMBOL_COUNT
}

// ---- wire codec ----

type State = Parameters<c.Encoder<unknown>['decode']>[0]

// One coded symbol as an encoder sends it: sum (elementBytes raw), checksum (uint32 LE), count (compact uint).
export function codedSymbolCodec(elementBytes: number = DEFAULT_ELEMENT_BYTES): c.Encoder<CodedSymbol> {
  if (!Number.isInteger(elementBytes) || elementBytes < 1 || elementBytes > MAX_ELEMENT_BYTES) {
    throw new TypeError(`elementBytes must be an integer from 1 to ${MAX_ELEMENT_BYTES}`)
  }
  const eb = elementBytes
  function check(s: CodedSymbol): void {
    if (!(s.sum instanceof Uint8Array) || s.sum.byteLength !== eb) throw new TypeError(`sum must be ${eb} bytes`)
    if (!Number.isInteger(s.checksum) || s.checksum < 0 || s.checksum >= TWO32) throw new RangeError('checksum must be a uint32')
    if (!Number.isInteger(s.count) || s.count < 0 || s.count > MAX_SYMBOL_COUNT) {
      throw new RangeError(`count must be an integer from 0 to ${MAX_SYMBOL_COUNT}`)
    }
  }
  return {
    preencode(state: State, s: CodedSymbol): void {
      check(s)
      state.end += eb + 4
      c.uint.preencode(state, s.count)
    },
    encode(state: State, s: CodedSymbol): void {
      check(s)
      if (state.buffer === null) throw new Error('no buffer to encode into')
      state.buffer.set(s.sum, state.start)
      state.start += eb
      c.uint32.encode(state, s.checksum)
      c.uint.encode(state, s.count)
    },
    decode(state: State): CodedSymbol {
      if (state.buffer === null || state.end - state.start < eb) throw new Error('Out of bounds')
      const sum = b4a.allocUnsafe(eb)
      sum.set(state.buffer.subarray(state.start, state.start + eb))
      state.start += eb
      const checksum = c.uint32.decode(state)
      const count = c.uint.decode(state)
      if (!(count <= MAX_SYMBOL_COUNT)) throw new RangeError(`coded symbol count ${count} is beyond ${MAX_SYMBOL_COUNT}`)
      return { sum, checksum, count }
    }
  }
}

export const codedSymbolEncoding = codedSymbolCodec(DEFAULT_ELEMENT_BYTES)
