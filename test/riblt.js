const test = require('brittle')
const c = require('compact-encoding')
const sodium = require('sodium-universal')
const b4a = require('b4a')
const { Encoder, Decoder, codedSymbolCodec, codedSymbolEncoding } = require('../dist/lib/riblt.js')

// ---- helpers ----

// Deterministic bytes (splitmix32), so a failure can be replayed.
function rng (seed) {
  let s = seed >>> 0
  const next = () => {
    s = (s + 0x9e3779b9) >>> 0
    let z = s
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
    return (z ^ (z >>> 16)) >>> 0
  }
  return {
    u32: next,
    int: (n) => next() % n,
    bytes (n) {
      const b = b4a.alloc(n)
      for (let i = 0; i < n; i++) b[i] = next() & 0xff
      return b
    }
  }
}

function elements (r, n, width = 14) {
  const all = r.bytes(n * width)
  const list = []
  for (let i = 0; i < n; i++) list.push(all.subarray(i * width, (i + 1) * width))
  return list
}

const hex = (list) => list.map((b) => b4a.toString(b, 'hex')).sort()

// shared + remoteOnly on the encoder, shared + localOnly on the decoder; streams symbols in batches until
// decoded or `max` symbols. Returns the decoder and whether the result is the true difference.
function reconcile (r, { shared, remote, local, width = 14, batch = () => 1, max = Infinity }) {
  const salt = r.bytes(32)
  const enc = new Encoder({ salt, elementBytes: width })
  const dec = new Decoder({ salt, elementBytes: width })
  for (const e of shared) { enc.add(e); dec.add(e) }
  for (const e of remote) enc.add(e)
  for (const e of local) dec.add(e)
  let done = false
  while (!done && dec.received < max) {
    const n = Math.min(batch(), max - dec.received)
    done = dec.addSymbols(enc.produce(n))
    if (done !== dec.decoded()) throw new Error('addSymbols must return decoded()')
    if (dec.failed()) break
  }
  const exact = done &&
    JSON.stringify(hex(dec.remoteOnly())) === JSON.stringify(hex(remote)) &&
    JSON.stringify(hex(dec.localOnly())) === JSON.stringify(hex(local))
  return { dec, enc, exact }
}

// ---- an independent model of the reference mapping (BigInt, straight from mapping.go) ----

const MASK = (1n << 64n) - 1n
const MUL = 0xda942042e4dd58b5n

function modelHash (el, salt) {
  const out = b4a.alloc(16)
  sodium.crypto_generichash(out, el, salt)
  const checksum = out.readUInt32LE(0)
  const seed = out.readBigUInt64LE(8)
  return { checksum, seed }
}

function modelIndices (seed, limit) {
  const out = []
  let prng = seed
  let last = 0n
  while (last < BigInt(limit)) {
    out.push(Number(last))
    const r = (prng * MUL) & MASK
    prng = r
    last = (last + BigInt(Math.ceil((Number(last) + 1.5) * ((2 ** 32) / Math.sqrt(Number(r) + 1) - 1)))) & MASK
  }
  return out
}

function modelSymbols (set, salt, n, width = 14) {
  const syms = []
  for (let i = 0; i < n; i++) syms.push({ sum: b4a.alloc(width), checksum: 0, count: 0 })
  for (const el of set) {
    const { checksum, seed } = modelHash(el, salt)
    for (const i of modelIndices(seed, n)) {
      const s = syms[i]
      for (let k = 0; k < width; k++) s.sum[k] ^= el[k]
      s.checksum = (s.checksum ^ checksum) >>> 0
      s.count++
    }
  }
  return syms
}

function sameSymbols (a, b) {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) {
    if (!b4a.equals(a[i].sum, b[i].sum) || a[i].checksum !== b[i].checksum || a[i].count !== b[i].count) return false
  }
  return true
}

// ---- the mapping and the encoder ----

test('encoder output matches an independent BigInt model of the reference mapping', (t) => {
  const r = rng(1)
  for (const width of [14, 5, 32]) {
    const salt = r.bytes(32)
    const set = elements(r, 60, width)
    const enc = new Encoder({ salt, elementBytes: width })
    for (const e of set) enc.add(e)
    const got = []
    for (const n of [1, 0, 6, 93, 400]) got.push(...enc.produce(n)) // index continues across calls
    t.is(enc.produced, 500)
    t.ok(sameSymbols(got, modelSymbols(set, salt, 500, width)), `symbols 0..499 match the model, width ${width}`)
  }
  // the density the paper promises: index i is hit with probability about 1/(1 + i/2)
  const hits = new Float64Array(2000)
  for (let s = 0; s < 3000; s++) {
    const seed = (BigInt(r.u32()) << 32n) | BigInt(r.u32())
    for (const i of modelIndices(seed, 2000)) hits[i]++
  }
  t.is(hits[0], 3000, 'every element maps to symbol 0')
  let worst = 0
  for (const i of [10, 100, 1000]) worst = Math.max(worst, Math.abs(hits[i] / 3000 * (1 + i / 2) - 1))
  t.ok(worst < 0.35, 'density about 1/(1 + i/2)')
})

test('encoder: sets, duplicates, validation', (t) => {
  const r = rng(2)
  const salt = r.bytes(32)
  const a = new Encoder({ salt })
  const b = new Encoder({ salt })
  const set = elements(r, 30)
  for (const e of set) a.add(e)
  for (const e of set.slice().reverse()) { b.add(e); b.add(b4a.from(e)) } // order and duplicates do not matter
  t.is(a.size, 30)
  t.is(b.size, 30)
  t.ok(sameSymbols(a.produce(50), b.produce(50)))

  const empty = new Encoder({ salt }).produce(3)
  t.alike(empty.map((s) => [s.count, s.checksum, b4a.toString(s.sum, 'hex')]), [[0, 0, '00'.repeat(14)], [0, 0, '00'.repeat(14)], [0, 0, '00'.repeat(14)]])

  t.exception.all(() => a.add(b4a.alloc(13)), TypeError)
  t.exception.all(() => a.add(b4a.alloc(15)), TypeError)
  t.exception.all(() => a.add('x'.repeat(14)), TypeError)
  t.exception.all(() => new Encoder({ salt, elementBytes: 8 }).add(b4a.alloc(14)), TypeError)
  t.exception.all(() => new Encoder({ salt: b4a.alloc(8) }), TypeError)
  t.exception.all(() => new Encoder({ salt, elementBytes: 0 }), TypeError)
  t.exception.all(() => a.produce(-1), RangeError)
  t.exception(() => a.add(r.bytes(14)), /after symbols/)
})

// ---- reconciliation ----

test('reconciles: empty sets, d = 0, one side empty, disjoint sets', (t) => {
  const r = rng(3)
  const cases = [
    ['both empty', 0, 0, 0],
    ['d = 0, n = 1', 1, 0, 0],
    ['d = 0, n = 100', 100, 0, 0],
    ['d = 0, n = 10000', 10000, 0, 0],
    ['decoder empty', 0, 50, 0],
    ['encoder empty', 0, 0, 50],
    ['disjoint, d = n = 1000', 0, 500, 500],
    ['one each', 0, 1, 1],
    ['only remote-only', 300, 40, 0],
    ['only local-only', 300, 0, 40]
  ]
  for (const [name, n, a, b] of cases) {
    const { dec, exact } = reconcile(r, { shared: elements(r, n), remote: elements(r, a), local: elements(r, b), batch: () => a + b === 0 ? 1 : 1 + r.int(8), max: 4 * (a + b) + 64 })
    t.ok(exact && !dec.failed(), name)
    if (a + b === 0) t.is(dec.received, 1, name + ': one symbol')
  }
})

test('reconciles every d from 0 to 80 with random splits, and large sets', (t) => {
  const r = rng(4)
  let ok = 0
  for (let d = 0; d <= 80; d++) {
    const split = r.int(d + 1)
    const res = reconcile(r, { shared: elements(r, 200), remote: elements(r, split), local: elements(r, d - split), batch: () => 1 + r.int(5), max: 6 * d + 64 })
    if (res.exact && !res.dec.failed()) ok++
    else t.fail(`d = ${d}, split ${split}`)
  }
  t.is(ok, 81, 'd = 0..80')

  for (const [n, a, b] of [[9000, 500, 500], [10000, 1000, 0], [9000, 0, 1000], [2000, 300, 700]]) {
    const res = reconcile(r, { shared: elements(r, n), remote: elements(r, a), local: elements(r, b), batch: () => 1 + r.int(200), max: 3 * (a + b) })
    t.ok(res.exact && !res.dec.failed(), `n = ${n}, remote-only ${a}, local-only ${b}: ${res.dec.received} symbols`)
  }
})

test('other element widths', (t) => {
  const r = rng(5)
  for (const width of [1, 8, 16, 33]) {
    const { exact } = reconcile(r, { width, shared: elements(r, 100, width), remote: [], local: [], max: 8 })
    t.ok(exact, `width ${width}, d = 0`)
  }
  const { exact } = reconcile(r, { width: 33, shared: elements(r, 100, 33), remote: elements(r, 20, 33), local: elements(r, 20, 33), max: 200 })
  t.ok(exact, 'width 33, d = 40')
  const dec = new Decoder({ salt: r.bytes(32), elementBytes: 33 })
  t.exception.all(() => dec.add(r.bytes(14)), TypeError)
})

test('symbols per difference element stays below 2', (t) => {
  const r = rng(6)
  const ratios = {}
  for (const [d, trials] of [[1, 300], [10, 300], [100, 60], [1000, 6]]) {
    let total = 0
    for (let i = 0; i < trials; i++) {
      const split = r.int(d + 1)
      const res = reconcile(r, { shared: elements(r, 20), remote: elements(r, split), local: elements(r, d - split), max: 20 * d + 64 })
      if (!res.exact) t.fail(`d = ${d} did not decode`)
      total += res.dec.received
    }
    ratios[d] = total / trials / d
    t.comment(`d = ${d}: ${ratios[d].toFixed(3)} symbols per difference element (${trials} trials)`)
    t.ok(ratios[d] < 2, `d = ${d}: mean ratio below 2`)
  }
  t.ok(ratios[1000] < 1.6, 'large d approaches the paper\'s ~1.35')
})

test('decoding is incremental: batch sizes do not change the outcome', (t) => {
  const r = rng(7)
  const salt = r.bytes(32)
  const shared = elements(r, 500)
  const remote = elements(r, 60)
  const local = elements(r, 40)
  const enc = new Encoder({ salt })
  for (const e of [...shared, ...remote]) enc.add(e)
  const stream = enc.produce(400)
  for (const batch of [1, 3, 17, 64, 400]) {
    const dec = new Decoder({ salt })
    for (const e of [...shared, ...local]) dec.add(e)
    t.absent(dec.decoded(), 'not decoded before any symbol')
    let i = 0
    while (!dec.decoded() && i < stream.length) { dec.addSymbols(stream.slice(i, i + batch)); i += batch }
    t.ok(dec.decoded() && !dec.failed())
    t.alike(hex(dec.remoteOnly()), hex(remote))
    t.alike(hex(dec.localOnly()), hex(local))
    // more symbols after decoding change nothing
    t.ok(dec.addSymbols(enc.produce(0)))
    t.exception(() => dec.add(r.bytes(14)), /after symbols/)
  }
})

// Wall-clock time is at the mercy of whatever else runs on the machine; CPU time of this process is what the
// code costs. Both are reported, the best of three runs of CPU time is asserted.
function measure (fn) {
  const cpu = process.cpuUsage()
  const start = process.hrtime.bigint()
  fn()
  const wall = Number(process.hrtime.bigint() - start) / 1e6
  const used = process.cpuUsage(cpu)
  return { wall, cpu: (used.user + used.system) / 1000 }
}

function report (t, what, runs) {
  t.comment(`${what}: wall ${runs.map((x) => x.wall.toFixed(1)).join(', ')} ms; cpu ${runs.map((x) => x.cpu.toFixed(1)).join(', ')} ms`)
  return Math.min(...runs.map((x) => Math.min(x.wall, x.cpu)))
}

test('timing: decoder with 10,000 local elements and d = 2,000; encoder with 100,000 elements', (t) => {
  const r = rng(8)
  const salt = r.bytes(32)
  const shared = elements(r, 9000)
  const remote = elements(r, 1000)
  const local = elements(r, 1000)
  const enc = new Encoder({ salt })
  for (const e of [...shared, ...remote]) enc.add(e)
  const stream = enc.produce(3600)

  const decodeRuns = []
  for (let run = 0; run < 3; run++) {
    let dec = null
    decodeRuns.push(measure(() => {
      dec = new Decoder({ salt })
      for (const e of shared) dec.add(e)
      for (const e of local) dec.add(e)
      let i = 0
      while (!dec.addSymbols(stream.slice(i, i + 100)) && i < stream.length) i += 100
    }))
    t.ok(dec.decoded() && dec.remoteOnly().length === 1000 && dec.localOnly().length === 1000, `decoded with ${dec.received} symbols`)
  }
  t.ok(report(t, 'decoder (10,000 local, d = 2,000, batches of 100)', decodeRuns) < 200, 'decoder well under 200 ms')

  const big = elements(r, 100000)
  const encodeRuns = []
  for (let run = 0; run < 3; run++) {
    encodeRuns.push(measure(() => {
      const e100k = new Encoder({ salt })
      for (const e of big) e100k.add(e)
      e100k.produce(100)
    }))
  }
  t.ok(report(t, 'encoder (100,000 elements, add + first 100 symbols)', encodeRuns) < 300, 'encoder under 300 ms')
})

// ---- wire codec ----

test('codec: round trip', (t) => {
  const r = rng(9)
  for (const count of [0, 1, 0xfc, 0xfd, 0xffff, 0x10000, 0xffffffff, 2 ** 32]) {
    for (const checksum of [0, 1, 0xffffffff]) {
      const s = { sum: r.bytes(14), checksum, count }
      const buf = c.encode(codedSymbolEncoding, s)
      t.is(buf.byteLength, 18 + (count <= 0xfc ? 1 : count <= 0xffff ? 3 : count <= 0xffffffff ? 5 : 9))
      const back = c.decode(codedSymbolEncoding, buf)
      t.ok(b4a.equals(back.sum, s.sum) && back.checksum === checksum && back.count === count, `count ${count}, checksum ${checksum}`)
    }
  }
  // a whole stream, several symbols in one buffer
  const enc = new Encoder({ salt: r.bytes(32) })
  for (const e of elements(r, 100)) enc.add(e)
  const syms = enc.produce(40)
  const list = c.array(codedSymbolEncoding)
  t.ok(sameSymbols(c.decode(list, c.encode(list, syms)), syms), 'array of symbols')
  // other widths
  const codec = codedSymbolCodec(20)
  const s = { sum: r.bytes(20), checksum: 7, count: 3 }
  t.alike(c.decode(codec, c.encode(codec, s)), s)
  t.exception.all(() => c.encode(codec, { sum: r.bytes(14), checksum: 7, count: 3 }), TypeError)
})

test('codec: rejects truncated, oversized and invalid symbols', (t) => {
  const r = rng(10)
  for (const count of [5, 300, 70000, 2 ** 32]) {
    const buf = c.encode(codedSymbolEncoding, { sum: r.bytes(14), checksum: r.u32(), count })
    let thrown = 0
    for (let n = 0; n < buf.byteLength; n++) {
      try { c.decode(codedSymbolEncoding, buf.subarray(0, n)) } catch { thrown++ }
    }
    t.is(thrown, buf.byteLength, `every truncation of a symbol with count ${count} throws`)
  }
  // count beyond 2^32, written by hand: sum, checksum, 0xff + uint64
  const big = b4a.alloc(14 + 4 + 9)
  big[18] = 0xff
  big.writeUInt32LE(1, 19) // low word 1
  big.writeUInt32LE(1, 23) // high word 1: 2^32 + 1
  t.exception.all(() => c.decode(codedSymbolEncoding, big), /count/)
  big.writeUInt32LE(0xffffffff, 23)
  t.exception.all(() => c.decode(codedSymbolEncoding, big)) // compact-encoding refuses beyond 2^53 itself

  const ok = { sum: r.bytes(14), checksum: 1, count: 1 }
  t.exception.all(() => c.encode(codedSymbolEncoding, { ...ok, count: -1 }))
  t.exception.all(() => c.encode(codedSymbolEncoding, { ...ok, count: 2 ** 32 + 1 }))
  t.exception.all(() => c.encode(codedSymbolEncoding, { ...ok, count: 1.5 }))
  t.exception.all(() => c.encode(codedSymbolEncoding, { ...ok, checksum: 2 ** 32 }))
  t.exception.all(() => c.encode(codedSymbolEncoding, { ...ok, sum: r.bytes(13) }))
})

// ---- a hostile encoder ----

test('hostile: random symbols never throw, never decode nonsense, stay bounded', (t) => {
  const r = rng(11)
  let decodedAny = 0
  let failedAny = 0
  for (const [localSize, countRange] of [[0, 3], [10, 3], [1000, 3], [1000, 20], [0, 2 ** 32]]) {
    for (let trial = 0; trial < 5; trial++) {
      const dec = new Decoder({ salt: r.bytes(32) })
      for (const e of elements(r, localSize)) dec.add(e)
      let threw = false
      let bounded = true
      while (dec.received < 1500 && !dec.failed()) {
        const batch = []
        for (let i = 1 + r.int(50); i > 0; i--) batch.push({ sum: r.bytes(14), checksum: r.u32(), count: countRange > 1000 ? r.u32() : r.int(countRange) })
        try { dec.addSymbols(batch) } catch { threw = true; break }
        if (dec.remoteOnly().length + dec.localOnly().length > dec.received) bounded = false
        if (dec.decoded()) decodedAny++
      }
      if (threw) t.fail('addSymbols threw')
      if (!bounded) t.fail('more elements than symbols')
      if (dec.failed()) failedAny++
    }
  }
  t.is(decodedAny, 0, 'random symbols never decode')
  t.comment(`${failedAny} of 25 random streams were detected as failed`)
})

test('hostile: malformed symbols mark the decoder failed without throwing', (t) => {
  const r = rng(12)
  const good = () => ({ sum: r.bytes(14), checksum: 1, count: 1 })
  const bad = [
    null, 'x', [null], [undefined], [1], [{}],
    [{ ...good(), sum: r.bytes(13) }], [{ ...good(), sum: 'x'.repeat(14) }],
    [{ ...good(), count: -1 }], [{ ...good(), count: NaN }], [{ ...good(), count: 1.5 }], [{ ...good(), count: 2 ** 40 }],
    [{ ...good(), checksum: -1 }], [{ ...good(), checksum: 2 ** 32 }], [{ ...good(), checksum: '1' }],
    [good(), { ...good(), count: Infinity }]
  ]
  for (const input of bad) {
    const dec = new Decoder({ salt: r.bytes(32) })
    dec.add(r.bytes(14))
    let threw = false
    let res
    try { res = dec.addSymbols(input) } catch { threw = true }
    t.ok(!threw && res === false && dec.failed() && !dec.decoded(), `rejects ${JSON.stringify(input)?.slice(0, 60)}`)
    t.is(dec.received, 0, 'nothing was taken in')
    t.absent(dec.addSymbols([good()]), 'failed is sticky')
  }
})

test('hostile: forged symbols (the salt is known) are caught', (t) => {
  const r = rng(13)
  const salt = r.bytes(32)
  const chk = (el) => modelHash(el, salt).checksum
  const xor = (a, b) => a.map((v, i) => v ^ b[i])
  const x = r.bytes(14)
  const y = r.bytes(14)

  // one of our own elements offered as remote-only: count 2 minus our x leaves a pure x with count 1
  let dec = new Decoder({ salt })
  dec.add(x)
  t.absent(dec.addSymbols([{ sum: b4a.alloc(14), checksum: 0, count: 2 }]))
  t.ok(dec.failed(), 'a local element peeled as remote-only')

  // a local-only element we do not have: after subtracting y, symbol 0 is a pure x with count -1
  dec = new Decoder({ salt })
  dec.add(y)
  t.absent(dec.addSymbols([{ sum: xor(x, y), checksum: (chk(x) ^ chk(y)) >>> 0, count: 0 }]))
  t.ok(dec.failed(), 'a local-only element not in the local set')

  // a valid pure symbol at an index the element does not map to is not peeled
  dec = new Decoder({ salt })
  const enc = new Encoder({ salt })
  enc.add(x)
  enc.add(y)
  const stream = enc.produce(40)
  const z = r.bytes(14)
  const zIdx = modelIndices(modelHash(z, salt).seed, 40)
  const j = [...Array(40).keys()].find((i) => i > 0 && !zIdx.includes(i))
  stream[j] = { sum: z, checksum: chk(z), count: 1 }
  dec.addSymbols(stream.slice(0, j + 1))
  t.ok(!dec.remoteOnly().some((e) => b4a.equals(e, z)), 'z not peeled where it does not map')

  // honest stream with one symbol corrupted: never decodes to a wrong answer
  let caught = 0
  for (let trial = 0; trial < 40; trial++) {
    const s2 = r.bytes(32)
    const e2 = new Encoder({ salt: s2 })
    const d2 = new Decoder({ salt: s2 })
    const shared = elements(r, 50)
    const remote = elements(r, 8)
    const local = elements(r, 8)
    for (const e of [...shared, ...remote]) e2.add(e)
    for (const e of [...shared, ...local]) d2.add(e)
    const syms = e2.produce(200)
    const k = r.int(30)
    const s = syms[k]
    const kind = r.int(3)
    syms[k] = kind === 0
      ? { ...s, sum: s.sum.map((v, i) => i === 3 ? v ^ 1 : v) }
      : kind === 1 ? { ...s, checksum: (s.checksum ^ 0x100) >>> 0 } : { ...s, count: s.count + 1 }
    let i = 0
    while (i < syms.length && !d2.addSymbols(syms.slice(i, i + 4))) i += 4
    if (d2.decoded()) {
      t.ok(JSON.stringify(hex(d2.remoteOnly())) === JSON.stringify(hex(remote)) && JSON.stringify(hex(d2.localOnly())) === JSON.stringify(hex(local)), 'decoded only if right')
    } else caught++
  }
  t.ok(caught >= 30, `${caught} of 40 corrupted streams failed or never decoded`)
})

test('hostile: crafted pure symbols cannot produce more elements than symbols', (t) => {
  const r = rng(14)
  const salt = r.bytes(32)
  const dec = new Decoder({ salt }) // an empty local set: every crafted pure symbol is pure here
  let bounded = true
  dec.addSymbols([{ sum: r.bytes(14), checksum: r.u32(), count: 2 ** 32 }]) // claims a huge set
  for (let i = 0; i < 300 && !dec.failed(); i++) {
    const x = r.bytes(14)
    // pure-looking symbols with valid checksums: each claims a new remote element
    dec.addSymbols([{ sum: x, checksum: modelHash(x, salt).checksum, count: 1 }])
    if (dec.remoteOnly().length + dec.localOnly().length > dec.received) bounded = false
  }
  t.ok(bounded, `bounded (${dec.remoteOnly().length} elements from ${dec.received} symbols, failed: ${dec.failed()})`)
  t.absent(dec.decoded())
})
