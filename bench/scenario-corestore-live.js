'use strict'
// Baseline for issue 13.3 (live growth): raw corestore 7.
//
// Store A has a core (by name) with one block; store B opens it by key and
// holds a session with a live download (core.download({ start: 0, end: -1 }))
// for the whole run. A<->B replicate; once B has the first block, A appends
// --appends blocks of --size bytes one at a time, each waiting until B's
// contiguousLength reached it ('download' events). Prints p50Ms (also p90Ms,
// p99Ms, meanMs, maxMs) of append() called -> block at B, and bytesPerAppend
// (wire bytes both directions after the handshake, from before the first
// append to 200 ms after the last, / appends). See lib/live.js.
//
//   node bench/scenario-corestore-live.js [--appends 500] [--size 100] [--tcp]
//   node bench/scenario-corestore-live.js --line 7 [--rounds 10]
//
// --tcp: writer and reader in two processes over 127.0.0.1.
// --line n: n stores piped in a line (one process), A's core held by every
// other store with a live download; each of --rounds rounds appends one
// block at the first store and times until every store holds it. Prints
// timeMs (first -> last, median over rounds), perHopMs (that / (n - 1)),
// hopMs (each hop's median).

const Corestore = require('corestore')
const m = require('./lib/measure')
const live = require('./lib/live')

const opts = m.args({ appends: 500, size: 100, tcp: false, role: null, port: 0, info: '', line: 0, rounds: 10 })

// A core held with a live download; length() = what it holds from the start.
function follow (core) {
  const dl = core.download({ start: 0, end: -1 })
  return {
    length: () => core.contiguousLength,
    watch (notify) {
      core.on('download', () => notify())
      core.on('append', () => notify())
    },
    stop: () => dl.destroy()
  }
}

async function makeWriter (dir) {
  const store = new Corestore(dir)
  const core = store.get({ name: 'live' })
  await core.ready()
  await core.append(Buffer.alloc(opts.size, 0xaa))
  return {
    info: { key: core.key.toString('hex') },
    replicate: (isInitiator) => store.replicate(isInitiator),
    append: (buf) => core.append(buf),
    async close () { await core.close(); await store.close() }
  }
}

async function makeReader (dir, info) {
  const store = new Corestore(dir)
  const core = store.get({ key: Buffer.from(info.key, 'hex') })
  await core.ready()
  const f = follow(core)
  return {
    replicate: (isInitiator) => store.replicate(isInitiator),
    start: async () => {},
    length: f.length,
    watch: f.watch,
    async close () { f.stop(); await core.close(); await store.close() }
  }
}

async function line () {
  const n = opts.line
  const stores = []
  for (let i = 0; i < n; i++) stores.push(new Corestore(m.tmpdir('hmf-bench-line-')))
  const writer = stores[0].get({ name: 'line' })
  await writer.ready()
  await writer.append(Buffer.alloc(opts.size, 0xaa))
  const arrivals = []
  const follows = []
  for (let i = 1; i < n; i++) {
    const core = stores[i].get({ key: writer.key })
    await core.ready()
    const f = follow(core)
    const a = new live.Arrivals(f.length, { what: 'store ' + i + ': block' })
    f.watch((via) => a.check(via))
    arrivals.push(a)
    follows.push(f)
  }
  const net = live.pipeLine(stores)
  await Promise.all(arrivals.map((a) => a.at(1)))
  await live.sleep(200)
  const bytes0 = net.bytes()
  const res = await live.lineRounds(opts.rounds, async (r) => {
    const target = r + 2
    const t0 = m.now()
    await writer.append(live.block(r, opts.size))
    return { t0, times: await Promise.all(arrivals.map((a) => a.at(target))) }
  })
  const bytesPerRound = Math.round((net.bytes() - bytes0) / opts.rounds)
  net.destroy()
  for (const f of follows) f.stop()
  await Promise.all(stores.map((s) => s.close()))
  return { scenario: 'corestore-live-line', nodes: n, ...res, bytesPerRound }
}

if (opts.line) m.main(line)
else live.main(__filename, opts, { makeWriter, makeReader }, { scenario: 'corestore-live' })
