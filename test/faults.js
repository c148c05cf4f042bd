// Broken connections: replication streams cut at random points of the exchange and of data replication (after
// N bytes, mid-frame, or by a corrupted byte), reconnected again and again. The two sides must converge to the
// same feeds at the same lengths, with no duplicates, no leaked connections, listeners or download ranges.
const test = require('brittle')
const b4a = require('b4a')
const crypto = require('hypercore-crypto')
const { create, Multifeed } = require('./helpers.js')
const { rng } = require('./fuzz/engine.js')

const SEED = Number(process.env.MF_FAULTS_SEED) || (Date.now() % 1e9)
const CYCLES = 50

// Relays bytes between two replication streams and breaks the connection after `limit` bytes in total.
function cutRelay (s1, s2, { limit, how }) {
  let bytes = 0
  let cut = false
  const errors = []
  s1.on('error', (e) => errors.push(e))
  s2.on('error', (e) => errors.push(e))
  const onCut = []
  const doCut = () => {
    if (cut) return
    cut = true
    const err = new Error('fault injected')
    err.code = 'ERR_FAULT_INJECTED'
    if (how === 'destroy-one') s1.destroy(err)
    else {
      s1.destroy(err)
      s2.destroy(err)
    }
    for (const fn of onCut) fn()
  }
  const forward = (from, to) => from.on('data', (chunk) => {
    if (cut || to.destroyed) return
    const room = limit - bytes
    if (chunk.byteLength <= room) {
      bytes += chunk.byteLength
      to.write(chunk)
      return
    }
    // the cut lands inside this chunk
    if (how === 'corrupt') {
      const bad = b4a.from(chunk)
      bad[Math.max(0, room)] ^= 0x40
      bytes += chunk.byteLength
      to.write(bad) // the receiver's decryption fails: it destroys its stream itself
      limit = Infinity
      cut = true
      for (const fn of onCut) fn()
      return
    }
    if (how === 'mid-frame' && room > 0) to.write(chunk.subarray(0, room))
    bytes = limit
    doCut()
  })
  forward(s1, s2)
  forward(s2, s1)
  // one side ending ends the other (as a socket would)
  s1.on('close', () => s2.destroy())
  s2.on('close', () => s1.destroy())
  return { get bytes () { return bytes }, get cut () { return cut }, onCut, errors }
}

function closed (s) {
  return new Promise((resolve) => s.destroyed ? resolve() : s.once('close', resolve))
}

// the feeds that hold data: an empty writer is never advertised to a peer that lacks it (nothing to fetch)
function state (m) {
  return m.list().filter((f) => f.length > 0).map((f) => b4a.toString(f.key, 'hex') + ':' + f.length).sort().join(',')
}

// Resolves when both multifeeds list the same feeds at the same lengths and are synced (checked on events).
// `cancel` removes every listener it added (a cycle that ends at its cut must not leave any behind).
function converged (a, b, timeoutMs = 30000) {
  let cancel = null
  const promise = new Promise((resolve, reject) => {
    const events = ['feed', 'synced', 'exchange', 'exchange-close']
    const check = () => {
      if (!(a.isSynced() && b.isSynced() && state(a) === state(b))) return
      cleanup()
      resolve()
    }
    const timer = setTimeout(() => { cleanup(); reject(new Error('did not converge: ' + state(a).length + ' vs ' + state(b).length)) }, timeoutMs)
    const cores = []
    const cleanup = () => {
      clearTimeout(timer)
      for (const m of [a, b]) for (const e of events) m.off(e, check)
      for (const c of cores) { c.off('download', check); c.off('append', check) }
    }
    for (const m of [a, b]) for (const e of events) m.on(e, check)
    // lengths grow on downloads, which the multifeed does not always re-emit: watch the cores too
    for (const m of [a, b]) for (const core of m.feeds()) { cores.push(core); core.on('download', check); core.on('append', check) }
    cancel = () => { cleanup(); resolve() }
    check()
  })
  promise.cancel = cancel
  return promise
}

function listenerFigures (m) {
  let multi = 0
  for (const name of m.eventNames()) multi += m.listenerCount(name)
  let core = 0
  let ranges = 0
  let maxRanges = 0
  for (const c of m.feeds()) {
    for (const name of c.eventNames()) core += c.listenerCount(name)
    if (c.core && c.core.replicator) {
      const n = c.core.replicator._ranges.length
      ranges += n
      maxRanges = Math.max(maxRanges, n)
    }
  }
  return { multi, core, ranges, maxRanges, connections: m.connections.length }
}

test(`broken connections: ${CYCLES} cycles of cut, corrupted and truncated streams, then convergence`, { timeout: 60000 }, async (t) => {
  const r = rng(SEED)
  const key = crypto.randomBytes(32)
  const dirA = await t.tmp()
  const dirB = await t.tmp()
  const a = await create(t, { key, valueEncoding: 'utf-8' }, dirA)
  const b = await create(t, { key, valueEncoding: 'utf-8' }, dirB)
  const writers = { a: [await a.writer('a0')], b: [await b.writer('b0')] }
  await writers.a[0].append('a0-0')
  await writers.b[0].append('b0-0')

  const hows = { 'destroy-both': 0, 'destroy-one': 0, 'mid-frame': 0, corrupt: 0 }
  let cuts = 0
  let completed = 0
  let bytesTotal = 0
  let early = null
  const t0 = Date.now()
  for (let cycle = 0; cycle < CYCLES; cycle++) {
    // both sides write between connections: new writers sometimes, appends always
    for (const side of ['a', 'b']) {
      const m = side === 'a' ? a : b
      if (r.bool(0.25)) writers[side].push(await m.writer(side + writers[side].length))
      for (let k = 0, n = 1 + r.int(4); k < n; k++) {
        const w = r.pick(writers[side])
        await w.append(`${side}-${cycle}-${k}-` + 'x'.repeat(r.int(2000)))
      }
    }
    const how = r.pick(Object.keys(hows))
    const limit = r.bool(0.15) ? Infinity : r.size(60000)
    const s1 = a.replicate(true)
    const s2 = b.replicate(false)
    const relay = cutRelay(s1, s2, { limit, how })
    // the cycle ends at the cut or, if the limit is never reached, once the two have converged
    const done = converged(a, b)
    await Promise.race([
      new Promise((resolve) => relay.onCut.push(resolve)),
      done.catch(() => {})
    ])
    done.cancel()
    if (relay.cut) { cuts++; hows[how]++ } else completed++
    bytesTotal += relay.bytes
    s1.destroy()
    s2.destroy()
    await Promise.all([closed(s1), closed(s2)])
    for (const e of relay.errors) {
      if (e.code && e.code.startsWith('ERR_') && !['ERR_FAULT_INJECTED'].includes(e.code) && !/^ERR_(BAD_MESSAGE|KEY_MISMATCH)$/.test(e.code)) t.fail(`unexpected stream error ${e.code}: ${e.message}`)
    }
    t.is(a.connections.length + b.connections.length, 0, `cycle ${cycle}: no exchange left once both streams closed`)
    // an app that reads every feed holds them: the held cores must not pile up listeners or ranges
    a.feeds()
    b.feeds()
    if (cycle === 9) early = { a: listenerFigures(a), b: listenerFigures(b) }
  }
  const late = { a: listenerFigures(a), b: listenerFigures(b) }
  t.comment(`seed ${SEED}: ${CYCLES} cycles in ${Date.now() - t0} ms: ${cuts} cut (${JSON.stringify(hows)}), ${completed} ran to convergence, ${bytesTotal} bytes relayed`)
  t.comment(`listeners and ranges at cycle 10 ${JSON.stringify(early)} and at cycle ${CYCLES} ${JSON.stringify(late)}`)

  // a clean connection: everything must converge
  const s1 = a.replicate(true)
  const s2 = b.replicate(false)
  s1.pipe(s2).pipe(s1)
  await converged(a, b)
  const la = a.list()
  const lb = b.list()
  t.is(la.length, writers.a.length + writers.b.filter((w) => w.length > 0).length, 'every writer of a, and every writer of b with data, is known to a')
  t.is(new Set(la.map((f) => b4a.toString(f.key, 'hex'))).size, la.length, 'no duplicate feeds on a')
  t.is(new Set(lb.map((f) => b4a.toString(f.key, 'hex'))).size, lb.length, 'no duplicate feeds on b')
  t.is(state(a), state(b), 'same feeds at the same lengths')
  for (const w of [...writers.a, ...writers.b]) {
    if (w.length === 0) continue
    const last = w.length - 1
    const expect = await w.get(last)
    t.is(await a.feed(w.key).get(last, { wait: false }), expect, 'a has the last block of ' + b4a.toString(w.key, 'hex').slice(0, 8))
    t.is(await b.feed(w.key).get(last, { wait: false }), expect, 'b has the last block of ' + b4a.toString(w.key, 'hex').slice(0, 8))
  }
  s1.destroy()
  await Promise.all([closed(s1), closed(s2)])
  t.is(a.connections.length + b.connections.length, 0, 'no exchange left')

  for (const side of ['a', 'b']) {
    t.ok(late[side].multi <= early[side].multi, `${side}: listeners on the multifeed do not grow (${early[side].multi} -> ${late[side].multi})`)
    t.ok(late[side].core <= early[side].core + 12 * la.length, `${side}: listeners on cores stay per-core (${early[side].core} -> ${late[side].core} for ${la.length} cores)`)
    t.ok(late[side].maxRanges <= 2, `${side}: download ranges per held core stay bounded (max ${late[side].maxRanges}, total ${late[side].ranges} over ${la.length} cores after ${CYCLES} reconnects)`)
  }

  // the index on disk agrees
  await a.close()
  await b.close()
  for (const [dir, expect] of [[dirA, la], [dirB, lb]]) {
    const m = new Multifeed(dir, { key })
    await m.ready()
    const keys = m.list().map((f) => b4a.toString(f.key, 'hex')).sort()
    t.alike(keys, expect.map((f) => b4a.toString(f.key, 'hex')).sort(), 'the index reloads the same feeds')
    await m.close()
  }
})
