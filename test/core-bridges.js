// Multifeeds of two Corestores on one connection that both hold a feed: protomux carries one Hypercore
// channel per feed there, and it serves one store's copy. The other copy reaches the remote through a
// bridge to that copy (lib/core-bridges.ts).
const test = require('brittle')
const Corestore = require('corestore')
const crypto = require('hypercore-crypto')
const { Multifeed, pipe, until, bounded, closed, storeLink, relayAheadOfUpgrade } = require('./helpers')

const lengthOf = (m, key) => (m.list().find((f) => f.key.equals(key)) || { length: -1 }).length

// Device C writes `feeds` feeds in groups k1 and k2 (the first is F). Side A keeps group k1 (x) in storeA and
// group k2 (y) in storeA2; side B keeps both groups (x2, y2) in storeB. `give(...to)` syncs C's feeds with the
// given multifeeds of A or B, one pair of streams each (closed after), so each copy can be left at a
// different length. `opts`: options of A's multifeeds.
async function crossStoreGroups (t, { feeds = 1, opts = {} } = {}) {
  const stores = []
  const multifeeds = []
  const store = async () => { const s = new Corestore(await t.tmp()); stores.push(s); return s }
  const open = async (s, key, o = {}) => { const m = new Multifeed(s, { key, stallTimeout: 5000, ...o }); multifeeds.push(m); await m.ready(); return m }
  t.teardown(async () => {
    for (const m of multifeeds) await m.close()
    for (const s of stores) await s.close()
  })
  const k1 = crypto.randomBytes(32)
  const k2 = crypto.randomBytes(32)
  const [storeA, storeA2, storeB, storeC] = [await store(), await store(), await store(), await store()]
  const c = { [k1.toString('hex')]: await open(storeC, k1), [k2.toString('hex')]: await open(storeC, k2) }
  const writers = []
  for (let i = 0; i < feeds; i++) {
    const keyPair = crypto.keyPair()
    writers.push(await c[k1.toString('hex')].writer('w' + i, { keyPair }))
    await c[k2.toString('hex')].writer('w' + i, { keyPair }) // one feed, in both groups
  }
  const x = await open(storeA, k1, opts)
  const y = await open(storeA2, k2, opts)
  const x2 = await open(storeB, k1)
  const y2 = await open(storeB, k2)
  const give = async (...to) => {
    for (const m of to) {
      const from = c[m.key.toString('hex')]
      const [s1, s2] = pipe(from, m)
      await bounded(t, until(m, ['feed', 'synced'], () => writers.every((w) => lengthOf(m, w.key) === w.length) && m.isSynced()), 'C\'s feeds to sync')
      s1.destroy()
      await Promise.all([closed(s1), closed(s2)]) // C's channels go with them: later blocks stay with C
    }
  }
  // one connection between A and B, made by storeA; x joins it first, so its copy answers B's open of F.
  // `appSession`: an app on side A reads F from storeA (an active session), so corestore attaches storeA's
  // copy to the connection, and it holds F's channel from the start
  const connect = async ({ appSession = false } = {}) => {
    if (appSession) {
      const session = storeA.get({ key: writers[0].key })
      t.teardown(() => session.close(), { order: 0 })
      await session.ready()
    }
    const s1 = storeA.replicate(true)
    const s2 = storeB.replicate(false)
    s1.pipe(s2).pipe(s1)
    for (const m of [x, y]) m.replicate(s1)
    for (const m of [x2, y2]) m.replicate(s2)
  }
  return { w: writers[0], writers, x, y, x2, y2, give, connect }
}

test('a copy whose channel another Corestore\'s copy holds uploads through a bridge to it', async (t) => {
  const { w, x, y, x2, y2, give, connect } = await crossStoreGroups(t)
  await w.append('one')
  await give(x, y, x2, y2)
  await w.append('two')
  await give(y) // storeA2's copy is ahead of storeA's and storeB's
  await connect({ appSession: true })
  for (const [m, name] of [[x2, 'group k1 on B'], [y2, 'group k2 on B'], [x, 'group k1 on A (storeA)']]) {
    await bounded(t, until(m, ['synced', 'feed', 'exchange'], () => lengthOf(m, w.key) === 2), `block 2 to reach ${name}`, 4000)
  }
  t.is(lengthOf(y2, w.key), 2, 'B holds the block only storeA2 had, over a channel storeA\'s copy holds')
})

test('a copy whose channel another Corestore\'s copy holds downloads through a bridge to it', async (t) => {
  const { w, x, y, x2, y2, give, connect } = await crossStoreGroups(t)
  await w.append('one')
  await give(x, y, x2, y2)
  await w.append('two')
  await give(x2) // storeB's copy is ahead of both copies on A
  await connect()
  for (const [m, name] of [[x, 'group k1 on A (storeA)'], [y, 'group k2 on A (storeA2)']]) {
    await bounded(t, until(m, ['synced', 'feed', 'exchange'], () => lengthOf(m, w.key) === 2), `block 2 to reach ${name}`, 4000)
  }
  t.is(lengthOf(y, w.key), 2, 'both copies on A hold the new block, though one channel carries it')
})

test('bridges on one connection stay within its windows', async (t) => {
  const { writers, x, y, x2, y2, give, connect } = await crossStoreGroups(t, { feeds: 6, opts: { maxDownloads: 1 } })
  for (const w of writers) await w.append('one')
  await give(x, y, x2, y2)
  for (const w of writers) await w.append('two')
  await give(x2) // storeB's copies are ahead of both copies on A, feed by feed
  let most = 0
  for (const m of [x, y]) {
    const open = m.transfers.bridges.open.bind(m.transfers.bridges)
    m.transfers.bridges.open = (...args) => { open(...args); most = Math.max(most, m.transfers.bridges.size) }
  }
  await connect()
  for (const [m, name] of [[x, 'group k1 on A (storeA)'], [y, 'group k2 on A (storeA2)']]) {
    await bounded(t, until(m, ['synced', 'feed', 'exchange'], () => writers.every((w) => lengthOf(m, w.key) === 2)), `every feed's second block to reach ${name}`, 8000)
  }
  t.ok(most > 0, `feeds were bridged (at most ${most} at once)`)
  t.ok(most <= 2, 'at most the download and upload windows of bridges per multifeed and connection (1 + 1)')
})

test('multifeeds on two sessions of one Corestore share its cores: nothing is bridged', async (t) => {
  const storeA = new Corestore(await t.tmp())
  const storeB = new Corestore(await t.tmp())
  const sessionA = storeA.session()
  const opened = []
  const open = async (store, key) => { const m = new Multifeed(store, { key }); opened.push(m); await m.ready(); return m }
  t.teardown(async () => {
    for (const m of opened) await m.close()
    await sessionA.close()
    await Promise.all([storeA.close(), storeB.close()])
  })
  const k1 = crypto.randomBytes(32)
  const k2 = crypto.randomBytes(32)
  const keyPair = crypto.keyPair()
  const [a1, a2, b1, b2] = [await open(storeA, k1), await open(sessionA, k2), await open(storeB, k1), await open(storeB, k2)]
  const w = await a1.writer('w', { keyPair })
  await a2.writer('w', { keyPair }) // the same feed in both groups, one core
  let bridged = 0
  for (const m of [a1, a2, b1, b2]) {
    const openBridge = m.transfers.bridges.open.bind(m.transfers.bridges)
    m.transfers.bridges.open = (...args) => { bridged++; openBridge(...args) }
  }
  const s1 = storeA.replicate(true)
  const s2 = storeB.replicate(false)
  s1.pipe(s2).pipe(s1)
  for (const m of [a1, a2]) m.replicate(s1)
  for (const m of [b1, b2]) m.replicate(s2)
  for (let i = 0; i < 3; i++) {
    await w.append('block ' + i)
    for (const m of [b1, b2]) await bounded(t, until(m, ['synced', 'feed', 'exchange'], () => lengthOf(m, w.key) === i + 1), `block ${i} to reach B`, 4000)
  }
  t.is(bridged, 0, 'no bridge between two sessions of one Corestore')
})

// The copy on the channel (here a plain Corestore's: no multifeed follows it) serves a peer c that is behind
// it, in the state a relay that took the newest block first is left in (helpers.js relayAheadOfUpgrade):
// hypercore decided once that the copy cannot upgrade c. The blocks that let it come over the bridge, and
// hypercore looks again only for the bridge's peer: the bridge asks again for the copy's other peers.
test('a copy that takes the blocks behind its newest over a bridge lets a peer behind it upgrade', async (t) => {
  const { CoreBridges } = require('../dist/lib/core-bridges.js')
  const stores = []
  for (let i = 0; i < 3; i++) stores.push(new Corestore(await t.tmp()))
  t.teardown(async () => { for (const s of stores) await s.close() }, { order: 3 })
  const [writerStore, ours, theirs] = stores
  const writer = writerStore.get({ name: 'w', valueEncoding: 'utf-8' })
  t.teardown(() => writer.close(), { order: 1 })
  for (let i = 0; i < 35; i++) await writer.append('block ' + i)
  const copy = theirs.get({ key: writer.key })
  t.teardown(() => copy.close(), { order: 1 })
  let cut = storeLink(writerStore, theirs)
  await bounded(t, copy.download({ start: 0, end: 35 }).done(), 'their copy to have 35 blocks')
  await cut()

  const { c, toWriter } = await relayAheadOfUpgrade(t, { writer, writerStore, relayStore: theirs })
  await toWriter() // from here their copy gets blocks from ours only, over the bridge
  const mine = ours.get({ key: writer.key })
  t.teardown(() => mine.close(), { order: 1 })
  cut = storeLink(writerStore, ours)
  await bounded(t, mine.download({ start: 0, end: 39 }).done(), 'our copy to have 39 blocks')
  await cut()

  const bridges = new CoreBridges(ours, 2)
  t.teardown(() => bridges.closeAll(), { order: 0 })
  bridges.open({ key: writer.key, hex: writer.key.toString('hex') }, theirs, 'the connection')
  t.is(await bounded(t, c.get(38), 'c to upgrade from their copy', 5000), 'block 38')
  t.is(await c.get(37), 'block 37')
})

// Past its cap a connection stops being served by its oldest bridge, but not by one that carries a transfer
// of that connection: a member of another group who makes that group's Corestore attach our feeds one after
// another (each asks for a bridge) must not close the bridge a download goes over. The scheduler says which
// carry one: a feed downloading, lingering or uploading on that connection.
test('a connection past its cap of bridges lets go of an idle one, never of one a transfer goes over', async (t) => {
  const { TransferScheduler } = require('../dist/lib/transfers.js')
  const { ours, theirs, records } = await bridgeStores(t, 4)
  const host = { closing: null, recordOf: () => undefined, openCore: () => null, closeCore: () => {}, onstalled: () => {} }
  const scheduler = new TransferScheduler(host, { maxDownloads: 1, maxUploads: 1, maxTotalDownloads: 8, stallTimeout: 10000 }, ours, null)
  t.teardown(() => scheduler.close(), { order: 0 })
  const bridges = scheduler.bridges // a cap of 2 per connection (1 + 1)
  const conn = {}
  const link = scheduler.connect(conn)
  const [carrying, idle, next, last] = records
  link.downloads.set(carrying.hex, Date.now()) // a download goes over the first bridge
  bridges.open(carrying, theirs, conn)
  bridges.open(idle, theirs, conn)
  bridges.open(next, theirs, conn)
  t.ok(bridges.has(carrying), 'the bridge a download goes over stays')
  t.absent(bridges.has(idle), 'the idle bridge closed instead')
  t.ok(bridges.has(next))
  link.uploads.set(next.hex, 3) // the remote fetches the next feed from us
  bridges.open(last, theirs, conn)
  t.absent(bridges.has(last), 'every bridge of the connection carries a transfer: none is added')
  t.ok(bridges.has(carrying) && bridges.has(next), 'and none of those closes')
})

// One bridge per feed serves every connection where the same copy holds the feed's channel: it closes with
// the last of them, not with the first (the others' transfers over it would stall until the feed next
// moved); its blocks count for a connection that transfers the feed; joining it counts against the cap
// of the connection that joins; and where another store's copy holds the channel, it serves nothing.
test('a bridge that serves two connections stays until both closed', async (t) => {
  const { CoreBridges } = require('../dist/lib/core-bridges.js')
  const { ours, theirs, other, records } = await bridgeStores(t, 3)
  const [record, second, third] = records
  const busy = new Set()
  const bridges = new CoreBridges(ours, 1, (hex, exchange) => busy.has(exchange + ':' + hex))
  t.teardown(() => bridges.closeAll(), { order: 0 })
  bridges.open(record, theirs, 'first')
  bridges.open(record, theirs, 'second')
  t.ok(bridges.serves(record, 'first') && bridges.serves(record, 'second'))
  t.is(bridges.size, 1, 'one bridge for the feed')
  const muxer = bridgeMuxer(bridges, record)
  t.is(bridges.exchangeOf(muxer, record.hex), 'first', 'its blocks count for the first connection')
  busy.add('second:' + record.hex)
  t.is(bridges.exchangeOf(muxer, record.hex), 'second', 'or for one that downloads or uploads the feed')
  bridges.open(second, other, 'third')
  bridges.open(record, theirs, 'third') // the cap of 1 is taken by the bridge of `second` (idle: it goes)
  t.ok(bridges.serves(record, 'third') && !bridges.has(second), 'joining counts against the cap of the connection that joins')
  bridges.open(third, other, 'third')
  bridges.open(third, theirs, 'fourth')
  t.absent(bridges.serves(third, 'fourth'), 'a bridge to another store\'s copy does not serve a connection where this one holds the channel')
  bridges.closeAll('first')
  t.ok(bridges.has(record), 'the first connection closed: the bridge stays for the others')
  bridges.closeAll('second')
  bridges.closeAll('third')
  t.absent(bridges.has(record), 'closed with the last connection it served')
})

async function bridgeStores (t, n) {
  const ours = new Corestore(await t.tmp())
  const theirs = new Corestore(await t.tmp())
  const other = new Corestore(await t.tmp())
  t.teardown(async () => { for (const s of [ours, theirs, other]) await s.close() }, { order: 3 })
  const records = []
  for (let i = 0; i < n; i++) {
    const core = ours.get({ name: 'f' + i })
    await core.ready()
    t.teardown(() => core.close(), { order: 1 })
    records.push({ key: core.key, hex: core.key.toString('hex') })
  }
  return { ours, theirs, other, records }
}

function bridgeMuxer (bridges, record) {
  return bridges.bridges.get(record.hex).muxer
}
