// multi.createReadStream(): every block of every feed, in order per feed, fair across feeds, resumable.
const test = require('brittle')
const crypto = require('hypercore-crypto')
const b4a = require('b4a')
const { create, pipe, once, closed, bounded, Multifeed } = require('./helpers.js')

const hex = (key) => b4a.toString(key, 'hex')

// Writers w0..w(n-1); writer i holds `sizes[i]` blocks 'w<i>-<seq>'.
async function withWriters (t, sizes, opts = {}, dir) {
  const m = await create(t, { valueEncoding: 'utf-8', ...opts }, dir)
  const writers = []
  for (let i = 0; i < sizes.length; i++) {
    const w = await m.writer('w' + i)
    const blocks = []
    for (let j = w.length; j < sizes[i]; j++) blocks.push(`w${i}-${j}`)
    if (blocks.length) await w.append(blocks)
    writers.push(w)
  }
  return { m, writers }
}

async function collect (stream, limit = Infinity) {
  const out = []
  for await (const block of stream) {
    out.push(block)
    if (out.length >= limit) break
  }
  return out
}

// Each feed's blocks arrive in order, from 0 (or from `from`), with nothing missing or repeated.
function inOrder (t, blocks, from = new Map()) {
  const next = new Map(from)
  for (const { key, seq } of blocks) {
    const k = hex(key)
    const want = next.get(k) ?? 0
    if (seq !== want) return t.fail(`feed ${k.slice(0, 8)}: block ${seq} came where ${want} was due`)
    next.set(k, seq + 1)
  }
  t.pass('every feed\'s blocks in order, none missing or repeated')
  return next
}

test('createReadStream: every stored block once, in order per feed, decoded, then the stream ends', async (t) => {
  const { m, writers } = await withWriters(t, [1, 4, 0, 7])
  const blocks = await collect(m.createReadStream())
  t.is(blocks.length, 12)
  inOrder(t, blocks)
  const byKey = new Map(writers.map((w, i) => [hex(w.key), i]))
  for (const { key, seq, value } of blocks) {
    if (value !== `w${byKey.get(hex(key))}-${seq}`) t.fail(`block ${seq} of w${byKey.get(hex(key))} reads ${value}`)
  }
  t.ok(blocks.every((b) => b4a.isBuffer(b.key) && typeof b.value === 'string'), '{ key, seq, value } with the multifeed\'s valueEncoding')
  t.alike(await collect(m.createReadStream({ feeds: [] })), [], 'nothing selected: ends at once')
})

test('createReadStream: one long feed does not starve the others', async (t) => {
  const { m, writers } = await withWriters(t, [300, 3, 3, 3, 3])
  const blocks = await collect(m.createReadStream({ batch: 10, window: 1 }))
  t.is(blocks.length, 312)
  inOrder(t, blocks)
  const long = hex(writers[0].key)
  let lastShort = -1
  blocks.forEach((b, i) => { if (hex(b.key) !== long) lastShort = i })
  t.ok(lastShort < 60, `the short feeds were done by block ${lastShort} of 312 (turns of 10 blocks)`)
})

test('createReadStream: a checkpoint round-trips through JSON and resumes exactly after it', async (t) => {
  const { m } = await withWriters(t, [5, 9, 2, 6])
  const first = m.createReadStream({ batch: 3 })
  const part = []
  let checkpoint = null
  for await (const block of first) {
    part.push(block)
    if (part.length === 10) {
      checkpoint = JSON.parse(JSON.stringify(first.checkpoint()))
      break
    }
  }
  const handed = inOrder(t, part)
  t.alike(new Map(Object.entries(checkpoint.at)), handed, 'the checkpoint is the blocks handed over, per feed')
  const rest = await collect(m.createReadStream({ since: checkpoint }))
  t.is(part.length + rest.length, 22, 'the rest: nothing twice, nothing skipped')
  inOrder(t, rest, handed)
  const stream = m.createReadStream({ since: checkpoint })
  await collect(stream)
  const all = stream.checkpoint()
  t.is(Object.values(all.at).reduce((a, b) => a + b, 0), 22, 'a finished stream\'s checkpoint covers everything')
  t.alike(await collect(m.createReadStream({ since: all })), [], 'resuming from it delivers nothing')
})

test('createReadStream: resume from a checkpoint after a restart delivers exactly what came after', async (t) => {
  const dir = await t.tmp()
  const sizes = Array.from({ length: 30 }, (_, i) => 1 + (i % 3))
  const { m, writers } = await withWriters(t, sizes, {}, dir)
  const first = m.createReadStream()
  await collect(first)
  const saved = JSON.stringify(first.checkpoint())
  const grown = new Set()
  for (const i of [2, 11, 17]) {
    await writers[i].append(['new a', 'new b'])
    grown.add(hex(writers[i].key))
  }
  await m.close()

  const again = new Multifeed(dir, { valueEncoding: 'utf-8' })
  t.teardown(() => again.close())
  const extra = await again.writer('late')
  await extra.append('late block')
  grown.add(hex(extra.key))
  const rest = await collect(again.createReadStream({ since: JSON.parse(saved) }))
  t.is(rest.length, 7, '2 new blocks of 3 feeds and the block of a new feed')
  t.ok(rest.every((b) => grown.has(hex(b.key))), 'only the feeds that grew')
  t.ok(rest.every((b) => b.value === 'new a' || b.value === 'new b' || b.value === 'late block'))
})

test('createReadStream live: blocks appended later and feeds that appear later, local and replicated', async (t) => {
  const key = crypto.randomBytes(32)
  const { m: a, writers } = await withWriters(t, [2], { key })
  const b = await create(t, { key, valueEncoding: 'utf-8' })
  const stream = a.createReadStream({ live: true })
  t.teardown(() => stream.destroy())
  const seen = []
  const waiters = []
  stream.on('data', (block) => {
    seen.push(block.value)
    for (const w of waiters.splice(0)) w()
  })
  const until = (value) => bounded(t, new Promise((resolve) => {
    const check = () => seen.includes(value) ? resolve() : waiters.push(check)
    check()
  }), `${value} on the live stream`)
  await until('w0-1')
  await writers[0].append('appended later')
  await until('appended later')
  const fresh = await a.writer('fresh')
  await fresh.append('from a feed made while the stream is open')
  await until('from a feed made while the stream is open')
  const remote = await b.writer('remote')
  await remote.append('from a peer')
  const [s1, s2] = pipe(a, b)
  await until('from a peer')
  t.is(seen.length, 5, 'each block once')
  s1.destroy()
  await Promise.all([closed(s1), closed(s2)])
})

test('createReadStream: a missing block holds up only its feed', async (t) => {
  const key = crypto.randomBytes(32)
  const { m: a, writers } = await withWriters(t, [4, 3], { key })
  const b = await create(t, { key, valueEncoding: 'utf-8' })
  const [s1, s2] = pipe(a, b)
  await bounded(t, Promise.all([a.synced(), b.synced()]), 'synced')
  s1.destroy()
  await Promise.all([closed(s1), closed(s2)])
  const copy = b.feed(writers[0].key)
  await copy.clear(1, 2)

  const stream = b.createReadStream()
  const blocks = await collect(stream)
  t.alike(blocks.filter((x) => b4a.equals(x.key, writers[0].key)).map((x) => x.seq), [0], 'the cleared feed stops before its missing block')
  t.is(blocks.filter((x) => b4a.equals(x.key, writers[1].key)).length, 3, 'the other feed is read to its end')
  t.is(stream.checkpoint().at[hex(writers[0].key)], 1, 'its checkpoint stays at the missing block')

  // live: once the block is back (the app fetched it), the feed goes on
  const live = b.createReadStream({ live: true, since: stream.checkpoint() })
  t.teardown(() => live.destroy())
  const rest = []
  const done = new Promise((resolve) => live.on('data', (x) => { rest.push(x.seq); if (rest.length === 3) resolve() }))
  const [s3, s4] = pipe(a, b)
  t.is(await bounded(t, copy.get(1), 'block 1 from a'), 'w0-1')
  await bounded(t, done, 'the rest of the feed')
  t.alike(rest, [1, 2, 3])
  s3.destroy()
  await Promise.all([closed(s3), closed(s4)])
})

test('createReadStream: at most `window` cores open for reading, never one per feed', async (t) => {
  const dir = await t.tmp()
  const { m: writing } = await withWriters(t, Array.from({ length: 40 }, () => 3), {}, dir)
  await writing.close()
  const m = await create(t, { valueEncoding: 'utf-8' }, dir) // reopened: no core held by writers
  let open = 0
  let most = 0
  const readSession = m.readSession.bind(m)
  m.readSession = (record) => {
    open++
    most = Math.max(most, open)
    const session = readSession(record)
    session.once('close', () => { open-- })
    return session
  }
  const blocks = await collect(m.createReadStream({ window: 3 }))
  t.is(blocks.length, 120)
  t.ok(most <= 3 && most > 0, `at most 3 reading sessions at once (${most})`)
  t.is(open, 0, 'all closed at the end')
  t.is(m.openFeeds, 0, 'the multifeed holds no core for the reader')
})

test('createReadStream filters: listed feeds, a predicate, only local or only remote', async (t) => {
  const key = crypto.randomBytes(32)
  const { m: a, writers } = await withWriters(t, [2, 3, 4], { key })
  const b = await create(t, { key, valueEncoding: 'utf-8' })
  await (await b.writer('theirs')).append(['x', 'y', 'z', 'w', 'v'])
  const [s1, s2] = pipe(a, b)
  await bounded(t, Promise.all([a.synced(), b.synced()]), 'synced')
  const count = async (opts) => (await collect(a.createReadStream(opts))).length
  t.is(await count({ feeds: [writers[0].key, hex(writers[2].key)] }), 6, 'feeds: keys as Buffer or hex')
  t.is(await count({ feeds: (info) => info.length === 3 }), 3, 'feeds: a predicate on the feed\'s info')
  t.is(await count({ origin: 'local' }), 9, 'origin: local (our writers)')
  t.is(await count({ origin: 'remote' }), 5, 'origin: remote')
  s1.destroy()
  await Promise.all([closed(s1), closed(s2)])
})

test('createReadStream: bad options are refused with ERR_INVALID_ARGUMENT', async (t) => {
  const { m } = await withWriters(t, [1])
  const bad = [
    { since: { v: 2, at: {} } },
    { since: { v: 1, at: { nothex: 1 } } },
    { since: { v: 1, at: { ['a'.repeat(64)]: -1 } } },
    { since: 'checkpoint' },
    { window: 0 },
    { batch: 1.5 },
    { origin: 'elsewhere' },
    { feeds: 'all' },
    { cursor: '' },
    { cursor: 'c', since: { v: 1, at: {} } }
  ]
  for (const opts of bad) {
    try {
      m.createReadStream(opts)
      t.fail('accepted ' + JSON.stringify(opts))
    } catch (err) {
      t.is(err.code, 'ERR_INVALID_ARGUMENT', JSON.stringify(opts) + ': ' + err.message)
    }
  }
  try {
    m.createReadStream({ feeds: ['zz'] })
    t.fail('accepted a bad key')
  } catch (err) {
    t.is(err.code, 'ERR_INVALID_KEY')
  }
})

test('a named cursor saves its progress in the index and resumes there after a reopen', async (t) => {
  const dir = await t.tmp()
  const { m, writers } = await withWriters(t, [4, 4], {}, dir)
  const first = m.createReadStream({ cursor: 'indexer' })
  const part = await collect(first, 5)
  await closed(first) // closing saves
  await m.close()

  const again = new Multifeed(dir, { valueEncoding: 'utf-8' })
  t.teardown(() => again.close())
  await (await again.writer('w1')).append('more')
  const rest = await collect(again.createReadStream({ cursor: 'indexer' }))
  t.is(part.length + rest.length, 9, 'the cursor went on where it stopped, with the new block')
  inOrder(t, rest, inOrder(t, part))
  const other = await collect(again.createReadStream({ cursor: 'another' }))
  t.is(other.length, 9, 'another name starts from the beginning')
  t.ok(writers.length === 2)
})

test('createReadStream on a closed multifeed throws ERR_CLOSED; close() ends open streams', async (t) => {
  const { m } = await withWriters(t, [1])
  const live = m.createReadStream({ live: true })
  live.on('data', () => {})
  const ended = once(live, 'close')
  await m.close()
  await bounded(t, ended, 'the live stream to close')
  t.exception(() => m.createReadStream(), /ERR_CLOSED/)
})

test('createReadStream: a block that does not decode reaches the app with its error, a null value is a value, and the stream goes on', async (t) => {
  const m = await create(t, { valueEncoding: 'json' })
  const w = await m.writer('w')
  await w.append([{ n: 1 }, null, { n: 3 }])
  const raw = m.feed(w.key).session({ valueEncoding: 'binary' })
  await raw.append(Buffer.from('{ not json'))
  await raw.append(Buffer.from('{"n":5}'))
  await raw.close()
  const blocks = await collect(m.createReadStream())
  t.alike(blocks.map((b) => b.seq), [0, 1, 2, 3, 4], 'every block, in order')
  t.is(blocks[1].value, null, 'a null value is delivered, not taken for a missing block')
  t.is(blocks[3].value, undefined)
  t.ok(blocks[3].error instanceof Error, 'the undecodable block carries its error')
  t.alike(blocks[4].value, { n: 5 }, 'and the stream goes on after it')
})

test('createReadStream: a checkpoint keeps the place of feeds the stream did not read', async (t) => {
  const { m, writers } = await withWriters(t, [3, 3])
  const all = m.createReadStream()
  await collect(all)
  const saved = all.checkpoint()
  const one = m.createReadStream({ feeds: [writers[0].key], since: saved })
  await collect(one)
  t.alike(one.checkpoint(), saved, 'the unselected feed keeps its place: nothing is read twice later')
})

test('createReadStream: after a truncation a live reader goes on from the new length, with the blocks that replaced read ones', async (t) => {
  const { m, writers: [w] } = await withWriters(t, [4])
  const stream = m.createReadStream({ live: true })
  const it = stream[Symbol.asyncIterator]()
  const next = async () => (await bounded(t, it.next(), 'the next block', 3000)).value
  const first = []
  for (let i = 0; i < 4; i++) first.push(await next())
  t.alike(first.map((b) => b.value), ['w0-0', 'w0-1', 'w0-2', 'w0-3'], 'the first fork')
  await w.truncate(2)
  await w.append(['new-2', 'new-3', 'new-4'])
  const after = []
  for (let i = 0; i < 3; i++) after.push(await next())
  t.alike(after.map((b) => [b.seq, b.value]), [[2, 'new-2'], [3, 'new-3'], [4, 'new-4']], 'the new fork from the truncation point')
  const cp = stream.checkpoint()
  t.is(cp.at[hex(w.key)], 5, 'the checkpoint counts the new fork\'s blocks, not the old ones on top')
  stream.destroy()
  await w.append(['new-5', 'new-6'])
  const resumed = await collect(m.createReadStream({ since: cp }))
  t.alike(resumed.map((b) => [b.seq, b.value]), [[5, 'new-5'], [6, 'new-6']], 'resuming from it skips nothing')
})

test('createReadStream: a turn in flight when a truncation lands delivers the new fork, not a mix', async (t) => {
  const { m, writers: [w] } = await withWriters(t, [8])
  // the reader's turn reads block 4 of the old fork; the writer truncates to 4 and appends before the
  // turn goes on (a slow storage read stands for any interleaving)
  let gate = null
  const readSession = m.readSession.bind(m)
  m.readSession = (record) => {
    const session = readSession(record)
    const get = session.get.bind(session)
    session.get = async (seq, opts) => {
      const value = await get(seq, opts)
      if (seq === 4 && gate === null) await (gate = w.truncate(4).then(() => w.append(['new-4', 'new-5', 'new-6'])))
      return value
    }
    return session
  }
  const stream = m.createReadStream({ live: true })
  const it = stream[Symbol.asyncIterator]()
  const got = []
  while (got.length < 7) got.push((await bounded(t, it.next(), 'the next block', 3000)).value)
  t.alike(got.map((b) => b.seq + ':' + b.value), ['0:w0-0', '1:w0-1', '2:w0-2', '3:w0-3', '4:new-4', '5:new-5', '6:new-6'], 'the old fork up to the truncation, then the new one')
  stream.destroy()
})
