// Review findings (issue 14) and the original multifeed's API (issue 9): each test fails on the code
// before its fix.
const test = require('brittle')
const crypto = require('hypercore-crypto')
const Corestore = require('corestore')
const { create, pipe, until: waitUntil, closed, bounded } = require('./helpers.js')

// Waits for a condition that no event announces, re-checking every 20 ms; fails by name after `ms`.
async function eventually (t, fn, what, ms = 5000) {
  const deadline = Date.now() + ms
  while (!fn()) {
    if (Date.now() > deadline) {
      t.fail(`timed out waiting for ${what}`)
      return false
    }
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return true
}

// every wait in this file fails by name within 10 s
function until (t, emitter, events, fn) {
  return bounded(t, waitUntil(emitter, events, fn), 'a state the test expects')
}

function owed (m) {
  let n = 0
  for (const ex of m.connections) n += ex.transfers.uploads.size
  return n
}

test('mesh: uploaders let go of a feed the downloader completed from several peers', async (t) => {
  const key = crypto.randomBytes(32)
  const a = await create(t, { key })
  const b = await create(t, { key })
  const c = await create(t, { key })
  const w = await a.writer('w')
  const blocks = []
  for (let i = 0; i < 200; i++) blocks.push('block ' + i)
  await w.append(blocks)
  await w.close() // the app holds nothing: only replication keeps the core open
  pipe(a, b)
  await until(t, b, ['synced'], () => b.list().length === 1 && b.list()[0].length === 200 && b.isSynced())
  pipe(a, c)
  pipe(b, c)
  await until(t, c, ['synced'], () => c.list().length === 1 && c.list()[0].length === 200 && c.isSynced())
  await eventually(t, () => owed(a) === 0 && owed(b) === 0, 'a and b to stop owing uploads')
  t.is(owed(a) + owed(b), 0, 'no upload is owed once c has every block')
  await eventually(t, () => a.openFeeds === 0 && b.openFeeds === 0, 'a and b to close the feed')
  t.is(a.openFeeds + b.openFeeds, 0, 'neither uploader keeps the core open for the connection\'s life')
})

test('replicate/unreplicate cycles on one stream leave no listeners behind', async (t) => {
  const key = crypto.randomBytes(32)
  const a = await create(t, { key })
  const b = await create(t, { key })
  const sa = new Corestore(await t.tmp())
  const sb = new Corestore(await t.tmp())
  t.teardown(() => Promise.all([sa.close(), sb.close()]), { order: 2 })
  const s1 = sa.replicate(true)
  const s2 = sb.replicate(false)
  s1.pipe(s2).pipe(s1)
  b.replicate(s2)
  a.replicate(s1)
  a.unreplicate(s1)
  const before = s1.listenerCount('close')
  for (let i = 0; i < 15; i++) {
    a.replicate(s1)
    a.unreplicate(s1)
  }
  t.is(s1.listenerCount('close'), before, `still ${before} 'close' listeners after 15 cycles`)
})

test('a writer() whose index write fails closes its core session', async (t) => {
  const m = await create(t)
  const put = m.index.put
  m.index.put = async () => { throw new Error('disk full') }
  for (let i = 0; i < 3; i++) await t.exception(() => m.writer('x'), /disk full/)
  m.index.put = put
  const core = m.slot.get({ name: 'writer/x' })
  await core.ready()
  t.is(core.sessions.length, 1, 'only the session opened here: the failed calls closed theirs')
  await core.close()
})

test('a client id longer than the wire allows is refused by the constructor', async (t) => {
  const dir = await t.tmp()
  t.exception(() => new Multifeed(dir, { client: 'x'.repeat(257) }), /ERR_INVALID_ARGUMENT/)
  const ok = await create(t, { client: 'x'.repeat(256) }, dir)
  t.is(ok.client.length, 256, 'the longest allowed id opens, in the same directory: nothing was locked')
})

test('a writer named like a feed key does not hide that feed from a peer', async (t) => {
  const key = crypto.randomBytes(32)
  const a = await create(t, { key })
  const b = await create(t, { key })
  const w = await a.writer('w')
  await w.append('x')
  const hex = w.key.toString('hex')
  // b's writer named after a's feed key is still being recorded while a's feed arrives
  let release
  const stalled = new Promise((resolve) => { release = resolve })
  const put = b.index.put.bind(b.index)
  b.index.put = async (records) => {
    if (records.some((r) => r.writable)) await stalled
    return put(records)
  }
  const named = b.writer(hex)
  named.catch(() => {})
  pipe(a, b)
  await until(t, b, ['synced', 'feed'], () => b.list().some((f) => f.key.equals(w.key)) && b.isSynced())
  release()
  const own = await named
  t.unlike(own.key, w.key)
  const remote = b.list().find((f) => f.key.equals(w.key))
  t.is(remote.writable, false, 'a\'s feed is recorded as a remote feed')
  t.is(remote.length, 1, 'and downloaded')
})

test('writer({ keyPair }) for a key a peer advertised first makes the record ours', async (t) => {
  const key = crypto.randomBytes(32)
  const a = await create(t, { key })
  const b = await create(t, { key })
  const keyPair = crypto.keyPair()
  const w = await a.writer('w', { keyPair })
  await w.append('from the old device')
  pipe(a, b)
  await until(t, b, ['synced'], () => b.list().length === 1 && b.isSynced())
  t.is(b.list()[0].writable, false)
  const restored = await b.writer('restored', { keyPair })
  t.alike(restored.key, keyPair.publicKey)
  t.alike(b.list().map((f) => [f.name, f.writable]), [['restored', true]], 'recorded as our named writer')
  await t.exception(() => b.remove(keyPair.publicKey), /ERR_WRITER_REMOVAL/, 'and protected as one')
  await restored.append('from the new device')
  t.is(restored.length, 2)
})

test('writer(name, { keypair }): the original multifeed\'s spelling is honoured', async (t) => {
  const m = await create(t)
  const keypair = crypto.keyPair()
  const w = await m.writer('mine', { keypair })
  t.alike(w.key, keypair.publicKey)
})

test('feeds() and feed() after close() give [] and undefined, as the original did', async (t) => {
  const m = await create(t)
  const w = await m.writer('a')
  await m.close()
  t.alike(m.feeds(), [])
  t.is(m.feed(w.key), undefined)
})

test('close() ends the streams it made gracefully: the peer sees no error', async (t) => {
  const key = crypto.randomBytes(32)
  const a = await create(t, { key })
  const b = await create(t, { key })
  const w = await a.writer('w')
  await w.append('x')
  const [s1, s2] = pipe(a, b)
  await until(t, b, ['synced'], () => b.list().length === 1 && b.isSynced())
  await a.close()
  await bounded(t, Promise.all([closed(s1), closed(s2)]), 'both streams to close')
  t.alike(s2.errors, [], 'b\'s stream closed without an error')
  t.alike(s1.errors, [])
})

test('live: false ends both streams once both sides have what the other advertised', async (t) => {
  const key = crypto.randomBytes(32)
  const a = await create(t, { key })
  const b = await create(t, { key })
  const wa = await a.writer('a')
  const wb = await b.writer('b')
  await wa.append(['a0', 'a1'])
  await wb.append('b0')
  const [s1, s2] = pipe(a, b, { live: false })
  await bounded(t, Promise.all([closed(s1), closed(s2)]), 'both streams to close')
  t.alike(s1.errors, [], 'no error on the initiator')
  t.alike(s2.errors, [], 'no error on the responder')
  t.alike(b.list().find((f) => f.key.equals(wa.key)).length, 2, 'b has all of a')
  t.alike(a.list().find((f) => f.key.equals(wb.key)).length, 1, 'a has all of b')
})

test('live: false on one side ends the stream of a live peer too, without an error', async (t) => {
  const key = crypto.randomBytes(32)
  const a = await create(t, { key })
  const b = await create(t, { key })
  const wa = await a.writer('a')
  await wa.append('a0')
  const s1 = a.replicate(true)
  const s2 = b.replicate(false, { live: false })
  const errors = []
  s1.on('error', (err) => errors.push(err))
  s2.on('error', (err) => errors.push(err))
  s1.pipe(s2).pipe(s1)
  await bounded(t, Promise.all([closed(s1), closed(s2)]), 'both streams to close')
  t.alike(errors, [])
  t.is(b.list()[0].length, 1)
})

test('live: false on an in-sync pair ends at once; on a shared stream it is refused', async (t) => {
  const key = crypto.randomBytes(32)
  const a = await create(t, { key })
  const b = await create(t, { key })
  const [s1, s2] = pipe(a, b, { live: false })
  await bounded(t, Promise.all([closed(s1), closed(s2)]), 'both streams to close')
  t.is(a.stats().connections, 1, 'the exchange happened')
  const store = new Corestore(await t.tmp())
  t.teardown(() => store.close(), { order: 2 })
  const shared = store.replicate(true)
  t.exception(() => a.replicate(shared, { live: false }), /ERR_INVALID_ARGUMENT/)
  shared.destroy()
})

test('statistics: each counter as README defines it, over two connections one after the other', async (t) => {
  const key = crypto.randomBytes(32)
  const a = await create(t, { key })
  const b = await create(t, { key })
  const w = await a.writer('w')
  await w.append('1')
  const [s1] = pipe(a, b)
  await until(t, b, ['synced'], () => b.list().length === 1 && b.list()[0].length === 1 && b.isSynced())
  await w.append('22')
  await until(t, b, ['synced', 'exchange'], () => b.list()[0].length === 2 && b.isSynced())
  s1.destroy()
  await until(t, b, ['exchange-close'], () => b.connections.length === 0)
  await w.append('333')
  pipe(a, b)
  await until(t, b, ['synced', 'exchange'], () => b.list()[0].length === 3 && b.isSynced())
  const total = b.stats()
  t.is(total.connections, 2, 'both connections, the closed one included')
  t.is(total.blocksDownloaded, 3, 'every block that arrived')
  t.is(total.bytesDownloaded <= 6, true, 'bytes of the blocks seen arriving')
  t.is(total.feedsDownloaded, 2, 'one feed per connection that brought blocks of it')
  t.absent('startedAt' in total, 'no per-connection timestamps in the totals')
  t.absent('finishedAt' in total)
  t.absent('inSync' in total)
  const up = a.stats()
  t.is(up.blocksUploaded, 3)
  t.is(up.bytesUploaded, 6)
})

const Multifeed = require('..')

// A plain corestore peer that knows one feed's key (a mirror, a seeder) reads it from a multifeed peer.
async function plainPeerReads (t, { hold, shared }) {
  const m = await create(t, { valueEncoding: 'utf-8' })
  const w = await m.writer('w')
  await w.append('hello')
  if (!hold) await w.close()
  const store = new Corestore(await t.tmp())
  t.teardown(() => store.close(), { order: 2 })
  let s1
  if (shared) {
    const own = new Corestore(await t.tmp())
    t.teardown(() => own.close(), { order: 2 })
    s1 = own.replicate(true)
    m.replicate(s1)
  } else {
    s1 = m.replicate(true)
  }
  const s2 = store.replicate(false)
  const errors = []
  s1.on('error', (err) => errors.push(err))
  s2.on('error', (err) => errors.push(err))
  s1.pipe(s2).pipe(s1)
  const core = store.get({ key: w.key, valueEncoding: 'utf-8' })
  t.is(await bounded(t, core.get(0), 'the block from the multifeed peer'), 'hello')
  t.alike(errors, [], 'the stream stays up: the peer is a reader, not a wrong key')
  s1.destroy()
}

test('a plain corestore peer reads a held writer over replicate(bool)', (t) => plainPeerReads(t, { hold: true, shared: false }))
test('a plain corestore peer reads a closed writer over replicate(bool)', (t) => plainPeerReads(t, { hold: false, shared: false }))
test('a plain corestore peer reads a feed over a shared connection', (t) => plainPeerReads(t, { hold: false, shared: true }))

// A plain mirror that already holds our feed reads it live on a new connection. Our upload session closes
// at once (it has everything); the channel must stay, as the mirror hears of growth only through it (no
// exchange announces anything to it).
test('a plain corestore mirror that holds the feed still gets growth after our upload session closed', async (t) => {
  const m = await create(t, { valueEncoding: 'utf-8' })
  const w = await m.writer('w')
  await w.append('one')
  await w.close()
  const store = new Corestore(await t.tmp())
  t.teardown(() => store.close(), { order: 2 })
  const mirror = store.get({ key: w.key, valueEncoding: 'utf-8' })
  await mirror.ready()
  mirror.download({ start: 0, end: -1 })
  const connect = () => {
    const s1 = m.replicate(true)
    const s2 = store.replicate(false)
    s1.on('error', () => {})
    s2.on('error', () => {})
    s1.pipe(s2).pipe(s1)
    return [s1, s2]
  }
  const first = connect()
  t.is(await bounded(t, mirror.get(0), 'the first block'), 'one')
  first[0].destroy()
  await Promise.all(first.map(closed))

  const [s1] = connect()
  t.teardown(() => s1.destroy(), { order: 0 })
  await bounded(t, waitUntil(mirror, ['peer-add'], () => mirror.peers.length === 1), 'the mirror\'s channel')
  await bounded(t, new Promise((resolve) => { const check = () => m.openFeeds === 0 ? resolve() : setTimeout(check, 20); check() }), 'our upload session to close')
  const again = m.feed(w.key)
  await again.append('two')
  t.is(await bounded(t, mirror.get(1), 'the growth at the mirror'), 'two')
})

test('a plain corestore peer that fetches nothing still ends a replicate(bool) stream with ERR_KEY_MISMATCH', async (t) => {
  const m = await create(t, { timeout: 300 })
  const store = new Corestore(await t.tmp())
  t.teardown(() => store.close(), { order: 2 })
  const s1 = m.replicate(true)
  const s2 = store.replicate(false)
  s2.on('error', () => {})
  const failed = new Promise((resolve) => s1.once('error', resolve))
  s1.pipe(s2).pipe(s1)
  const err = await bounded(t, failed, 'the stream to fail', 5000)
  t.is(err && err.code, 'ERR_KEY_MISMATCH')
})

test('accept(info) sees the length the remote advertised', async (t) => {
  const key = crypto.randomBytes(32)
  const a = await create(t, { key })
  const seen = []
  const b = await create(t, { key, accept: (info) => { seen.push(info); return true } })
  const w = await a.writer('w')
  await w.append(['1', '2', '3'])
  pipe(a, b)
  await until(t, b, ['synced'], () => b.list().length === 1 && b.isSynced())
  t.alike(seen.map((i) => [i.length, i.writable, i.name]), [[3, false, null]])
})

test('keys are accepted as Buffer, hex and z-base-32', async (t) => {
  const idEncoding = require('hypercore-id-encoding')
  const m = await create(t)
  const w = await m.writer('w')
  t.is(m.feed(w.key), w)
  t.is(m.feed(w.key.toString('hex')), w)
  t.is(m.feed(idEncoding.encode(w.key)), w)
  const other = await create(t, { key: idEncoding.encode(m.key) })
  t.alike(other.key, m.key)
  t.exception(() => new Multifeed(m.store, { key: 'not a key' }), /ERR_INVALID_KEY/)
})

test('storeKey: false keeps the shared key off disk, and removes a copy an earlier open stored', async (t) => {
  const fs = require('fs')
  const key = crypto.randomBytes(32)
  const fresh = await t.tmp()
  const secret = new Multifeed(fresh, { key, storeKey: false })
  await (await secret.writer('w')).append('x')
  await secret.close()
  const holding = walk(fresh).filter((file) => fs.readFileSync(file).indexOf(key) !== -1)
  t.alike(holding, [], 'no file of a storage opened only with storeKey: false holds the key')

  const dir = await t.tmp()
  const first = new Multifeed(dir, { key })
  await (await first.writer('w')).append('x')
  await first.close()
  const later = new Multifeed(dir, { key, storeKey: false })
  await later.ready()
  t.is(later.list().length, 1, 'the feeds are still there')
  await later.close()
  const reopened = new Multifeed(dir)
  await reopened.ready()
  t.unlike(reopened.key, key, 'a reopen without the key no longer finds it')
  await reopened.close()
  t.exception(() => new Multifeed(dir, { storeKey: false }), /ERR_INVALID_ARGUMENT/)
})

function walk (dir) {
  const fs = require('fs')
  const path = require('path')
  const out = []
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) out.push(...walk(p))
    else out.push(p)
  }
  return out
}
