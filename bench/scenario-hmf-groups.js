'use strict'
// hyper-multifeed (issue 13.2, 13.4): many groups on one connection.
//
// Side A and side B each have ONE Corestore holding --groups multifeeds
// (group g has the same random key on both sides). On A every group has
// --writers writers with --blocks blocks of --size bytes, closed by the app
// after appending (lib/hmf.js addWriters); B's groups are empty. One stream
// pair: storeA.replicate(true) piped (counted) to storeB.replicate(false), and
// every multifeed calls multi.replicate(stream) on its side's stream.
//
// 1. First sync (13.4): replicate -> every group of B synced() and listing
//    its --writers feeds at length --blocks. Prints syncMs, syncBytes (wire,
//    both directions, after the handshake), syncPeakRssMB (both sides, one
//    process, VmHWM reset after setup), setupMs (writers), openMs (opening
//    B's groups).
//    If synced() resolved with groups lacking feeds (syncedGroups <
//    --groups: downloads given up as stalled, stalledEvents), new connections
//    catch up (catchUps, catchUpMs, not measured) before step 2.
// 2. Disconnect (both streams destroyed) and, --delay ms after the first
//    sync (or the last catch-up) ended, reconnect on a new stream pair the
//    same way (13.2: 3500 ms, writers possibly still lingering in corestore;
//    ~15500 ms, after corestore collected the idle cores). Prints timeMs (replicate -> every group on
//    both sides synced()), bytes (wire at that point), bytesPerGroup,
//    bytesSettled (wire 100 ms later), inSyncGroups (groups whose exchange
//    ended in mode in-sync, of --groups), coreChannels (Hypercore channels
//    open on B's stream at synced()), openFeedsA/openFeedsB (feed cores the
//    groups hold after), coresA/coresB (cores each Corestore still held just
//    before the reconnect: the lingering ones).
//
// --hold-writers: A's app keeps its writers open (as the raw corestore baseline keeps its cores).
// --stream store (default): each side's connection is its Corestore's replicate(bool), every group
// replicating on it; --stream multifeed: the first group's replicate(bool) makes it. corestore.replicate()
// on the app's own Corestore attaches every core the app holds open, its writers too, to the stream
// (README, "Replication"); a multifeed's stream attaches none.
//
//   node bench/scenario-hmf-groups.js [--groups 200] [--writers 5] [--blocks 1] [--size 100] [--delay 3500] [--hold-writers] [--stream store|multifeed] [--profile FILE]

const crypto = require('crypto')
const Corestore = require('corestore')
const Hypercore = require('hypercore')
const m = require('./lib/measure')
const { pipeCounted } = require('./lib/counter')
const hmf = require('./lib/hmf')
const { profiler } = require('./lib/profile')

const Multifeed = hmf.load()
const opts = m.args({ groups: 200, writers: 5, blocks: 1, size: 100, delay: 3500, concurrency: 50, holdWriters: false, stream: 'store', profile: '' })
if (!['store', 'multifeed'].includes(opts.stream)) throw new Error('--stream store|multifeed')
const prof = profiler(opts.profile) // --profile FILE: CPU profile of the first sync
const round = hmf.round
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

// fn(item) for every item, `concurrency` at a time
async function batched (items, fn, concurrency = opts.concurrency) {
  const out = []
  for (let i = 0; i < items.length; i += concurrency) out.push(...await Promise.all(items.slice(i, i + concurrency).map(fn)))
  return out
}

// One stream pair, every group replicated on it. Resolves once every group
// (of B only, or of both sides) is synced.
function connect (storeA, storeB, groupsA, groupsB) {
  const byGroup = opts.stream === 'multifeed'
  const s1 = byGroup ? groupsA[0].replicate(true) : storeA.replicate(true)
  const s2 = byGroup ? groupsB[0].replicate(false) : storeB.replicate(false)
  const counted = pipeCounted(s1, s2)
  const errors = hmf.failOnError(s1, s2)
  for (const a of groupsA) a.replicate(s1)
  for (const b of groupsB) b.replicate(s2)
  return {
    s1,
    s2,
    counted,
    synced: (groups) => Promise.race([Promise.all(groups.map((g) => g.synced())), errors]),
    destroy () { s1.destroy(); s2.destroy() }
  }
}

// What happens to the groups' exchanges: closes (with their error; on a
// shared stream a failed exchange is only reported, the stream stays) and
// 'stalled' events (downloads given up after stallTimeout without a block).
function watchGroups (groups, t0) {
  const w = { closes: new Map(), stalled: 0, firstStallMs: null }
  for (const g of groups) {
    g.on('exchange-close', (ex, err) => { if (err) w.closes.set(g, { phase: ex.phase, error: err.code || err.message }) })
    g.on('channel-error', () => {}) // reported through exchange-close
    g.on('stalled', () => {
      w.stalled++
      if (w.firstStallMs === null) w.firstStallMs = Math.round(m.now() - t0)
    })
  }
  return w
}

// Groups of B that do not hold all their feeds at full length.
function incomplete (groupsB) {
  return groupsB.filter((b) => b.list().filter((f) => f.length >= opts.blocks).length !== opts.writers)
}

// What the incomplete groups show: feeds listed, their exchange.
function describe (groups, watch) {
  const tally = new Map()
  for (const b of groups) {
    const ex = b.connections[0]
    const c = watch.closes.get(b)
    const k = 'listed ' + b.size + ' (' + b.list().filter((f) => f.length >= opts.blocks).length + ' full), ' +
      (ex ? 'exchange ' + ex.mode + '/' + ex.phase + (ex.synced ? ' synced' : '') + (ex.stalled.size ? ', ' + ex.stalled.size + ' stalled' : '') : c ? 'exchange closed in ' + c.phase + ' (' + c.error + ')' : 'no exchange')
    tally.set(k, (tally.get(k) || 0) + 1)
  }
  return [...tally].map(([k, n]) => n + ' x ' + k).join('; ')
}

function coreChannels (stream) {
  return [...Hypercore.getProtocolMuxer(stream)].filter((ch) => ch.protocol === 'hypercore/alpha' && !ch.closed).length
}

async function run () {
  const storeA = new Corestore(m.tmpdir('hmf-bench-groups-a-'))
  const storeB = new Corestore(m.tmpdir('hmf-bench-groups-b-'))
  const keys = Array.from({ length: opts.groups }, () => crypto.randomBytes(32))
  const t0 = m.now()
  const groupsA = keys.map((key) => new Multifeed(storeA, { key }))
  const held = [] // --hold-writers: the app's open writers
  await batched(groupsA, async (a) => {
    await a.ready()
    held.push(...await hmf.addWriters(a, opts.writers, { blocks: opts.blocks, size: opts.size, keepOpen: opts.holdWriters }))
  })
  const setupMs = m.now() - t0
  const t1 = m.now()
  const groupsB = keys.map((key) => new Multifeed(storeB, { key }))
  await batched(groupsB, (b) => b.ready())
  const openMs = m.now() - t1

  // 1. first sync
  m.gc()
  m.resetPeak()
  await prof.start()
  const t2 = m.now()
  const watch = watchGroups([...groupsA, ...groupsB], t2)
  const first = connect(storeA, storeB, groupsA, groupsB)
  await first.synced(groupsB)
  const syncMs = m.now() - t2
  await prof.stop()
  const syncPeak = m.peakRss()
  const sync = first.counted.summary()
  const short = incomplete(groupsB)
  const syncedGroups = opts.groups - short.length
  const shortWhy = short.length ? describe(short, watch) : ''
  first.destroy()
  let syncEnd = m.now()

  // Groups that synced() without their feeds (downloads given up as stalled):
  // catch up on new connections, not measured, so that the reconnect below
  // is one of peers in sync.
  let catchUps = 0
  const t4 = m.now()
  while (incomplete(groupsB).length) {
    if (++catchUps > 3) throw new Error('after 3 catch-up connections ' + incomplete(groupsB).length + ' groups of B still lack feeds: ' + describe(incomplete(groupsB), watch))
    const c = connect(storeA, storeB, groupsA, groupsB)
    await c.synced(groupsB)
    c.destroy()
    syncEnd = m.now()
  }
  const catchUpMs = catchUps ? m.now() - t4 : 0

  // 2. reconnect --delay ms after the first sync
  const wait = syncEnd + opts.delay - m.now()
  if (wait > 0) await sleep(wait)
  const delayMs = m.now() - syncEnd
  const coresA = storeA.cores.size
  const coresB = storeB.cores.size
  m.gc()
  const t3 = m.now()
  const again = connect(storeA, storeB, groupsA, groupsB)
  await again.synced([...groupsA, ...groupsB])
  const timeMs = m.now() - t3
  const summary = again.counted.summary()
  const channels = coreChannels(again.s2)
  const inSyncGroups = groupsB.filter((b) => b.connections[0] && b.connections[0].mode === 'in-sync').length
  const openFeedsA = groupsA.reduce((s, a) => s + a.openFeeds, 0)
  const openFeedsB = groupsB.reduce((s, b) => s + b.openFeeds, 0)
  await sleep(100)
  const settled = again.counted.summary()
  again.destroy()
  await batched([...groupsA, ...groupsB], (g) => g.close())
  await Promise.all([storeA.close(), storeB.close()])

  return {
    scenario: 'hmf-groups',
    groups: opts.groups,
    holdWriters: opts.holdWriters,
    stream: opts.stream,
    heldWriters: held.length,
    writers: opts.writers,
    blocks: opts.blocks,
    size: opts.size,
    // first sync
    syncMs: round(syncMs),
    syncBytes: sync.bytes,
    syncBytesPerGroup: Math.round(sync.bytes / opts.groups),
    syncPeakRssMB: m.toMB(syncPeak),
    syncedGroups, // groups of B holding all their feeds when every group's synced() had resolved
    incompleteWhy: shortWhy, // what the other groups showed then
    stalledEvents: watch.stalled, // 'stalled' events during the first sync (stallTimeout without a block)
    firstStallMs: watch.firstStallMs,
    catchUps, // connections it took afterwards until every group held everything (not measured)
    catchUpMs: Math.round(catchUpMs),
    setupMs: round(setupMs),
    openMs: round(openMs),
    // reconnect
    delayMs: Math.round(delayMs),
    timeMs: round(timeMs),
    bytes: summary.bytes,
    bytesPerGroup: round(summary.bytes / opts.groups),
    bytesSettled: settled.bytes,
    inSyncGroups,
    coreChannels: channels,
    openFeedsA,
    openFeedsB,
    coresA,
    coresB
  }
}

m.main(run)
