// The hello (protocol 3.1.0, lib/hello.ts): one channel per shared connection greets every multifeed on it;
// multifeeds found in sync open no channel of their own until one side has news.
const test = require('brittle')
const b4a = require('b4a')
const c = require('compact-encoding')
const crypto = require('hypercore-crypto')
const Corestore = require('corestore')
const Hypercore = require('hypercore')
const { create, until, bounded, messages } = require('./helpers.js')
const { ChannelRouter } = require('../dist/lib/router')
const { MAX_REMOTE_GROUPS } = require('../dist/lib/hello')

const GROUPS = 6

// Two Corestores, each with GROUPS multifeeds of the same keys; side a has one writer per group.
async function groups (t) {
  const stores = [new Corestore(await t.tmp()), new Corestore(await t.tmp())]
  t.teardown(() => Promise.all(stores.map((s) => s.close())), { order: 2 })
  const a = []
  const b = []
  const writers = []
  for (let i = 0; i < GROUPS; i++) {
    const key = crypto.randomBytes(32)
    a.push(await create(t, { key, valueEncoding: 'utf-8' }, stores[0]))
    b.push(await create(t, { key, valueEncoding: 'utf-8' }, stores[1]))
    const w = await a[i].writer('w')
    await w.append('block 0 of group ' + i)
    writers.push(w)
  }
  return { stores, a, b, writers }
}

// One connection for every group; counts the multifeed channels each side opens on it.
function connect (stores, a, b, bOpts = {}) {
  const s1 = stores[0].replicate(true)
  const s2 = stores[1].replicate(false)
  s1.on('error', () => {})
  s2.on('error', () => {})
  const opened = [0, 0]
  const muxers = [Hypercore.getProtocolMuxer(s1), Hypercore.getProtocolMuxer(s2)]
  muxers.forEach((muxer, side) => {
    const create = muxer.createChannel
    muxer.createChannel = function (opts) {
      if (opts.protocol === messages.PROTOCOL) opened[side]++
      return create.call(this, opts)
    }
  })
  s1.pipe(s2).pipe(s1)
  for (const m of a) m.replicate(s1)
  for (const m of b) m.replicate(s2, bOpts)
  return { s1, s2, muxers, opened }
}

const lengthOf = (m, key) => (m.list().find((f) => b4a.equals(f.key, key)) || { length: 0 }).length
const allSynced = (ms, writers, length) => Promise.all(ms.map((m, i) => until(m, ['feed', 'synced', 'exchange'], () => lengthOf(m, writers[i].key) === length && m.isSynced())))

async function disconnect (t, conn) {
  const closing = [conn.s1, conn.s2].map((s) => new Promise((resolve) => s.once('close', resolve)))
  conn.s1.destroy()
  conn.s2.destroy()
  await bounded(t, Promise.all(closing), 'the streams to close')
}

test('hello: groups in sync on a reconnect open no channel of their own; news wakes one group, either side', async (t) => {
  const { stores, a, b, writers } = await groups(t)
  const first = connect(stores, a, b)
  await bounded(t, allSynced(b, writers, 1), 'the first sync')
  t.is(first.opened[1], GROUPS, 'the first sync differs: every group opens its channel')
  await disconnect(t, first)

  const again = connect(stores, a, b)
  await bounded(t, Promise.all([...a, ...b].map((m) => until(m, ['synced', 'exchange'], () => m.connections.length === 1 && m.connections[0].phase === 'live' && m.isSynced()))), 'the reconnect to settle')
  t.alike(again.opened, [0, 0], 'no multifeed channel on either side')
  t.ok([...a, ...b].every((m) => m.connections[0].inSync && m.connections[0].settled), 'every exchange in sync and settled')

  await writers[2].append('block 1 of group 2') // a's news
  await bounded(t, until(b[2], ['feed', 'synced', 'exchange'], () => lengthOf(b[2], writers[2].key) === 2 && b[2].isSynced()), 'a\'s append to reach b')
  t.is(await b[2].feed(writers[2].key).get(1), 'block 1 of group 2')
  t.alike(again.opened, [1, 1], 'only that group opened its channel, on both sides')

  const wb = await b[4].writer('b') // b's news, in another group
  await wb.append('from b')
  await bounded(t, until(a[4], ['feed', 'synced', 'exchange'], () => lengthOf(a[4], wb.key) === 1 && a[4].isSynced()), 'b\'s new feed to reach a')
  t.alike(again.opened, [2, 2])
})

test('hello: a group that leaves a connection where it rested in sync tells the remote', async (t) => {
  const { stores, a, b, writers } = await groups(t)
  const first = connect(stores, a, b)
  await bounded(t, allSynced(b, writers, 1), 'the first sync')
  await disconnect(t, first)
  const again = connect(stores, a, b)
  await bounded(t, until(a[1], ['synced', 'exchange'], () => a[1].connections.length === 1 && a[1].connections[0].inSync), 'group 1 to rest in sync')
  await bounded(t, until(b[1], ['synced', 'exchange'], () => b[1].connections.length === 1 && b[1].connections[0].inSync), 'on both sides')
  b[1].unreplicate(again.s2)
  await bounded(t, until(a[1], ['exchange-close'], () => a[1].connections.length === 0), 'a to drop its exchange of group 1')
  t.is(a[0].connections.length, 1, 'the other groups stay')
  t.alike(again.opened, [0, 0], 'told on the hello, without a channel')

  // and the group can come back on the same connection: its new greeting reaches a's new exchange
  a[1].replicate(again.s1)
  b[1].replicate(again.s2)
  await bounded(t, Promise.all([a[1], b[1]].map((m) => until(m, ['synced', 'exchange'], () => m.connections.length === 1 && m.connections[0].phase === 'live'))), 'group 1 to rest in sync again')
  t.ok(a[1].connections[0].inSync)
})

test('hello: a peer without it (3.0) rejects the channel; every group opens its own, even when only we offer', async (t) => {
  const { stores, a, b, writers } = await groups(t)
  const s1 = stores[0].replicate(true)
  const s2 = stores[1].replicate(false)
  s1.on('error', () => {})
  s2.on('error', () => {})
  // b speaks 3.0: no hello handler (protomux rejects our hello), and its groups wait for our channels
  const theirs = Hypercore.getProtocolMuxer(s2)
  ChannelRouter.from(theirs).hello.fail()
  theirs.unpair({ protocol: messages.HELLO_PROTOCOL })
  s1.pipe(s2).pipe(s1)
  for (const m of a) m.replicate(s1)
  for (const m of b) m.replicate(s2, { openFirst: false })
  await bounded(t, allSynced(b, writers, 1), 'every group to sync through its own channel')
  t.ok(a.every((m) => m.connections[0].phase === 'live'))
  // a group that joins the connection later does not wait for a hello that is known to be missing
  const key = crypto.randomBytes(32)
  const late = await create(t, { key, valueEncoding: 'utf-8' }, stores[0])
  const lateB = await create(t, { key, valueEncoding: 'utf-8' }, stores[1])
  const w = await late.writer('w')
  await w.append('late')
  late.replicate(s1)
  lateB.replicate(s2, { openFirst: false })
  await bounded(t, allSynced([lateB], [w], 1), 'the late group to sync')
  t.absent(s1.destroyed)
})

// A hand-driven peer, on a connection shared with our multifeed `m` (a Corestore-made stream: the
// multifeed's own streams do not greet). It opens the hello; `opened` resolves with the id of the first
// multifeed channel we open to it, `closed` when we close its hello.
async function helloPeer (t, m, store) {
  const peer = new Corestore(await t.tmp())
  t.teardown(() => peer.close(), { order: 2 })
  const s1 = store.replicate(true)
  const s2 = peer.replicate(false)
  s1.on('error', () => {})
  s2.on('error', () => {})
  const theirs = Hypercore.getProtocolMuxer(s2)
  const opened = new Promise((resolve) => theirs.pair({ protocol: messages.PROTOCOL }, resolve))
  let onclose = null
  const closed = new Promise((resolve) => { onclose = resolve })
  s1.pipe(s2).pipe(s1)
  m.replicate(s1)
  await theirs.stream.opened
  const hello = theirs.createChannel({ protocol: messages.HELLO_PROTOCOL, handshake: c.raw, messages: [{ encoding: c.raw }, { encoding: c.raw }], onclose })
  hello.open(messages.encode(messages.helloHandshake, messages.VERSION))
  return { s1, hello, opened, closed }
}

async function waiting (t) {
  const store = new Corestore(await t.tmp())
  t.teardown(() => store.close(), { order: 2 })
  const m = await create(t, {}, store)
  await m.writer('w')
  return { m, store }
}

test('hello: a greeting that does not prove our set (no key, or another set) opens the exchange channel', async (t) => {
  const { m, store } = await waiting(t)
  const peer = await helloPeer(t, m, store)
  peer.hello.messages[0].send(messages.encode(messages.greetings, [{ tag: m.discoveryKey.subarray(0, 8), proof: crypto.randomBytes(16) }]))
  t.alike(await bounded(t, peer.opened, 'our exchange channel to open'), m.discoveryKey, 'the channel of the multifeed it greeted')
  t.is(m.connections[0].inSync, false)
})

test('hello: a flood of greetings or a malformed one ends the hello; a waiting group opens its channel', async (t) => {
  for (const hostile of ['flood', 'malformed']) {
    const { m, store } = await waiting(t)
    const peer = await helloPeer(t, m, store)
    if (hostile === 'malformed') {
      peer.hello.messages[0].send(b4a.from([5, 1, 2, 3])) // five greetings announced, three bytes sent
    } else {
      // more tags than any honest peer has on one connection, none of them ours
      for (let sent = 0; sent <= MAX_REMOTE_GROUPS; sent += 4096) {
        const list = []
        for (let i = 0; i < 4096; i++) list.push({ tag: crypto.randomBytes(8), proof: crypto.randomBytes(16) })
        peer.hello.messages[0].send(messages.encode(messages.greetings, list))
      }
    }
    await bounded(t, peer.closed, `${hostile}: our side to close the hello`)
    t.alike(await bounded(t, peer.opened, `${hostile}: our exchange channel to open`), m.discoveryKey, hostile)
    t.absent(peer.s1.destroyed, 'the connection stays')
  }
})
