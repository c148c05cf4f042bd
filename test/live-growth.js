const test = require('brittle')
const b4a = require('b4a')
const crypto = require('hypercore-crypto')
const Corestore = require('corestore')
const { create, pipe, bounded, Multifeed } = require('./helpers.js')

const hex = (key) => b4a.toString(key, 'hex')

function listed (m, key) {
  const f = m.list().find((f) => b4a.equals(f.key, key))
  return f ? f.length : 0
}

// Resolves once fn() is truthy, checking every few ms (for state no event announces).
function poll (fn, ms = 5) {
  return new Promise((resolve) => {
    const check = () => fn() ? resolve() : setTimeout(check, ms)
    check()
  })
}

test('live growth: a block that lands in the core after our session closed still moves the record', async (t) => {
  const key = crypto.randomBytes(32)
  const a = await create(t, { key, valueEncoding: 'utf-8' })
  const store = new Corestore(await t.tmp())
  const b = new Multifeed(store, { key, valueEncoding: 'utf-8' })
  t.teardown(async () => { await b.close(); await store.close() }, { order: 1 })
  await b.ready()

  const w = await a.writer('w')
  await w.append('one')
  pipe(a, b)
  await bounded(t, poll(() => b.isSynced() && listed(b, w.key) === 1), 'b to sync the first block')
  // nothing needs b's core any more: the multifeed closes its session, and corestore keeps the core a while,
  // its channel to a still open
  await bounded(t, poll(() => b.openFeeds === 0), 'b to close its session of the feed')

  // another session of b's Corestore downloads the feed: hypercore fetches the next block into that core,
  // and a, seeing b's copy download and then hold it, announces nothing
  const plain = store.get({ key: w.key })
  t.teardown(() => plain.close(), { order: 0 })
  await plain.ready()
  plain.download({ start: 0, end: -1 })
  await bounded(t, poll(() => w.peers.some((p) => p.remoteDownloading)), 'a to see b download the feed')
  const received = b.connections[0].stats.exchangeBytesReceived
  await w.append('two')
  await bounded(t, poll(() => plain.contiguousLength === 2), 'the block to reach b\'s core')

  await bounded(t, poll(() => listed(b, w.key) === 2), 'b\'s multifeed to learn the block its core holds')
  t.is(b.connections[0].stats.exchangeBytesReceived, received, 'a announced nothing: its Hypercore channel showed b holds the block')
  t.is(b.connections[0].remotePosition(hex(w.key)).length, 2, 'b learned a\'s length from that channel too')
  t.is(await b.feed(w.key).get(1), 'two')
})
