// Hypercore channels under load: a remote open held pending, cores that take long to open, and a core kept
// open for the peer that lacks what it just downloaded.
const test = require('brittle')
const crypto = require('hypercore-crypto')
const NoiseSecretStream = require('@hyperswarm/secret-stream')
const Protomux = require('protomux')
const { seeded, create, pipe, bounded, until } = require('./helpers.js')
const { withdrawClosedOpens } = require('../dist/lib/internals.js')

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

// protomux ignores a remote close of an open our pair() handler has not answered: once the handler
// opens our side, the remote's next open reusing that id threw 'Invalid open message' (stream destroyed).
test('a remote close of an open still pending frees its channel id', async (t) => {
  const a = new NoiseSecretStream(true)
  const b = new NoiseSecretStream(false)
  a.rawStream.pipe(b.rawStream).pipe(a.rawStream)
  t.teardown(() => { a.destroy(); b.destroy() })
  const ma = new Protomux(a)
  const mb = new Protomux(b)
  if (withdrawClosedOpens) withdrawClosedOpens(mb)
  const errors = []
  b.on('error', (err) => errors.push(err))
  const accepted = []
  mb.pair({ protocol: 'p' }, async (id) => {
    await sleep(50) // like a core opening before it serves the remote
    const ch = mb.createChannel({ protocol: 'p', id })
    if (ch) ch.open()
    accepted.push(id.toString())
  })
  await a.opened
  const x = ma.createChannel({ protocol: 'p', id: Buffer.from('x') })
  x.open()
  await sleep(10)
  x.close() // before b's handler answered
  await sleep(150)
  const y = ma.createChannel({ protocol: 'p', id: Buffer.from('y') })
  y.open()
  t.is(y._localId, x._localId || 1, 'the remote reuses the channel id')
  await sleep(150)
  t.alike(errors.map((e) => e.message), [], 'no Invalid open message')
  t.ok(!b.destroyed, 'the stream stays up')
  t.ok(accepted.includes('y'), 'the new channel is served')
})

// Thousands of new cores of one Corestore open one at a time (hypercore-storage creates cores under one
// lock): a download whose core is still opening has asked nothing, so it has not stalled.
test('a download waiting for its core to open is not given up as stalled', { timeout: 20000 }, async (t) => {
  const key = crypto.randomBytes(32)
  const a = await seeded(t, key, 3)
  const b = await create(t, { key, stallTimeout: 300 })
  const storage = b.store.storage
  const createCore = storage.createCore
  storage.createCore = async function (...args) {
    await sleep(800) // slower than stallTimeout
    return createCore.apply(this, args)
  }
  const stalled = []
  b.on('stalled', (k) => stalled.push(k))
  pipe(a, b)
  await bounded(t, b.synced(), 'synced()', 10000)
  t.is(stalled.length, 0, 'no stalled event')
  t.is(b.list().filter((f) => f.length === 1).length, 3, 'every feed downloaded')
})

// a -> b -> c: b downloads a new feed from a while c lacks it. b serves c from the core it downloaded
// into, rather than closing it once the download settled and opening it again for c's request.
test('a feed downloaded for one peer and lacked by another is served from the same open core', async (t) => {
  const a = await create(t)
  const b = await create(t, { key: a.key })
  const c = await create(t, { key: a.key })
  pipe(a, b)
  pipe(b, c)
  await bounded(t, Promise.all([a, b, c].map((m) => m.synced())), 'the empty sync')
  const w = await a.writer('w')
  const opened = []
  const session = b.session.bind(b)
  b.session = (opts) => {
    if (opts.key && opts.key.equals(w.key)) opened.push(Date.now())
    return session(opts)
  }
  await w.append('across two hops')
  await bounded(t, until(c, ['feed', 'synced', 'exchange'], () => c.list().some((f) => f.key.equals(w.key) && f.length === 1) && c.isSynced()), 'the block to reach c')
  t.is((await c.feed(w.key).get(0)).toString(), 'across two hops')
  t.is(opened.length, 1, 'b opened the feed once, for both its download and its upload')
})

// The cores of the store, not counting the multifeed's own index.
function storeCores (store) {
  let n = 0
  for (const core of store.cores) if (core.replicator) n++
  return n
}

// Checked on every turn that may close a core, with a bound: corestore closes an idle core on its own only
// after 6-8 s, and never one whose channel is open.
async function eventually (t, fn, what) {
  const start = Date.now()
  while (!fn()) {
    if (Date.now() - start > 5000) return t.fail('timed out waiting for ' + what)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

// A writer's app holds its sessions (active: the core "downloads"), so hypercore there keeps every
// channel open; before, each kept the downloader's core in its Corestore until the connection ended.
test('feeds synced from writers the remote app holds: the downloader closes their channels and lets the cores go', async (t) => {
  const Corestore = require('corestore')
  const a = await seeded(t, crypto.randomBytes(32), 40)
  const store = new Corestore(await t.tmp())
  t.teardown(() => store.close(), { order: 2 })
  const b = await create(t, { key: a.key, maxDownloads: 4 }, store)
  pipe(a, b)
  await bounded(t, b.synced(), 'b to sync 40 feeds')
  t.is(b.list().filter((f) => f.length === 1).length, 40)
  const writers = a.feeds()
  await eventually(t, () => writers.every((w) => w.peers.length === 0), 'every channel of a writer of a to close')
  // the multifeed's index core is one of them
  t.ok(storeCores(store) <= 2 * 4 + 1, 'b holds at most two windows of feed cores and its index (' + storeCores(store) + ')')

  // growth after the channel closed is announced, and b fetches it
  await writers[7].append('later')
  await bounded(t, until(b, ['exchange', 'synced', 'feed'], () => b.list().some((f) => f.key.equals(writers[7].key) && f.length === 2)), 'the growth to reach b')
  t.is((await b.feed(writers[7].key).get(1)).toString(), 'later')
})

// a -> b -> c, c downloading one feed at a time: b offers c every feed it downloads, but keeps open for c
// only its upload window of them (c's open of the others opens them again, within that window).
test('a relay keeps open only a window of the cores it offers a slow peer', { timeout: 60000 }, async (t) => {
  const key = crypto.randomBytes(32)
  const n = 40
  const window = 4
  const a = await seeded(t, key, n)
  const b = await create(t, { key, maxDownloads: window })
  const c = await create(t, { key, maxDownloads: 1 })
  let most = 0
  const session = b.session.bind(b)
  b.session = (opts) => {
    const s = session(opts)
    queueMicrotask(() => { most = Math.max(most, b.openFeeds) }) // once the record holds it
    return s
  }
  pipe(a, b)
  pipe(b, c)
  const done = () => c.list().length === n && c.list().every((f) => f.length === 1) && c.isSynced()
  await bounded(t, until(c, ['synced', 'exchange'], done), 'c to sync every feed', 50000)
  // a window each of downloads from a, of downloads that completed this turn (closing once the turn's
  // offers went out), and of cores kept open for c's uploads; and the one c fetches now (before: 31)
  t.ok(most <= 3 * window + 1, 'b held at most ' + most + ' cores open')
  t.is((await c.feed(a.list()[n - 1].key).get(0)).toString(), 'block of w' + (n - 1))
})
