// Hostile peers and races (issue 11): each test fails on the code before its fix (12 was fixed before).
// The peers are driven by hand (the multifeed channel over protomux, as test/helpers.js rawPeer, with real
// cores in a corestore of their own), so they can lie about lengths, advertise feeds that exist nowhere,
// drip messages or swallow block requests. Every wait fails by name within a few seconds.
const test = require('brittle')
const b4a = require('b4a')
const crypto = require('hypercore-crypto')
const Corestore = require('corestore')
const Hypercore = require('hypercore')
const c = require('compact-encoding')
const { EventEmitter } = require('events')
const helpers = require('./helpers.js')
const { create, pipe, once, until, Multifeed, messages } = helpers
const caps = require('../dist/lib/caps.js')

// every wait here resolves to null after its named failure, so a test can report what else went wrong
const bounded = helpers.boundedOrNull

const hex = (k) => b4a.toString(k, 'hex')
const has = (m, key) => m.list().some((f) => b4a.equals(f.key, key))
const lengthOf = (m, key) => (m.list().find((f) => b4a.equals(f.key, key)) || { length: -1 }).length
const fakeKey = () => crypto.randomBytes(32) // a feed that exists nowhere

// A hand-driven peer connected to `m`: as rawPeer (test/helpers.js), the multifeed channel driven by hand
// over protomux, on a corestore of its own (given, so one peer can connect twice) that serves the cores it
// holds. `advertise` sends a summary of its set and the whole set as one list (list mode whenever either
// set is empty); `feeds` sends one `feeds` message; `next` reads the multifeed's messages in order.
async function hostile (t, m, { store = null, isInitiator = true, shared = false, owner = null } = {}) {
  if (store === null) {
    store = new Corestore(await t.tmp())
    t.teardown(() => store.close(), { order: 2 })
  }
  const stream = store.replicate(isInitiator)
  stream.on('error', () => {})
  const muxer = Hypercore.getProtocolMuxer(stream)
  let s
  if (shared) {
    // a connection the multifeed does not own (a Hyperswarm connection, say): made by a store of its own
    const own = new Corestore(await t.tmp())
    t.teardown(() => own.close(), { order: 2 })
    s = own.replicate(!isInitiator)
    m.replicate(s)
  } else {
    s = m.replicate(!isInitiator)
  }
  s.errors = []
  s.on('error', (err) => s.errors.push(err))
  s.pipe(stream).pipe(s)
  t.teardown(() => stream.destroy(), { order: 0 })
  const received = []
  const events = new EventEmitter()
  const noise = muxer.stream
  if (!noise.handshakeHash) await noise.opened
  const channel = muxer.createChannel({
    protocol: messages.PROTOCOL,
    id: crypto.discoveryKey(m.key),
    handshake: c.raw,
    messages: [0, 1, 2, 3, 4, 5, 6].map((type) => ({ encoding: c.raw, onmessage: (buf) => { received.push({ type, buf }); events.emit('message') } })),
    onclose: () => events.emit('close')
  })
  channel.open(messages.encode(messages.handshake, { version: messages.VERSION, client: 'MULTIFEED', capability: caps.capability(noise.isInitiator, m.key, noise.handshakeHash), owner }))
  const salt = caps.connectionSalt(m.key, noise.handshakeHash)
  const peer = { store, stream, muxer, s, received, events }
  peer.send = (type, buf) => channel.messages[type].send(buf)
  peer.ex = () => m.connections.find((ex) => ex.stream === s)
  peer.summary = (entries) => {
    const digest = new caps.SetDigest(salt)
    for (const e of entries) digest.toggle(caps.element(salt, e.key, e.length, e.fork || 0))
    peer.send(0, messages.encode(messages.summary, { count: entries.length, digest: digest.digest }))
  }
  peer.feeds = (entries, last = false) => peer.send(1, messages.encode(messages.feeds, { last, entries }))
  peer.records = (records) => peer.send(6, messages.encode(messages.records, { records }))
  peer.advertise = (entries) => {
    peer.summary(entries)
    peer.feeds(entries, true)
  }
  let read = 0
  peer.next = (what, ms = 3000) => bounded(t, (async () => {
    while (read >= received.length) await once(events, 'message')
    return received[read++]
  })(), what, ms)
  // a core of the peer's own, with blocks: the multifeed can really download it
  peer.core = async (name, blocks) => {
    const core = store.get({ name })
    await core.append(blocks)
    return core
  }
  return peer
}

function blocks (n, prefix = 'block') {
  const out = []
  for (let i = 0; i < n; i++) out.push(prefix + ' ' + i)
  return out
}

function collect (emitter, name) {
  const events = []
  emitter.on(name, (...args) => events.push(args))
  return events
}

function muxerOf (stream) {
  return Hypercore.getProtocolMuxer(stream)
}

// --- 1. lying lengths ---

test('1. lying lengths: feeds that exist nowhere and a real one advertised at 10^9 stall, synced() resolves', { timeout: 15000 }, async (t) => {
  const key = crypto.randomBytes(32)
  const m = await create(t, { key, stallTimeout: 300 })
  const stalled = collect(m, 'stalled')
  const peer = await hostile(t, m)
  const real = await peer.core('real', blocks(3))
  const fakes = []
  for (let i = 0; i < 30; i++) fakes.push({ key: fakeKey(), length: 5 })
  const exchanged = once(peer.s, 'remote-feeds')
  peer.advertise([...fakes, { key: real.key, length: 1e9 }])
  await bounded(t, exchanged, 'the exchange to finish', 2000)
  await bounded(t, m.synced(), 'synced() despite 31 feeds that never reach their advertised length', 3000)
  t.is(lengthOf(m, real.key), 3, 'the real feed\'s 3 blocks arrived')
  const ex = peer.ex()
  t.ok(ex, 'the connection stays up')
  const keys = new Set(stalled.map(([k]) => hex(k)))
  t.is(fakes.filter((f) => keys.has(hex(f.key))).length, 30, '\'stalled\' for each of the 30 fake feeds')
  t.ok(keys.has(hex(real.key)), '\'stalled\' for the real feed advertised at 10^9')
  t.is(stalled.length, 31, 'one \'stalled\' event per stalled feed')
  t.ok(stalled.every(([k, e]) => b4a.isBuffer(k) && e === ex), '\'stalled\' gives a Buffer key and the exchange')
  t.is(ex && ex.stalled && ex.stalled.size, 31, 'exchange.stalled holds them')
  t.ok(ex && ex.stalled && fakes.every((f) => ex.stalled.has(hex(f.key))), 'by hex key')
})

// --- 2. drip ---

test('2. drip: empty non-final feeds every 400 ms do not hold the exchange past timeout: 500', { timeout: 15000 }, async (t) => {
  const key = crypto.randomBytes(32)
  const m = await create(t, { key, timeout: 500 })
  const peer = await hostile(t, m)
  const closing = once(m, 'exchange-close')
  const started = Date.now()
  peer.summary([{ key: fakeKey(), length: 5 }, { key: fakeKey(), length: 5 }])
  const drip = setInterval(() => peer.feeds([], false), 400)
  t.teardown(() => clearInterval(drip))
  const [ex, err] = (await bounded(t, closing, 'ERR_EXCHANGE_TIMEOUT while the peer drips empty batches', 1500)) || []
  clearInterval(drip)
  t.ok(ex, 'the exchange closed')
  t.is(err && err.code, 'ERR_EXCHANGE_TIMEOUT')
  t.ok(Date.now() - started < 1500, `within about a second (${Date.now() - started} ms)`)
  t.ok(peer.s.errors.some((e) => e.code === 'ERR_EXCHANGE_TIMEOUT'), 'the stream it made is destroyed with the error')
})

// --- 3. window starvation ---

test('3. window starvation: 8 never-served feeds ahead of 2 real ones with maxDownloads: 4', { timeout: 15000 }, async (t) => {
  const key = crypto.randomBytes(32)
  const m = await create(t, { key, maxDownloads: 4, stallTimeout: 300 })
  const peer = await hostile(t, m)
  const real = [await peer.core('r0', blocks(2)), await peer.core('r1', blocks(3))]
  const fakes = []
  for (let i = 0; i < 8; i++) fakes.push({ key: fakeKey(), length: 5 })
  const exchanged = once(peer.s, 'remote-feeds')
  peer.advertise([...fakes, ...real.map((core) => ({ key: core.key, length: core.length }))])
  await bounded(t, exchanged, 'the exchange to finish', 2000)
  await bounded(t, m.synced(), 'synced(): the real feeds behind the stalled window', 4000)
  t.is(lengthOf(m, real[0].key), 2, 'real feed 0 downloaded')
  t.is(lengthOf(m, real[1].key), 3, 'real feed 1 downloaded')
  const ex = peer.ex()
  t.is(ex && ex.stalled && ex.stalled.size, 8, 'the 8 fakes are stalled')
})

// --- 4. stalling holder ---

// The holder has a true copy of the feed and answers Hypercore's sync (so it claims every block), but
// swallows every block request on its connection to the multifeed. 'peer-add' comes in the channel's
// open, before the holder's sync goes out: no request can arrive before the patch.
function swallowRequests (core, muxer, onrequest) {
  core.on('peer-add', (peer) => {
    if (peer.protomux === muxer) peer.onrequest = async () => onrequest()
  })
}

test('4. stalling holder: a peer that claims every block but serves none does not keep them from an honest peer', { timeout: 15000 }, async (t) => {
  const key = crypto.randomBytes(32)
  const keyPair = crypto.keyPair()
  const N = 60
  const data = blocks(N, 'x'.repeat(200))
  // the honest peer: a multifeed whose writer holds the feed
  const honest = await create(t, { key })
  const w = await honest.writer('w', { keyPair })
  await w.append(data)
  const m = await create(t, { key, stallTimeout: 300 })
  const stalled = collect(m, 'stalled')
  // the holder, connected first: the same blocks (same key pair, same appends: the same signed tree)
  const holder = await hostile(t, m)
  const copy = holder.store.get({ key: keyPair.publicKey, keyPair })
  await copy.append(data)
  let swallowed = 0
  const requested = new Promise((resolve) => swallowRequests(copy, holder.muxer, () => { swallowed++; resolve() }))
  holder.advertise([{ key: keyPair.publicKey, length: N }])
  await bounded(t, requested, 'the multifeed to request a block from the holder', 2000)
  // Hypercore waits for the holder's answers (the first one carries the tree's length) and asks no one
  // else meanwhile. The honest peer connects once the feed stalled on the holder's connection, so its own
  // connection cannot stall in the same watchdog round: what is tested is that the stall frees the
  // requests the holder sat on.
  await bounded(t, until(m, ['stalled'], () => stalled.some(([k]) => b4a.equals(k, keyPair.publicKey))), '\'stalled\' on the holder\'s connection', 1500)
  const onHolder = stalled.find(([k]) => b4a.equals(k, keyPair.publicKey))
  t.ok(onHolder && onHolder[1] === holder.ex(), 'stalled on the holder\'s connection')
  const [sm] = pipe(m, honest)
  await bounded(t, once(sm, 'remote-feeds'), 'the exchange with the honest peer', 2000)
  await bounded(t, m.synced(), `all ${N} blocks, from the honest peer`, 2500)
  t.is(lengthOf(m, keyPair.publicKey), N, `all ${N} blocks arrived (${swallowed} requests swallowed by the holder)`)
  const ex = m.connections.find((e) => e.stream === sm)
  t.absent(stalled.some(([k, e]) => e === ex), 'nothing stalled on the honest connection')
  const feed = m.feed(keyPair.publicKey)
  t.is(await feed.get(N - 1, { wait: false, valueEncoding: 'utf-8' }), data[N - 1], 'the last block is stored')
})

// --- 5. truncation ---

const utf8 = { valueEncoding: 'utf-8' }

// Resolves once m's record of the feed is at `length` and its last block is `last` (looked at again at
// every change of a session the app holds, waited for before each look so none is missed; a reorg can
// bring the new fork's length at once, with its blocks as downloads).
async function reaches (m, held, key, length, last) {
  for (;;) {
    const next = Promise.race(['append', 'truncate', 'download'].map((event) => once(held, event)))
    if (lengthOf(m, key) === length && (await held.get(length - 1, { wait: false, ...utf8 })) === last) return
    await next
  }
}

async function blocksOf (m, key, n) {
  const feed = m.feed(key)
  const out = []
  for (let i = 0; i < n; i++) out.push(await feed.get(i, { wait: false, ...utf8 }))
  return out
}

test('5. truncation: a writer\'s new fork replaces the old one on every peer, and the records follow it', { timeout: 20000 }, async (t) => {
  const key = crypto.randomBytes(32)
  const dirB = await t.tmp()
  const a = await create(t, { key })
  const w = await a.writer('w')
  await w.append(blocks(10, 'old'))
  let b = await create(t, { key }, dirB)
  let [sa] = pipe(a, b)
  await bounded(t, once(sa, 'remote-feeds'), 'the first exchange')
  await bounded(t, b.synced(), 'b to download the first fork')
  t.is(lengthOf(b, w.key), 10, 'b holds the old fork: 10 blocks')
  sa.destroy()
  await helpers.closed(sa)

  // the writer truncates and appends again: a shorter feed at a later fork
  await w.truncate(5)
  await w.append(['new 5', 'new 6', 'new 7'])
  t.is(lengthOf(a, w.key), 8, 'the writer\'s record follows its core down to the new fork')

  ;[sa] = pipe(a, b)
  const ex = await bounded(t, once(sa, 'remote-feeds').then(() => a.connections.find((e) => e.stream === sa)), 'the exchange after the truncation')
  t.not(ex && ex.mode, 'in-sync', 'the summaries differ although b is longer')
  await bounded(t, b.synced(), 'b to meet the new fork')
  t.is(lengthOf(b, w.key), 8, 'b\'s record follows the new fork: 8 blocks')
  t.alike(await blocksOf(b, w.key, 8), [...blocks(5, 'old'), 'new 5', 'new 6', 'new 7'], 'b holds the new blocks')

  // live: a second truncation while connected reaches b by announcement
  const held = b.feed(w.key)
  const reached = reaches(b, held, w.key, 7, 'newer 6')
  await w.truncate(6)
  await w.append('newer 6')
  await bounded(t, reached, 'the live truncation to reach b')
  t.is(lengthOf(b, w.key), 7, 'a live truncation is announced and followed')

  // a fresh peer that meets only b gets the current fork and is synced
  const c = await create(t, { key })
  const [sc] = pipe(c, b)
  await bounded(t, once(sc, 'remote-feeds'), 'the exchange c-b')
  await bounded(t, c.synced(), 'c to sync from b')
  t.alike(await blocksOf(c, w.key, 7), [...blocks(5, 'old'), 'new 5', 'newer 6'], 'c holds the current fork, from b')

  // the fork survives a clean close: b's reopened summary equals the writer's
  sa.destroy()
  await helpers.closed(sa)
  await b.close()
  b = await create(t, { key }, dirB)
  t.is(lengthOf(b, w.key), 7, 'b reopens at the new fork\'s length')
  ;[sa] = pipe(a, b)
  await bounded(t, once(sa, 'remote-feeds'), 'the exchange after reopen')
  t.is(a.connections.find((e) => e.stream === sa).mode, 'in-sync', 'the reopened record carries the fork: in sync')
})

// Each chunk crosses on a later turn of the event loop, as over a network. Over a pipe where every chunk
// crosses in the same microtask queue, hypercore 11.39 peers on two forks can trade bitfield messages
// without end and the event loop never turns again (hypercore's replicator onwirebitfield; over TCP it
// settles): that is hypercore's, and this test is about what the multifeed does.
function pipeLikeNetwork (x, y) {
  const s1 = x.replicate(true)
  const s2 = y.replicate(false)
  for (const [from, to] of [[s1, s2], [s2, s1]]) {
    from.on('error', () => {})
    from.on('data', (data) => setImmediate(() => to.write(data)))
    from.on('close', () => to.destroy())
  }
  return [s1, s2]
}

test('5b. truncation: a fresh peer meeting the old fork and the writer at once takes the new fork from either', { timeout: 20000 }, async (t) => {
  const key = crypto.randomBytes(32)
  const a = await create(t, { key })
  const w = await a.writer('w')
  await w.append(blocks(10, 'old'))
  const b = await create(t, { key })
  const [sa] = pipe(a, b)
  await bounded(t, once(sa, 'remote-feeds'), 'the first exchange')
  await bounded(t, b.synced(), 'b to download the first fork')
  sa.destroy()
  await helpers.closed(sa)
  await w.truncate(5)
  await w.append(['new 5', 'new 6'])
  // c meets b (old fork, longer) and a (new fork) in the same tick: fetching both forks at once made
  // hypercore trade messages between the two peers without end (the event loop never ran again)
  const c = await create(t, { key })
  // b learns the new fork once c has it and announces it
  const held = b.feed(w.key)
  const bFollowed = reaches(b, held, w.key, 7, 'new 6')
  const [s1] = pipeLikeNetwork(c, b)
  const [s2] = pipeLikeNetwork(c, a)
  await bounded(t, Promise.all([once(s1, 'remote-feeds'), once(s2, 'remote-feeds')]), 'both exchanges')
  await bounded(t, c.synced(), 'c to sync')
  await bounded(t, bFollowed, 'b to follow the new fork through c')
  const want = [...blocks(5, 'old'), 'new 5', 'new 6']
  t.alike(await blocksOf(c, w.key, 7), want, 'c holds the new fork')
  t.is(lengthOf(c, w.key), 7)
  t.alike(await blocksOf(b, w.key, 7), want, 'b met the new fork through c')
  t.is(lengthOf(b, w.key), 7)
  s1.destroy()
  s2.destroy()
})

// A writer truncated to length 0 is not advertised until it appends again: a peer on the old fork that
// opened its channel would make hypercore at the writer's end ask it for the old fork's length without end
// (test/upstream/hypercore-truncate-to-zero-upgrade-loop.js; over a plain pipe no timer ran again, so this
// test crosses each chunk on a later turn and counts them). Its first block of the new fork is announced,
// and the peer follows.
test('5c. a writer truncated to 0: a peer on the old fork does not make it spin, and follows its next block', { timeout: 20000 }, async (t) => {
  const key = crypto.randomBytes(32)
  const a = await create(t, { key })
  const b = await create(t, { key })
  const w = await a.writer('w')
  await w.append(blocks(2, 'old'))
  let [sa] = pipe(a, b)
  await bounded(t, b.synced(), 'b to download the old fork')
  sa.destroy()
  await helpers.closed(sa)

  await w.truncate(0)
  ;[sa] = pipeLikeNetwork(a, b)
  let frames = 0
  sa.on('data', () => frames++)
  await bounded(t, Promise.all([a.synced(), b.synced()]), 'both synced')
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.ok(frames < 50, `the connection is quiet: ${frames} frames from the writer's side until 300 ms after both synced (thousands before)`)
  t.is(lengthOf(b, w.key), 2, 'b keeps the old fork while the writer holds nothing')

  const held = b.feed(w.key)
  const reached = reaches(b, held, w.key, 1, 'new 0')
  await w.append('new 0')
  await bounded(t, reached, 'b to follow the new fork')
  t.alike(await blocksOf(b, w.key, 1), ['new 0'])

  // truncated to 0 again while connected, with b downloading it live: its channel closes, and stays quiet
  const before = frames
  await w.truncate(0)
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.ok(frames - before < 50, `quiet after a truncation to 0 while connected: ${frames - before} frames in 300 ms`)
  const again = reaches(b, held, w.key, 1, 'newer 0')
  await w.append('newer 0')
  await bounded(t, again, 'b to follow the next fork')
  sa.destroy()
  await helpers.closed(sa)
})

// --- 6. floods and forwarding ---

test('6a. a feed advertised at length 0 is never recorded, nor kept across reopen', { timeout: 15000 }, async (t) => {
  const key = crypto.randomBytes(32)
  const dir = await t.tmp()
  const m = await create(t, { key, stallTimeout: 300 }, dir)
  const peer = await hostile(t, m)
  const real = await peer.core('real', blocks(1))
  const empty = fakeKey()
  const exchanged = once(peer.s, 'remote-feeds')
  peer.advertise([{ key: empty, length: 0 }, { key: real.key, length: 1 }])
  await bounded(t, exchanged, 'the exchange to finish', 2000)
  await bounded(t, m.synced(), 'synced()', 2000)
  t.is(lengthOf(m, real.key), 1, 'the real feed is recorded and downloaded')
  t.absent(has(m, empty), 'the length-0 feed is not in list()')
  t.is(m.size, 1)
  await m.close()
  const m2 = await create(t, { key }, dir)
  t.absent(has(m2, empty), 'nor after reopen')
  t.ok(has(m2, real.key))
})

test('6b. maxNewFeedsPerConnection: a flood is cut at the limit, the connection stays, known feeds still update', { timeout: 15000 }, async (t) => {
  const key = crypto.randomBytes(32)
  const m = await create(t, { key, stallTimeout: 300, maxNewFeedsPerConnection: 50 })
  const refused = collect(m, 'refused')
  // the known feed, learnt over an earlier connection from the same peer
  const store = new Corestore(await t.tmp())
  t.teardown(() => store.close(), { order: 2 })
  const known = store.get({ name: 'known' })
  await known.append('k0')
  const first = await hostile(t, m, { store })
  first.advertise([{ key: known.key, length: 1 }])
  await bounded(t, until(m, ['synced', 'exchange'], () => lengthOf(m, known.key) === 1 && m.isSynced()), 'the known feed\'s first block', 2000)
  first.stream.destroy()
  await bounded(t, until(m, ['exchange-close'], () => m.connections.length === 0), 'the first connection to close', 2000)
  await known.append('k1')
  // the flood, in one live batch with the known feed's growth
  const peer = await hostile(t, m, { store })
  peer.summary([{ key: known.key, length: 1 }]) // the multifeed's own set: in sync, live at once
  await bounded(t, until(m, ['exchange'], () => peer.ex() && peer.ex().phase === 'live'), 'the exchange to go live', 2000)
  const flood = []
  for (let i = 0; i < 200; i++) flood.push({ key: fakeKey(), length: 1 })
  const processed = once(peer.s, 'remote-feeds') // the batch's downloads began: it has been processed
  peer.feeds([...flood, { key: known.key, length: 2 }])
  await bounded(t, until(m, ['refused'], () => refused.length > 0), '\'refused\'', 2000)
  await bounded(t, processed, 'the batch to be processed', 2000)
  await bounded(t, m.synced(), 'synced(): the known feed\'s update', 2000)
  t.is(refused.length, 1, 'one \'refused\' for the batch')
  t.is(refused[0] && refused[0][0], 150, '150 entries refused')
  t.ok(refused[0] && refused[0][1] === peer.ex(), 'with the exchange')
  t.is(lengthOf(m, known.key), 2, 'the known feed\'s update in the same batch applied')
  t.is(flood.filter((e) => has(m, e.key)).length, 50, '50 new feeds recorded')
  t.is(m.size, 51)
  t.is(m.connections.length, 1, 'the connection stays up')
  t.alike(peer.s.errors, [], 'no error on the stream')
})

test('6c. a remote feed of which we hold no block is not forwarded to other peers', { timeout: 15000 }, async (t) => {
  const key = crypto.randomBytes(32)
  const m = await create(t, { key, stallTimeout: 300 })
  // observer 1, connected first (both sets empty: in sync, live at once), reads the live announcements
  const early = await hostile(t, m)
  early.summary([])
  const first = await early.next('the multifeed\'s summary')
  t.is(first && first.type, 0)
  // the source: a feed that exists nowhere and a real one
  const source = await hostile(t, m)
  const real = await source.core('real', blocks(2))
  const ghost = fakeKey()
  source.advertise([{ key: ghost, length: 5 }, { key: real.key, length: 2 }])
  // the real feed reaches observer 1 once its blocks are verified; anything about the ghost would come first
  const announced = []
  for (;;) {
    const msg = await early.next('an announcement of the real feed', 3000)
    if (!msg) break
    if (msg.type !== 1) continue
    const f = messages.decode(messages.feeds, msg.buf, 'feeds')
    for (const e of f.entries) announced.push(e)
    if (f.entries.some((e) => b4a.equals(e.key, real.key) && e.length === 2)) break
  }
  t.ok(announced.some((e) => b4a.equals(e.key, real.key) && e.length === 2), 'the real feed is forwarded once downloaded')
  t.absent(announced.some((e) => b4a.equals(e.key, ghost)), 'the ghost is not announced')
  t.absent(announced.some((e) => e.length === 0), 'nothing is announced at length 0')
  // observer 2, connected now, reads the summary and the list
  const late = await hostile(t, m)
  late.summary([])
  const sum = await late.next('the multifeed\'s summary')
  t.is(sum && messages.decode(messages.summary, sum.buf, 'summary').count, 1, 'the summary counts the real feed only')
  const list = []
  for (;;) {
    const msg = await late.next('the multifeed\'s list')
    if (!msg || msg.type !== 1) break
    const f = messages.decode(messages.feeds, msg.buf, 'feeds')
    for (const e of f.entries) list.push(e)
    if (f.last) break
  }
  t.alike(list.map((e) => hex(e.key) + ':' + e.length), [hex(real.key) + ':2'], 'the list holds the real feed only')
  t.ok(has(m, ghost), 'the multifeed itself records the ghost (it was advertised at length 5)')
})

test('6d. purge({ empty }) and purge({ introducedBy })', { timeout: 15000 }, async (t) => {
  const key = crypto.randomBytes(32)
  const m = await create(t, { key, stallTimeout: 300 })
  const emptyWriter = await m.writer('empty')
  const writer = await m.writer('full')
  await writer.append('mine')
  // an honest peer introduces its writer
  const honest = await create(t, { key })
  const hw = await honest.writer('h')
  await hw.append('honest')
  const [sm] = pipe(m, honest)
  await bounded(t, once(sm, 'remote-feeds'), 'the honest exchange', 2000) // registered before any byte can arrive
  await bounded(t, m.synced(), 'the honest feed', 2000)
  t.is(lengthOf(m, hw.key), 1)
  // the hostile peer introduces a ghost and a real feed, and re-advertises the honest one
  const peer = await hostile(t, m)
  const real = await peer.core('real', blocks(1))
  const ghost = fakeKey()
  const exchanged = once(peer.s, 'remote-feeds')
  peer.advertise([{ key: ghost, length: 3 }, { key: real.key, length: 1 }, { key: hw.key, length: 1 }])
  await bounded(t, exchanged, 'the hostile exchange', 2000)
  await bounded(t, m.synced(), 'synced() (the ghost stalls)', 2000)
  t.is(m.size, 5, 'two writers, the honest feed, the ghost, the real feed')
  t.is(typeof m.purge, 'function', 'purge() exists')
  if (typeof m.purge !== 'function') return
  const removed = collect(m, 'remove')
  t.is(await m.purge({ empty: true }), 1, 'purge({ empty }) removes the ghost only')
  t.absent(has(m, ghost), 'the ghost is gone')
  t.ok(has(m, emptyWriter.key), 'an empty writer is never purged')
  t.ok(has(m, real.key) && has(m, hw.key) && has(m, writer.key))
  t.is(await m.purge({ introducedBy: peer.ex() }), 1, 'purge({ introducedBy }) removes what that connection made us record')
  t.absent(has(m, real.key), 'the real feed it introduced is gone, blocks and all')
  t.ok(has(m, hw.key), 'the feed another connection introduced stays, though this one advertised it too')
  t.alike(m.list().map((f) => hex(f.key)).sort(), [emptyWriter.key, writer.key, hw.key].map(hex).sort())
  t.is(removed.length, 2, '\'remove\' for each')
})

// --- races ---

test('11. remove(key, { block: true }) while a peer\'s advertisement of that key is being recorded', { timeout: 15000 }, async (t) => {
  const key = crypto.randomBytes(32)
  const dir = await t.tmp()
  const targets = new Map() // hex -> { delay, removed: resolves with remove()'s promise once it is called }
  // the accept filter runs while the advertisement is being recorded: remove() starts there, after a
  // varying number of turns of the event loop, so it lands in each step of the recording
  const accept = (info) => {
    const target = targets.get(hex(info.key))
    if (target === undefined) return true
    const go = () => target.start(m.remove(info.key, { block: true }))
    if (target.delay < 0) go()
    else {
      let n = target.delay
      const tick = () => (n-- > 0 ? setImmediate(tick) : go())
      tick()
    }
    return true
  }
  const m = await create(t, { key, stallTimeout: 300, accept }, dir)
  const peer = await hostile(t, m)
  const exchanged = once(peer.s, 'remote-feeds')
  peer.summary([]) // both sets empty: in sync, live at once
  await bounded(t, exchanged, 'the exchange to finish', 2000)
  const keys = []
  for (let delay = -1; delay < 8; delay++) {
    const k = fakeKey()
    let start
    const removed = new Promise((resolve) => { start = resolve })
    targets.set(hex(k), { delay, start })
    keys.push(k)
    const sentinel = fakeKey()
    peer.feeds([{ key: k, length: 1 }, { key: sentinel, length: 1 }])
    // the next batch being recorded proves the one before it is done
    const after = fakeKey()
    peer.feeds([{ key: after, length: 1 }])
    await bounded(t, until(m, ['feed'], () => has(m, after)), 'the batch after the removal to be recorded', 2000)
    await bounded(t, removed.then((p) => p), 'remove() to be called and resolve', 2000)
    t.absent(has(m, k), `delay ${delay}: the removed key is not in list()`)
    t.ok(m.isBlocked(k), `delay ${delay}: and it is blocked`)
  }
  await m.close()
  const m2 = await create(t, { key }, dir)
  t.is(keys.filter((k) => has(m2, k)).length, 0, 'none of them is in list() after reopen')
  t.is(keys.filter((k) => m2.isBlocked(k)).length, keys.length, 'all of them stay blocked')
})

test('12. writer(name, { keyPair }) for a key a hand-driven peer advertised first becomes writable', { timeout: 15000 }, async (t) => {
  const key = crypto.randomBytes(32)
  const dir = await t.tmp()
  const keyPair = crypto.keyPair()
  const m = await create(t, { key }, dir)
  const peer = await hostile(t, m)
  const old = peer.store.get({ key: keyPair.publicKey, keyPair })
  await old.append('from the old device')
  const exchanged = once(peer.s, 'remote-feeds')
  peer.advertise([{ key: keyPair.publicKey, length: 1 }])
  await bounded(t, exchanged, 'the exchange to finish', 2000)
  await bounded(t, m.synced(), 'the advertised feed', 2000)
  t.alike(m.list().map((f) => [f.name, f.writable, f.length]), [[null, false, 1]], 'a remote feed first')
  const w = await m.writer('restored', { keyPair })
  t.alike(w.key, keyPair.publicKey)
  t.ok(w.writable, 'the core is writable')
  t.alike(m.list().map((f) => [f.name, f.writable]), [['restored', true]], 'the record is our named writer')
  await w.append('from the new device')
  t.is(w.length, 2)
  await m.close()
  const m2 = await create(t, { key }, dir)
  t.alike(m2.list().map((f) => [f.name, f.writable, f.length]), [['restored', true, 2]], 'and stays so after reopen')
  const again = await m2.writer('restored')
  t.alike(again.key, keyPair.publicKey)
})

test('13. close() during a sync: after reopen every record equals what its core stores, opened or not', { timeout: 20000 }, async (t) => {
  const key = crypto.randomBytes(32)
  const a = await create(t, { key })
  const writers = []
  for (let i = 0; i < 3; i++) {
    const w = await a.writer('w' + i)
    await w.append(blocks(300, 'y'.repeat(100)))
    writers.push(w)
  }
  let uploads = 0
  const progress = new EventEmitter()
  for (const w of writers) w.on('upload', () => { uploads++; progress.emit('upload') })
  for (const at of [1, 100, 200, 300, 400, 500, 600, 700, 800]) {
    const dir = await t.tmp()
    const m = new Multifeed(dir, { key })
    t.teardown(() => m.close(), { order: 1 })
    await m.ready()
    const start = uploads
    const [s1] = pipe(a, m)
    await bounded(t, until(progress, ['upload'], () => uploads - start >= at), `${at} blocks uploaded`, 3000)
    await m.close()
    s1.destroy()
    const m2 = new Multifeed(dir, { key })
    t.teardown(() => m2.close(), { order: 1 })
    await m2.ready()
    const list = m2.list()
    t.ok(list.length > 0, `close after ~${at} blocks: feeds were recorded`)
    let over = 0
    let under = 0
    let wrong = 0
    for (const r of list) {
      const feed = m2.feed(r.key)
      await feed.ready()
      if (r.length > feed.contiguousLength) over++
      if (r.length < feed.contiguousLength) under++
      // once its core is open the record follows the core (blocks that landed after the lengths were saved)
      if (m2.list().find((f) => f.key.equals(r.key)).length !== feed.contiguousLength) wrong++
    }
    t.is(over, 0, `close after ~${at} blocks: no record claims more than its core holds`)
    t.is(wrong, 0, `close after ~${at} blocks: an opened feed's record is its core's contiguous length`)
    // blocks in flight when close() began land after its sessions closed: the records of the feeds that
    // were downloading are marked and read from storage at the next open
    t.is(under, 0, `close after ~${at} blocks: no record behind its core`)
    await m2.close()
  }
})

test('14. remove() during a download: none of the feed\'s blocks stay stored', { timeout: 20000 }, async (t) => {
  const key = crypto.randomBytes(32)
  const a = await create(t, { key })
  const w = await a.writer('big')
  const N = 400
  await w.append(blocks(N, 'z'.repeat(1000)))
  let uploads = 0
  w.on('upload', () => uploads++)
  for (const at of [1, 10, 40, 120, 250]) {
    const dir = await t.tmp()
    const m = new Multifeed(dir, { key })
    t.teardown(() => m.close(), { order: 1 })
    await m.ready()
    const start = uploads
    const [s1, s2] = pipe(a, m)
    const mux = muxerOf(s1)
    await bounded(t, until(w, ['upload'], () => uploads - start >= at), `${at} blocks uploaded`, 3000)
    await m.remove(w.key)
    t.absent(has(m, w.key), `remove after ${at} blocks: gone from list()`)
    // remove() stops replicating the feed: the uploader's channel for it on this connection closes (or,
    // failing that, the download runs to its end); after that nothing more can arrive
    const stopped = await bounded(t, until(w, ['peer-remove', 'upload'], () => !w.peers.some((p) => p.protomux === mux) || uploads - start >= N), `remove after ${at} blocks: the uploader's channel for the removed feed to close`, 1500)
    s1.destroy()
    s2.destroy()
    await m.close()
    const store = new Corestore(dir)
    t.teardown(() => store.close(), { order: 2 })
    const core = store.get({ key: w.key })
    await core.ready()
    let stored = 0
    for (let i = 0; i < N; i++) if (await core.has(i)) stored++
    t.is(stored, 0, `remove after ${at} blocks: no block stored (${uploads - start} were uploaded)`)
    await core.close()
    await store.close()
    if (stored > 0 || stopped === null) break // failed: the other timings would only fail again, slowly
  }
})

// 9. Queued work: while a slow accept filter holds the exchange, a flood of messages (symbols carry no
// entries, so only their bytes can bound them) must not queue without limit.
async function floodBehindSlowAccept (t, { shared }) {
  const key = crypto.randomBytes(32)
  let release
  const stuck = new Promise((resolve) => { release = resolve })
  let entered
  const held = new Promise((resolve) => { entered = resolve })
  const m = await create(t, { key, maxFeeds: 10, accept: () => { entered(); return stuck } })
  t.teardown(() => release(true), { order: 0 })
  const peer = await hostile(t, m, { shared })
  await peer.next('the multifeed\'s summary')
  peer.advertise([{ key: fakeKey(), length: 3 }]) // list mode: processing waits in the filter
  await bounded(t, held, 'the filter to hold the exchange', 3000)
  const ex = peer.ex()
  const failed = new Promise((resolve) => m.once('exchange-close', (_ex, err) => resolve(err)))
  const junk = b4a.alloc(80 * 1024, 1) // about the size of a full symbols message
  for (let i = 0; i < 80 && !ex.closed; i++) {
    peer.send(2, junk) // 6.4 MB in all
    await new Promise((resolve) => setImmediate(resolve))
  }
  return { m, ex, failed }
}

test('9. queued work: behind a slow accept filter, a flood on a stream of our own ends in ERR_QUEUE_FULL', async (t) => {
  const { ex, failed } = await floodBehindSlowAccept(t, { shared: false })
  const err = await bounded(t, failed, 'the exchange to fail', 5000)
  t.is(err && err.code, 'ERR_QUEUE_FULL')
  t.ok(ex.stream.destroyed, 'the stream is ours: destroyed with it')
})

test('9. queued work: on a shared connection the flood ends in ERR_QUEUE_FULL, the connection stays', async (t) => {
  const { ex, failed } = await floodBehindSlowAccept(t, { shared: true })
  const err = await bounded(t, failed, 'the exchange to fail', 5000)
  t.is(err && err.code, 'ERR_QUEUE_FULL')
  t.ok(err && err.bytes > err.limit, `${err && err.bytes} bytes queued, the limit is ${err && err.limit}`)
  t.absent(ex.stream.destroyed, 'the shared stream is not ours to destroy')
})

// 8. Many connections: each may download its window of feeds, but all together open at most
// maxTotalDownloads cores; and a multifeed exchanges on at most maxConnections connections.
test('8. many connections re-announcing never-served feeds hold at most maxTotalDownloads cores', async (t) => {
  const key = crypto.randomBytes(32)
  const m = await create(t, { key, maxDownloads: 8, maxTotalDownloads: 12, stallTimeout: 60000 })
  const peers = []
  let peak = 0
  for (let i = 0; i < 4; i++) {
    const peer = await hostile(t, m)
    await peer.next('the multifeed\'s summary')
    const fakes = []
    for (let j = 0; j < 20; j++) fakes.push({ key: fakeKey(), length: 5 })
    peer.advertise(fakes)
    peers.push(peer)
  }
  // (no 'feed' listener: it would open every core for the app)
  await bounded(t, until(m, ['exchange'], () => m.size === 80 && m.connections.every((ex) => ex.phase === 'live')), 'every connection to list its feeds', 5000)
  peak = Math.max(peak, m.openFeeds)
  t.is(m.size, 80, 'all 80 recorded')
  t.ok(peak <= 12, `${peak} cores open for 4 connections x 8 slots: the window of all connections holds`)
  let downloading = 0
  for (const ex of m.connections) downloading += ex.transfers.downloads.size
  t.ok(downloading <= 12, `${downloading} downloads in all`)
})

test('8. a multifeed exchanges on at most maxConnections connections', async (t) => {
  const key = crypto.randomBytes(32)
  const m = await create(t, { key, maxConnections: 2 })
  const others = []
  for (let i = 0; i < 3; i++) others.push(await create(t, { key }))
  const [a1] = pipe(m, others[0])
  const [a2] = pipe(m, others[1])
  const [a3] = pipe(m, others[2])
  const err = await bounded(t, new Promise((resolve) => a3.once('error', resolve)), 'the third stream to fail', 3000)
  t.is(err && err.code, 'ERR_TOO_MANY_CONNECTIONS')
  t.is(m.connections.length, 2)
  t.absent(a1.destroyed || a2.destroyed, 'the first two go on')
})

// 7. Forced opening: a member opens a Hypercore channel for every feed it was offered and never asks for
// a block. The uploader opens at most maxUploads (maxDownloads) cores for it at once, and gives each place
// up after stallTimeout without a request.
test('7. forced opening: channels opened and never used hold at most the upload window of cores', async (t) => {
  const key = crypto.randomBytes(32)
  const dir = await t.tmp()
  const first = new Multifeed(dir, { key })
  for (let i = 0; i < 40; i++) await (await first.writer('w' + i)).append('block ' + i)
  await first.close()
  const m = await create(t, { key, maxDownloads: 8, stallTimeout: 300 }, dir) // reopened: no core open
  t.is(m.openFeeds, 0)
  const peer = await hostile(t, m)
  await peer.next('the multifeed\'s summary')
  peer.advertise([]) // we have nothing: the multifeed offers its 40 feeds
  const list = await peer.next('the multifeed\'s list')
  const offered = messages.decode(messages.feeds, list.buf, 'feeds').entries
  t.is(offered.length, 40)
  let peak = 0
  const sample = setInterval(() => { peak = Math.max(peak, m.openFeeds) }, 10)
  t.teardown(() => clearInterval(sample), { order: 0 })
  // a session per key makes the peer's corestore open a channel for each (it never downloads a block)
  const cores = offered.map((e) => peer.store.get({ key: e.key }))
  await Promise.all(cores.map((core) => core.ready()))
  const served = () => cores.filter((core) => core.length === 1).length
  // a core learns its length (an 'append') once the uploader serves its channel
  const learned = cores.map((core) => core.length === 1 ? null : new Promise((resolve) => core.once('append', resolve)))
  await bounded(t, Promise.all(learned), 'every channel to be served in turn', 8000)
  clearInterval(sample)
  t.ok(peak <= 8, `at most ${peak} cores open at once for 40 idle channels`)
  t.is(served(), 40, 'every waiting open was served once a place freed')
})

// A writer the app closed must not stay "downloading" (corestore's default linger is 20-40 s): corestore
// would attach it to every new stream and open its channel, showing its discovery key before our
// capability check and costing bytes on every reconnect.
test('7b. channels opened unasked: our feeds are served within the upload window, other stored cores are refused', async (t) => {
  const key = crypto.randomBytes(32)
  const store = new Corestore(await t.tmp())
  t.teardown(() => store.close(), { order: 2 })
  // a core of the app's in the same storage: no feed of the multifeed, never to be served on its stream
  const secret = store.get({ name: 'not a feed' })
  await secret.append('private')
  await secret.close()
  const m = await create(t, { key, maxDownloads: 8, maxTotalDownloads: 8, stallTimeout: 300 }, store)
  const entries = []
  for (let i = 0; i < 40; i++) {
    const w = await m.writer('w' + i)
    await w.append('block ' + i)
    entries.push({ key: w.key, length: 1 })
    await w.close()
  }
  const peer = await hostile(t, m)
  await peer.next('the multifeed\'s summary')
  peer.summary(entries) // in sync: nothing is offered, no channel is paired for the peer
  // the multifeed's side of the connection: Hypercore channels open at once
  const victimMuxer = muxerOf(peer.s)
  const openChannels = () => [...victimMuxer].filter((ch) => ch.protocol === 'hypercore/alpha' && ch.opened && !ch.closed).length
  let peak = 0
  const sample = setInterval(() => { peak = Math.max(peak, openChannels()) }, 5)
  t.teardown(() => clearInterval(sample), { order: 0 })
  // a session per key makes the peer's corestore open a channel for each (it never asks for a block)
  const stranger = peer.store.get({ key: secret.key })
  const cores = entries.map((e) => peer.store.get({ key: e.key }))
  await Promise.all([stranger, ...cores].map((core) => core.ready()))
  const learned = cores.map((core) => core.length === 1 ? null : new Promise((resolve) => core.once('append', resolve)))
  await bounded(t, Promise.all(learned), 'every unasked channel to be served in turn', 8000)
  clearInterval(sample)
  t.ok(peak > 0 && peak <= 8, `at most ${peak} channels served at once for 40 unasked ones (window 8)`)
  t.is(stranger.length, 0, 'a stored core that is no feed of the multifeed is not served on its stream')
  t.is(stranger.peers.length, 0, 'its channel was refused')
})

test('a closed writer is not attached to new streams (no linger)', async (t) => {
  const key = crypto.randomBytes(32)
  const m = await create(t, { key, timeout: 300 })
  const w = await m.writer('w')
  await w.append('x')
  const dk = w.discoveryKey
  await w.close()
  const opened = await offeredToPlainPeer(t, m)
  t.absent(opened.includes(hex(dk)), 'the closed writer\'s channel was not offered on the new stream')
})

// A writer the app holds is an active session, which corestore.replicate() on an active Corestore attaches
// to every stream (README, "Replication"); the multifeed replicates through its inactive namespace.
test('a writer the app holds is not attached to a stream the multifeed makes', async (t) => {
  const key = crypto.randomBytes(32)
  const m = await create(t, { key, timeout: 300 })
  const w = await m.writer('w')
  await w.append('x')
  const opened = await offeredToPlainPeer(t, m)
  t.absent(w.closing, 'the app still holds its writer')
  t.absent(opened.includes(hex(w.discoveryKey)), 'the held writer\'s channel was not offered')
})

// The discovery keys of the Hypercore channels the multifeed offers on a new stream of its own to a plain
// Corestore peer. The peer rejects the multifeed channel; with no feed channel open the stream fails after
// `timeout` (300 ms here), long after any channel corestore attached at replicate() would have been offered.
async function offeredToPlainPeer (t, m) {
  const store = new Corestore(await t.tmp())
  t.teardown(() => store.close(), { order: 2 })
  const opened = []
  const s1 = m.replicate(true)
  const s2 = store.replicate(false)
  s2.on('error', () => {})
  Hypercore.getProtocolMuxer(s2).pair({ protocol: 'hypercore/alpha' }, (id) => { opened.push(hex(id)) })
  const failed = new Promise((resolve) => s1.once('error', resolve))
  s1.pipe(s2).pipe(s1)
  const err = await bounded(t, failed, 'the stream to fail with ERR_KEY_MISMATCH', 3000)
  t.is(err && err.code, 'ERR_KEY_MISMATCH')
  return opened
}

// --- authorized multifeeds ---

test('authorized: a member flooding 3,000 fresh keys and forged records: nothing recorded or stored, refusals reported, the connection stays', async (t) => {
  const { signRecord } = require('../dist/lib/membership.js')
  const m = await create(t, { owner: true })
  const w = await m.writer('w')
  await w.append('x')
  const peer = await hostile(t, m, { owner: m.owner })
  const flood = Array.from({ length: 3000 }, () => ({ key: fakeKey(), length: 5 }))
  peer.advertise(flood)
  await bounded(t, until(m, ['synced'], () => peer.ex() && peer.ex().phase === 'live' && m.isSynced()), 'the exchange to go live')
  t.is(m.size, 1, 'none of the 3,000 keys was recorded (only our writer)')
  t.is(m.stats().feedsDownloaded, 0)

  const refusedEvents = collect(m, 'records-refused')
  const stranger = crypto.keyPair()
  const byMember = signRecord(m.discoveryKey, m.owner, { type: messages.RECORD_REVOKE, admin: false, feed: w.key, by: Hypercore.key({ version: 1, signers: [{ publicKey: stranger.publicKey }] }) }, stranger)
  const before = m.list().length
  peer.feeds([{ key: fakeKey(), length: 1 }]) // a live announcement, processed before the records
  peer.records([byMember])
  await bounded(t, until(m, ['records-refused'], () => refusedEvents.length > 0), 'the refusal to be reported')
  t.alike(refusedEvents[0][0].map((r) => r.reason), ['not signed by the owner or an admin'])
  t.ok(m.isAuthorized(w.key), 'a member\'s revocation did not count')
  t.is(m.connections.length, 1, 'a record that does not count (an honest race can send one) leaves the connection up')
  t.is(m.list().length, before, 'a live announcement of an unauthorized key records nothing')

  // a record that does not verify is a lie: honest peers send only records they checked
  const forged = signRecord(m.discoveryKey, m.owner, { type: messages.RECORD_AUTHORIZE, admin: true, feed: fakeKey(), by: null }, stranger)
  const closing = once(m, 'exchange-close')
  peer.records([forged])
  const [, err] = await bounded(t, closing, 'the exchange to fail')
  t.is(err && err.code, 'ERR_BAD_MESSAGE', 'a forged record ends the exchange: ' + (err && err.message))
  t.is(m.size, before, 'nothing stored')
})

// Protocol 3.2: an announcer opens a feed's Hypercore channel right behind its announcement. The router
// holds such an open until the multifeed messages that came before it are processed: the feed we then
// download answers it over that channel; one the accept filter declined, and one never announced, are
// refused (without the hold, all three opens were refused as unknown, and ours opened a second channel).
test('early opens: the open behind an announcement is answered once the announcement is processed; declined and unannounced ones are refused', { timeout: 15000 }, async (t) => {
  const key = crypto.randomBytes(32)
  const declined = []
  const m = await create(t, { key, accept: (info) => !declined.some((k) => b4a.equals(k, info.key)) })
  const peer = await hostile(t, m)
  const exchanged = once(peer.s, 'remote-feeds')
  peer.summary([]) // both sets empty: in sync, live at once
  await bounded(t, exchanged, 'the exchange to finish', 2000)
  // passive: the peer's corestore attaches none of them by itself; each opens its channel when told
  const cores = {}
  for (const name of ['wanted', 'declined', 'unannounced']) {
    cores[name] = peer.store.get({ name, active: false })
    await cores[name].append('block of ' + name)
  }
  declined.push(cores.declined.key)
  let rejects = 0
  const refused = new EventEmitter()
  const onreject = peer.muxer._onrejectsession
  peer.muxer._onrejectsession = function (state) {
    rejects++
    refused.emit('reject')
    return onreject.call(this, state)
  }
  peer.feeds([{ key: cores.wanted.key, length: 1 }, { key: cores.declined.key, length: 1 }])
  for (const core of Object.values(cores)) core.core.replicator.attachTo(peer.muxer)
  await bounded(t, until(m, ['feed', 'synced', 'exchange'], () => lengthOf(m, cores.wanted.key) === 1), 'the announced feed to arrive', 5000)
  await bounded(t, until(refused, ['reject'], () => rejects >= 2), 'the two refusals', 3000)
  t.is(rejects, 2, 'the declined and the unannounced feed\'s opens were refused, the wanted one\'s answered')
  t.absent(has(m, cores.declined.key), 'the declined feed is not recorded')
  t.absent(has(m, cores.unannounced.key), 'the unannounced feed is not recorded')
  t.is(peer.s.errors.length, 0, 'the connection stays')
})
