const test = require('brittle')
const crypto = require('hypercore-crypto')
const { create, pipe, once, closed, until, bounded, poll, twoGroupsSharingAFeed, Multifeed } = require('./helpers.js')

async function synced (a, b) {
  const [s1, s2] = pipe(a, b)
  await Promise.all([once(s1, 'remote-feeds'), once(s2, 'remote-feeds')])
  await Promise.all([a.synced(), b.synced()])
  return [s1, s2]
}

// A multifeed of `n` writers with `blocks` each, closed and reopened: no core is open until something asks.
async function reopenedWriters (t, key, n, blocks, opts = {}) {
  const dir = await t.tmp()
  const a0 = new Multifeed(dir, { key })
  for (let i = 0; i < n; i++) await (await a0.writer('w' + i)).append(blocks)
  await a0.close()
  return create(t, { key, ...opts }, dir)
}

function closedCore (core) {
  return core.closed ? Promise.resolve() : once(core, 'close')
}

async function disconnect ([s1, s2]) {
  s1.destroy()
  await Promise.all([closed(s1), closed(s2)])
}

test('remove a remote feed: gone from the index and its blocks freed; a peer can bring it back', async (t) => {
  const key = crypto.randomBytes(32)
  const a = await create(t, { key })
  const dirB = await t.tmp()
  const b = await create(t, { key }, dirB)
  const w = await a.writer('w')
  await w.append(['one', 'two'])
  await disconnect(await synced(a, b))
  const copy = b.feed(w.key)
  t.ok(await copy.has(0), 'b has the block before removal')
  await b.remove(w.key)
  t.is(b.list().length, 0)
  t.is(b.feed(w.key), undefined)
  t.absent(b.isBlocked(w.key))
  const raw = b.store.get({ key: w.key })
  await raw.ready()
  t.absent(await raw.has(0), 'its blocks are freed')
  await raw.close()
  await b.close()
  const b2 = await create(t, { key }, dirB)
  t.is(b2.list().length, 0, 'still gone after reopen')
  await disconnect(await synced(a, b2))
  t.is(b2.list().length, 1, 'not blocked: a peer that advertises it brings it back')
})

test('remove with block: never accepted again, across reopen and from peers that still advertise it', async (t) => {
  const key = crypto.randomBytes(32)
  const a = await create(t, { key })
  const c = await create(t, { key })
  const dirB = await t.tmp()
  const b = await create(t, { key }, dirB)
  const w = await a.writer('w')
  await w.append('unwanted')
  const keep = await a.writer('keep')
  await keep.append('wanted')
  await disconnect(await synced(a, b))
  await b.remove(w.key, { block: true })
  t.ok(b.isBlocked(w.key))
  await b.close()

  const b2 = await create(t, { key }, dirB)
  t.ok(b2.isBlocked(w.key), 'the block survives reopen')
  await w.append('more')
  await disconnect(await synced(a, b2))
  t.is(b2.list().length, 1)
  t.is(b2.feed(w.key), undefined, 'not taken back from a peer that still advertises it')
  await disconnect(await synced(a, c))
  await disconnect(await synced(c, b2))
  t.is(b2.feed(w.key), undefined, 'nor from a third peer')
  await b2.unblock(w.key)
  await disconnect(await synced(a, b2))
  t.ok(b2.feed(w.key), 'unblock lets it in again')
})

test('a feed can be blocked before it is known', async (t) => {
  const key = crypto.randomBytes(32)
  const a = await create(t, { key })
  const b = await create(t, { key })
  const w = await a.writer('w')
  await w.append('x')
  await b.remove(w.key, { block: true })
  await disconnect(await synced(a, b))
  t.is(b.list().length, 0)
})

test('removing a local writer needs allowWriter', async (t) => {
  const m = await create(t)
  const w = await m.writer('mine')
  await w.append('x')
  await t.exception(() => m.remove(w.key), /ERR_WRITER_REMOVAL/)
  t.is(m.list().length, 1, 'refused removal leaves it in place')
  await m.remove(w.key, { allowWriter: true })
  t.is(m.list().length, 0)
  await t.exception(() => m.remove(w.key), /ERR_FEED_NOT_FOUND/)
  await t.exception(() => m.remove('zz'), /ERR_INVALID_KEY/)
  const again = await m.writer('mine')
  t.unlike(again.key, w.key, 'the name moves on to a new key: the old one\'s blocks were cleared')
  await again.append('y')
  t.alike(m.list().map((f) => [f.name, f.length]), [['mine', 1]], 'and the new writer is usable')
})

test('removing a feed being waited for does not leave synced() hanging', async (t) => {
  const key = crypto.randomBytes(32)
  const a = await create(t, { key })
  const b = await create(t, { key })
  const w = await a.writer('w')
  await w.append('x')
  pipe(a, b)
  const [feed] = await once(b, 'feed')
  await b.remove(feed.key)
  await b.synced()
  t.is(b.list().length, 0)
})

test('lazy: a reopened multifeed opens no core until asked, and replication closes what it opened', async (t) => {
  const key = crypto.randomBytes(32)
  const a = await reopenedWriters(t, key, 5, ['x'])
  t.is(a.openFeeds, 0, 'reopen opens no feed core')
  t.is(a.list().length, 5)
  const b = await create(t, { key })
  const streams = await synced(a, b)
  t.is(a.openFeeds, 0, 'replication closed the feeds it opened to upload once b had them')
  await disconnect(streams)
  await until(a, ['exchange-close'], () => a.connections.length === 0)
  t.is(a.openFeeds, 0, 'and closed them when the connection ended')
  const handed = a.feeds()
  t.is(a.openFeeds, 5, 'feeds() opens them for the app')
  await Promise.all(handed.map((f) => f.close()))
  t.is(a.openFeeds, 0, 'and the app closing them lets them go')
  const again = await synced(a, b)
  await disconnect(again)
  await until(a, ['exchange-close'], () => a.connections.length === 0)
  t.is(a.openFeeds, 0, 'a later connection does not keep them open either')
})

test('idle feeds close while the connection stays; growth reopens, downloads, lingers and closes again', async (t) => {
  const key = crypto.randomBytes(32)
  const a = await reopenedWriters(t, key, 3, ['x', 'y'])
  const b = await create(t, { key })
  const [s1, s2] = pipe(a, b)
  const [began] = await once(s2, 'remote-feeds')
  t.is(began.length, 3)
  await Promise.all([a.synced(), b.synced(), ...began.map(closedCore)])
  t.is(a.openFeeds, 0, 'a closed what it uploaded')
  t.is(b.openFeeds, 0, 'b closed what it downloaded')
  t.is(a.connections.length, 1, 'the connection is still up')
  t.alike(b.list().map((f) => f.length), [2, 2, 2])

  const grown = a.feed(a.list()[0].key)
  const replicating = once(s2, 'remote-feeds')
  await grown.append('z')
  const [again] = await replicating
  t.is(again.length, 1, 'the grown feed replicates again')
  await b.synced()
  // growth of a feed b had lingers a while (the next block would come over the open channel), then closes
  t.is(b.openFeeds, 1, 'the grown feed lingers')
  // meanwhile its next block comes over the open channel: a sees b downloading and announces nothing
  const announced = a.connections[0].stats.exchangeBytesSent
  await grown.append('zz')
  await bounded(t, until(b, ['exchange', 'synced'], () => b.list().find((f) => f.key.equals(grown.key)).length === 4), 'the next block to reach b')
  t.is(a.connections[0].stats.exchangeBytesSent, announced, 'without an announcement')
  await bounded(t, closedCore(again[0]), 'the grown feed to close after its linger', 5000)
  t.is(b.openFeeds, 0)
  t.is(b.list().find((f) => f.key.equals(grown.key)).length, 4)
  s1.destroy()
  await Promise.all([closed(s1), closed(s2)])
})

test('a first sync holds a window of cores, not one per feed (maxDownloads)', async (t) => {
  const key = crypto.randomBytes(32)
  const a = await reopenedWriters(t, key, 24, ['x', 'y'], { maxDownloads: 4 })
  const b = await create(t, { key, maxDownloads: 4 })
  const [s1, s2] = pipe(a, b)
  let most = { a: 0, b: 0 }
  let batches = 0
  s2.on('remote-feeds', (began) => {
    batches++
    t.ok(began.length <= 4, 'at most the window begins at once')
    most = { a: Math.max(most.a, a.openFeeds), b: Math.max(most.b, b.openFeeds) }
  })
  await until(b, ['synced'], () => b.list().length === 24 && b.isSynced())
  t.ok(batches >= 6, 'the feeds came in turns: ' + batches)
  t.ok(most.b <= 4, 'b never held more than the window: ' + most.b)
  t.ok(most.a <= 8, 'a opened a feed only when b asked for it: ' + most.a)
  t.alike(b.list().map((f) => f.length), new Array(24).fill(2))
  s1.destroy()
  await Promise.all([closed(s1), closed(s2)])
})

test('feeds the app has just closed (corestore still holds them) replicate on a new connection', async (t) => {
  const key = crypto.randomBytes(32)
  const a = await create(t, { key })
  for (let i = 0; i < 6; i++) {
    const w = await a.writer('w' + i)
    await w.append('x')
    await w.close()
  }
  t.is(a.openFeeds, 0)
  const b = await create(t, { key, maxDownloads: 2 })
  const [s1, s2] = pipe(a, b)
  await until(b, ['synced'], () => b.list().length === 6 && b.isSynced())
  t.alike(b.list().map((f) => f.length), new Array(6).fill(1))
  s1.destroy()
  await Promise.all([closed(s1), closed(s2)])
})

test('the app closing a feed while it downloads does not stop the download', async (t) => {
  const key = crypto.randomBytes(32)
  const a = await create(t, { key })
  const b = await create(t, { key })
  const w = await a.writer('w')
  await w.append('first')
  pipe(a, b)
  const [feed] = await once(b, 'feed')
  await feed.close()
  await w.append('second')
  // polled: the block may reach b's core over the channel still open before the announcement does, and
  // then b never stops being synced (no 'synced' event comes for it)
  await bounded(t, poll(() => b.isSynced() && b.list()[0].length === 2), 'the second block')
  t.is(b.list()[0].length, 2)
  t.is((await b.feed(w.key).get(1)).toString(), 'second')
})

// Two groups of one Corestore share a feed on one connection: removing it from one leaves the feed's
// Hypercore channel to the other (the one channel per feed and connection is not the remover's alone).
test('removing a feed one group shares with another group of its Corestore keeps the channel the other uses', async (t) => {
  const { b1, b2, w, s1, s2 } = await twoGroupsSharingAFeed(t)
  t.teardown(() => { s1.destroy(); s2.destroy() }, { order: 0 })
  const listed = (m) => m.list().some((f) => f.key.equals(w.key) && f.length === 1)
  await bounded(t, Promise.all([b1, b2].map((b) => until(b, ['synced', 'feed'], () => listed(b) && b.isSynced()))), 'both groups of b to sync')
  const held = b2.feed(w.key) // b2's app reads it live: its channel to a stays open
  const reading = held.createReadStream({ live: true })
  reading.on('data', () => {})
  reading.on('error', () => {}) // cancelled when the multifeed closes
  t.teardown(() => reading.destroy(), { order: 0 })
  await bounded(t, until(held, ['peer-add'], () => held.peers.length === 1), 'b2\'s channel to a')
  await b1.remove(w.key)
  t.is(held.peers.length, 1, 'b2 keeps its channel')
  await w.append('two')
  await bounded(t, until(held, ['download'], () => held.contiguousLength === 2), 'the growth to reach b2')
})
