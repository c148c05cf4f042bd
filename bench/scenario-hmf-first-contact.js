'use strict'
// hyper-multifeed (4): first contact, B (empty) learns A's feed list.
//
// Prepared once (lib/hmf-state.js 'sender', cached, see lib/hmf.js): A with
// --feeds writers of one 100-byte block each (protocol 3.2.1 advertises only
// feeds that hold a block). Per run: copy A, open it and an empty B with the
// shared key (maxFeeds >= --feeds; the default is 100,000) whose accept()
// declines every feed, replicate over a counted pipe and wait until B's stream
// emits 'remote-feeds' (B's exchange finished) with every feed in what B's
// exchange learned of A, then both sides' synced(). B records and fetches none
// of them, so this measures the list alone.
//
// Prints (hook contract): bytes = wire bytes after the Noise handshake, both
// directions, at that moment; timeMs = replicate() -> B knows all feeds.
// Also exchangeBytes (the exchange channel's message bytes, both
// directions), bytesPerFeed, mode, peakRssMB / peakGrowthMB (both peers, one
// process), openMs (opening A with --feeds feeds, outside the clock).
//
//   node --expose-gc bench/scenario-hmf-first-contact.js [--feeds 100000] [--no-cache] [--profile FILE] [--timeout MS]

const path = require('path')
const m = require('./lib/measure')
const { pipeCounted } = require('./lib/counter')
const hmf = require('./lib/hmf')
const { profiler } = require('./lib/profile')

const Multifeed = hmf.load()
const opts = m.args({ feeds: 100000, cache: true, profile: '', timeout: 0 })
const prof = profiler(opts.profile) // --profile FILE: CPU profile of replicate() -> B knows all feeds
const round = hmf.round

async function run () {
  const state = await hmf.cachedState('sender', { feeds: opts.feeds, blocks: 1 }, { noCache: !opts.cache })
  const meta = state.meta
  const n = meta.feeds
  const maxFeeds = Math.max(100000, n)
  const extra = opts.timeout > 0 ? { timeout: opts.timeout } : {} // --timeout ms: the exchange's idle timeout (default: the library's)
  const dirA = hmf.copyState(path.join(state.dir, 'a'), m.tmpdir)
  const key = Buffer.from(meta.key, 'hex')

  const t0 = m.now()
  const a = new Multifeed(dirA, { key, maxFeeds, ...extra })
  await a.ready()
  const openMs = m.now() - t0
  if (a.size !== n) throw new Error('A lists ' + a.size + ' feeds, expected ' + n)
  const b = new Multifeed(m.tmpdir('hmf-bench-fc-b-'), { key, maxFeeds, accept: () => false, ...extra })
  await b.ready()
  m.gc()
  const rssBefore = m.rss()
  m.resetPeak()
  await prof.start()

  const t1 = m.now()
  const s1 = a.replicate(true)
  const s2 = b.replicate(false)
  const counted = pipeCounted(s1, s2)
  const learned = new Promise((resolve) => s2.once('remote-feeds', resolve))
  try {
    await Promise.race([learned, hmf.failOnError(s1, s2)])
  } catch (err) {
    // say where it stood, so the error row in BENCHMARKS.md is a diagnosis
    throw new Error('first contact failed after ' + Math.round(m.now() - t1) + ' ms with B knowing ' + b.size + ' of ' + n +
      ' feeds, ' + a.openFeeds + ' feed cores open on A, ' + b.openFeeds + ' on B, ' + counted.summary().bytes + ' B on the wire: ' + err.message)
  }
  const timeMs = m.now() - t1
  await prof.stop()
  const summary = counted.summary()
  const learnedOfA = b.connections[0] ? b.connections[0].remote.size : 0
  if (learnedOfA !== n) throw new Error('B learned ' + learnedOfA + ' of ' + n + ' feeds')
  const ex = hmf.exchangeSummary(b)
  await Promise.race([Promise.all([a.synced(), b.synced()]), hmf.failOnError(s1, s2)])
  const syncedMs = m.now() - t1
  const peak = m.peakRss()
  const openFeedsA = a.openFeeds
  const openFeedsB = b.openFeeds
  s1.destroy(); s2.destroy()
  await Promise.all([a.close(), b.close()])

  return {
    scenario: 'hmf-first-contact',
    feeds: n,
    timeMs: round(timeMs),
    bytes: summary.bytes,
    bytesPerFeed: Math.round(summary.bytes / n * 100) / 100,
    exchangeBytes: ex.exchangeBytes,
    bytesAToB: summary.bytesAToB,
    bytesBToA: summary.bytesBToA,
    mode: ex.mode,
    exchangeMs: ex.exchangeMs,
    syncedMs: round(syncedMs),
    peakRssMB: m.toMB(peak),
    peakGrowthMB: m.toMB(peak - rssBefore),
    openFeedsA,
    openFeedsB,
    openMs: round(openMs),
    stateBuilt: state.built,
    stateBuildMs: state.buildMs
  }
}

m.main(run)
