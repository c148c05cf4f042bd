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
  // a's writer is open, so corestore attached it to the new connection: its Hypercore channel may carry the
  // block with no announcement (lib/exchange.ts), or the group wakes and opens its channel
  t.ok(again.opened.every((n) => n <= 1), 'at most that group opened its channel: ' + again.opened)

  const wb = await b[4].writer('b') // b's news, in another group
  await wb.append('from b')
  await bounded(t, until(a[4], ['feed', 'synced', 'exchange'], () => lengthOf(a[4], wb.key) === 1 && a[4].isSynced()), 'b\'s new feed to reach a')
  t.ok(again.opened.every((n) => n >= 1 && n <= 2), 'a new feed wakes its group, on both sides; no other group opened: ' + again.opened)
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
// multifeed channel we open to it (`onopen` sees every one), `closed` when we close its hello.
async function helloPeer (t, m, store, { replicateOpts = {}, onopen = () => {} } = {}) {
  const peer = new Corestore(await t.tmp())
  t.teardown(() => peer.close(), { order: 2 })
  const s1 = store.replicate(true)
  const s2 = peer.replicate(false)
  s1.on('error', () => {})
  s2.on('error', () => {})
  const theirs = Hypercore.getProtocolMuxer(s2)
  // never answered: protomux rejects each open
  const opened = new Promise((resolve) => theirs.pair({ protocol: messages.PROTOCOL }, (id) => { resolve(id); onopen(id) }))
  let onclose = null
  const closed = new Promise((resolve) => { onclose = resolve })
  s1.pipe(s2).pipe(s1)
  m.replicate(s1, replicateOpts)
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

const tick = () => new Promise((resolve) => setImmediate(resolve))
const whenTrue = async (fn) => { while (!fn()) await tick() } // for state nothing emits (bounded by callers)

// One group on two Corestores, synced once over a shared connection and disconnected: the next
// connection finds it in sync.
async function syncedPair (t, opts = {}) {
  const stores = [new Corestore(await t.tmp()), new Corestore(await t.tmp())]
  t.teardown(() => Promise.all(stores.map((s) => s.close())), { order: 2 })
  const key = crypto.randomBytes(32)
  const a = await create(t, { key, valueEncoding: 'utf-8', ...opts }, stores[0])
  const b = await create(t, { key, valueEncoding: 'utf-8', ...opts }, stores[1])
  const w = await a.writer('w')
  await w.append('block 0')
  const first = connect(stores, [a], [b])
  await bounded(t, allSynced([b], [w], 1), 'the first sync')
  await disconnect(t, first)
  return { stores, a, b, w }
}

const resting = (t, ms) => bounded(t, Promise.all(ms.map((m) => until(m, ['synced', 'exchange'], () => m.connections.length === 1 && m.connections[0].phase === 'live' && m.connections[0].inSync))), 'the group to rest in sync')

test('hello: a group that leaves before its greeting went out withdraws it: no farewell overtakes it, the remote never rests with it', async (t) => {
  const { stores, a, b } = await syncedPair(t, { timeout: 1000 })
  const s1 = stores[0].replicate(true)
  const s2 = stores[1].replicate(false)
  s1.on('error', () => {})
  s2.on('error', () => {})
  s1.pipe(s2).pipe(s1)
  b.replicate(s2)
  a.replicate(s1)
  const hello = ChannelRouter.from(Hypercore.getProtocolMuxer(s1)).hello
  await bounded(t, whenTrue(() => hello.outbox.length > 0), 'a\'s greeting to be queued')
  a.unreplicate(s1) // in the turn before the flush
  // b's exchange waits for a greeting that never comes, and ends quietly at its timeout
  await bounded(t, until(b, ['exchange-close'], () => b.connections.length === 0), 'b to end its exchange with a group that left', 5000)
  t.is(b.connections.length, 0)
})

test('hello: a kept greeting holds 24 bytes, not the message it came in', async (t) => {
  const { m, store } = await waiting(t)
  const peer = await helloPeer(t, m, store)
  const ours = ChannelRouter.from(Hypercore.getProtocolMuxer(peer.s1)).hello
  await bounded(t, whenTrue(() => ours.state === 'open'), 'our hello to open')
  const MESSAGES = 64
  const filler = { tag: crypto.randomBytes(8), proof: crypto.randomBytes(16) }
  for (let i = 0; i < MESSAGES; i++) {
    const list = [{ tag: crypto.randomBytes(8), proof: crypto.randomBytes(16) }]
    while (list.length < 4096) list.push(filler) // ~98 KB per message, one new tag in each
    peer.hello.messages[0].send(messages.encode(messages.greetings, list))
  }
  await bounded(t, whenTrue(() => ours.remote.size >= MESSAGES + 1), 'the greetings to arrive')
  const buffers = new Set()
  for (const proof of ours.remote.values()) if (typeof proof !== 'string') buffers.add(proof.buffer)
  t.is(buffers.size, 0, 'no greeting keeps a view of its message')
})

test('hello: a side whose first multifeed joins after the remote\'s hello open still greets (the rejection was "not yet")', async (t) => {
  const { stores, a, b } = await syncedPair(t)
  const s1 = stores[0].replicate(true)
  const s2 = stores[1].replicate(false)
  s1.on('error', () => {})
  s2.on('error', () => {})
  const muxers = [Hypercore.getProtocolMuxer(s1), Hypercore.getProtocolMuxer(s2)]
  let opened = 0
  const createChannel = muxers[1].createChannel
  muxers[1].createChannel = function (opts) {
    if (opts.protocol === messages.PROTOCOL) opened++
    return createChannel.call(this, opts)
  }
  s1.pipe(s2).pipe(s1)
  a.replicate(s1, { openFirst: false })
  // b has no multifeed on the connection yet: its muxer rejects a's hello
  await bounded(t, whenTrue(() => ChannelRouter.from(muxers[0]).hello.failed), 'a\'s hello to be rejected')
  b.replicate(s2)
  await bounded(t, Promise.all([a, b].map((m) => until(m, ['synced', 'exchange'], () => m.connections.length === 1 && m.connections[0].phase === 'live' && m.isSynced()))), 'the group to settle')
  t.absent(ChannelRouter.from(muxers[0]).hello.failed, 'a\'s hello is up again')
  t.absent(ChannelRouter.from(muxers[1]).hello.failed, 'b\'s hello is up')
  t.ok(opened <= 1, `at most the group that fell back opens a channel: ${opened}`)
})

test('hello: both sides wake a resting group in the same turn, five reconnects in a row', async (t) => {
  const stores = [new Corestore(await t.tmp()), new Corestore(await t.tmp())]
  t.teardown(() => Promise.all(stores.map((s) => s.close())), { order: 2 })
  const key = crypto.randomBytes(32)
  const a = await create(t, { key, valueEncoding: 'utf-8' }, stores[0])
  const b = await create(t, { key, valueEncoding: 'utf-8' }, stores[1])
  const wa = await a.writer('w')
  const wb = await b.writer('w')
  await wa.append('a0')
  await wb.append('b0')
  const crossed = (n) => bounded(t, Promise.all([allSynced([a], [wb], n), allSynced([b], [wa], n)]), `both sides at ${n}`)
  const first = connect(stores, [a], [b])
  await crossed(1)
  await disconnect(t, first)
  for (let round = 0; round < 5; round++) {
    const again = connect(stores, [a], [b])
    await resting(t, [a, b])
    await Promise.all([wa.append('a' + (round + 1)), wb.append('b' + (round + 1))])
    await crossed(round + 2)
    await disconnect(t, again)
  }
})

test('hello: membership records made while an authorized group rests wake it and arrive', async (t) => {
  const stores = [new Corestore(await t.tmp()), new Corestore(await t.tmp())]
  t.teardown(() => Promise.all(stores.map((s) => s.close())), { order: 2 })
  const owner = await create(t, { owner: true, valueEncoding: 'utf-8' }, stores[0])
  const member = await create(t, { key: owner.joinKey, valueEncoding: 'utf-8' }, stores[1])
  const ow = await owner.writer('w')
  await ow.append('o')
  const mw = await member.writer('w')
  await mw.append('m')
  const first = connect(stores, [owner], [member])
  await bounded(t, allSynced([member], [ow], 1), 'the first sync')
  await disconnect(t, first)
  const again = connect(stores, [owner], [member])
  await resting(t, [owner, member])
  await owner.authorize(mw.key)
  await bounded(t, until(owner, ['feed', 'synced'], () => lengthOf(owner, mw.key) === 1), 'the owner to take the member\'s feed')
  await bounded(t, until(member, ['authorized'], () => member.isAuthorized(mw.key)), 'the member to learn its authorization')
  await disconnect(t, again)
  const third = connect(stores, [owner], [member])
  await resting(t, [owner, member])
  await owner.revoke(mw.key)
  await bounded(t, until(member, ['remove', 'revoked'], () => !member.isAuthorized(mw.key)), 'the revocation to reach the member')
  t.alike(third.opened, [1, 1], 'one channel each way, for the news')
})

test('hello: a greeting from a peer without the key costs a channel open (its capability check first), never our set', async (t) => {
  const store = new Corestore(await t.tmp())
  t.teardown(() => store.close(), { order: 2 })
  const m = await create(t, {}, store)
  for (let i = 0; i < 20; i++) await (await m.writer('w' + i)).append('x')
  let computed = 0
  const shared = m.exchanges.sharedEntries.bind(m.exchanges)
  m.exchanges.sharedEntries = () => { computed++; return shared() }
  let opens = 0
  // as the networker on a connection not found under the topic
  const peer = await helloPeer(t, m, store, { replicateOpts: { openFirst: false }, onopen: () => { opens++ } })
  const ours = Hypercore.getProtocolMuxer(peer.s1)
  // as the networker's watcher does (networker/index.ts onremoteopen)
  ChannelRouter.from(ours).hello.watch(m.discoveryKey, () => {
    if (!m.connections.some((ex) => ex.muxer === ours && !ex.closed)) m.replicate(peer.s1)
    const ex = m.connections.find((ex) => ex.muxer === ours && !ex.closed)
    if (ex) ex.onremoteopen()
  })
  const hello = peer.hello
  for (let i = 0; i < 10; i++) {
    const before = opens
    hello.messages[0].send(messages.encode(messages.greetings, [{ tag: m.discoveryKey.subarray(0, 8), proof: crypto.randomBytes(16) }]))
    await bounded(t, until(m, ['exchange-close', 'exchange'], () => opens > before && m.connections.every((ex) => ex.closed)), `greeting ${i}: our channel to open and close`)
  }
  t.ok(computed <= 1, `ten greetings without the key: our set computed ${computed} times`)
})
