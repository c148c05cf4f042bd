const Corestore = require('corestore')
const Hypercore = require('hypercore')
const crypto = require('hypercore-crypto')
const c = require('compact-encoding')
const Multifeed = require('..')
const messages = require('../dist/lib/messages.js')
const { capability } = require('../dist/lib/caps.js')

async function create (t, opts = {}, dir) {
  const m = new Multifeed(dir || await t.tmp(), opts)
  t.teardown(() => m.close(), { order: 1 })
  await m.ready()
  return m
}

// A multifeed with `n` named writers w0..w(n-1), one block each ('block of w<i>').
async function seeded (t, key, n, dir, opts = {}) {
  const m = await create(t, { key, ...opts }, dir)
  for (let i = 0; i < n; i++) {
    const w = await m.writer('w' + i)
    await w.append('block of w' + i)
  }
  return m
}

// Pipes two replication streams and keeps their errors for the test to inspect.
function pipe (a, b, opts = {}) {
  const s1 = a.replicate(true, opts)
  const s2 = b.replicate(false, opts)
  s1.errors = []
  s2.errors = []
  s1.on('error', (err) => s1.errors.push(err))
  s2.on('error', (err) => s2.errors.push(err))
  s1.pipe(s2).pipe(s1)
  return [s1, s2]
}

function once (emitter, name) {
  return new Promise((resolve) => emitter.once(name, (...args) => resolve(args)))
}

function closed (stream) {
  return new Promise((resolve) => {
    if (stream.destroyed) return resolve()
    stream.once('close', resolve)
  })
}

// Waits until `fn` returns truthy, re-checking whenever `emitter` emits one of `events`.
function until (emitter, events, fn) {
  return new Promise((resolve) => {
    const check = () => {
      const v = fn()
      if (!v) return
      for (const e of events) emitter.off(e, check)
      resolve(v)
    }
    for (const e of events) emitter.on(e, check)
    check()
  })
}

// A wait with a bound: past it, a failed assertion that names what was awaited (and an error, which ends
// the test), instead of a test that times out saying nothing. A failure bound, never a sleep.
function bounded (t, p, what, ms = 10000) {
  let timer = null
  const timeout = new Promise((resolve, reject) => {
    timer = setTimeout(() => {
      const msg = `timed out after ${ms} ms waiting for ${what}`
      t.fail(msg)
      reject(new Error(msg))
    }, ms)
  })
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer))
}

// The same, resolving to null after its failed assertion, so a test can report what else went wrong.
function boundedOrNull (t, p, what, ms = 10000) {
  let timer = null
  const timeout = new Promise((resolve) => {
    timer = setTimeout(() => {
      t.fail(`timed out after ${ms} ms waiting for ${what}`)
      resolve(null)
    }, ms)
  })
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer))
}

// A hand-driven peer speaking the multifeed channel, for mismatch and hostile-input tests.
async function rawPeer (t, key, { version = messages.VERSION, client = 'MULTIFEED', cap = null, isInitiator = false, owner = null } = {}) {
  const store = new Corestore(await t.tmp())
  t.teardown(() => store.close(), { order: 2 })
  const stream = store.replicate(isInitiator)
  stream.on('error', () => {})
  const muxer = Hypercore.getProtocolMuxer(stream)
  const received = []
  const events = new (require('events'))()
  let channel = null
  const ready = (async () => {
    const noise = muxer.stream
    if (!noise.handshakeHash) await noise.opened
    channel = muxer.createChannel({
      protocol: messages.PROTOCOL,
      id: crypto.discoveryKey(key),
      handshake: c.raw,
      messages: [0, 1, 2, 3, 4, 5, 6].map((type) => ({ encoding: c.raw, onmessage: (buf) => { received.push({ type, buf }); events.emit('message', type, buf) } })),
      onopen: (hs) => events.emit('open', hs),
      onclose: (isRemote) => events.emit('close', isRemote)
    })
    const capa = cap || capability(noise.isInitiator, key, noise.handshakeHash)
    channel.open(messages.encode(messages.handshake, { version, client, capability: capa, owner }))
    return channel
  })()
  return { store, stream, muxer, received, events, ready, send: (type, buf) => channel.messages[type].send(buf) }
}


// Two Corestores, each with two groups (keys k1, k2) that share one feed `w` (the same key pair) with one
// block, on one stream pair that every group replicates on. `open(store, key)` opens a further multifeed.
async function twoGroupsSharingAFeed (t, opts = {}) {
  const crypto = require('hypercore-crypto')
  const storeA = new Corestore(await t.tmp())
  const storeB = new Corestore(await t.tmp())
  const opened = []
  const open = async (store, key) => { const m = new Multifeed(store, { key, ...opts }); opened.push(m); await m.ready(); return m }
  t.teardown(async () => {
    for (const m of opened) await m.close()
    await Promise.all([storeA.close(), storeB.close()])
  })
  const k1 = crypto.randomBytes(32)
  const k2 = crypto.randomBytes(32)
  const [a1, a2, b1, b2] = [await open(storeA, k1), await open(storeA, k2), await open(storeB, k1), await open(storeB, k2)]
  const keyPair = crypto.keyPair()
  const w = await a1.writer('w', { keyPair })
  await a2.writer('w', { keyPair }) // the same feed in both groups
  await w.append('one')
  const s1 = storeA.replicate(true)
  const s2 = storeB.replicate(false)
  s1.pipe(s2).pipe(s1)
  for (const m of [a1, a2]) m.replicate(s1)
  for (const m of [b1, b2]) m.replicate(s2)
  return { a1, a2, b1, b2, w, s1, s2, k1, storeB, open }
}

// Pipes two Corestores directly (no multifeed on the link); returns a function that cuts the link.
function storeLink (x, y) {
  const [s1, s2] = pipe(x, y)
  return async () => {
    s1.destroy()
    await Promise.all([closed(s1), closed(s2)])
  }
}

// A relay's copy of `writer`'s feed (35 blocks, in `relayStore`) serves a plain peer c that is behind it,
// in the state hypercore leaves such a relay in: the writer grows to 37 and c takes those from it; the
// writer grows to 39 and the relay takes block 38 alone (a download's first fetch is the newest block):
// the upgrade to 39 comes with it, but not the tree node of block 36 that proves 37 grows to 39. c then
// meets the relay, and hypercore decides, once, that the relay cannot upgrade c. Returns c, the relay's
// session `held` (still linked to the writer) and `toWriter`, which cuts that link.
async function relayAheadOfUpgrade (t, { writer, writerStore, relayStore }) {
  await writer.append('block 35')
  await writer.append('block 36')
  const cStore = new Corestore(await t.tmp())
  t.teardown(() => cStore.close(), { order: 2 })
  const c = cStore.get({ key: writer.key, valueEncoding: 'utf-8' })
  t.teardown(() => c.close(), { order: 0 })
  const cut = storeLink(writerStore, cStore)
  await bounded(t, c.download({ start: 0, end: 37 }).done(), 'c to have 37 blocks')
  await cut()

  await writer.append('block 37')
  await writer.append('block 38')
  const held = relayStore.get({ key: writer.key, valueEncoding: 'utf-8' })
  t.teardown(() => held.close(), { order: 0 })
  const toWriter = storeLink(writerStore, relayStore)
  t.is(await bounded(t, held.get(38), 'the relay to take block 38'), 'block 38')
  t.is(held.length, 39)
  t.absent(await held.has(36), 'the relay lacks block 36 (and its tree node)')

  const toC = storeLink(relayStore, cStore)
  t.teardown(toC, { order: 0 })
  const peerOfC = () => held.peers.find((p) => p.remoteLength === 37) || null
  await bounded(t, poll(() => peerOfC() !== null && peerOfC().syncsProcessing === 0 && peerOfC().canUpgrade === false), 'the relay to read c\'s length')
  return { c, held, toWriter }
}

// Resolves once fn() is truthy, checking every few ms (for state no event announces).
function poll (fn, ms = 5) {
  return new Promise((resolve) => {
    const check = () => fn() ? resolve() : setTimeout(check, ms)
    check()
  })
}

module.exports = { relayAheadOfUpgrade, storeLink, poll, twoGroupsSharingAFeed, create, seeded, pipe, once, closed, until, bounded, boundedOrNull, rawPeer, Multifeed, messages }
