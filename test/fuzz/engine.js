// Fuzz engine for hyper-multifeed: the wire decoders and the feed-exchange state machine, on streams the
// multifeed owns (ChannelFuzz) and on connections several multifeeds share (SharedFuzz).
// Used by test/fuzz.js (a few thousand cases in the suite) and test/fuzz/run.js (long runs with figures).
// Every case is reproducible from (seed, case number): `node test/fuzz/run.js --seed S --only N`.
'use strict'
const c = require('compact-encoding')
const b4a = require('b4a')
const crypto = require('hypercore-crypto')
const Hypercore = require('hypercore')
const messages = require('../../dist/lib/messages.js')
const riblt = require('../../dist/lib/riblt.js')
const caps = require('../../dist/lib/caps.js')
const { chooseMode } = require('../../dist/lib/sketch.js')
const path = require('path')
const Corestore = require('corestore')
const NoiseSecretStream = require('@hyperswarm/secret-stream')

// ---------------------------------------------------------------- randomness

// xorshift128+ in 32-bit halves is overkill: sfc32 is small, fast and good enough for fuzzing.
function rng (seed) {
  let a = 0x9e3779b9 ^ seed
  let b = 0x243f6a88 ^ (seed * 31)
  let cc = 0xb7e15162 ^ (seed * 131)
  let d = 1
  function u32 () {
    a >>>= 0; b >>>= 0; cc >>>= 0; d >>>= 0
    const t = (a + b | 0) + d | 0
    d = d + 1 | 0
    a = b ^ b >>> 9
    b = cc + (cc << 3) | 0
    cc = (cc << 21 | cc >>> 11)
    cc = cc + t | 0
    return t >>> 0
  }
  for (let i = 0; i < 12; i++) u32()
  const r = {
    u32,
    float: () => u32() / 4294967296,
    int: (n) => Math.floor(u32() / 4294967296 * n), // 0 .. n-1
    range: (lo, hi) => lo + Math.floor(u32() / 4294967296 * (hi - lo + 1)),
    bool: (p = 0.5) => u32() / 4294967296 < p,
    pick: (arr) => arr[Math.floor(u32() / 4294967296 * arr.length)],
    bytes (n) {
      const out = b4a.allocUnsafe(n)
      for (let i = 0; i < n; i++) out[i] = u32() & 0xff
      return out
    },
    // log-uniform integers: small values often, huge ones sometimes
    size (max) {
      const bits = Math.log2(max + 1)
      return Math.min(max, Math.floor(2 ** (r.float() * bits)) - 1 + r.int(2))
    }
  }
  return r
}

function caseSeed (seed, n) {
  // a distinct stream per case, so any case can be rerun alone
  return (Math.imul(seed ^ 0x5bd1e995, 0x01000193) ^ Math.imul(n + 1, 0x27d4eb2d)) >>> 0
}

// ---------------------------------------------------------------- values and encodings

const BIG_UINTS = [0, 1, 0xfc, 0xfd, 0xffff, 0x10000, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 2 ** 48 - 1, 2 ** 48, 2 ** 50, 2 ** 53 - 1]

function randomString (r, max) {
  const n = r.size(max)
  const pool = ['a', 'Z', '0', ' ', '/', 'é', '€', '😀', '\u0000', '\uffff', 'MULTIFEED', '2.0.0']
  let s = ''
  while (s.length < n) s += r.bool(0.7) ? String.fromCharCode(97 + r.int(26)) : r.pick(pool)
  return s
}

function randomUint (r, max = Number.MAX_SAFE_INTEGER) {
  const v = r.bool(0.2) ? r.pick(BIG_UINTS) : r.size(Math.min(max, 2 ** 40))
  return Math.min(v, max)
}

function randomEntry (r, keys) {
  return { key: keys && r.bool(0.7) ? r.pick(keys) : r.bytes(32), length: r.bool(0.5) ? 0 : randomUint(r, messages.MAX_LENGTH) }
}

function listLength (r) {
  const p = r.float()
  if (p < 0.6) return r.int(6)
  if (p < 0.95) return r.int(64)
  return r.pick([4095, 4096, 4097]) // at, and just past, the per-message limit
}

const symbolCodec = riblt.codedSymbolCodec(14)
const symbolsCodec = c.array(symbolCodec)

function randomSymbol (r) {
  return { sum: r.bytes(14), checksum: r.u32(), count: r.bool(0.3) ? r.pick([0, 1, 2, 2 ** 31, 2 ** 32]) : r.int(100) }
}

// The decoders under test: a generator of valid values, the codec, and whether encode may refuse a value that
// decode would refuse too (lists past the limit, long strings).
const TARGETS = [
  {
    name: 'handshake',
    codec: messages.handshake,
    gen: (r) => ({ version: r.bool(0.5) ? messages.VERSION : randomString(r, 300), client: r.bool(0.5) ? 'MULTIFEED' : randomString(r, 300), capability: r.bytes(32) })
  },
  {
    name: 'summary',
    codec: messages.summary,
    gen: (r) => ({ count: randomUint(r), digest: r.bytes(32) })
  },
  {
    name: 'feeds',
    codec: messages.feeds,
    gen: (r) => {
      const n = listLength(r)
      const entries = []
      for (let i = 0; i < n; i++) entries.push(randomEntry(r))
      return { last: r.bool(), entries }
    }
  },
  {
    name: 'more',
    codec: messages.more,
    gen: (r) => ({ fallback: r.bool() })
  },
  {
    name: 'diff',
    codec: messages.diff,
    gen: (r) => {
      const short = []
      const full = []
      const want = []
      for (let i = 0, n = listLength(r); i < n; i++) short.push({ hash: r.bytes(8), length: randomUint(r, messages.MAX_LENGTH) })
      for (let i = 0, n = listLength(r); i < n; i++) full.push(randomEntry(r))
      for (let i = 0, n = listLength(r); i < n; i++) want.push(r.bytes(8))
      return { last: r.bool(), short, full, want }
    }
  },
  {
    name: 'indexRecord',
    codec: messages.indexRecord,
    gen: (r) => ({ name: r.bool(0.3) ? null : randomString(r, 300), writable: r.bool(), length: randomUint(r, messages.MAX_LENGTH) })
  },
  {
    name: 'symbol',
    codec: symbolCodec,
    gen: (r) => randomSymbol(r)
  },
  {
    // the symbols message as exchange.ts decodes it: the count is checked against the limit first
    name: 'symbols',
    codec: symbolsCodec,
    gen: (r) => {
      const n = listLength(r)
      const out = []
      for (let i = 0; i < n; i++) out.push(randomSymbol(r))
      return out
    },
    precheck: (buf) => {
      let n = 0
      try { n = c.uint.decode({ start: 0, end: buf.byteLength, buffer: buf }) } catch { n = 0 }
      if (n > messages.LIMITS.maxSymbolsPerMessage) return 'refused'
      return null
    }
  }
]

function encodeUint (n) {
  return b4a.from(c.encode(c.uint, n))
}

// One input for a target: a valid encoding, a mutation of one, random bytes, or an oversized buffer.
function makeInput (r, target) {
  const kind = r.float()
  if (kind < 0.05) return { how: 'random', buf: r.bytes(r.size(300)) }
  if (kind < 0.07) return { how: 'oversized', buf: r.bool() ? r.bytes(r.range(65536, 1 << 20)) : b4a.alloc(r.range(65536, 1 << 20), r.pick([0, 0xff, 0xfd])) }
  const valid = b4a.from(messages.encode(target.codec, target.gen(r)))
  if (kind < 0.25) return { how: 'valid', buf: valid }
  return { how: 'mutated', buf: mutate(r, valid) }
}

const MUTATIONS = ['flip', 'byte', 'truncate', 'extend', 'insert', 'delete', 'varint-bomb', 'splice', 'length-lie', 'pad']

function mutate (r, buf, rounds = 1 + r.int(3)) {
  let out = b4a.from(buf)
  for (let k = 0; k < rounds; k++) {
    const m = r.pick(MUTATIONS)
    const at = out.byteLength === 0 ? 0 : r.int(out.byteLength)
    switch (m) {
      case 'flip': {
        if (out.byteLength === 0) break
        for (let i = 0, n = 1 + r.int(8); i < n; i++) out[r.int(out.byteLength)] ^= 1 << r.int(8)
        break
      }
      case 'byte': {
        if (out.byteLength === 0) break
        out[at] = r.pick([0, 0xfc, 0xfd, 0xfe, 0xff, r.u32() & 0xff])
        break
      }
      case 'truncate':
        out = out.subarray(0, r.int(out.byteLength + 1))
        break
      case 'extend':
        out = b4a.concat([out, r.bytes(1 + r.size(64))])
        break
      case 'insert':
        out = b4a.concat([out.subarray(0, at), r.bytes(1 + r.int(16)), out.subarray(at)])
        break
      case 'delete':
        out = b4a.concat([out.subarray(0, at), out.subarray(at + 1 + r.int(16))])
        break
      case 'varint-bomb': {
        // a uint that claims something absurd: 2^50 items, 2^64-1, a 4-billion-byte string ...
        const bomb = r.pick([
          b4a.from([0xff, 0, 0, 0, 0, 0, 0, 4, 0]), // 2^50
          b4a.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0]), // 2^53 - 1
          b4a.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), // 2^64 - 1
          b4a.from([0xfe, 0xff, 0xff, 0xff, 0xff]), // 2^32 - 1
          b4a.from([0xfd, 0xff, 0xff]), // 65535
          b4a.from([0xff]), // a prefix with nothing after it
          encodeUint(4097),
          encodeUint(0x100001)
        ])
        out = b4a.concat([out.subarray(0, at), bomb, out.subarray(at + (r.bool() ? 1 : 0))])
        break
      }
      case 'splice': {
        const from = r.int(out.byteLength + 1)
        const chunk = out.subarray(from, from + 1 + r.int(40))
        out = b4a.concat([out.subarray(0, at), chunk, out.subarray(at)])
        break
      }
      case 'length-lie':
        // replace the first byte(s) with a big list/string length
        out = b4a.concat([r.pick([encodeUint(2 ** 50), encodeUint(2 ** 32 - 1), encodeUint(4097), encodeUint(1 << 20)]), out.subarray(1)])
        break
      case 'pad':
        out = b4a.concat([out, b4a.alloc(r.range(1, 4096), r.pick([0, 0xff]))])
        break
    }
  }
  return out
}

// ---------------------------------------------------------------- decoder fuzz

// `new Array(n)` is how a decoder would pre-allocate from a hostile length: count the largest one asked for.
let arrayWatch = null
const RealArray = Array
const WatchedArray = new Proxy(RealArray, {
  construct (target, args, newTarget) {
    if (arrayWatch !== null && args.length === 1 && typeof args[0] === 'number' && args[0] > arrayWatch.max) arrayWatch.max = args[0]
    return Reflect.construct(target, args, newTarget === WatchedArray ? target : newTarget)
  }
})

// Errors a decoder may raise internally (messages.decode wraps them into ERR_BAD_MESSAGE). Anything else is a
// bug in the decoder even when the wrapper hides it: a TypeError means it read a field that is not there.
const ENGINE_FAULT = /Invalid (typed )?array length|allocation failed|Maximum call stack|out of memory|Cannot read|Cannot set|is not a function|is not iterable|undefined|null/i

function classifyRaw (err) {
  if (err === null) return 'ok'
  if (err.code === 'ERR_BAD_MESSAGE') return 'bad-message'
  if (err instanceof TypeError) return 'internal:TypeError'
  if (ENGINE_FAULT.test(err.message)) return 'internal:' + err.constructor.name
  if (/Out of bounds/.test(err.message)) return 'out-of-bounds'
  if (/uint must be between/.test(err.message)) return 'uint-range'
  if (/coded symbol count/.test(err.message)) return 'symbol-count'
  if (/Array is too big/.test(err.message)) return 'array-too-big'
  return 'other:' + (err.constructor && err.constructor.name) + ':' + err.message.slice(0, 60)
}

function decodeOnce (target, input) {
  const buf = input.buf
  const v = []
  if (target.precheck && target.precheck(buf) === 'refused') return { outcome: 'refused', ms: 0, violations: v, rawClass: 'refused', maxArray: 0 }
  const watch = arrayWatch = { max: 0 }
  global.Array = WatchedArray
  let value = null
  let err = null
  let rawErr = null
  const t0 = process.hrtime.bigint()
  try {
    try {
      value = messages.decode(target.codec, buf, target.name)
    } catch (e) {
      err = e
    }
    try {
      target.codec.decode({ start: 0, end: buf.byteLength, buffer: buf })
    } catch (e) {
      rawErr = e
    }
  } finally {
    global.Array = RealArray
    arrayWatch = null
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6
  const rawClass = classifyRaw(rawErr)
  if (err !== null && err.code !== 'ERR_BAD_MESSAGE') v.push(`messages.decode threw ${err.constructor.name} code=${err.code}: ${err.message}`)
  if (rawClass.startsWith('internal') || rawClass.startsWith('other')) v.push(`decoder raised ${rawClass}: ${rawErr && rawErr.message}`)
  if (err !== null && ENGINE_FAULT.test(err.message)) v.push(`ERR_BAD_MESSAGE hides an engine fault: ${err.message}`)
  // a decoder must never pre-allocate more items than the buffer could hold (each item is at least one byte),
  // beyond the per-message limit (c.array in the symbols path pre-allocates up to that limit: noted, bounded)
  if (watch.max > buf.byteLength + 1 && watch.max > messages.LIMITS.maxSymbolsPerMessage) v.push(`allocated an array of ${watch.max} for a ${buf.byteLength}-byte input`)
  if (ms > 200 + buf.byteLength / 1000) v.push(`decode took ${ms.toFixed(1)} ms for ${buf.byteLength} bytes`)
  if (err === null) {
    // whatever decodes must re-encode to something that decodes to the same value
    try {
      const again = messages.decode(target.codec, messages.encode(target.codec, value), target.name)
      if (!sameValue(again, value)) v.push('decode(encode(decode(x))) differs from decode(x)')
    } catch (e) {
      v.push(`a decoded value does not re-encode: ${e.message}`)
    }
  }
  return { outcome: err === null ? 'ok' : 'bad-message', ms, violations: v, rawClass, maxArray: watch.max, overAlloc: watch.max > buf.byteLength + 1 && watch.max > 16 }
}

function sameValue (a, b) {
  if (b4a.isBuffer(a) || a instanceof Uint8Array) return (b instanceof Uint8Array) && b4a.equals(a, b)
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => sameValue(x, b[i]))
  if (a !== null && typeof a === 'object') return b !== null && typeof b === 'object' && Object.keys(a).every((k) => sameValue(a[k], b[k]))
  return a === b
}

// Targeted inputs that must be refused before any allocation: run once per target in every fuzz run.
function bombs () {
  const out = []
  const huge = [2 ** 50, 2 ** 53 - 1, 2 ** 32 - 1, 0x100001, 4097]
  for (const n of huge) {
    out.push({ target: 'feeds', buf: b4a.concat([b4a.from([0]), encodeUint(n)]) })
    out.push({ target: 'diff', buf: b4a.concat([b4a.from([1]), encodeUint(n)]) })
    out.push({ target: 'diff', buf: b4a.concat([b4a.from([1, 0]), encodeUint(n)]) })
    out.push({ target: 'diff', buf: b4a.concat([b4a.from([1, 0, 0]), encodeUint(n)]) })
    out.push({ target: 'symbols', buf: encodeUint(n) })
    out.push({ target: 'handshake', buf: encodeUint(n) })
    out.push({ target: 'indexRecord', buf: b4a.concat([b4a.from([2]), encodeUint(n)]) })
    out.push({ target: 'summary', buf: b4a.concat([encodeUint(n), b4a.alloc(32)]) })
  }
  // 2^64 - 1 as a uint: beyond a safe integer
  out.push({ target: 'summary', buf: b4a.concat([b4a.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), b4a.alloc(32)]) })
  out.push({ target: 'feeds', buf: b4a.from([0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]) })
  // a 15 MB message of zeros: a list of zero-length ... whatever each decoder makes of it, quickly
  const big = b4a.alloc(15 * 1024 * 1024)
  for (const t of TARGETS) out.push({ target: t.name, buf: big })
  return out
}

function newDecoderStats () {
  const perTarget = {}
  for (const t of TARGETS) perTarget[t.name] = { cases: 0, ok: 0, badMessage: 0, refused: 0, maxMs: 0, maxArray: 0 }
  return { cases: 0, bombs: 0, byHow: {}, rawClasses: {}, perTarget, maxMs: 0, maxArray: 0, violations: [] }
}

function record (stats, target, how, res, where) {
  stats.byHow[how] = (stats.byHow[how] || 0) + 1
  stats.rawClasses[res.rawClass] = (stats.rawClasses[res.rawClass] || 0) + 1
  const p = stats.perTarget[target.name]
  p.cases++
  if (res.outcome === 'ok') p.ok++
  else if (res.outcome === 'refused') p.refused++
  else p.badMessage++
  p.maxMs = Math.max(p.maxMs, res.ms)
  p.maxArray = Math.max(p.maxArray, res.maxArray)
  if (res.overAlloc) p.overAlloc = (p.overAlloc || 0) + 1
  stats.maxMs = Math.max(stats.maxMs, res.ms)
  stats.maxArray = Math.max(stats.maxArray, res.maxArray)
  for (const msg of res.violations) if (stats.violations.length < 50) stats.violations.push({ where, target: target.name, how, msg })
}

// Runs `cases` decoder cases (plus the bombs) and returns the figures. Deterministic for a seed.
function runDecoderFuzz ({ cases = 1000, seed = 1, only = null } = {}) {
  const stats = newDecoderStats()
  const t0 = Date.now()
  if (only === null) {
    for (const b of bombs()) {
      const target = TARGETS.find((t) => t.name === b.target)
      const res = decodeOnce(target, b)
      stats.bombs++
      record(stats, target, 'bomb', res, `bomb ${b.target} ${b.buf.byteLength} bytes`)
    }
  }
  for (let i = 0; i < cases; i++) {
    if (only !== null && i !== only) continue
    const r = rng(caseSeed(seed, i))
    const target = TARGETS[i % TARGETS.length]
    const input = makeInput(r, target)
    const res = decodeOnce(target, input)
    stats.cases++
    record(stats, target, input.how, res, `seed ${seed} case ${i}`)
  }
  stats.ms = Date.now() - t0
  return stats
}

// ---------------------------------------------------------------- process guards

function installGuards () {
  const g = { unhandledRejections: [], uncaughtExceptions: [] }
  const onrej = (err) => g.unhandledRejections.push(err)
  const onexc = (err) => g.uncaughtExceptions.push(err)
  process.on('unhandledRejection', onrej)
  process.on('uncaughtException', onexc)
  g.remove = () => {
    process.off('unhandledRejection', onrej)
    process.off('uncaughtException', onexc)
  }
  g.count = () => g.unhandledRejections.length + g.uncaughtExceptions.length
  return g
}

// ---------------------------------------------------------------- memory

let gcFn = null
function gc () {
  if (gcFn === null) {
    try {
      require('v8').setFlagsFromString('--expose_gc')
      gcFn = require('vm').runInNewContext('gc')
    } catch {
      gcFn = () => {}
    }
  }
  gcFn()
  gcFn()
}

function mem () {
  const u = process.memoryUsage()
  return { rss: u.rss, heapUsed: u.heapUsed, external: u.external, arrayBuffers: u.arrayBuffers }
}

function mb (n) {
  return (n / 1048576).toFixed(1) + ' MB'
}

// ---------------------------------------------------------------- raw peer

// A raw peer on a bare protocol stream (no corestore): speaks the multifeed channel by hand.
// `sentinel()` opens a side channel after everything sent so far; the multifeed side's `arrived` resolves when
// its open comes out of the stream, i.e. after every earlier message was handed to the exchange.
function connect (m, isInitiator) {
  const s = m.replicate(isInitiator) // owned by the multifeed: the exchange destroys it on a protocol error
  const p = Hypercore.createProtocolStream(!isInitiator, { keepAlive: false })
  const sErrors = []
  const pErrors = []
  s.on('error', (e) => sErrors.push(e))
  p.on('error', (e) => pErrors.push(e))
  s.pipe(p).pipe(s)
  const sMux = Hypercore.getProtocolMuxer(s)
  const pMux = Hypercore.getProtocolMuxer(p)
  const ex = m.connections.find((e) => e.stream === s) || null
  const sClosed = new Promise((resolve) => s.once('close', resolve))
  const pClosed = new Promise((resolve) => p.once('close', resolve))
  let sentinels = 0
  const arrivals = new Map()
  sMux.pair({ protocol: 'fuzz/sentinel' }, (id) => {
    const n = id ? id.readUInt32LE(0) : -1
    const fn = arrivals.get(n)
    if (fn) fn()
  })
  let backs = 0
  const backArrivals = new Map()
  pMux.pair({ protocol: 'fuzz/sentinel-back' }, (id) => {
    const n = id ? id.readUInt32LE(0) : -1
    const fn = backArrivals.get(n)
    if (fn) fn()
  })
  return {
    s,
    p,
    ex,
    sMux,
    pMux,
    sErrors,
    pErrors,
    sClosed,
    pClosed,
    sentinel () {
      const n = sentinels++
      const id = b4a.alloc(32)
      id.writeUInt32LE(n, 0)
      const arrived = new Promise((resolve) => arrivals.set(n, resolve))
      const ch = pMux.createChannel({ protocol: 'fuzz/sentinel', id })
      if (ch) ch.open()
      return arrived
    },
    // the same the other way: resolves once everything the multifeed sent so far reached the raw peer
    backSentinel () {
      const n = backs++
      const id = b4a.alloc(32)
      id.writeUInt32LE(n, 0)
      const arrived = new Promise((resolve) => backArrivals.set(n, resolve))
      const ch = sMux.createChannel({ protocol: 'fuzz/sentinel-back', id })
      if (ch) ch.open()
      return arrived
    },
    // the victim's channel is over: here, with a stream of its own, when the stream closed
    done: sClosed,
    isDone: () => s.destroyed,
    // how the raw side answers the multifeed's channel open: hold it unanswered, reject it, or pair it with
    // the channel openChannel made (protomux pairs that one without help when no handler claims the open)
    hold () { pMux.pair({ protocol: messages.PROTOCOL }, () => new Promise(() => {})) },
    reject () {},
    release () {},
    async destroy () {
      s.destroy()
      p.destroy()
      await Promise.all([sClosed, pClosed])
    }
  }
}

// Opens the multifeed channel on the raw side; `handshake` is the raw handshake payload.
function openChannel (conn, key, handshake) {
  const events = new (require('events'))()
  const received = []
  const ch = conn.pMux.createChannel({
    protocol: messages.PROTOCOL,
    id: crypto.discoveryKey(key),
    handshake: c.raw,
    messages: [0, 1, 2, 3, 4].map((type) => ({ encoding: c.raw, onmessage: (buf) => { received.push({ type, buf }); events.emit('message', type, buf) } })),
    onopen: (hs) => { events.emit('open', hs) },
    onclose: (isRemote) => { events.emit('close', isRemote) }
  })
  const opened = new Promise((resolve) => {
    events.once('open', () => resolve(true))
    events.once('close', () => resolve(false))
  })
  ch.open(handshake)
  return { ch, events, received, opened, send: (type, buf) => ch.messages[type].send(buf) }
}

function validHandshake (key, noise) {
  return messages.encode(messages.handshake, { version: messages.VERSION, client: 'MULTIFEED', capability: caps.capability(noise.isInitiator, key, noise.handshakeHash) })
}

// ---------------------------------------------------------------- channel state machine fuzz

const SCENARIOS = ['silent', 'no-multifeed', 'stall', 'bad-handshake', 'script', 'script', 'script', 'script', 'live-garbage', 'live-garbage', 'walk', 'walk', 'walk', 'walk', 'walk', 'walk', 'honest', 'honest']

class ChannelFuzz {
  // `scenarios` narrows the mix (e.g. ['honest']); `staleView` is the chance that an honest peer's sketch side
  // works from a set that is not the one its summary described (see HonestPeer)
  constructor ({ Multifeed, dir, key = crypto.randomBytes(32), timeout = 250, maxFeeds = 5000, writers = 6, poolSize = 24, seed = 1, scenarios = SCENARIOS, staleView = 0.2 }) {
    this.scenarios = scenarios
    this.staleView = staleView
    this.Multifeed = Multifeed
    this.dir = dir
    this.key = key
    this.timeout = timeout
    this.maxFeeds = maxFeeds
    this.writers = writers
    this.seed = seed
    const r = rng(seed ^ 0xabcdef)
    this.pool = []
    for (let i = 0; i < poolSize; i++) this.pool.push(r.bytes(32))
    this.m = null
    this.stats = { cases: 0, byScenario: {}, closedWith: {}, stayedOpen: 0, phasesReached: {}, messagesSent: 0, bytesSent: 0, reopens: 0, feedsAddedByPeers: 0, maxCaseMs: 0, violations: [] }
  }

  async open () {
    this.m = new this.Multifeed(this.dir, { key: this.key, timeout: this.timeout, maxFeeds: this.maxFeeds })
    await this.m.ready()
    if (this.m.list().length === 0) {
      for (let i = 0; i < this.writers; i++) {
        const w = await this.m.writer('w' + i)
        await w.append('block ' + i)
      }
    }
  }

  async close () {
    if (this.m) await this.m.close()
    this.m = null
  }

  // Close, reopen the same storage, check the index loads the same membership.
  async reopen () {
    const before = snapshot(this.m)
    await this.m.close()
    this.m = new this.Multifeed(this.dir, { key: this.key, timeout: this.timeout, maxFeeds: this.maxFeeds })
    await this.m.ready()
    const after = snapshot(this.m)
    this.stats.reopens++
    const missing = [...before.keys()].filter((k) => !after.has(k))
    const extra = [...after.keys()].filter((k) => !before.has(k))
    if (missing.length || extra.length) this.violation(`reopen #${this.stats.reopens}`, `index after reopen: ${missing.length} missing, ${extra.length} extra`)
    for (const [k, v] of before) {
      const a = after.get(k)
      if (a && (a.writable !== v.writable || a.name !== v.name)) this.violation(`reopen #${this.stats.reopens}`, `record ${k.slice(0, 8)} changed on reopen`)
    }
  }

  violation (where, msg) {
    if (this.stats.violations.length < 50) this.stats.violations.push({ where, msg })
    // every one counted, by kind (the message without its keys and numbers)
    this.stats.violationCount = (this.stats.violationCount || 0) + 1
    const kind = msg.replace(/[0-9a-f]{8,}/g, 'K').replace(/\d+/g, 'N').replace(/: K \(.*$/, '').slice(0, 120)
    this.stats.violationKinds = this.stats.violationKinds || {}
    this.stats.violationKinds[kind] = (this.stats.violationKinds[kind] || 0) + 1
  }

  // One case: a fresh stream pair against the long-lived multifeed.
  async runCase (n) {
    const r = rng(caseSeed(this.seed, n))
    const m = this.m
    const where = `seed ${this.seed} case ${n}`
    const pre = snapshot(m)
    const allowed = new Set(pre.keys())
    const scenario = r.pick(this.scenarios)
    this.stats.byScenario[scenario] = (this.stats.byScenario[scenario] || 0) + 1
    const listenersBefore = listenerCounts(m)
    const t0 = Date.now()
    const initiator = r.bool()
    const conn = connect(m, initiator)
    const ex = conn.ex
    if (ex === null) {
      this.violation(where, 'replicate() made no exchange')
      await conn.destroy()
      return
    }
    let guardTimer = null
    const guard = new Promise((resolve) => { guardTimer = setTimeout(() => resolve('hang'), 10000 + this.timeout) })
    const race = (p) => Promise.race([p, conn.done.then(() => 'closed'), guard])

    let outcome = null
    try {
      if (!conn.s.noiseStream.handshakeHash) await race(conn.s.noiseStream.opened)
      const noise = conn.p.noiseStream
      if (!noise.handshakeHash) await race(noise.opened)
      outcome = await this.drive(r, scenario, { conn, ex, m, key: this.key, pool: this.pool, allowed, race, where })
    } catch (err) {
      this.violation(where, `engine error: ${err.stack}`)
    }
    clearTimeout(guardTimer)

    if (outcome === 'hang') this.violation(where, `${scenario}: neither closed nor quiescent within ${10000 + this.timeout} ms (phase ${ex.phase})`)
    this.stats.phasesReached[ex.phase] = (this.stats.phasesReached[ex.phase] || 0) + 1
    if (outcome === 'closed' || ex.phase === 'closed') {
      const err = conn.sErrors[0] || ex.error
      const code = err ? err.code : 'none'
      this.stats.closedWith[code] = (this.stats.closedWith[code] || 0) + 1
      if (!err) this.violation(where, `${scenario}: the channel closed without an error`)
      else if (typeof err.code !== 'string' || !err.code.startsWith('ERR_')) this.violation(where, `${scenario}: closed with ${err.constructor.name} code=${err.code}: ${err.message}`)
      else if (ENGINE_FAULT.test(err.message)) this.violation(where, `${scenario}: ${err.code} hides an engine fault: ${err.message}`)
      if ((scenario === 'silent' || scenario === 'no-multifeed') && code !== 'ERR_KEY_MISMATCH') this.violation(where, `${scenario} peer closed with ${code}, expected ERR_KEY_MISMATCH`)
      if (scenario === 'silent' && Date.now() - t0 < this.timeout - 5) this.violation(where, `silent peer timed out after ${Date.now() - t0} ms, before the ${this.timeout} ms timeout`)
    } else if (outcome === 'open') {
      this.stats.stayedOpen++
      if (!['summary', 'list', 'sketch', 'live'].includes(ex.phase)) this.violation(where, `open in phase ${ex.phase}`)
      if (!m.connections.includes(ex)) this.violation(where, 'an open exchange missing from m.connections')
      if (ex.error !== null) this.violation(where, 'an open exchange with an error')
      if (scenario === 'silent') this.violation(where, 'a silent peer was not timed out')
      if (scenario === 'stall') this.stats.stalledOpen = (this.stats.stalledOpen || 0) + 1
    }

    // membership: nothing a valid peer could not have added
    const post = snapshot(m)
    for (const k of post.keys()) {
      if (!allowed.has(k)) this.violation(where, `${scenario}: feed ${k.slice(0, 16)} appeared that the peer never advertised`)
      else if (!pre.has(k)) this.stats.feedsAddedByPeers++
    }
    for (const [k, v] of pre) {
      const a = post.get(k)
      if (!a) this.violation(where, `feed ${k.slice(0, 16)} disappeared`)
      else if (a.writable !== v.writable || a.name !== v.name) this.violation(where, `feed ${k.slice(0, 16)} changed its record`)
    }

    await conn.destroy()
    if (ex.phase !== 'closed') this.violation(where, `exchange still ${ex.phase} after its stream closed`)
    if (m.connections.includes(ex)) this.violation(where, 'a closed exchange stays in m.connections')
    const listenersAfter = listenerCounts(m)
    for (const k of Object.keys(listenersAfter)) {
      if (listenersAfter[k] > (listenersBefore[k] || 0)) this.violation(where, `listener leak on the multifeed: ${k} ${listenersBefore[k] || 0} -> ${listenersAfter[k]}`)
    }
    this.stats.cases++
    this.stats.maxCaseMs = Math.max(this.stats.maxCaseMs, Date.now() - t0)
  }

  // One scenario against the exchange `ex` on `conn`: 'open' (quiescent), 'closed' (the victim's channel is
  // over) or 'hang'. `race` races a promise against the channel's end and the case's guard timer.
  async drive (r, scenario, { conn, ex, m, key, pool, allowed, race, where }) {
    const noise = conn.p.noiseStream
    if (scenario === 'silent') {
      // the handshake never comes (the peer holds our open unanswered)
      conn.hold()
      return race(new Promise(() => {}))
    }
    if (scenario === 'no-multifeed') {
      // the peer has no such multifeed: its muxer rejects our channel at once
      conn.reject()
      return race(new Promise(() => {}))
    }
    let outcome = null
    const hs = scenario === 'bad-handshake' ? badHandshake(r, key, noise) : validHandshake(key, noise)
    const raw = openChannel(conn, key, hs)
    conn.release()
    const opened = await race(raw.opened)
    if (opened === true && (scenario === 'walk' || scenario === 'honest')) {
      const peer = new HonestPeer(r, { key, conn, raw, ex, m, pool, allowed, fault: scenario === 'walk', stats: this.stats, staleView: this.staleView })
      const res = await race(peer.run())
      if (res === 'hang') outcome = 'hang'
      else if (typeof res === 'object' && res !== null) {
        for (const msg of res.violations) this.violation(where, `${scenario}: ${msg}`)
      }
    }
    if (outcome === 'hang') {
      // fall through to the report
    } else if (opened === true && scenario === 'quota') {
      // more new feeds than the per-connection quota, valid ones: the excess is refused, the channel stays
      if (await this.toLive(r, conn, raw, ex, allowed) !== null) {
        const quota = Math.min(m.maxNewFeedsPerConnection, 256)
        const entries = []
        for (let i = 0, k = quota + 1 + r.int(2 * quota + 8); i < k; i++) entries.push({ key: r.bytes(32), length: 1 + r.int(3) })
        for (const e of entries) allowed.add(hex(e.key))
        for (let i = 0; i < entries.length && !conn.isDone();) {
          const n = 1 + r.int(entries.length - i)
          raw.send(1, messages.encode(messages.feeds, { last: false, entries: entries.slice(i, i + n) }))
          this.stats.messagesSent++
          i += n
        }
      }
    } else if (opened === true && scenario !== 'walk' && scenario !== 'honest') {
      const plan = scenario === 'live-garbage' ? await this.toLive(r, conn, raw, ex, allowed) : []
      if (plan !== null && scenario !== 'stall') {
        const steps = scriptSteps(r, { key, noise, pool, m, ex, scenario })
        for (const step of steps) {
          if (conn.isDone()) break
          noteAllowed(step, allowed)
          raw.send(step.type, step.buf)
          this.stats.messagesSent++
          this.stats.bytesSent += step.buf.byteLength
          if (step.yieldAfter) await new Promise((resolve) => setImmediate(resolve))
        }
      }
    }
    // everything sent is in the exchange's queue once the sentinel arrives; then let the queue drain
    if (outcome !== 'hang') outcome = await race(conn.sentinel().then(() => drain(ex)).then(() => 'open'))
    if (outcome === 'open' && ex.phase === 'closed') outcome = await race(conn.done.then(() => 'closed'))
    return outcome
  }

  // Drive the exchange honestly to 'live' (the peer claims an empty set: plain lists), before the garbage.
  async toLive (r, conn, raw, ex, allowed) {
    raw.send(0, messages.encode(messages.summary, { count: 0, digest: b4a.alloc(32) }))
    raw.send(1, messages.encode(messages.feeds, { last: true, entries: [] }))
    const live = await Promise.race([
      conn.sentinel().then(() => drain(ex)).then(() => ex.phase === 'live'),
      conn.done.then(() => false)
    ])
    return live ? [] : null
  }
}

// ---------------------------------------------------------------- shared connections

// A connection the multifeeds do not own: made by a plain Corestore (`store.replicate(bool)`) or a bare
// NoiseSecretStream (what a Hyperswarm connection is), with `locals` (the victim among them) attached on side
// A by `multi.replicate(stream)` and the honest peers `remotes` attached on side B. The raw hostile channel for
// the victim's key is opened on side B's muxer, next to the honest peers' channels. Side B pairs the victim's
// channel id itself (a pairing by id comes before the honest peers' catch-all), so the victim's open waits for
// the raw channel instead of being rejected for arriving first; `hold()` never answers it, `reject()` lets
// protomux refuse it.
function connectShared ({ kind, isInitiator, storeA, storeB, victim, locals, remotes }) {
  let s
  let p
  if (kind === 'noise') {
    s = new NoiseSecretStream(isInitiator)
    p = new NoiseSecretStream(!isInitiator)
    s.rawStream.pipe(p.rawStream).pipe(s.rawStream)
  } else {
    s = storeA.replicate(isInitiator)
    p = storeB.replicate(!isInitiator)
    s.pipe(p).pipe(s)
  }
  const sErrors = []
  const pErrors = []
  s.on('error', (e) => sErrors.push(e))
  p.on('error', (e) => pErrors.push(e))
  const sClosed = new Promise((resolve) => s.once('close', resolve))
  const pClosed = new Promise((resolve) => p.once('close', resolve))
  for (const m of locals) if (m !== victim) m.replicate(s)
  for (const m of remotes) m.replicate(p)
  victim.replicate(s)
  const sMux = Hypercore.getProtocolMuxer(s)
  const pMux = Hypercore.getProtocolMuxer(p)
  const ex = victim.connections.find((e) => e.stream === s) || null
  let openGate = null
  const gate = new Promise((resolve) => { openGate = resolve })
  pMux.pair({ protocol: messages.PROTOCOL, id: victim.discoveryKey }, () => gate)
  const done = ex === null || ex.closed
    ? Promise.resolve()
    : new Promise((resolve) => {
      const onclose = (e) => {
        if (e !== ex) return
        victim.off('exchange-close', onclose)
        resolve()
      }
      victim.on('exchange-close', onclose)
    })
  const conn = {
    s,
    p,
    ex,
    sMux,
    pMux,
    sErrors,
    pErrors,
    sClosed,
    pClosed,
    done,
    isDone: () => ex === null || ex.closed,
    hold () {},
    reject () { openGate() },
    release () { openGate() },
    async destroy () {
      openGate()
      s.destroy()
      p.destroy()
      await Promise.all([sClosed, pClosed])
    }
  }
  addSentinels(conn)
  return conn
}

// conn.sentinel(): resolves once everything the raw side (p) sent so far came out of the stream on side A;
// conn.backSentinel(): the same the other way.
function addSentinels (conn) {
  let sentinels = 0
  const arrivals = new Map()
  conn.sMux.pair({ protocol: 'fuzz/sentinel' }, (id) => {
    const fn = arrivals.get(id ? id.readUInt32LE(0) : -1)
    if (fn) fn()
  })
  let backs = 0
  const backArrivals = new Map()
  conn.pMux.pair({ protocol: 'fuzz/sentinel-back' }, (id) => {
    const fn = backArrivals.get(id ? id.readUInt32LE(0) : -1)
    if (fn) fn()
  })
  conn.sentinel = () => {
    const n = sentinels++
    const id = b4a.alloc(32)
    id.writeUInt32LE(n, 0)
    const arrived = new Promise((resolve) => arrivals.set(n, resolve))
    const ch = conn.pMux.createChannel({ protocol: 'fuzz/sentinel', id })
    if (ch) ch.open()
    return arrived
  }
  conn.backSentinel = () => {
    const n = backs++
    const id = b4a.alloc(32)
    id.writeUInt32LE(n, 0)
    const arrived = new Promise((resolve) => backArrivals.set(n, resolve))
    const ch = conn.sMux.createChannel({ protocol: 'fuzz/sentinel-back', id })
    if (ch) ch.open()
    return arrived
  }
}

// Appends `text` to `writer` (a multifeed's writer) and waits until `reader` (a multifeed with the same key)
// holds it: its record of the feed reaches the new length and the block reads back. Null, or what went wrong.
async function deliver (writer, reader, text, ms) {
  const t0 = Date.now()
  const index = writer.length
  await writer.append(text)
  let rec = null
  for (;;) {
    rec = reader.list().find((f) => b4a.equals(f.key, writer.key)) || null
    if (rec !== null && rec.length > index) break
    if (Date.now() - t0 > ms) return { ms: Date.now() - t0, problem: `block ${index} of feed ${hex(writer.key).slice(0, 8)} did not arrive within ${ms} ms (the reader holds ${rec ? 'length ' + rec.length : 'no record of it'})` }
    await new Promise((resolve) => setTimeout(resolve, 4))
  }
  // read it through a session of our own, so the multifeed's own lazily closed sessions stay as they are
  const core = reader.store.get({ key: writer.key, valueEncoding: 'utf-8' })
  try {
    const got = await core.get(index, { wait: false })
    if (got !== text) return { ms: Date.now() - t0, problem: `block ${index} of feed ${hex(writer.key).slice(0, 8)} reads ${JSON.stringify(got)}, expected ${JSON.stringify(text)}` }
  } finally {
    await core.close()
  }
  return { ms: Date.now() - t0, problem: null }
}

const SHARED_SCENARIOS = SCENARIOS.concat(['quota'])
// how the shared connection is made: by the Corestore that holds two of the multifeeds, by a plain Corestore
// of the app that holds none, or a bare NoiseSecretStream (a Hyperswarm connection)
const SHARED_KINDS = ['store', 'app-store', 'noise']

// The channel fuzz on shared connections. `groups` multifeeds with different keys on side A (the first two
// share one Corestore, the others have a Corestore each), each with an honest twin on side B (one Corestore).
// Every case makes a new connection, attaches all of side A to it and picks one of them as the victim: the
// raw hostile peer plays the victim's key (every scenario of the owned fuzz, plus a quota flood), while the
// honest twins of the others run their exchanges on the same connection. Checked on top of the owned fuzz's
// checks (index holds only advertised feeds, ERR_ codes, no hang, no listener leak, no crash):
// - a failure stays on the victim: at most one 'channel-error', with the exchange's error and the shared
//   stream; no 'error', no destroy of the connection; a quiet close (silent peer, rejected channel) is no error;
// - the others run on: their exchanges stay up, nothing reaches their 'channel-error', and blocks appended on
//   both sides (during the attack, after it, and after the victim's unreplicate) arrive;
// - the victim adds at most maxNewFeedsPerConnection feeds per connection, and a quota flood does not close it;
// - unreplicate(stream) of the victim ends its exchange quietly, removes its listener from the stream, leaves
//   none of its feeds attached to the connection, keeps the stream, and a hostile channel reopened afterwards
//   reaches nothing.
// Cases share state (the indexes grow, cores stay open in the Corestores for a while): a case is reproduced by
// its seed and the cases before it (MF_FUZZ_SEED, or run.js --seed S --shared N).
class SharedFuzz extends ChannelFuzz {
  constructor ({ Multifeed, dir, seed = 1, timeout = 300, maxFeeds = 5000, quota = 32, groups = 3, poolSize = 24, scenarios = SHARED_SCENARIOS, staleView = 0.2, settle = 3000, crossKeys = 0.3 }) {
    super({ Multifeed, dir, seed, timeout, maxFeeds, poolSize, scenarios, staleView })
    this.quota = quota
    this.groups = groups
    this.settle = settle
    this.crossKeys = crossKeys
    const r = rng(seed ^ 0x5a5a5a)
    this.keys = []
    for (let i = 0; i < groups; i++) this.keys.push(r.bytes(32))
    this.locals = []
    this.remotes = []
    this.localWriters = []
    this.remoteWriters = []
    this.channelErrors = [] // every 'channel-error' of every multifeed: { side, i, err, stream }
    this.refused = 0
    Object.assign(this.stats, { byKind: {}, byVictim: {}, deliveries: 0, maxDeliveryMs: 0, crossCases: 0, unreplicated: 0, maxAddedPerConnection: 0, refusedFeeds: 0 })
  }

  storeOf (i) {
    return i < 2 ? this.storeA : this.storeAs[i - 2]
  }

  async openLocal (i) {
    const m = new this.Multifeed(this.storeOf(i), { key: this.keys[i], timeout: this.timeout, maxFeeds: this.maxFeeds, maxNewFeedsPerConnection: this.quota, valueEncoding: 'utf-8' })
    await m.ready()
    m.on('channel-error', (err, stream) => this.channelErrors.push({ side: 'local', i, err, stream }))
    m.on('refused', (n) => { this.stats.refusedFeeds += n })
    this.locals[i] = m
    this.localWriters[i] = await m.writer('m')
    if (this.localWriters[i].length === 0) await this.localWriters[i].append('m start')
  }

  async open () {
    this.storeA = new Corestore(path.join(this.dir, 'a'))
    this.storeAs = []
    for (let i = 2; i < this.groups; i++) this.storeAs.push(new Corestore(path.join(this.dir, 'a' + i)))
    this.appStore = new Corestore(path.join(this.dir, 'app'))
    this.storeB = new Corestore(path.join(this.dir, 'b'))
    for (let i = 0; i < this.groups; i++) await this.openLocal(i)
    for (let i = 0; i < this.groups; i++) {
      // the honest twins keep the default timeout: only the victims run on a short one
      const h = new this.Multifeed(this.storeB, { key: this.keys[i], valueEncoding: 'utf-8' })
      await h.ready()
      h.on('channel-error', (err, stream) => this.channelErrors.push({ side: 'remote', i, err, stream }))
      this.remotes[i] = h
      this.remoteWriters[i] = await h.writer('h')
      if (this.remoteWriters[i].length === 0) await this.remoteWriters[i].append('h start')
    }
    this.m = this.locals[0]
  }

  async close () {
    for (const m of this.locals.concat(this.remotes)) if (m) await m.close()
    this.locals = []
    this.remotes = []
    for (const store of [this.storeA, ...(this.storeAs || []), this.appStore, this.storeB]) if (store) await store.close()
    this.storeA = null
    this.m = null
  }

  // Close and reopen every multifeed of side A on its Corestore: each index loads the same membership.
  async reopen () {
    this.stats.reopens++
    const where = `reopen #${this.stats.reopens} (shared)`
    for (let i = 0; i < this.groups; i++) {
      const before = snapshot(this.locals[i])
      await this.locals[i].close()
      await this.openLocal(i)
      const after = snapshot(this.locals[i])
      const missing = [...before.keys()].filter((k) => !after.has(k))
      const extra = [...after.keys()].filter((k) => !before.has(k))
      if (missing.length || extra.length) this.violation(where, `multifeed ${i}: index after reopen: ${missing.length} missing, ${extra.length} extra`)
      for (const [k, v] of before) {
        const a = after.get(k)
        if (a && (a.writable !== v.writable || a.name !== v.name)) this.violation(where, `multifeed ${i}: record ${k.slice(0, 8)} changed on reopen`)
      }
    }
    this.m = this.locals[0]
  }

  // Blocks both ways between every other multifeed and its honest twin; problems become violations.
  async honestRound (others, label, where, victim = null) {
    const jobs = []
    for (const j of others) {
      jobs.push(deliver(this.remoteWriters[j], this.locals[j], `${label} from twin ${j}`, this.settle).then((d) => ({ d, what: `twin ${j} -> multifeed ${j}` })))
      jobs.push(deliver(this.localWriters[j], this.remotes[j], `${label} from multifeed ${j}`, this.settle).then((d) => ({ d, what: `multifeed ${j} -> twin ${j}` })))
    }
    let ok = true
    for (const { d, what } of await Promise.all(jobs)) {
      this.stats.deliveries++
      this.stats.maxDeliveryMs = Math.max(this.stats.maxDeliveryMs, d.ms)
      if (d.problem !== null) {
        ok = false
        const writer = what.startsWith('twin') ? this.remoteWriters[Number(what.split(' ')[1])] : this.localWriters[Number(what.split(' ')[1])]
        const cross = victim !== null && victim.list().some((f) => b4a.equals(f.key, writer.key)) ? ' (a cross key: the attacker had advertised this feed to the victim, which recorded it)' : ''
        this.violation(where, `${label}: ${what}: ${d.problem}${cross}`)
      }
    }
    return ok
  }

  async runCase (n) {
    const r = rng(caseSeed(this.seed, n))
    const scenario = r.pick(this.scenarios)
    const initiator = r.bool()
    const v = r.int(this.groups)
    const kind = r.pick(SHARED_KINDS)
    const cross = r.bool(this.crossKeys)
    const where = `seed ${this.seed} case ${n} (shared: ${kind}, victim ${v}, ${scenario})`
    const victim = this.locals[v]
    const key = this.keys[v]
    const others = []
    for (let j = 0; j < this.groups; j++) if (j !== v) others.push(j)
    this.stats.byScenario[scenario] = (this.stats.byScenario[scenario] || 0) + 1
    this.stats.byKind[kind] = (this.stats.byKind[kind] || 0) + 1
    this.stats.byVictim[v] = (this.stats.byVictim[v] || 0) + 1
    // cross keys: the attacker also advertises the feeds of the other groups on this connection (a member of
    // both groups): in the Corestore they share, they are the very cores the others replicate
    let pool = this.pool
    if (cross) {
      this.stats.crossCases++
      pool = pool.concat(...others.map((j) => this.locals[j].list().map((f) => f.key)))
    }
    const pre = snapshot(victim)
    const allowed = new Set(pre.keys())
    const everyone = this.locals.concat(this.remotes)
    const listenersBefore = everyone.map((m) => listenerCounts(m))
    const errorsBefore = this.channelErrors.length
    const t0 = Date.now()

    const remotes = others.map((j) => this.remotes[j])
    const conn = connectShared({ kind, isInitiator: initiator, storeA: kind === 'app-store' ? this.appStore : this.storeA, storeB: this.storeB, victim, locals: this.locals, remotes })
    const { s, p, ex } = conn
    if (ex === null) {
      this.violation(where, 'replicate(stream) made no exchange')
      await conn.destroy()
      return
    }
    const onstream = (m) => m.connections.find((e) => e.stream === s) || null
    const othersEx = others.map((j) => onstream(this.locals[j]))
    const twinsEx = others.map((j) => this.remotes[j].connections.find((e) => e.stream === p) || null)
    if (othersEx.includes(null) || twinsEx.includes(null)) this.violation(where, 'an honest multifeed has no exchange on the connection')
    // honest traffic while the attack runs: appended on both sides now, checked after it
    const during = Promise.all(others.map((j) => Promise.all([this.remoteWriters[j].append(`case ${n} during, twin`), this.localWriters[j].append(`case ${n} during, multifeed`)])))

    let guardTimer = null
    const guard = new Promise((resolve) => { guardTimer = setTimeout(() => resolve('hang'), 10000 + this.timeout) })
    const race = (pr) => Promise.race([pr, conn.done.then(() => 'closed'), guard])
    let outcome = null
    try {
      if (!s.noiseStream.handshakeHash) await race(s.noiseStream.opened)
      if (!p.noiseStream.handshakeHash) await race(p.noiseStream.opened)
      outcome = await this.drive(r, scenario, { conn, ex, m: victim, key, pool, allowed, race, where })
    } catch (err) {
      this.violation(where, `engine error: ${err.stack}`)
    }
    clearTimeout(guardTimer)
    await during

    if (outcome === 'hang') this.violation(where, `neither closed nor quiescent within ${10000 + this.timeout} ms (phase ${ex.phase})`)
    this.stats.phasesReached[ex.phase] = (this.stats.phasesReached[ex.phase] || 0) + 1
    const quiet = scenario === 'silent' || scenario === 'no-multifeed'
    if (outcome === 'closed' || ex.phase === 'closed') {
      const err = ex.error
      const code = err ? err.code : 'none'
      this.stats.closedWith[code] = (this.stats.closedWith[code] || 0) + 1
      if (quiet) {
        // a peer without this multifeed on a shared connection is normal: the exchange just ends
        if (err) this.violation(where, `a ${scenario} peer on a shared connection closed the exchange with ${err.code}, expected a quiet close`)
        if (scenario === 'silent' && Date.now() - t0 < this.timeout - 5) this.violation(where, `silent peer given up after ${Date.now() - t0} ms, before the ${this.timeout} ms timeout`)
      } else if (!err) this.violation(where, 'the exchange closed without an error')
      else if (typeof err.code !== 'string' || !err.code.startsWith('ERR_')) this.violation(where, `closed with ${err.constructor.name} code=${err.code}: ${err.message}`)
      else if (ENGINE_FAULT.test(err.message)) this.violation(where, `${err.code} hides an engine fault: ${err.message}`)
      if (scenario === 'quota') this.violation(where, `a flood of valid new feeds closed the exchange (${code}): the quota refuses feeds, not the connection`)
    } else if (outcome === 'open') {
      this.stats.stayedOpen++
      if (!['summary', 'list', 'sketch', 'live'].includes(ex.phase)) this.violation(where, `open in phase ${ex.phase}`)
      if (!victim.connections.includes(ex)) this.violation(where, 'an open exchange missing from connections')
      if (ex.error !== null) this.violation(where, 'an open exchange with an error')
      if (scenario === 'silent') this.violation(where, 'a silent peer was not given up')
      if (scenario === 'stall') this.stats.stalledOpen = (this.stats.stalledOpen || 0) + 1
    }

    // the connection and everyone else on it came through
    const streamsOk = (when) => {
      if (s.destroyed || p.destroyed) this.violation(where, `${when}: the shared connection was destroyed (${s.destroyed ? 'side A' : 'side B'})`)
      for (const e of conn.sErrors) this.violation(where, `${when}: 'error' on the shared connection, side A: ${e.code || e.constructor.name}: ${e.message}${process.env.MF_FUZZ_STACKS ? ' ' + e.stack : ''}`)
      for (const e of conn.pErrors) this.violation(where, `${when}: 'error' on the shared connection, side B: ${e.code || e.constructor.name}: ${e.message}${process.env.MF_FUZZ_STACKS ? ' ' + e.stack : ''}`)
      conn.sErrors.length = 0
      conn.pErrors.length = 0
      others.forEach((j, k) => {
        if (othersEx[k] && othersEx[k].closed) this.violation(where, `${when}: multifeed ${j}'s exchange closed (${othersEx[k].error ? othersEx[k].error.code : 'no error'})`)
        if (twinsEx[k] && twinsEx[k].closed) this.violation(where, `${when}: twin ${j}'s exchange closed (${twinsEx[k].error ? twinsEx[k].error.code : 'no error'})`)
      })
    }
    streamsOk('after the attack')

    // membership: nothing a valid peer could not have added, and no more per connection than the quota
    const post = snapshot(victim)
    let added = 0
    for (const k of post.keys()) {
      if (!allowed.has(k)) this.violation(where, `feed ${k.slice(0, 16)} appeared that the peer never advertised`)
      else if (!pre.has(k)) added++
    }
    this.stats.feedsAddedByPeers += added
    this.stats.maxAddedPerConnection = Math.max(this.stats.maxAddedPerConnection, added)
    if (added > this.quota) this.violation(where, `${added} feeds added by one connection, the quota is ${this.quota}`)
    for (const [k, val] of pre) {
      const a = post.get(k)
      if (!a) this.violation(where, `feed ${k.slice(0, 16)} disappeared`)
      else if (a.writable !== val.writable || a.name !== val.name) this.violation(where, `feed ${k.slice(0, 16)} changed its record`)
    }

    // the others converge with their twins after the attack
    await this.honestRound(others, `case ${n} after the attack`, where, victim)

    // the victim leaves the connection: quietly, and without its listener; the others stay
    const victimErrors = () => this.channelErrors.slice(errorsBefore).filter((e) => e.side === 'local' && e.i === v)
    const errorsAtUnreplicate = victimErrors().length
    victim.unreplicate(s)
    this.stats.unreplicated++
    if (!ex.closed) this.violation(where, `unreplicate left the victim's exchange in phase ${ex.phase}`)
    if (onstream(victim) !== null) this.violation(where, 'unreplicate left the victim an exchange on the stream')
    if (s.listeners('close').includes(ex.onstreamclose)) this.violation(where, 'the victim\'s exchange still listens to the stream after unreplicate')
    // none of the victim's feeds stays attached to the connection (an attached core keeps its 'close' listener
    // on the stream and hypercore reopens its channel there by itself: the feed goes on replicating), except
    // cores another multifeed of the same Corestore records too (cross keys: one core, and detaching it would
    // cut the other multifeed off)
    const store = this.storeOf(v)
    const shared = new Set()
    for (const j of others) if (this.storeOf(j) === store) for (const f of this.locals[j].list()) shared.add(hex(f.key))
    const stillAttached = []
    for (const f of victim.list()) {
      if (shared.has(hex(f.key))) continue
      const core = store.cores.get(hex(crypto.discoveryKey(f.key)))
      if (core && core.replicator && core.replicator.attached(conn.sMux)) stillAttached.push(`${hex(f.key).slice(0, 8)} (${f.writable ? 'writer' : 'remote'}, length ${f.length}, the multifeed's session ${victim.records && victim.records.get(hex(f.key)) && victim.records.get(hex(f.key)).core ? 'open' : 'closed'})`)
    }
    if (stillAttached.length > 0) this.violation(where, `after unreplicate, ${stillAttached.length} of the victim's feeds stay attached to the connection: ${stillAttached.slice(0, 4).join(', ')}${stillAttached.length > 4 ? ', ...' : ''}`)
    // the hostile side opens the victim's channel again and sends a valid list with a new feed: nobody listens
    const reopened = b4a.from(r.bytes(32))
    try {
      // the close of the victim's channel reaches side B first, so a new channel with its id can be made. An
      // open side B still holds unanswered (silent) is rejected first: protomux on side B ignores a close of an
      // open it has not answered, and a channel made now would pair with that dead open (and side B's muxer
      // would fail on side A's next open: a fault of the raw side's own muxer, not of the connection)
      conn.release()
      const roundtrip = conn.sentinel().then(() => conn.backSentinel())
      await Promise.race([roundtrip, new Promise((resolve) => setTimeout(resolve, 2000))])
      const ch = conn.pMux.createChannel({ protocol: messages.PROTOCOL, id: victim.discoveryKey, handshake: c.raw, messages: [0, 1, 2, 3, 4, 5].map(() => ({ encoding: c.raw })) })
      if (ch === null) this.violation(where, 'the hostile channel is still open on side B after unreplicate')
      else {
        ch.open(validHandshake(key, p.noiseStream))
        ch.messages[0].send(messages.encode(messages.summary, { count: 1, digest: r.bytes(32) }))
        ch.messages[1].send(messages.encode(messages.feeds, { last: true, entries: [{ key: reopened, length: 1 }] }))
        await Promise.race([conn.sentinel(), new Promise((resolve) => setTimeout(resolve, 2000))])
      }
    } catch (err) {
      this.violation(where, `engine error: ${err.stack}`)
    }
    if (onstream(victim) !== null) this.violation(where, 'a channel opened after unreplicate made the victim a new exchange')
    if (victim.list().some((f) => b4a.equals(f.key, reopened))) this.violation(where, 'a feed advertised after unreplicate was recorded')
    streamsOk('after unreplicate')
    await this.honestRound(others, `case ${n} after unreplicate`, where, victim)
    streamsOk('after the last blocks')

    // channel errors: the victim's, once at most, carrying its exchange's error and the shared stream
    const errs = this.channelErrors.slice(errorsBefore)
    for (const e of errs) {
      if (e.side !== 'local' || e.i !== v) this.violation(where, `'channel-error' on ${e.side === 'local' ? 'multifeed' : 'twin'} ${e.i}, not the victim: ${e.err && e.err.code}: ${e.err && e.err.message}`)
      else if (e.stream !== s) this.violation(where, '\'channel-error\' reported with another stream than the shared one')
    }
    const mine = victimErrors()
    if (mine.length > 1) this.violation(where, `${mine.length} 'channel-error' events for one exchange`)
    if (mine.length > errorsAtUnreplicate) this.violation(where, '\'channel-error\' after unreplicate')
    if (ex.error !== null && (mine.length !== 1 || mine[0].err !== ex.error)) this.violation(where, `the exchange failed with ${ex.error.code} but 'channel-error' reported ${mine.map((e) => e.err && e.err.code).join(', ') || 'nothing'}`)
    if (ex.error === null && mine.length > 0) this.violation(where, `'channel-error' (${mine[0].err && mine[0].err.code}) for an exchange that closed without an error`)

    await conn.destroy()
    for (const m of everyone) {
      for (const e of m.connections) if (e.stream === s || e.stream === p) this.violation(where, `an exchange stays in connections after the connection closed (phase ${e.phase})`)
    }
    everyone.forEach((m, i) => {
      const after = listenerCounts(m)
      for (const k of Object.keys(after)) {
        if (after[k] > (listenersBefore[i][k] || 0)) this.violation(where, `listener leak on ${i < this.groups ? 'multifeed' : 'twin'} ${i % this.groups}: ${k} ${listenersBefore[i][k] || 0} -> ${after[k]}`)
      }
    })
    this.stats.cases++
    this.stats.maxCaseMs = Math.max(this.stats.maxCaseMs, Date.now() - t0)
  }
}

function snapshot (m) {
  const out = new Map()
  for (const f of m.list()) out.set(b4a.toString(f.key, 'hex'), { writable: f.writable, name: f.name, length: f.length })
  return out
}

function listenerCounts (emitter) {
  const out = {}
  for (const name of emitter.eventNames()) out[String(name)] = emitter.listenerCount(name)
  return out
}

// Waits until the exchange has processed every message received (lib/inbound.ts), a turn after the last.
async function drain (ex) {
  for (let i = 0; i < 1000; i++) {
    const q = ex.inbound.pending()
    if (q !== null) await q
    await new Promise((resolve) => setImmediate(resolve))
    if (ex.inbound.pending() === null) return
  }
}

// Keys in anything the peer sent that a valid peer could have added (decodable feeds and diff entries).
function noteAllowed (step, allowed) {
  try {
    if (step.type === 1) for (const e of messages.decode(messages.feeds, step.buf, 'feeds').entries) allowed.add(b4a.toString(e.key, 'hex'))
    if (step.type === 4) for (const e of messages.decode(messages.diff, step.buf, 'diff').full) allowed.add(b4a.toString(e.key, 'hex'))
  } catch {}
}

function badHandshake (r, key, noise) {
  const good = validHandshake(key, noise)
  const p = r.float()
  if (p < 0.2) return r.bytes(r.size(200))
  if (p < 0.35) return messages.encode(messages.handshake, { version: '99.0.0', client: 'MULTIFEED', capability: caps.capability(noise.isInitiator, key, noise.handshakeHash) })
  if (p < 0.5) return messages.encode(messages.handshake, { version: messages.VERSION, client: randomString(r, 300), capability: caps.capability(noise.isInitiator, key, noise.handshakeHash) })
  if (p < 0.6) return messages.encode(messages.handshake, { version: messages.VERSION, client: 'MULTIFEED', capability: r.bytes(32) })
  if (p < 0.65) return messages.encode(messages.handshake, { version: messages.VERSION, client: 'MULTIFEED', capability: caps.capability(!noise.isInitiator, key, noise.handshakeHash) }) // a reflected capability
  let out = mutate(r, good)
  if (b4a.equals(out, good)) out = b4a.concat([good, b4a.from([0])])
  return out
}

// The messages of one case: plausible ones (right shape, maybe wrong phase or order), mutated and random ones.
function scriptSteps (r, { key, noise, pool, m, ex, scenario }) {
  const salt = caps.connectionSalt(key, noise.handshakeHash)
  const ours = m.list().map((f) => ({ key: f.key, length: f.length }))
  const keys = pool.concat(ours.map((e) => e.key))
  const steps = []
  const n = scenario === 'live-garbage' ? 1 + r.int(6) : 1 + r.int(8)
  for (let i = 0; i < n; i++) {
    const kind = r.float()
    let step
    if (kind < 0.55) step = plausible(r, { salt, keys, ours, scenario })
    else if (kind < 0.85) {
      const base = plausible(r, { salt, keys, ours, scenario })
      step = { type: r.bool(0.85) ? base.type : r.int(5), buf: mutate(r, base.buf) }
    } else if (kind < 0.97) step = { type: r.int(5), buf: r.bytes(r.size(400)) }
    else step = { type: r.int(5), buf: r.bytes(r.range(100000, 2 * 1024 * 1024)) } // oversized
    if (r.bool(0.1)) step.yieldAfter = true
    steps.push(step)
    if (r.bool(0.08)) steps.push({ ...step }) // duplicated
  }
  return steps
}

function plausible (r, { salt, keys, ours, scenario }) {
  const which = r.float()
  if (which < 0.22) {
    // summary: honest (same count, so sketch), empty (list), random, over the limit
    const p = r.float()
    let count
    if (p < 0.3) count = ours.length
    else if (p < 0.5) count = 0
    else if (p < 0.85) count = r.int(ours.length * 3 + 2)
    else count = r.pick([5001, 1000000, 2 ** 40])
    let digest
    if (r.bool(0.3)) {
      const d = new caps.SetDigest(salt)
      for (const e of ours) d.toggle(caps.element(salt, e.key, e.length))
      digest = d.digest
    } else digest = r.bytes(32)
    return { type: 0, buf: messages.encode(messages.summary, { count, digest }) }
  }
  if (which < 0.5) {
    const entries = []
    const n = r.bool(0.9) ? r.int(8) : r.range(100, 4096)
    for (let i = 0; i < n; i++) entries.push({ key: r.pick(keys), length: r.bool(0.6) ? 0 : r.bool(0.9) ? r.int(5) : randomUint(r, messages.MAX_LENGTH) })
    const last = scenario === 'live-garbage' ? r.bool(0.3) : r.bool(0.6)
    return { type: 1, buf: messages.encode(messages.feeds, { last, entries }) }
  }
  if (which < 0.72) {
    // coded symbols: from a real encoder over a set near ours (so they may even decode), or random ones
    const enc = new riblt.Encoder({ salt })
    for (const e of ours) if (r.bool(0.8)) enc.add(caps.element(salt, e.key, e.length))
    for (let i = 0, k = r.int(4); i < k; i++) enc.add(caps.element(salt, r.pick(keys), r.int(5)))
    const batch = r.bool(0.8) ? enc.produce(r.range(1, 64)) : Array.from({ length: r.int(20) }, () => randomSymbol(r))
    return { type: 2, buf: b4a.from(c.encode(symbolsCodec, batch)) }
  }
  if (which < 0.82) return { type: 3, buf: messages.encode(messages.more, { fallback: r.bool() }) }
  const short = []
  const full = []
  const want = []
  for (let i = 0, k = r.int(4); i < k; i++) short.push({ hash: caps.element(salt, r.pick(keys), 0).subarray(0, 8), length: r.int(5) })
  for (let i = 0, k = r.int(4); i < k; i++) full.push({ key: r.pick(keys), length: r.int(5) })
  for (let i = 0, k = r.int(4); i < k; i++) want.push(r.bool() ? caps.element(salt, r.pick(keys), 0).subarray(0, 8) : r.bytes(8))
  return { type: 4, buf: messages.encode(messages.diff, { last: r.bool(), short, full, want }) }
}

// A second, independent implementation of the exchange (PROTOCOL.md) driven by hand: plain lists, sketches in
// both roles, fallback. With `fault`, one message at a random point of its outgoing sequence is dropped,
// duplicated, mutated, replaced by random bytes, sent under another type, or preceded by a stray message.
// Without a fault the run must reach 'live' on both sides, each side must know the other's whole set, and the
// multifeed's `mode` must be the one the peer saw (a fallback included).
// The fallback: as decoder the peer gives up at the multifeed's own threshold (symbols x 20 bytes beyond
// (a + b) x 34) and checks a completed decode against the summary, as PROTOCOL.md says. Sets where every feed
// differs (the whole union to decode) reach that budget now and then. With `staleView` the peer's sketch
// side works from a set one element off its summary (a feed grew in between): as encoder its symbols
// describe a set the summary does not, and the multifeed must fall back; as decoder its own check fails
// and it falls back. Neither is a fault: the exchange must still converge.
class HonestPeer {
  constructor (r, { key, conn, raw, ex, m, pool, allowed, fault, stats, staleView = 0 }) {
    this.r = r
    this.key = key
    this.conn = conn
    this.raw = raw
    this.ex = ex
    this.m = m
    this.allowed = allowed
    this.stats = stats
    this.noise = conn.p.noiseStream
    this.salt = caps.connectionSalt(key, this.noise.handshakeHash)
    this.isInitiator = !!this.noise.isInitiator
    this.read = 0
    this.sent = 0
    this.faultAt = fault ? r.int(6) : -1
    this.faulted = false
    this.violations = []
    // our set: some of m's feeds (same or other lengths) and some pool keys
    const ours = new Map()
    const theirs = m.list()
    const p = r.float()
    if (p < 0.15) { /* empty */ } else if (p < 0.27) {
      for (const f of theirs) ours.set(hex(f.key), { key: f.key, length: f.length })
    } else if (p < 0.42) {
      // the same feeds, every one at another length: the whole union differs
      for (const f of theirs) ours.set(hex(f.key), { key: f.key, length: f.length + 1 + r.int(3) })
    } else {
      for (const f of theirs) if (r.bool(0.8)) ours.set(hex(f.key), { key: f.key, length: r.bool(0.8) ? f.length : r.int(3) })
      for (let i = 0, k = r.int(5); i < k; i++) { const key = r.pick(pool); ours.set(hex(key), { key, length: 0 }) }
    }
    this.local = [...ours.values()]
    for (const e of this.local) allowed.add(hex(e.key))
    this.byHash = new Map()
    this.digest = new caps.SetDigest(this.salt)
    for (const e of this.local) {
      const el = caps.element(this.salt, e.key, e.length)
      this.byHash.set(hex(caps.elementKeyHash(el)), e)
      this.digest.toggle(el)
    }
    this.learned = new Map() // what the multifeed told us: hex -> length
    this.stale = r.bool(staleView)
    this.fellBack = false
  }

  // The elements the sketch side works from: our set, or with `stale` that set one element off.
  sketchElements () {
    const els = this.local.map((e) => caps.element(this.salt, e.key, e.length))
    if (!this.stale) return els
    if (els.length > 0 && this.r.bool()) {
      const i = this.r.int(els.length)
      els[i] = caps.element(this.salt, this.local[i].key, this.local[i].length + 1)
    } else {
      els.push(caps.element(this.salt, this.r.bytes(32), 1))
    }
    return els
  }

  // PROTOCOL.md: a completed decode must turn our digest into the remote's, and our count into its count.
  verifyDecoded (dec, summary) {
    const d = this.digest.copy()
    const remoteOnly = dec.remoteOnly()
    const localOnly = dec.localOnly()
    for (const el of localOnly) d.toggle(el)
    for (const el of remoteOnly) d.toggle(el)
    return this.local.length - localOnly.length + remoteOnly.length === summary.count && b4a.equals(d.digest, summary.digest)
  }

  send (type, buf) {
    const i = this.sent++
    if (i !== this.faultAt) return this.raw.send(type, buf)
    this.faulted = true
    const r = this.r
    const what = r.pick(['drop', 'dup', 'mutate', 'random', 'retype', 'stray'])
    this.stats.faults = this.stats.faults || {}
    this.stats.faults[what] = (this.stats.faults[what] || 0) + 1
    let out = [[type, buf]]
    if (what === 'drop') out = []
    else if (what === 'dup') out = [[type, buf], [type, buf]]
    else if (what === 'mutate') out = [[type, mutate(r, buf)]]
    else if (what === 'random') out = [[type, r.bytes(r.size(200))]]
    else if (what === 'retype') out = [[(type + 1 + r.int(4)) % 5, buf]]
    else if (what === 'stray') {
      const stray = plausible(r, { salt: this.salt, keys: this.local.map((e) => e.key).concat([r.bytes(32)]), ours: this.local, scenario: 'walk' })
      out = [[stray.type, stray.buf], [type, buf]]
    }
    for (const [t, b] of out) {
      noteAllowed({ type: t, buf: b }, this.allowed)
      this.raw.send(t, b)
    }
  }

  // The next message from the multifeed, or null if it has nothing more to say (it waits on us, or closed).
  async next () {
    if (this.read < this.raw.received.length) return this.raw.received[this.read++]
    if (this.conn.isDone()) return null
    await Promise.race([this.conn.sentinel().then(() => drain(this.ex)).then(() => this.conn.backSentinel()), this.conn.done])
    if (this.read < this.raw.received.length) return this.raw.received[this.read++]
    return null
  }

  decodeFrom (type, buf) {
    const names = ['summary', 'feeds', null, 'more', 'diff']
    try {
      if (type === 2) return c.decode(symbolsCodec, buf)
      return messages.decode(messages[names[type]], buf, names[type])
    } catch (err) {
      this.violations.push(`the multifeed sent an undecodable ${names[type] || 'symbols'} message: ${err.message}`)
      return null
    }
  }

  learn (entries) {
    for (const e of entries) this.learned.set(hex(e.key), e.length)
  }

  sendList () {
    const max = messages.LIMITS.maxEntriesPerMessage
    for (let i = 0; i === 0 || i < this.local.length; i += max) {
      this.send(1, messages.encode(messages.feeds, { last: i + max >= this.local.length, entries: this.local.slice(i, i + max) }))
    }
  }

  // Reads feeds batches until the one marked last.
  async readListUntilLast () {
    for (;;) {
      const msg = await this.next()
      if (msg === null) return false
      if (msg.type !== 1) { this.violations.push(`expected feeds, got type ${msg.type}`); return false }
      const f = this.decodeFrom(1, msg.buf)
      if (f === null) return false
      this.learn(f.entries)
      if (f.last) return true
    }
  }

  async run () {
    const theirSet = new Map()
    for (const e of await this.m.sharedEntries()) theirSet.set(hex(e.key), e.length)
    this.send(0, messages.encode(messages.summary, { count: this.local.length, digest: this.digest.digest }))
    const first = await this.next()
    if (first === null) return await this.result(null, theirSet)
    if (first.type !== 0) { this.violations.push(`the multifeed opened with message type ${first.type}, not a summary`); return await this.result(null, theirSet) }
    const summary = this.decodeFrom(0, first.buf)
    if (summary === null) return await this.result(null, theirSet)
    if (summary.count !== theirSet.size) this.violations.push(`summary count ${summary.count}, the multifeed shares ${theirSet.size}`)
    let mode
    if (summary.count === this.local.length && b4a.equals(summary.digest, this.digest.digest)) mode = 'in-sync'
    else mode = chooseMode(this.local.length, summary.count)
    this.stats.walkModes = this.stats.walkModes || {}
    this.stats.walkModes[mode + (mode === 'sketch' ? (this.isInitiator ? '-peer-encodes' : '-peer-decodes') : '')] = (this.stats.walkModes[mode + (mode === 'sketch' ? (this.isInitiator ? '-peer-encodes' : '-peer-decodes') : '')] || 0) + 1
    let done = false
    if (mode === 'in-sync') {
      for (const [k, v] of theirSet) this.learned.set(k, v)
      done = true
    } else if (mode === 'list') {
      this.sendList()
      done = await this.readListUntilLast()
    } else if (this.isInitiator) {
      done = await this.encodeSide(summary)
    } else {
      done = await this.decodeSide(summary)
    }
    return await this.result(done ? mode : null, theirSet)
  }

  // We are the initiator: we send symbols, the multifeed decodes and answers with more or a diff.
  async encodeSide (summary) {
    const enc = new riblt.Encoder({ salt: this.salt })
    for (const el of this.sketchElements()) enc.add(el)
    const batch = (n) => this.send(2, b4a.from(c.encode(symbolsCodec, enc.produce(Math.min(n, messages.LIMITS.maxSymbolsPerMessage)))))
    batch(Math.max(8, Math.ceil(1.5 * 2 * Math.abs(this.local.length - summary.count))))
    const shorts = []
    const wants = []
    for (;;) {
      const msg = await this.next()
      if (msg === null) return false
      if (msg.type === 3) {
        const more = this.decodeFrom(3, msg.buf)
        if (more === null) return false
        if (more.fallback) {
          this.fellBack = true
          this.sendList()
          return this.readListUntilLast()
        }
        if (enc.produced > 100000) { this.violations.push('the multifeed keeps asking for symbols'); return false }
        batch(Math.max(8, Math.ceil(enc.produced * 0.25)))
        continue
      }
      if (msg.type !== 4) { this.violations.push(`expected more or diff, got type ${msg.type}`); return false }
      const d = this.decodeFrom(4, msg.buf)
      if (d === null) return false
      this.learn(d.full)
      for (const s of d.short) shorts.push(s)
      for (const w of d.want) wants.push(w)
      if (!d.last) continue
      for (const s of shorts) {
        const mine = this.byHash.get(hex(s.hash))
        if (mine) this.learned.set(hex(mine.key), s.length)
        else this.violations.push('a short entry for a hash we do not have')
      }
      const answer = []
      for (const w of wants) {
        const mine = this.byHash.get(hex(w))
        if (mine) answer.push(mine)
        else this.violations.push('a want for a hash we do not have')
      }
      const max = messages.LIMITS.maxEntriesPerMessage
      for (let i = 0; i === 0 || i < answer.length; i += max) {
        this.send(1, messages.encode(messages.feeds, { last: i + max >= answer.length, entries: answer.slice(i, i + max) }))
      }
      return true
    }
  }

  // The multifeed is the initiator: it sends symbols, we decode, then send the diff and read its answer.
  async decodeSide (summary) {
    const dec = new riblt.Decoder({ salt: this.salt })
    for (const el of this.sketchElements()) dec.add(el)
    const budget = (this.local.length + summary.count) * 34 // the multifeed's own threshold, PROTOCOL.md
    for (;;) {
      const msg = await this.next()
      if (msg === null) return false
      if (msg.type !== 2) { this.violations.push(`expected symbols, got type ${msg.type}`); return false }
      const symbols = this.decodeFrom(2, msg.buf)
      if (symbols === null) return false
      const decoded = dec.addSymbols(symbols)
      const verified = decoded && this.verifyDecoded(dec, summary)
      if (verified) break
      if (decoded && !this.stale) this.violations.push('the multifeed\'s symbols decode to a difference that does not match its summary')
      if (decoded || dec.failed() || dec.received * 20 > budget) {
        this.fellBack = true
        this.send(3, messages.encode(messages.more, { fallback: true }))
        // the multifeed may have sent more symbols before it saw the fallback: skip them
        this.sendList()
        for (;;) {
          const m2 = await this.next()
          if (m2 === null) return false
          if (m2.type === 2) continue
          if (m2.type !== 1) { this.violations.push(`expected feeds after fallback, got ${m2.type}`); return false }
          const f = this.decodeFrom(1, m2.buf)
          if (f === null) return false
          this.learn(f.entries)
          if (f.last) return true
        }
      }
      this.send(3, messages.encode(messages.more, { fallback: false }))
    }
    const remoteOnly = dec.remoteOnly()
    const localOnly = dec.localOnly()
    const remoteHashes = new Set()
    const want = []
    for (const el of remoteOnly) {
      const h = hex(caps.elementKeyHash(el))
      remoteHashes.add(h)
      const mine = this.byHash.get(h)
      if (mine) this.learned.set(hex(mine.key), caps.elementLength(el))
      else want.push(b4a.from(caps.elementKeyHash(el)))
    }
    const short = []
    const full = []
    for (const el of localOnly) {
      const h = hex(caps.elementKeyHash(el))
      if (remoteHashes.has(h)) short.push({ hash: b4a.from(caps.elementKeyHash(el)), length: caps.elementLength(el) })
      else full.push(this.byHash.get(h))
    }
    // what the multifeed has that we did not decode as different: the same as ours
    this.send(4, messages.encode(messages.diff, { last: true, short, full, want }))
    return this.readListUntilLast()
  }

  async result (mode, theirSet) {
    // after a fault the multifeed may rightly answer in ways an honest exchange would not: only its
    // undecodable messages stay violations then
    const v = this.faulted ? this.violations.filter((msg) => msg.includes('undecodable')) : this.violations
    if (!this.conn.isDone()) await Promise.race([this.conn.sentinel().then(() => drain(this.ex)), this.conn.done])
    if (mode !== null && !this.faulted) {
      // an honest run: the multifeed must be live, and we must know its whole set
      if (this.ex.phase !== 'live' && this.ex.phase !== 'closed') v.push(`honest ${mode} exchange left the multifeed in phase ${this.ex.phase}`)
      if (this.ex.phase === 'closed') v.push(`honest ${mode} exchange closed: ${this.ex.error && this.ex.error.message}`)
      const expected = mode === 'sketch' && this.fellBack ? 'sketch-fallback' : mode
      if (this.ex.mode !== expected) v.push(`honest ${mode} exchange: the multifeed reports mode ${this.ex.mode}, the peer saw ${expected}`)
      if (this.fellBack) {
        const role = this.isInitiator ? 'peer-encodes' : 'peer-decodes'
        this.stats.fallbacks = this.stats.fallbacks || {}
        this.stats.fallbacks[role] = (this.stats.fallbacks[role] || 0) + 1
      }
      const mine = new Map(this.local.map((e) => [hex(e.key), e.length]))
      for (const [k, len] of theirSet) {
        const got = this.learned.has(k) ? this.learned.get(k) : mine.get(k)
        if (got !== len) v.push(`honest ${mode} exchange: feed ${k.slice(0, 8)} at ${len} on the multifeed, the peer learned ${got}`)
      }
      const list = snapshot(this.m)
      // a feed advertised empty is never recorded (nothing to download): only the others must be added
      for (const e of this.local) if (e.length > 0 && !list.has(hex(e.key))) v.push(`honest ${mode} exchange: the multifeed did not add our feed ${hex(e.key).slice(0, 8)}`)
      this.stats.honestCompleted = (this.stats.honestCompleted || 0) + 1
    }
    if (mode === null && !this.faulted && this.ex.phase !== 'closed') v.push(`honest exchange stalled in phase ${this.ex.phase}`)
    return { mode, violations: v }
  }
}

function hex (b) {
  return b4a.toString(b, 'hex')
}

module.exports = {
  rng,
  caseSeed,
  TARGETS,
  mutate,
  runDecoderFuzz,
  decodeOnce,
  installGuards,
  ChannelFuzz,
  SharedFuzz,
  SHARED_SCENARIOS,
  connect,
  connectShared,
  deliver,
  openChannel,
  validHandshake,
  snapshot,
  listenerCounts,
  drain,
  gc,
  mem,
  mb
}
