// The exchange that costs the difference: in-sync reconnects, sketches, plain lists and the fallback.
const test = require('brittle')
const crypto = require('hypercore-crypto')
const { create, pipe, once, closed, Multifeed } = require('./helpers.js')

async function seeded (t, key, n, dir) {
  const m = await create(t, { key }, dir)
  for (let i = 0; i < n; i++) {
    const w = await m.writer('w' + i)
    await w.append('block')
  }
  return m
}

async function exchange (a, b) {
  const [s1, s2] = pipe(a, b)
  await Promise.all([once(s1, 'remote-feeds'), once(s2, 'remote-feeds')])
  await Promise.all([a.synced(), b.synced()])
  const ex = [a.connections[0], b.connections[0]]
  const result = { modes: ex.map((e) => e.mode), bytes: ex[0].stats.exchangeBytesSent + ex[1].stats.exchangeBytesSent, inSync: ex[0].stats.inSync }
  s1.destroy()
  await Promise.all([closed(s1), closed(s2)])
  return result
}

function lengths (m) {
  return m.list().map((r) => r.key.toString('hex') + ':' + r.length).sort()
}

test('reconnect in sync: summaries only, no feed core opened', async (t) => {
  const key = crypto.randomBytes(32)
  const dirA = await t.tmp()
  const dirB = await t.tmp()
  const a0 = await seeded(t, key, 30, dirA)
  const b0 = await create(t, { key }, dirB)
  const first = await exchange(a0, b0)
  t.alike(first.modes, ['list', 'list'], 'first contact sends the plain list')
  t.alike(lengths(a0), lengths(b0))
  await a0.close()
  await b0.close()

  const a = new Multifeed(dirA, { key })
  const b = new Multifeed(dirB, { key })
  t.teardown(() => Promise.all([a.close(), b.close()]))
  await Promise.all([a.ready(), b.ready()])
  const again = await exchange(a, b)
  t.alike(again.modes, ['in-sync', 'in-sync'])
  t.ok(again.inSync)
  t.ok(again.bytes < 200, 'a few dozen bytes each way: ' + again.bytes)
  t.is(a.openFeeds, 0, 'no feed core opened on a')
  t.is(b.openFeeds, 0, 'no feed core opened on b')
})

test('reconnect with a few changed feeds reconciles by sketch and converges', async (t) => {
  const key = crypto.randomBytes(32)
  const a = await seeded(t, key, 60, null)
  const b = await create(t, { key })
  await exchange(a, b)
  for (const d of [1, 5, 20]) {
    const ws = a.feeds().slice(0, d)
    for (const w of ws) await w.append('grown')
    const extra = await b.writer('new-on-b-' + d)
    await extra.append('fresh')
    const r = await exchange(a, b)
    t.alike(r.modes, ['sketch', 'sketch'], 'd = ' + d + ' by sketch')
    t.alike(lengths(a), lengths(b), 'd = ' + d + ' converged')
    t.ok(r.bytes < 3 * 32 * (d + 1) + 400, `d = ${d}: ${r.bytes} bytes`)
  }
})

test('both sides with disjoint sets of the same size still converge', async (t) => {
  const key = crypto.randomBytes(32)
  const a = await seeded(t, key, 20, null)
  const b = await seeded(t, key, 20, null)
  const r = await exchange(a, b)
  t.ok(r.modes[0] === r.modes[1], 'both sides agree on the mode: ' + r.modes[0])
  t.is(a.list().length, 40)
  t.alike(lengths(a), lengths(b))
})
