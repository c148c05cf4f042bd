const test = require('brittle')
const crypto = require('hypercore-crypto')
const Hyperswarm = require('hyperswarm')
const HyperDHT = require('hyperdht')
const Hypercore = require('hypercore')
const createTestnet = require('@hyperswarm/testnet')
const { Networker } = require('../dist/networker/index.js')
const helpers = require('./helpers.js')
const { create, until, Multifeed } = helpers

const EVENTS = ['feed', 'exchange', 'exchange-close', 'synced']

async function testnet (t) {
  return createTestnet(3, { teardown: t.teardown, host: '127.0.0.1' })
}

function dht (tn) {
  return new HyperDHT({ bootstrap: tn.bootstrap, host: '127.0.0.1' })
}

function networker (t, tn) {
  const n = new Networker({ dht: dht(tn) })
  n.errors = []
  n.on('error', (err) => n.errors.push(err))
  t.teardown(() => n.destroy())
  return n
}

// every wait here is bounded at 20 s
const bounded = (t, p, what, ms = 20000) => helpers.bounded(t, p, what, ms)

// Counts the errors a multifeed reports about its exchanges.
function watch (multi) {
  multi.errors = []
  multi.on('exchange-close', (ex, err) => { if (err) multi.errors.push(err) })
  multi.on('channel-error', (err) => multi.errors.push(err))
  return multi
}

// Resolves once `multi` holds exactly `feeds` feeds, each at least `length` long, with a live exchange.
function converged (multi, feeds, length = 1) {
  return until(multi, EVENTS, () => {
    const list = multi.list()
    return list.length === feeds && list.every((f) => f.length >= length) && multi.connections.length > 0 && multi.isSynced()
  })
}

function lengthOf (multi, key) {
  const info = multi.list().find((f) => f.key.equals(key))
  return info ? info.length : 0
}

// Open hypercore channels on a connection that belong to the feeds of `multi`.
function feedChannels (conn, multi) {
  const keys = new Set(multi.list().map((f) => f.key.toString('hex')))
  let n = 0
  for (const ch of Hypercore.getProtocolMuxer(conn)) {
    if (ch.protocol === 'hypercore/alpha' && ch.userData && ch.userData.core && keys.has(ch.userData.core.key.toString('hex'))) n++
  }
  return n
}

async function values (multi, key) {
  const feed = multi.feed(key)
  const out = []
  for (let i = 0; i < feed.length; i++) out.push(await feed.get(i))
  return out
}

test('networker: two peers converge', { timeout: 120000 }, async (t) => {
  const tn = await testnet(t)
  const key = crypto.randomBytes(32)
  const a = watch(await create(t, { key, valueEncoding: 'utf-8' }))
  const b = watch(await create(t, { key, valueEncoding: 'utf-8' }))
  const wa = await a.writer('a')
  const wb = await b.writer('b')
  await wa.append(['a0', 'a1'])
  await wb.append('b0')

  const na = networker(t, tn)
  const nb = networker(t, tn)
  const connected = new Promise((resolve) => na.once('connection', (conn, info) => resolve([conn, info])))
  await na.swarm(a)
  await nb.swarm(b)
  t.alike(na.multifeeds, [a])

  await bounded(t, Promise.all([converged(a, 2), converged(b, 2)]), 'a and b to converge on 2 feeds')
  t.alike(await values(b, wa.key), ['a0', 'a1'], 'b has what a wrote')
  t.alike(await values(a, wb.key), ['b0'], 'a has what b wrote')

  const [conn, info] = await connected
  t.ok(conn.remotePublicKey.equals(nb.hyperswarm.keyPair.publicKey), 'connection event with the peer')
  t.ok(info.publicKey.equals(nb.hyperswarm.keyPair.publicKey))
  t.is(na.connections, 1, 'one connection per peer')

  // live: a later append arrives without any new connection
  await wb.append('b1')
  await bounded(t, until(a, EVENTS, () => lengthOf(a, wb.key) === 2), 'b\'s live append to reach a')
  t.alike(await values(a, wb.key), ['b0', 'b1'])
  t.is(a.stats().connections, 1)

  t.alike([a.errors, b.errors, na.errors, nb.errors], [[], [], [], []], 'no errors')
})

test('networker: three peers, each writes, all converge', { timeout: 120000 }, async (t) => {
  const tn = await testnet(t)
  const key = crypto.randomBytes(32)
  const peers = []
  for (const name of ['a', 'b', 'c']) {
    const multi = watch(await create(t, { key, valueEncoding: 'utf-8' }))
    const w = await multi.writer(name)
    await w.append('from ' + name)
    peers.push({ multi, w, net: networker(t, tn) })
  }
  for (const p of peers) await p.net.swarm(p.multi) // each announced before the next looks
  await bounded(t, Promise.all(peers.map((p) => converged(p.multi, 3))), 'the three peers to converge')

  for (const p of peers) {
    for (const [i, q] of peers.entries()) t.alike(await values(p.multi, q.w.key), ['from ' + 'abc'[i]])
  }
  for (const p of peers) t.alike([p.multi.errors, p.net.errors], [[], []])
})

test('networker: two multifeeds over one swarm, a peer with only one of them', { timeout: 120000 }, async (t) => {
  const tn = await testnet(t)
  const keyX = crypto.randomBytes(32)
  const keyY = crypto.randomBytes(32)
  const ax = watch(await create(t, { key: keyX, valueEncoding: 'utf-8' }))
  const ay = watch(await create(t, { key: keyY, valueEncoding: 'utf-8' }))
  const bx = watch(await create(t, { key: keyX, valueEncoding: 'utf-8' }))
  const by = watch(await create(t, { key: keyY, valueEncoding: 'utf-8' }))
  const cx = watch(await create(t, { key: keyX, valueEncoding: 'utf-8' }))
  for (const [m, v] of [[ax, 'ax'], [ay, 'ay'], [bx, 'bx'], [by, 'by'], [cx, 'cx']]) await (await m.writer('w')).append(v)

  const na = networker(t, tn)
  const nb = networker(t, tn)
  const nc = networker(t, tn)
  await Promise.all([na.swarm(ax), na.swarm(ay)])
  await Promise.all([nb.swarm(bx), nb.swarm(by)])
  await nc.swarm(cx)
  t.is(na.multifeeds.length, 2)

  await bounded(t, Promise.all([converged(ax, 3), converged(bx, 3), converged(cx, 3), converged(ay, 2), converged(by, 2)]), 'x and y to converge on every peer')
  t.is(cx.size, 3, 'c has every writer of x')
  t.is(ay.size, 2, 'y has only the writers of a and b')

  // c has no y: nobody offers y on the connections to c (a and b did not find c under y's topic, and c
  // does not look it up), so y's side there waits and never exchanges; a and b see c once, on one connection
  const exchanging = (m) => m.connections.filter((ex) => ex.phase !== 'opening')
  await bounded(t, until(ay, EVENTS, () => exchanging(ay).length === 1), 'y to exchange with b only')
  t.is(exchanging(ay).length, 1, 'y exchanges with b only')
  t.is(na.connections, na.hyperswarm.connections.size)
  t.ok(na.connections <= 2, 'one connection per peer, shared by both multifeeds')
  for (const m of [ax, ay, bx, by, cx]) t.alike(m.errors, [], 'no exchange errors')
  for (const n of [na, nb, nc]) t.alike(n.errors, [], 'no networker errors')
})

test('networker: unswarm stops one multifeed, the other keeps working, swarm again resumes', { timeout: 120000 }, async (t) => {
  const tn = await testnet(t)
  const keyX = crypto.randomBytes(32)
  const keyY = crypto.randomBytes(32)
  const ax = watch(await create(t, { key: keyX, valueEncoding: 'utf-8' }))
  const ay = watch(await create(t, { key: keyY, valueEncoding: 'utf-8' }))
  const bx = watch(await create(t, { key: keyX, valueEncoding: 'utf-8' }))
  const by = watch(await create(t, { key: keyY, valueEncoding: 'utf-8' }))
  const bxw = await bx.writer('b')
  const byw = await by.writer('b')
  await bxw.append('x0')
  await byw.append('y0')

  const na = networker(t, tn)
  const nb = networker(t, tn)
  await Promise.all([na.swarm(ax), na.swarm(ay)])
  await Promise.all([nb.swarm(bx), nb.swarm(by)])
  await bounded(t, Promise.all([converged(ax, 1), converged(ay, 1)]), 'a to converge on x and y')
  const conn = [...na.hyperswarm.connections][0]

  await na.unswarm(ay)
  t.alike(na.multifeeds, [ax])
  t.is(ay.connections.length, 0, 'a stopped its y exchange at once')
  await bounded(t, until(by, EVENTS, () => by.connections.length === 0), 'b to see y close') // b saw y close on its side too

  // b writes to y, then to x over the same connection: once x's write is at a, y's would have been too
  await byw.append('y1')
  await bxw.append('x1')
  await bounded(t, until(ax, EVENTS, () => lengthOf(ax, bxw.key) === 2), 'b\'s later x write to reach a')
  t.alike(await values(ax, bxw.key), ['x0', 'x1'], 'x still replicates')
  t.is(lengthOf(ay, byw.key), 1, 'the y write after unswarm did not arrive')
  t.is(ay.feed(byw.key).length, 1)
  t.is(na.connections, 1, 'the connection stayed up')
  t.absent(conn.destroyed)
  t.is(feedChannels(conn, ay), 0, 'no feed of y has a channel on the connection')
  t.ok(feedChannels(conn, ax) > 0, 'x\'s feeds still do')

  // swarming y again on the live connection: b (still swarmed) answers the new channel
  await na.swarm(ay)
  await bounded(t, until(ay, EVENTS, () => lengthOf(ay, byw.key) === 2 && ay.isSynced()), 'y to resume after swarming again')
  t.alike(await values(ay, byw.key), ['y0', 'y1'], 'y resumed after swarming again')
  t.is([...na.hyperswarm.connections][0], conn, 'on the same connection')
  // the feed exchange resumed too, not only the feeds already known: a new writer of b arrives
  const byw2 = await by.writer('b2')
  await byw2.append('z0')
  await bounded(t, until(ay, EVENTS, () => lengthOf(ay, byw2.key) === 1), 'b\'s new y writer to reach a')
  t.is(ay.connections.length, 1, 'a live y exchange again')

  // and the other way round: b leaves and comes back while a stays
  await nb.unswarm(by)
  await bounded(t, until(ay, EVENTS, () => ay.connections.length === 0), 'a to see y close after b unswarmed')
  t.is(feedChannels([...nb.hyperswarm.connections][0], by), 0, 'b closed its y feed channels')
  await byw.append('y2')
  const byw3 = await by.writer('b3') // a feed a can only learn of through a new exchange
  await byw3.append('w0')
  await bxw.append('x2')
  await bounded(t, until(ax, EVENTS, () => lengthOf(ax, bxw.key) === 3), 'b\'s x write while y was away to reach a')
  t.is(lengthOf(ay, byw.key), 2, 'b\'s y write while b was away did not arrive')
  await nb.swarm(by)
  await bounded(t, until(ay, EVENTS, () => lengthOf(ay, byw.key) === 3 && lengthOf(ay, byw3.key) === 1), 'y to catch up after b swarmed again')
  t.alike(await values(ay, byw.key), ['y0', 'y1', 'y2'])
  t.alike(await values(ay, byw3.key), ['w0'], 'b\'s exchange found a waiting for it')

  for (const m of [ax, ay, bx, by]) t.alike(m.errors, [])
  t.alike([na.errors, nb.errors], [[], []])
})

test('networker: a peer that joins late catches up', { timeout: 120000 }, async (t) => {
  const tn = await testnet(t)
  const key = crypto.randomBytes(32)
  const a = watch(await create(t, { key, valueEncoding: 'utf-8' }))
  const b = watch(await create(t, { key, valueEncoding: 'utf-8' }))
  const wa = await a.writer('a')
  const wb = await b.writer('b')
  await wa.append(['a0', 'a1', 'a2'])
  await wb.append('b0')
  const na = networker(t, tn)
  const nb = networker(t, tn)
  await na.swarm(a)
  await nb.swarm(b)
  await bounded(t, Promise.all([converged(a, 2, 1), converged(b, 2, 1)]), 'a and b to converge')
  await wb.append('b1') // written while c is still away

  // c's multifeed is swarmed before it is ready: the networker waits for it
  const c = watch(new Multifeed(await t.tmp(), { key, valueEncoding: 'utf-8' }))
  t.teardown(() => c.close(), { order: 1 })
  const nc = networker(t, tn)
  await nc.swarm(c)
  await bounded(t, until(c, EVENTS, () => lengthOf(c, wa.key) === 3 && lengthOf(c, wb.key) === 2), 'the late peer c to catch up')
  t.alike(await values(c, wa.key), ['a0', 'a1', 'a2'])
  t.alike(await values(c, wb.key), ['b0', 'b1'])

  // and what c writes reaches the others
  const wc = await c.writer('c')
  await wc.append('c0')
  await bounded(t, Promise.all([until(a, EVENTS, () => lengthOf(a, wc.key) === 1), until(b, EVENTS, () => lengthOf(b, wc.key) === 1)]), 'c\'s writer to reach a and b')
  t.alike(await values(a, wc.key), ['c0'], 'a got c\'s writer and its block')
  t.alike(await values(b, wc.key), ['c0'], 'b got c\'s writer and its block')
  for (const m of [a, b, c]) t.alike(m.errors, [])
})

test('networker: an existing Hyperswarm is used and outlives destroy()', { timeout: 120000 }, async (t) => {
  const tn = await testnet(t)
  const key = crypto.randomBytes(32)
  const a = watch(await create(t, { key, valueEncoding: 'utf-8' }))
  const b = watch(await create(t, { key, valueEncoding: 'utf-8' }))
  await (await a.writer('a')).append('a0')
  const wb = await b.writer('b')
  await wb.append('b0')

  const swarm = new Hyperswarm({ dht: dht(tn) })
  t.teardown(() => swarm.destroy(), { order: 2 })
  const na = new Networker(swarm)
  t.teardown(() => na.destroy())
  t.is(na.hyperswarm, swarm, 'the app\'s swarm')
  const nb = networker(t, tn)
  await na.swarm(a)
  await nb.swarm(b)
  await bounded(t, Promise.all([converged(a, 2), converged(b, 2)]), 'a and b to converge on 2 feeds')
  const [conn] = swarm.connections

  await na.destroy()
  t.absent(swarm.destroyed, 'the swarm is still alive')
  t.is(swarm.listenerCount('connection'), 0, 'the networker stopped listening')
  t.absent(conn.destroyed, 'its connection too')
  t.is(a.connections.length, 0, 'the multifeed is no longer replicated on it')
  t.is(na.multifeeds.length, 0)
  t.is(swarm.status(a.discoveryKey), null, 'the topic was left')
  await t.exception(na.swarm(a), /ERR_CLOSED/, 'a destroyed networker swarms nothing')

  // the app can still use its swarm: a new networker on it picks the live connection up
  await bounded(t, until(b, EVENTS, () => b.connections.length === 0), 'b to see a\'s exchange close')
  await wb.append('b1')
  const again = new Networker(swarm)
  t.teardown(() => again.destroy())
  t.is(again.connections, 1, 'adopted the open connection')
  await again.swarm(a)
  await bounded(t, until(a, EVENTS, () => lengthOf(a, wb.key) === 2), 'replication to resume over the app\'s connection')
  t.alike(await values(a, wb.key), ['b0', 'b1'], 'replication resumed over the app\'s connection')
  t.is(a.connections.length, 1, 'a live exchange on it')
  t.is(swarm.connections.size, 1, 'still the one connection')
  t.is([...swarm.connections][0], conn, 'the same one')
  t.alike([a.errors, b.errors, nb.errors], [[], [], []])
})

test('networker: argument errors and closed multifeeds', { timeout: 120000 }, async (t) => {
  const tn = await testnet(t)
  const n = networker(t, tn)
  t.exception(() => new Networker(42), /ERR_INVALID_ARGUMENT/)
  await t.exception(n.swarm({}), /ERR_INVALID_ARGUMENT/, 'not a multifeed')
  const a = await create(t, { key: crypto.randomBytes(32) })
  await t.exception(n.swarm(a, { server: false, client: false }), /ERR_INVALID_ARGUMENT/)
  await t.exception(n.swarm(a, { server: 'yes' }), /ERR_INVALID_ARGUMENT/)

  await n.swarm(a, { client: false })
  await n.swarm(a) // again: now a client too
  t.is(n.multifeeds.length, 1, 'swarmed once')
  await a.close()
  t.is(n.multifeeds.length, 0, 'a closed multifeed is dropped')
  t.is(n.hyperswarm.status(a.discoveryKey) === null || n.hyperswarm.status(a.discoveryKey).destroyed, true, 'and its topic left')
  await t.exception(n.swarm(a), /ERR_CLOSED/)
  await n.unswarm(a) // not swarmed: nothing to do
  t.alike(n.errors, [])
})

// A DHT observer knows one topic (a discovery key) and connects: it must not learn which other multifeeds
// the peer swarms. The peer offers a multifeed's channel first only to peers it found under that topic.
test('networker: a peer that connects for one topic is not shown the other multifeeds swarmed', { timeout: 60000 }, async (t) => {
  const Protomux = require('protomux')
  const c = require('compact-encoding')
  const b4a = require('b4a')
  const { PROTOCOL } = require('../dist/lib/messages.js')
  const tn = await testnet(t)
  const ax = watch(await create(t, { key: crypto.randomBytes(32) }))
  const ay = watch(await create(t, { key: crypto.randomBytes(32) }))
  const na = networker(t, tn)
  await Promise.all([na.swarm(ax), na.swarm(ay)])

  const observer = new Hyperswarm({ dht: dht(tn) })
  t.teardown(() => observer.destroy())
  const offered = []
  const answered = new Promise((resolve) => {
    observer.on('connection', (conn) => {
      conn.on('error', () => {})
      const mux = Protomux.from(conn)
      mux.pair({ protocol: PROTOCOL }, (id) => { offered.push(b4a.toString(id, 'hex')) })
      // it knows x's discovery key (the topic) but not the key: its open fails the capability check, and
      // a's answer to it comes after anything a offered by itself on this connection
      const ch = mux.createChannel({ protocol: PROTOCOL, id: ax.discoveryKey, handshake: c.raw, onopen: () => resolve('open'), onclose: () => resolve('closed') })
      ch.open(b4a.alloc(40))
    })
  })
  observer.join(ax.discoveryKey, { server: false, client: true })
  const outcome = await bounded(t, answered, 'a to answer the observer', 20000)
  t.ok(outcome === 'open' || outcome === 'closed', `a answered the observer's open (${outcome})`)
  t.absent(offered.includes(b4a.toString(ay.discoveryKey, 'hex')), 'y\'s discovery key was never offered')
  t.alike(offered, [], 'a offered no multifeed channel of its own')
})
