'use strict'
// hyper-multifeed (issue 12): authorized multifeeds.
//
// Prepared once (lib/hmf-state.js 'authorized-pair', cached): A, the owner, with --feeds writers of one
// 100-byte block, each authorized by a signed record; B, a member, synced from A. Per run, on copies:
//
//   --mode reconnect      A and B reopened from disk, replicated: two in-sync peers with --feeds
//                         authorized feeds and as many records (bytes on the wire after the Noise
//                         handshake, time replicate() -> synced(), exchange mode).
//   --mode first-contact  A and a new member: everything it learns (exchange bytes: feed entries,
//                         record ids and records) per feed, against 32 + 64 B (a key and a signature);
//                         time until it holds every feed.
//   --mode flood          B (honest, in sync with A) connects to a member that advertises --flood fresh
//                         keys (a hand-driven peer) and to A, whose --changed writers grew while apart:
//                         feeds B records from the flood (0), B's peak RSS growth, and the time until B
//                         holds A's new blocks.
//
//   node bench/scenario-hmf-authorized.js [--feeds 10000] [--mode reconnect|first-contact|flood] [--flood 100000] [--changed 100]

const path = require('path')
const Corestore = require('corestore')
const Hypercore = require('hypercore')
const c = require('compact-encoding')
const crypto = require('hypercore-crypto')
const m = require('./lib/measure')
const hmf = require('./lib/hmf')
const { pipeCounted } = require('./lib/counter')

const Multifeed = hmf.load()
const messages = require('../dist/lib/messages.js')
const caps = require('../dist/lib/caps.js')
const opts = m.args({ feeds: 10000, mode: 'reconnect', flood: 100000, changed: 100, cache: true })
const round = hmf.round

// Replicates a and b over a counted pipe until both are synced: time, wire bytes after the Noise
// handshake, and b's exchange (taken before the streams close).
async function replicateUntilSynced (a, b) {
  const t0 = m.now()
  const s1 = a.replicate(true)
  const s2 = b.replicate(false)
  const counted = pipeCounted(s1, s2)
  await Promise.race([Promise.all([a.synced(), b.synced()]), hmf.failOnError(s1, s2)])
  const timeMs = m.now() - t0
  const ex = hmf.exchangeSummary(b)
  const bytes = counted.summary().bytes
  s1.destroy(); s2.destroy()
  return { timeMs, bytes, ex }
}

// A member that advertises `n` fresh keys: the multifeed channel driven by hand (a list of n entries).
async function flooder (multi, n) {
  const store = new Corestore(m.tmpdir('hmf-flooder-'))
  const stream = store.replicate(true)
  const muxer = Hypercore.getProtocolMuxer(stream)
  const remote = multi.replicate(false)
  stream.pipe(remote).pipe(stream)
  stream.on('error', () => {})
  remote.on('error', () => {})
  const noise = muxer.stream
  if (!noise.handshakeHash) await noise.opened
  const channel = muxer.createChannel({
    protocol: messages.PROTOCOL,
    id: multi.discoveryKey,
    handshake: c.raw,
    messages: [0, 1, 2, 3, 4, 5, 6].map(() => ({ encoding: c.raw, onmessage: () => {} }))
  })
  channel.open(messages.encode(messages.handshake, { version: messages.VERSION, client: 'MULTIFEED', capability: caps.capability(true, multi.key, noise.handshakeHash), owner: multi.owner }))
  channel.messages[0].send(messages.encode(messages.summary, { count: n, digest: crypto.randomBytes(32) }))
  const max = messages.LIMITS.maxEntriesPerMessage
  for (let i = 0; i < n; i += max) {
    const entries = []
    for (let j = i; j < Math.min(n, i + max); j++) entries.push({ key: crypto.randomBytes(32), length: 1 })
    channel.messages[1].send(messages.encode(messages.feeds, { last: i + max >= n, entries }))
  }
  return { async close () { stream.destroy(); remote.destroy(); await store.close() } }
}

async function run () {
  const state = await hmf.cachedState('authorized-pair', { feeds: opts.feeds, blocks: 1, size: 100 }, { noCache: !opts.cache })
  const meta = state.meta
  const dirA = hmf.copyState(path.join(state.dir, 'a'), m.tmpdir)

  if (opts.mode === 'reconnect') {
    const dirB = hmf.copyState(path.join(state.dir, 'b'), m.tmpdir)
    const a = new Multifeed(dirA)
    const b = new Multifeed(dirB)
    await Promise.all([a.ready(), b.ready()])
    if (a.size !== meta.feeds || b.size !== meta.feeds) throw new Error('expected ' + meta.feeds + ' feeds')
    const { timeMs, bytes, ex } = await replicateUntilSynced(a, b)
    await Promise.all([a.close(), b.close()])
    return { scenario: 'hmf-authorized', mode: 'reconnect', feeds: meta.feeds, timeMs: round(timeMs), bytes, exchangeBytes: ex.exchangeBytes, exchangeMode: ex.mode }
  }

  if (opts.mode === 'first-contact') {
    const a = new Multifeed(dirA)
    const b = new Multifeed(m.tmpdir('hmf-member-'), { key: meta.joinKey, maxFeeds: Math.max(100000, meta.feeds) })
    await Promise.all([a.ready(), b.ready()])
    const { timeMs, bytes, ex } = await replicateUntilSynced(a, b)
    const held = b.list().filter((f) => f.length === 1).length
    await Promise.all([a.close(), b.close()])
    if (held !== meta.feeds) throw new Error('the member holds ' + held + ' of ' + meta.feeds + ' feeds')
    return { scenario: 'hmf-authorized', mode: 'first-contact', feeds: meta.feeds, timeMs: round(timeMs), exchangeBytes: ex.exchangeBytes, exchangeBytesPerFeed: round(ex.exchangeBytes / meta.feeds), bytes, exchangeMode: ex.mode }
  }

  if (opts.mode === 'flood') {
    const dirB = hmf.copyState(path.join(state.dir, 'b'), m.tmpdir)
    // A's writers grow while apart
    const a0 = new Multifeed(dirA)
    await a0.ready()
    const grown = []
    for (let i = 0; i < opts.changed; i++) {
      const w = await a0.writer(meta.prefix + Math.floor(i * meta.feeds / opts.changed))
      await w.append(Buffer.alloc(100, 0xee))
      grown.push(w.key.toString('hex'))
      await w.close()
    }
    await a0.close()
    const a = new Multifeed(dirA)
    const b = new Multifeed(dirB, { maxFeeds: Math.max(opts.flood, meta.feeds) })
    await Promise.all([a.ready(), b.ready()])
    const sizeBefore = b.size
    m.gc()
    const before = m.rss()
    m.resetPeak()
    const t0 = m.now()
    const flood = await flooder(b, opts.flood)
    const s1 = a.replicate(true)
    const s2 = b.replicate(false)
    s1.pipe(s2).pipe(s1)
    const want = new Set(grown)
    const arrived = () => {
      let n = 0
      for (const f of b.list()) if (f.length === 2 && want.has(f.key.toString('hex'))) n++
      return n === want.size
    }
    await Promise.race([m.waitFor(arrived, { intervalMs: 20, what: 'the owner\'s grown feeds on the honest peer' }), hmf.failOnError(s1, s2)])
    const timeMs = m.now() - t0
    const peakGrowthMB = m.toMB(m.peakRss() - before)
    const recorded = b.size - sizeBefore
    await flood.close()
    s1.destroy(); s2.destroy()
    await Promise.all([a.close(), b.close()])
    return { scenario: 'hmf-authorized', mode: 'flood', feeds: meta.feeds, flood: opts.flood, changed: opts.changed, recorded, peakGrowthMB, timeMs: round(timeMs) }
  }
  throw new Error('--mode must be reconnect, first-contact or flood')
}

m.main(run)
