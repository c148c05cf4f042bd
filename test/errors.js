const test = require('brittle')
const crypto = require('hypercore-crypto')
const { create, pipe, once, closed, rawPeer, messages } = require('./helpers.js')

// A hand-driven peer connected to `m`, with the errors of m's stream collected.
async function connectRaw (t, m, opts = {}) {
  const peer = await rawPeer(t, m.key, { isInitiator: true, ...opts })
  const s = m.replicate(false)
  const errs = []
  s.on('error', (e) => errs.push(e))
  peer.stream.pipe(s).pipe(peer.stream)
  return { peer, s, errs }
}

test('different keys: nothing exchanged, ERR_KEY_MISMATCH', async (t) => {
  const a = await create(t)
  const b = await create(t)
  const w = await a.writer('secret')
  await w.append('x')
  const [s1, s2] = pipe(a, b)
  await Promise.all([closed(s1), closed(s2)])
  const codes = [...s1.errors, ...s2.errors].map((e) => e.code)
  t.ok(codes.includes('ERR_KEY_MISMATCH'), 'the stream failed with ERR_KEY_MISMATCH')
  t.is(b.list().length, 0)
  t.is(a.list().length, 1)
})

test('a peer that knows only the discovery key fails the capability and learns no feed', async (t) => {
  const m = await create(t)
  await m.writer('w')
  // a random capability: all a peer that only saw the discovery key could send
  const { peer, s, errs } = await connectRaw(t, m, { cap: crypto.randomBytes(32) })
  await peer.ready
  await closed(s)
  t.is(errs[0].code, 'ERR_KEY_MISMATCH')
  t.is(peer.received.length, 0, 'no message beyond the handshake reached the peer')
})

test('version mismatch carries both versions', async (t) => {
  const m = await create(t)
  const { peer, s, errs } = await connectRaw(t, m, { version: '99.0.0' })
  await closed(s)
  t.is(errs[0].code, 'ERR_VERSION_MISMATCH')
  t.is(errs[0].usVersion, messages.VERSION)
  t.is(errs[0].themVersion, '99.0.0')
})

test('client mismatch carries both client ids', async (t) => {
  const key = crypto.randomBytes(32)
  const a = await create(t, { key, client: 'CHAT' })
  const b = await create(t, { key })
  const [s1, s2] = pipe(a, b)
  await Promise.all([closed(s1), closed(s2)])
  // whichever side notices first destroys the pipe; each error names both clients from its side
  const errs = [...s1.errors, ...s2.errors]
  t.ok(errs.length > 0)
  for (const err of errs) {
    t.is(err.code, 'ERR_CLIENT_MISMATCH')
    t.alike([err.usClient, err.themClient].sort(), ['CHAT', 'MULTIFEED'])
  }
})

test('a malformed message closes the channel with a clear error and writes nothing', async (t) => {
  const m = await create(t)
  const { peer, s, errs } = await connectRaw(t, m)
  await once(peer.events, 'open')
  peer.send(0, Buffer.from([0xff, 0xff])) // a truncated summary
  await closed(s)
  t.is(errs[0].code, 'ERR_BAD_MESSAGE')
  t.is(m.list().length, 0)
})

test('more feeds than maxFeeds closes the channel with ERR_TOO_MANY_FEEDS', async (t) => {
  const m = await create(t, { maxFeeds: 10 })
  const { peer, s, errs } = await connectRaw(t, m)
  await once(peer.events, 'open')
  peer.send(0, messages.encode(messages.summary, { count: 1000, digest: Buffer.alloc(32) }))
  await closed(s)
  t.is(errs[0].code, 'ERR_TOO_MANY_FEEDS')
  t.is(errs[0].limit, 10)
  t.is(m.list().length, 0)
})

test('bad local input gets clear errors', async (t) => {
  const { Multifeed } = require('./helpers.js')
  const dir = await t.tmp()
  t.exception(() => new Multifeed(dir, { key: 'abc' }), /ERR_INVALID_KEY/)
  t.exception(() => new Multifeed(dir, { key: Buffer.alloc(31) }), /ERR_INVALID_KEY/)
  t.exception(() => new Multifeed(42), /ERR_INVALID_ARGUMENT/)
  t.exception(() => new Multifeed(dir, { maxDownloads: 0 }), /ERR_INVALID_ARGUMENT/)
  const m = await create(t, {}, dir)
  await t.exception(() => m.writer({ name: 'x' }), /ERR_INVALID_ARGUMENT/)
  await t.exception(() => m.writer('x', { keyPair: { publicKey: Buffer.alloc(3) } }), /ERR_INVALID_ARGUMENT/)
  t.is(m.list().length, 0)
})

test('a peer that goes silent after the handshake times out and synced() resolves', async (t) => {
  const m = await create(t, { timeout: 200 })
  await m.writer('w')
  const { peer, s, errs } = await connectRaw(t, m)
  await once(peer.events, 'open')
  const synced = m.synced()
  await closed(s)
  t.is(errs[0].code, 'ERR_EXCHANGE_TIMEOUT')
  t.is(errs[0].phase, 'summary')
  await synced
  t.ok(m.isSynced())
})

test('a failed index write closes the channel without unhandled rejections', async (t) => {
  const m = await create(t)
  const unhandled = []
  const onunhandled = (err) => unhandled.push(err)
  process.on('unhandledRejection', onunhandled)
  t.teardown(() => process.off('unhandledRejection', onunhandled))
  m.index.put = async () => { throw Object.assign(new Error('simulated I/O error'), { code: 'EIO' }) }
  const { peer, s, errs } = await connectRaw(t, m)
  await once(peer.events, 'open')
  peer.send(0, messages.encode(messages.summary, { count: 3, digest: crypto.randomBytes(32) }))
  const entries = [0, 1, 2].map(() => ({ key: crypto.randomBytes(32), length: 1 }))
  peer.send(1, messages.encode(messages.feeds, { last: true, entries }))
  await closed(s)
  await new Promise((resolve) => setImmediate(resolve))
  t.is(unhandled.length, 0)
  t.is(m.list().length, 0, 'nothing recorded')
})
