// The sessions the app holds do not replicate by themselves: which feeds get a Hypercore channel on a
// connection is the exchange's decision (feeds that differ, feeds announced live, blocks the app waits for).
const test = require('brittle')
const crypto = require('hypercore-crypto')
const Hypercore = require('hypercore')
const { EventEmitter } = require('events')
const { create, seeded, pipe, once, closed, bounded, Multifeed } = require('./helpers.js')

async function firstSync (a, b) {
  const [s1, s2] = pipe(a, b)
  await Promise.all([a.synced(), b.synced()])
  s1.destroy()
  await Promise.all([closed(s1), closed(s2)])
}

// Every feed held by the app, each followed by a live read stream (the chat example's pattern).
async function holdAndFollow (t, m) {
  const peerAdds = { n: 0 }
  const events = new EventEmitter() // emits each value read
  const feeds = m.feeds()
  await Promise.all(feeds.map((f) => f.ready()))
  for (const feed of feeds) {
    feed.on('peer-add', () => { peerAdds.n++ })
    const rs = feed.createReadStream({ live: true })
    rs.on('data', (value) => events.emit(value))
    rs.on('error', () => {})
    t.teardown(() => rs.destroy(), { order: 0 })
  }
  return { peerAdds, events }
}

// A channel both sides open after the handshake: when it is open on both, every channel either side opened
// on the new stream before it (as corestore did for the cores the app held) has arrived.
let probes = 0
function roundTrip (s1, s2) {
  const id = Buffer.alloc(32, ++probes)
  return Promise.all([s1, s2].map((s) => new Promise((resolve) => {
    Hypercore.getProtocolMuxer(s).createChannel({ protocol: 'probe', id, onopen: resolve }).open()
  })))
}

// Wire bytes both ways (the Noise handshake included).
function countBytes (s1, s2) {
  const count = { bytes: 0 }
  s1.on('data', (buf) => { count.bytes += buf.byteLength })
  s2.on('data', (buf) => { count.bytes += buf.byteLength })
  return count
}

test('in-sync reconnect with every feed held and read live: no Hypercore channel, under 1 KB on the wire', async (t) => {
  const key = crypto.randomBytes(32)
  const dirA = await t.tmp()
  const dirB = await t.tmp()
  const a0 = await seeded(t, key, 60, dirA, { valueEncoding: 'utf-8' })
  const b0 = await create(t, { key }, dirB)
  await firstSync(a0, b0)
  await a0.close()
  await b0.close()

  const a = new Multifeed(dirA, { key, valueEncoding: 'utf-8' })
  const b = new Multifeed(dirB, { key, valueEncoding: 'utf-8' })
  t.teardown(() => Promise.all([a.close(), b.close()]), { order: 1 })
  await Promise.all([a.ready(), b.ready()])
  const onA = await holdAndFollow(t, a)
  const onB = await holdAndFollow(t, b)
  t.is(a.openFeeds, 60)
  t.is(b.openFeeds, 60)

  const [s1, s2] = pipe(a, b)
  const wire = countBytes(s1, s2)
  await bounded(t, Promise.all([a.synced(), b.synced()]), 'both sides synced')
  await bounded(t, roundTrip(s1, s2), 'a round trip')
  t.alike(a.connections.map((e) => e.mode), ['in-sync'])
  t.is(onA.peerAdds.n + onB.peerAdds.n, 0, 'no Hypercore channel opened for any held feed')
  t.ok(wire.bytes < 1024, `under 1 KB on the wire with the Noise handshake: ${wire.bytes} B (60 held feeds)`)

  // live reading goes on: a block appended now reaches the other side's live stream through the exchange
  const w = await a.writer('w0')
  const arrived = once(onB.events, 'later')
  await w.append('later')
  await bounded(t, arrived, 'the appended block on b\'s live stream')
  t.pass('b\'s live read stream delivered the block appended after the in-sync reconnect')
  t.is(onB.peerAdds.n, 1, 'only the grown feed opened a channel')
  s1.destroy()
  await Promise.all([closed(s1), closed(s2)])
})

test('a held feed\'s missing block is fetched from the peer that has it', async (t) => {
  const key = crypto.randomBytes(32)
  const a = await create(t, { key, valueEncoding: 'utf-8' })
  const b = await create(t, { key, valueEncoding: 'utf-8' })
  const w = await a.writer('w')
  await w.append(['zero', 'one', 'two'])
  await firstSync(a, b)
  const copy = b.feed(w.key)
  await copy.clear(1, 2)
  t.is(await copy.get(1, { wait: false }), null, 'b cleared block 1')

  const [s1, s2] = pipe(a, b)
  await bounded(t, Promise.all([a.synced(), b.synced()]), 'both sides synced')
  t.alike(b.connections.map((e) => e.mode), ['in-sync'], 'the lengths are equal: the exchange opens nothing')
  t.is(await bounded(t, copy.get(1), 'block 1 from a'), 'one', 'get() of the cleared block fetched it from a')
  s1.destroy()
  await Promise.all([closed(s1), closed(s2)])
})

test('a peer that knows only the discovery key learns no discovery key of the feeds the app holds', async (t) => {
  const key = crypto.randomBytes(32)
  const a = await create(t, { key })
  for (let i = 0; i < 5; i++) await (await a.writer('w' + i)).append('x')
  const held = a.feeds()
  t.is(held.length, 5)

  // a bare protocol stream: every channel the multifeed's side opens reaches `ondiscoverykey`
  const seen = []
  const stranger = Hypercore.createProtocolStream(false, { ondiscoverykey: (dk) => { seen.push(dk) } })
  stranger.on('error', () => {})
  const s1 = a.replicate(true)
  s1.on('error', () => {})
  s1.pipe(stranger).pipe(s1)
  await bounded(t, s1.noiseStream.opened, 'the Noise handshake')
  // the app waits for a block it cleared: no channel to a peer that has not passed the capability check
  await held[0].append('second')
  await held[0].clear(0)
  held[0].get(0, { timeout: 5000 }).catch(() => {})
  await bounded(t, roundTrip(s1, stranger), 'a round trip')
  t.is(seen.length, 0, `no Hypercore channel reached the stranger (${seen.length} discovery keys seen)`)
  s1.destroy()
  await closed(s1)
})

test('a live block reaches the peer on a connection shared by multifeeds of different Corestores', async (t) => {
  const Corestore = require('corestore')
  const NoiseSecretStream = require('@hyperswarm/secret-stream')
  const keys = [crypto.randomBytes(32), crypto.randomBytes(32)]
  const stores = [new Corestore(await t.tmp()), new Corestore(await t.tmp()), new Corestore(await t.tmp())]
  t.teardown(() => Promise.all(stores.map((s) => s.close())), { order: 2 })
  // side A: one multifeed per Corestore; side B: both twins on one Corestore
  const locals = await Promise.all(keys.map((key, i) => create(t, { key, valueEncoding: 'utf-8' }, stores[i])))
  const twins = await Promise.all(keys.map((key) => create(t, { key, valueEncoding: 'utf-8' }, stores[2])))
  const writers = await Promise.all(locals.map((m) => m.writer('w')))
  for (const w of writers) await w.append('first')

  // connected in sync: no feed has a channel until one grows
  const connect = async () => {
    const s = new NoiseSecretStream(true)
    const p = new NoiseSecretStream(false)
    s.rawStream.pipe(p.rawStream).pipe(s.rawStream)
    // the last Corestore to replicate on A's side owns the connection's catch-all for Hypercore channels
    for (const m of locals) m.replicate(s)
    for (const m of twins) m.replicate(p)
    await bounded(t, Promise.all(locals.concat(twins).map((m) => m.synced())), 'all synced')
    return [s, p]
  }
  const [s0, p0] = await connect()
  const copy = twins[0].feed(writers[0].key)
  t.is(copy.length, 1, 'the first block arrived')
  s0.destroy()
  await Promise.all([closed(s0), closed(p0)])
  const [s, p] = await connect()
  t.teardown(() => { s.destroy(); p.destroy() }, { order: 0 })
  t.alike(twins[0].connections.map((e) => e.mode), ['in-sync'])

  const grown = once(copy, 'append')
  await writers[0].append('live')
  await bounded(t, grown, 'the live block of the first Corestore\'s writer')
  t.is(await copy.get(1), 'live', 'announced live, the feed was served on the connection whose catch-all is another Corestore\'s')
})
