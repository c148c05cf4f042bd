'use strict'
// hyper-multifeed (2, 3): reconnect of two peers that were in sync.
//
// Prepared once (lib/hmf-state.js 'pair', cached, see lib/hmf.js): A with
// --feeds writers of one 100-byte block each, B synced from A. Per run: copy
// both directories; with --changed d > 0, open A's copy, append one block to
// d of its writers (evenly spread), close it ("new blocks while apart"); then
// open both multifeeds fresh from disk (so no feed core is open), check
// openFeeds === 0, replicate over a counted pipe and wait until both sides'
// synced() resolve (B has downloaded the d new blocks).
//
// Prints (hook contract): bytes = wire bytes after the Noise handshake, both
// directions, counted at synced() (for d > 0 this includes the Hypercore
// replication of the d changed feeds); timeMs = replicate() -> synced().
// Also: exchangeBytes = the feed exchange channel's message bytes (both
// directions, from connection stats: what targets 3's "exchange bytes"
// measures), mode ('in-sync' | 'list' | 'sketch' | 'sketch-fallback'),
// openFeedsA/openFeedsB after the exchange (target 2: 0 when d = 0),
// bytesSettled (wire bytes 100 ms after synced(): nothing should follow).
//
// --held: as a real app behaves (the chat example): before replicating, both
// sides hold every feed (feeds()) and follow each with a live read stream;
// openFeedsA/openFeedsB then count those held cores.
//
//   node bench/scenario-hmf-reconnect.js [--feeds 10000] [--changed 0] [--held] [--no-cache] [--profile FILE]

const path = require('path')
const m = require('./lib/measure')
const { pipeCounted } = require('./lib/counter')
const hmf = require('./lib/hmf')
const { profiler } = require('./lib/profile')

const Multifeed = hmf.load()
const opts = m.args({ feeds: 10000, changed: 0, held: false, cache: true, profile: '' })
const prof = profiler(opts.profile) // --profile FILE: CPU profile of replicate() -> synced()
const round = hmf.round

// d of the n writers, evenly spread over the names
function changedNames (n, d, prefix) {
  const names = []
  for (let i = 0; i < d; i++) names.push(prefix + Math.floor(i * n / d))
  return names
}

async function run () {
  if (opts.changed > opts.feeds) throw new Error('--changed must be <= --feeds')
  const state = await hmf.cachedState('pair', { feeds: opts.feeds, blocks: 1, size: 100 }, { noCache: !opts.cache })
  const meta = state.meta
  const t0 = m.now()
  const dirA = hmf.copyState(path.join(state.dir, 'a'), m.tmpdir)
  const dirB = hmf.copyState(path.join(state.dir, 'b'), m.tmpdir)
  const copyMs = m.now() - t0

  const names = changedNames(meta.feeds, opts.changed, meta.prefix)
  if (names.length) {
    const a0 = new Multifeed(dirA)
    await a0.ready()
    const block = Buffer.alloc(meta.size, 0xee)
    await Promise.all(names.map(async (name) => {
      const w = await a0.writer(name)
      await w.append(block)
      await w.close()
    }))
    await a0.close()
  }

  const key = Buffer.from(meta.key, 'hex')
  const a = new Multifeed(dirA, { key })
  const b = new Multifeed(dirB, { key })
  await Promise.all([a.ready(), b.ready()])
  if (a.size !== meta.feeds || b.size !== meta.feeds) throw new Error('expected ' + meta.feeds + ' feeds, A has ' + a.size + ', B ' + b.size)
  const openBefore = a.openFeeds + b.openFeeds
  if (openBefore !== 0) throw new Error(openBefore + ' feed cores open before the reconnect')
  const follows = []
  if (opts.held) {
    for (const multi of [a, b]) {
      const feeds = multi.feeds()
      await Promise.all(feeds.map((f) => f.ready()))
      for (const f of feeds) {
        const rs = f.createReadStream({ live: true })
        rs.on('data', () => {})
        rs.on('error', () => {})
        follows.push(rs)
      }
    }
  }
  const changedHex = new Set()
  if (names.length) {
    const byName = new Map(a.list().map((f) => [f.name, f]))
    for (const n of names) {
      const f = byName.get(n)
      if (!f || f.length !== 2) throw new Error('A lists ' + n + ' at length ' + (f && f.length) + ', expected 2')
      changedHex.add(f.key.toString('hex'))
    }
  }
  m.gc()
  await prof.start()

  const t1 = m.now()
  const s1 = a.replicate(true)
  const s2 = b.replicate(false)
  const counted = pipeCounted(s1, s2)
  let exchangeDoneMs = null
  s2.once('remote-feeds', () => { exchangeDoneMs = m.now() - t1 })
  await Promise.race([Promise.all([a.synced(), b.synced()]), hmf.failOnError(s1, s2)])
  const timeMs = m.now() - t1
  await prof.stop()
  const summary = counted.summary()
  const ex = hmf.exchangeSummary(b)
  const openFeedsA = a.openFeeds
  const openFeedsB = b.openFeeds

  // B must now hold the d new blocks
  let upToDate = 0
  for (const f of b.list()) if (changedHex.has(f.key.toString('hex')) && f.length === 2) upToDate++
  if (upToDate !== changedHex.size) throw new Error('synced() resolved but B has ' + upToDate + ' of ' + changedHex.size + ' changed feeds at length 2')

  await new Promise((resolve) => setTimeout(resolve, 100))
  const settled = counted.summary()
  s1.destroy(); s2.destroy()
  for (const rs of follows) rs.destroy()
  await Promise.all([a.close(), b.close()])

  return {
    scenario: 'hmf-reconnect',
    feeds: meta.feeds,
    changed: opts.changed,
    held: opts.held,
    timeMs: round(timeMs),
    bytes: summary.bytes,
    exchangeBytes: ex.exchangeBytes,
    bytesAToB: summary.bytesAToB,
    bytesBToA: summary.bytesBToA,
    bytesSettled: settled.bytes,
    handshakeBytes: summary.handshakeBytes,
    mode: ex.mode,
    inSync: ex.inSync,
    exchangeMs: ex.exchangeMs,
    exchangeDoneMs: round(exchangeDoneMs),
    openFeedsA,
    openFeedsB,
    stateBuilt: state.built,
    stateBuildMs: state.buildMs,
    copyMs: Math.round(copyMs)
  }
}

m.main(run)
