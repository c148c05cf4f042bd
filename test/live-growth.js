const test = require('brittle')
const b4a = require('b4a')
const crypto = require('hypercore-crypto')
const Corestore = require('corestore')
const { create, pipe, bounded, until, closed, poll, relayAheadOfUpgrade, twoGroupsSharingAFeed, Multifeed } = require('./helpers.js')

const hex = (key) => b4a.toString(key, 'hex')

function listed (m, key) {
  const f = m.list().find((f) => b4a.equals(f.key, key))
  return f ? f.length : 0
}

// Multifeed a, and b (same key) on a Corestore of the test's own: the test opens sessions of it too.
async function writerAndStoreReader (t) {
  const key = crypto.randomBytes(32)
  const a = await create(t, { key, valueEncoding: 'utf-8' })
  const store = new Corestore(await t.tmp())
  const b = new Multifeed(store, { key, valueEncoding: 'utf-8' })
  t.teardown(async () => { await b.close(); await store.close() }, { order: 1 })
  await b.ready()
  return { a, b, store }
}

test('live growth: a block that lands in the core after our session closed still moves the record', async (t) => {
  const { a, b, store } = await writerAndStoreReader(t)

  const w = await a.writer('w')
  await w.append('one')
  // another session of b's Corestore downloads the feed (the channel to a is then not the multifeed's
  // alone to close when the multifeed lets its own session go)
  const plain = store.get({ key: w.key })
  t.teardown(() => plain.close(), { order: 0 })
  await plain.ready()
  plain.download({ start: 0, end: -1 })
  pipe(a, b)
  await bounded(t, poll(() => b.isSynced() && listed(b, w.key) === 1), 'b to sync the first block')
  // nothing else needs b's core: the multifeed closes its session
  await bounded(t, poll(() => b.openFeeds === 0), 'b to close its session of the feed')

  // hypercore fetches the next block into that core, and a, seeing b's copy download and then hold it,
  // announces nothing
  await bounded(t, poll(() => w.peers.some((p) => p.remoteDownloading)), 'a to see b download the feed')
  const received = b.connections[0].stats.exchangeBytesReceived
  await w.append('two')
  await bounded(t, poll(() => plain.contiguousLength === 2), 'the block to reach b\'s core')

  await bounded(t, poll(() => listed(b, w.key) === 2), 'b\'s multifeed to learn the block its core holds')
  t.is(b.connections[0].stats.exchangeBytesReceived, received, 'a announced nothing: its Hypercore channel showed b holds the block')
  t.is(b.connections[0].remotePosition(hex(w.key)).length, 2, 'b learned a\'s length from that channel too')
  t.is(await b.feed(w.key).get(1), 'two')
})

// Two multifeeds of one Corestore share a feed. The remote's Hypercore channel shows what the *core*
// holds, so growth one of them downloads is not announced to the other: that one must follow the core
// whoever opened it (here a multifeed reopened on the store, which opens no core of its own).
test('growth fetched by one multifeed of a store reaches another multifeed of that store that has the feed', async (t) => {
  const { b1, b2, w: w1, s1, s2, k1, storeB, open, a1 } = await twoGroupsSharingAFeed(t, { valueEncoding: 'utf-8' })
  await bounded(t, poll(() => listed(b1, w1.key) === 1 && listed(b2, w1.key) === 1 && b1.isSynced() && b2.isSynced()), 'the first sync')
  const held = b2.feed(w1.key) // b2's app holds the feed: its session downloads growth live
  await held.ready()
  await w1.append('two')
  await bounded(t, poll(() => listed(b1, w1.key) === 2 && listed(b2, w1.key) === 2), 'both groups at 2')
  await bounded(t, poll(() => b1.openFeeds === 0), 'b1 to let go of the feed (after its linger)', 5000)

  await b1.close() // b1 starts over on the same store and stream: in sync, it opens no core
  const again = await open(storeB, k1)
  again.replicate(s2)
  a1.replicate(s1)
  await bounded(t, poll(() => again.connections.length === 1 && again.connections[0].phase === 'live' && a1.connections.length === 1 && a1.connections[0].phase === 'live'), 'b1 to be back')
  await bounded(t, poll(() => w1.peers.some((p) => p.remoteDownloading)), 'a to see b\'s store download the feed')
  await w1.append('three')
  await bounded(t, poll(() => listed(b2, w1.key) === 3), 'b2 to have the growth')
  await bounded(t, poll(() => listed(again, w1.key) === 3), 'b1 to have it too')
  t.is(listed(again, w1.key), 3)
})

// A remote whose copy has an active session that reads nothing (an app's handle on b's Corestore) shows
// "downloading" on the Hypercore channel, yet asks for no new block: the announcement must not wait for
// hypercore to carry the block (ANNOUNCE_GRACE, 250 ms). Held back only from a remote that fetched lately.
test('live growth: a remote with an active session that fetched nothing is told of growth at once', async (t) => {
  const { a, b, store } = await writerAndStoreReader(t)
  const w = await a.writer('w')
  await w.append('one')
  const [s1, s2] = pipe(a, b)
  await bounded(t, poll(() => b.isSynced() && listed(b, w.key) === 1), 'b to sync the first block')
  s1.destroy()
  await Promise.all([closed(s1), closed(s2)])

  const plain = store.get({ key: w.key }) // active, no download range
  t.teardown(() => plain.close(), { order: 0 })
  await plain.ready()
  const [, again] = pipe(a, b)
  store.replicate(again) // the app replicates its own Corestore on the connection too: its session gets a channel
  await bounded(t, poll(() => a.isSynced() && b.isSynced() && w.peers.some((p) => p.remoteDownloading)), 'a to see b\'s session')
  const exchange = b.connections[0]
  const received = exchange.stats.exchangeBytesReceived
  const start = Date.now()
  await w.append('two')
  await bounded(t, until(b, ['exchange'], () => exchange.stats.exchangeBytesReceived > received), 'the announcement')
  const elapsed = Date.now() - start
  t.ok(elapsed < 150, 'announced without waiting for the grace: ' + elapsed + ' ms')
  await bounded(t, poll(() => listed(b, w.key) === 2), 'b to download the block')
  t.is(await b.feed(w.key).get(1), 'two')
})

// b relays a's feed to a plain peer c that is behind it (37 of 39 blocks). b took the newest block first
// (as a download does): the upgrade to 39 came with it, but not the tree node of block 36 that proves
// length 37 can grow to 39. c synced then, and hypercore decided once that b cannot upgrade it; the node
// came later with block 36 from another peer, and hypercore looks again only for that peer. c then waited
// for b's core to grow again, on a quiet feed never. b's multifeed follows the core and asks again.
test('live growth: a relay that took the newest block first still lets a peer behind it upgrade', async (t) => {
  const { a, b, store } = await writerAndStoreReader(t)
  const w = await a.writer('w')
  for (let i = 0; i < 35; i++) await w.append('block ' + i)
  const [s1, s2] = pipe(a, b)
  await bounded(t, poll(() => listed(b, w.key) === 35), 'b to have 35 blocks')
  s1.destroy()
  await Promise.all([closed(s1), closed(s2)])

  const { c, held, toWriter } = await relayAheadOfUpgrade(t, { writer: w, writerStore: a.store, relayStore: store })
  // blocks 35..37 reach b from a; c must now be able to get them, and the upgrade, from b
  await bounded(t, held.download({ start: 35, end: 38 }).done(), 'b to take blocks 35..37')
  await toWriter()
  t.is(await bounded(t, c.get(38), 'c to upgrade from b', 5000), 'block 38')
  t.is(await c.get(37), 'block 37')
})
