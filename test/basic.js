const test = require('brittle')
const b4a = require('b4a')
const crypto = require('hypercore-crypto')
const Corestore = require('corestore')
const { create, pipe, once, closed, Multifeed } = require('./helpers.js')

test('an empty multifeed has no feeds', async (t) => {
  const m = await create(t)
  t.is(m.feeds().length, 0)
  t.is(m.list().length, 0)
  t.is(m.key.byteLength, 32)
  t.alike(m.discoveryKey, crypto.discoveryKey(m.key))
})

test('writer: create, append, get', async (t) => {
  const m = await create(t, { valueEncoding: 'utf-8' })
  const w = await m.writer('main')
  t.ok(w.writable)
  await w.append('hello')
  await w.append('world')
  t.is(await w.get(0), 'hello')
  t.is(await w.get(1), 'world')
  t.is(m.feeds().length, 1)
  t.is(m.list()[0].length, 2)
  t.is(m.list()[0].name, 'main')
})

test('feed by Buffer and by hex key', async (t) => {
  const m = await create(t)
  const w = await m.writer('a')
  t.is(m.feed(w.key), w)
  t.is(m.feed(b4a.toString(w.key, 'hex')), w)
  t.is(m.feed(b4a.toString(w.key, 'hex').toUpperCase()), w)
  t.is(m.feed(crypto.randomBytes(32)), undefined)
  t.is(m.feed('nope'), undefined)
})

test('the same name gives the same writer, also after close and reopen', async (t) => {
  const dir = await t.tmp()
  const m = new Multifeed(dir)
  const a = await m.writer('x')
  const b = await m.writer('x')
  t.is(a, b)
  const [c, d] = await Promise.all([m.writer('y'), m.writer('y')])
  t.is(c, d, 'concurrent calls for a new name agree')
  const anon1 = await m.writer()
  const anon2 = await m.writer()
  t.not(anon1.key.toString('hex'), anon2.key.toString('hex'), 'no name: a new writer each call')
  await a.append('data')
  const key = m.key
  const writerKey = a.key
  await m.close()

  const again = new Multifeed(dir)
  await again.ready()
  t.alike(again.key, key, 'same multi.key without passing it')
  t.is(again.list().length, 4)
  const a2 = await again.writer('x')
  t.alike(a2.key, writerKey)
  t.ok(a2.writable)
  await a2.ready()
  t.is(a2.length, 1)
  await a2.append('more')
  t.is(a2.length, 2)
  await again.close()
})

test('a given key is used and kept', async (t) => {
  const dir = await t.tmp()
  const key = crypto.randomBytes(32)
  const m = new Multifeed(dir, { key: b4a.toString(key, 'hex') })
  await m.ready()
  t.alike(m.key, key)
  await m.writer('w')
  await m.close()
  const again = new Multifeed(dir, { encryptionKey: key })
  await again.ready()
  t.is(again.list().length, 1)
  await again.close()
  const noKey = new Multifeed(dir)
  await noKey.ready()
  t.alike(noKey.key, key, 'the first key a storage saw is its default')
  t.is(noKey.list().length, 1)
  await noKey.close()
})

test('several multifeeds share one corestore', async (t) => {
  const store = new Corestore(await t.tmp())
  const a = new Multifeed(store, { key: crypto.randomBytes(32) })
  const b = new Multifeed(store, { key: crypto.randomBytes(32) })
  await a.writer('w')
  await b.writer('w')
  await b.writer('v')
  t.is(a.list().length, 1)
  t.is(b.list().length, 2)
  const own = store.get({ name: 'app-core' })
  await own.ready()
  await a.close()
  await b.close()
  t.absent(own.closed, 'closing a multifeed leaves the app\'s cores alone')
  await store.close()
})

test('feed lengths are kept in the index: trusted after a clean close, re-read from the cores after a crash', async (t) => {
  const key = crypto.randomBytes(32)
  const store = new Corestore(await t.tmp())
  t.teardown(() => store.close(), { order: 2 })
  let coreReads = 0
  const getInfos = store.storage.getInfos
  store.storage.getInfos = function (...args) {
    coreReads++
    return getInfos.apply(this, args)
  }
  const lengths = (m) => m.list().map((f) => f.length).sort()

  const a = new Multifeed(store, { key })
  const w = await a.writer('w')
  await w.append(['1', '2', '3'])
  const b = await create(t, { key })
  await (await b.writer('bw')).append(['x', 'y'])
  const [s1, s2] = pipe(a, b)
  await Promise.all([once(s1, 'remote-feeds'), once(s2, 'remote-feeds')])
  await Promise.all([a.synced(), b.synced()])
  s1.destroy()
  await Promise.all([closed(s1), closed(s2)])
  await a.close()

  const clean = new Multifeed(store, { key })
  await clean.ready()
  t.alike(lengths(clean), [2, 3], 'the downloaded and the written length, from the index')
  t.is(coreReads, 0, 'no core state read')
  t.is(clean.openFeeds, 0)
  // a crash: the lengths that moved are never saved, so the index is stale and unmarked
  clean.index.saveLengths = async () => {}
  await (await clean.writer('w')).append(['4', '5'])
  await clean.close()

  const crashed = new Multifeed(store, { key })
  await crashed.ready()
  t.ok(coreReads > 0, 'the cores\' stored state is read')
  t.alike(lengths(crashed), [2, 5], 'the true lengths, not the stale index')
  await crashed.close()
})

test('custom key pair writer: feed.key equals the public key', async (t) => {
  const m = await create(t)
  const keyPair = crypto.keyPair()
  const w = await m.writer('custom', { keyPair })
  t.alike(w.key, keyPair.publicKey)
  await w.append('x')
  t.is(w.length, 1)
})

test('close is idempotent and safe while closing', async (t) => {
  const m = new Multifeed(await t.tmp())
  await m.writer('a')
  const p1 = m.close()
  const p2 = m.close()
  await Promise.all([p1, p2])
  await m.close()
  t.ok(m.closed)
  await t.exception(() => m.writer('b'), /ERR_CLOSED/)
})

test('close before ready', async (t) => {
  const m = new Multifeed(await t.tmp())
  await m.close()
  t.ok(m.closed)
})

test('callback style', async (t) => {
  t.plan(6)
  const m = new Multifeed(await t.tmp())
  await new Promise((resolve) => {
    m.ready((err) => {
      t.is(err, null)
      m.writer('main', (err, w) => {
        t.is(err, null)
        t.ok(w.writable)
        m.writer(42, (err) => {
          t.is(err.code, 'ERR_INVALID_ARGUMENT')
          m.close((err) => {
            t.is(err, null)
            t.ok(m.closed)
            resolve()
          })
        })
      })
    })
  })
})

test('close() leaves no write of the session in RocksDB\'s write-ahead log, so the next open has none to replay', async (t) => {
  const fs = require('fs')
  const path = require('path')
  const dir = await t.tmp()
  const m = new Multifeed(dir)
  await m.ready()
  for (let i = 0; i < 200; i++) await (await m.writer('w' + i)).append('block')
  await m.close()
  const wal = fs.readdirSync(path.join(dir, 'db')).filter((f) => f.endsWith('.log'))
  const bytes = wal.reduce((sum, f) => sum + fs.statSync(path.join(dir, 'db', f)).size, 0)
  t.ok(wal.length > 0, 'RocksDB keeps its log files under db/')
  t.ok(bytes < 4096, `the write-ahead log holds ${bytes} B after close (200 writers made: about 1 MB unflushed)`)
  const again = new Multifeed(dir)
  await again.ready()
  t.is(again.list().length, 200, 'every writer is there after the reopen')
  await again.close()
})
