// Live announcements of feeds that appear while the exchange is still running: they wait for the exchange
// to finish and then go out, so a feed added mid-exchange is never lost.
const test = require('brittle')
const b4a = require('b4a')
const { create, once, rawPeer, messages, bounded } = require('./helpers.js')

test('a feed added while the exchange runs is announced once it is live', async (t) => {
  const m = await create(t)
  const early = await m.writer('early')
  await early.append('e')
  const peer = await rawPeer(t, m.key, { isInitiator: true })
  const s = m.replicate(false)
  s.on('error', () => {})
  s.pipe(peer.stream).pipe(s)
  await peer.ready
  let read = 0
  const next = (what) => bounded(t, (async () => {
    while (read >= peer.received.length) await once(peer.events, 'message')
    return peer.received[read++]
  })(), what)

  // an empty set: plain lists; the multifeed sends its list at once and waits for ours
  peer.send(0, messages.encode(messages.summary, { count: 0, digest: b4a.alloc(32) }))
  t.is((await next('the summary')).type, 0)
  const list = await next('the multifeed\'s list')
  t.is(list.type, 1)
  const first = messages.decode(messages.feeds, list.buf, 'feeds')
  t.ok(first.last, 'its whole list in one batch')
  t.alike(first.entries.map((e) => b4a.toString(e.key, 'hex')), [b4a.toString(early.key, 'hex')])
  const ex = m.connections[0]
  t.is(ex.phase, 'list', 'the exchange waits for our list')

  const late = await m.writer('late') // announced while the exchange is not live yet
  await late.append('l')
  t.is(ex.phase, 'list', 'still waiting')
  t.is(peer.received.length, read, 'nothing announced before the exchange is over')

  peer.send(1, messages.encode(messages.feeds, { last: true, entries: [] }))
  const live = await next('the announcement of the feed added mid-exchange')
  t.is(live.type, 1)
  const f = messages.decode(messages.feeds, live.buf, 'feeds')
  t.absent(f.last, 'a live announcement')
  t.alike(f.entries.map((e) => [b4a.toString(e.key, 'hex'), e.length]), [[b4a.toString(late.key, 'hex'), 1]], 'the late feed at its current length')
  t.is(ex.phase, 'live')
})
