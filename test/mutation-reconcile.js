// Reconciliation between multifeeds reopened from disk, so that no feed core is open when the exchange runs:
// nothing is attached to the connection by corestore, and every feed that crosses must be found through the
// exchange itself (the diff's short and full entries, the initiator's answer) and served through it.
const test = require('brittle')
const crypto = require('hypercore-crypto')
const b4a = require('b4a')
const { create, pipe, once, closed, Multifeed, bounded } = require('./helpers.js')

function lengths (m) {
  return m.list().map((r) => b4a.toString(r.key, 'hex') + ':' + r.length).sort()
}

async function exchange (t, a, b) {
  const [s1, s2] = pipe(a, b)
  await bounded(t, Promise.all([once(s1, 'remote-feeds'), once(s2, 'remote-feeds')]), 'the exchange')
  await bounded(t, Promise.all([a.synced(), b.synced()]), 'both sides to be synced')
  const modes = [a.connections[0].mode, b.connections[0].mode]
  s1.destroy()
  await Promise.all([closed(s1), closed(s2)])
  return modes
}

async function reopen (t, dir, key) {
  const m = new Multifeed(dir, { key, valueEncoding: 'utf-8' })
  t.teardown(() => m.close(), { order: 1 })
  await m.ready()
  return m
}

async function grow (m, name, block) {
  const w = await m.writer(name)
  await w.append(block)
  await w.close()
}

for (const mode of ['sketch', 'list']) {
  test(`${mode}: reopened multifeeds (no core open) exchange every difference, either side ahead`, async (t) => {
    const key = crypto.randomBytes(32)
    const dirA = await t.tmp()
    const dirB = await t.tmp()
    // sketch: 30 feeds against 30; list: 30 against 5 plus what a lacks
    const a0 = await create(t, { key, valueEncoding: 'utf-8' }, dirA)
    for (let i = 0; i < 30; i++) await grow(a0, 'a' + i, 'a' + i + ':0')
    const b0 = await create(t, { key, valueEncoding: 'utf-8' }, dirB)
    for (let i = 0; i < 3; i++) await grow(b0, 'b' + i, 'b' + i + ':0')
    t.alike(await exchange(t, a0, b0), ['list', 'list'], 'first contact by list')
    t.alike(lengths(a0), lengths(b0))
    await a0.close()
    await b0.close()

    // offline: each side grows some of its writers and adds one; b (the responder) is ahead on one of its own
    const a1 = await reopen(t, dirA, key)
    for (let i = 0; i < 3; i++) await grow(a1, 'a' + i, 'a' + i + ':1')
    await grow(a1, 'a-new', 'a-new:0')
    await a1.close()
    const b1 = await reopen(t, dirB, key)
    await grow(b1, 'b0', 'b0:1')
    await grow(b1, 'b-new', 'b-new:0')
    if (mode === 'list') {
      // forget most of a's feeds on b, so the sets' sizes differ enough for plain lists
      for (const f of b1.list().filter((f) => !f.writable).slice(0, 28)) await b1.remove(f.key)
    }
    await b1.close()

    const a = await reopen(t, dirA, key)
    const b = await reopen(t, dirB, key)
    t.is(a.openFeeds + b.openFeeds, 0, 'no feed core open before the exchange')
    const want = new Set([...lengths(a), ...lengths(b)].map((s) => s.split(':')[0]))
    // the blocks each side lacks, from the lengths before the exchange
    const before = (m) => new Map(m.list().map((f) => [b4a.toString(f.key, 'hex'), f.length]))
    const [la, lb] = [before(a), before(b)]
    let aLacks = 0
    let bLacks = 0
    for (const k of want) {
      const top = Math.max(la.get(k) || 0, lb.get(k) || 0)
      aLacks += top - (la.get(k) || 0)
      bLacks += top - (lb.get(k) || 0)
    }
    t.alike(await exchange(t, a, b), [mode, mode], 'reconnect by ' + mode)
    // counted by the multifeed's own sessions: a core that some other session served would not count
    // (blocksDownloaded is not checked here: it undercounts blocks of feeds the downloader already had)
    t.is(b.stats().blocksUploaded, aLacks, `b served the ${aLacks} blocks a lacked through its own sessions`)
    t.is(a.stats().blocksUploaded, bLacks, `a served the ${bLacks} blocks b lacked through its own sessions`)
    t.is(a.openFeeds + b.openFeeds, 0, 'and every core the exchange opened closed again')
    t.is(a.list().length, want.size, 'a has every feed')
    t.alike(lengths(a), lengths(b), 'the same feeds at the same lengths on both sides')
    const b0key = b.list().find((f) => f.name === 'b0').key
    const a0key = a.list().find((f) => f.name === 'a0').key
    const aNew = a.list().find((f) => f.name === 'a-new').key
    const bNew = b.list().find((f) => f.name === 'b-new').key
    t.is(await bounded(t, a.feed(b0key).get(1), 'b0:1 on a'), 'b0:1', 'a got the block b was ahead with')
    t.is(await bounded(t, b.feed(a0key).get(1), 'a0:1 on b'), 'a0:1', 'b got the block a was ahead with')
    t.is(await bounded(t, a.feed(bNew).get(0), 'b-new on a'), 'b-new:0', 'a got the feed only b had')
    t.is(await bounded(t, b.feed(aNew).get(0), 'a-new on b'), 'a-new:0', 'b got the feed only a had')
  })
}
