// Hostile input: fuzzed decoders, a fuzzed channel state machine, floods, and a peer that knows only the
// discovery key. The long version with figures: node test/fuzz/run.js --cases 100000 --floods
const test = require('brittle')
const fs = require('fs')
const os = require('os')
const path = require('path')
const b4a = require('b4a')
const c = require('compact-encoding')
const crypto = require('hypercore-crypto')
const Hypercore = require('hypercore')
const hypercoreMessages = require('hypercore/lib/messages.js')
const { create, pipe, until, Multifeed, messages } = require('./helpers.js')
const engine = require('./fuzz/engine.js')
const floods = require('./fuzz/floods.js')

const SEED = Number(process.env.MF_FUZZ_SEED) || (Date.now() % 1e9)

test('decoders: valid, mutated, random and oversized inputs decode or fail with ERR_BAD_MESSAGE', async (t) => {
  const d = engine.runDecoderFuzz({ cases: 4000, seed: SEED })
  t.comment(`seed ${SEED}: ${d.cases} cases + ${d.bombs} bombs in ${d.ms} ms, max ${d.maxMs.toFixed(1)} ms per decode, largest pre-allocation ${d.maxArray} items; inputs ${JSON.stringify(d.byHow)}`)
  for (const v of d.violations) t.fail(JSON.stringify(v))
  t.is(d.violations.length, 0, 'no TypeError/RangeError, no slow decode, no absurd allocation, round trips hold')
  t.ok(d.maxArray <= messages.LIMITS.maxEntriesPerMessage, 'no list pre-allocated beyond the per-message limit (2^50 refused before allocating)')
})

test('channel state machine: garbage, out-of-order and faulty peers over many connections', { timeout: 60000 }, async (t) => {
  const guards = engine.installGuards()
  t.teardown(() => guards.remove())
  const f = new engine.ChannelFuzz({ Multifeed, dir: await t.tmp(), seed: SEED, timeout: 100 })
  await f.open()
  const cases = 300
  const t0 = Date.now()
  for (let i = 0; i < cases; i++) {
    await f.runCase(i)
    if (i % 100 === 99) await f.reopen()
  }
  await f.close()
  const s = f.stats
  t.comment(`seed ${SEED}: ${s.cases} connections in ${Date.now() - t0} ms; scenarios ${JSON.stringify(s.byScenario)}`)
  t.comment(`closed with ${JSON.stringify(s.closedWith)}; open and sane ${s.stayedOpen}; honest walks cross-checked ${s.honestCompleted || 0} (${JSON.stringify(s.walkModes || {})}), of which fell back ${JSON.stringify(s.fallbacks || {})}; faults ${JSON.stringify(s.faults || {})}; ${s.reopens} reopens`)
  for (const v of s.violations) t.fail(`${v.where}: ${v.msg}`)
  t.is(s.violations.length, 0, 'every channel closed with an ERR_ code or stayed open and sane; the index only holds advertised feeds and reloads')
  t.is(guards.unhandledRejections.length, 0, 'no unhandled rejection')
  t.is(guards.uncaughtExceptions.length, 0, 'no uncaught exception')
})

// The IBLT fallback in both roles, by honest peers only: as decoder the peer gives up at the multifeed's own
// budget or when its check of a completed decode fails; as encoder its symbols sometimes describe a set one
// element off its summary, which the multifeed must catch and fall back from. Every such run must converge
// and the multifeed must report 'sketch-fallback' (HonestPeer.result checks both).
test('channel state machine: honest peers drive the multifeed through the IBLT fallback in both roles', { timeout: 60000 }, async (t) => {
  const guards = engine.installGuards()
  t.teardown(() => guards.remove())
  const f = new engine.ChannelFuzz({ Multifeed, dir: await t.tmp(), seed: SEED, timeout: 1000, scenarios: ['honest'], staleView: 0.5 })
  await f.open()
  const enough = () => f.stats.fallbacks && f.stats.fallbacks['peer-encodes'] >= 3 && f.stats.fallbacks['peer-decodes'] >= 3
  let i = 0
  for (; i < 400 && !enough(); i++) await f.runCase(i)
  await f.close()
  const s = f.stats
  t.comment(`seed ${SEED}: ${i} honest connections; modes ${JSON.stringify(s.walkModes || {})}; fell back ${JSON.stringify(s.fallbacks || {})}; cross-checked ${s.honestCompleted || 0}`)
  for (const v of s.violations) t.fail(`${v.where}: ${v.msg}`)
  t.is(s.violations.length, 0, 'every honest exchange converged and reported the mode the peer saw')
  t.ok(s.fallbacks && s.fallbacks['peer-encodes'] >= 3, 'the multifeed fell back as decoder (responder) at least 3 times')
  t.ok(s.fallbacks && s.fallbacks['peer-decodes'] >= 3, 'the multifeed followed the peer\'s fallback as encoder (initiator) at least 3 times')
  t.is(guards.count(), 0, 'no unhandled rejection or uncaught exception')
})

for (const sc of floods.scenarios({ full: false })) {
  test('flood: ' + sc.name, { timeout: 60000 }, async (t) => {
    const guards = engine.installGuards()
    t.teardown(() => guards.remove())
    const dirs = []
    t.teardown(() => { for (const d of dirs) fs.rmSync(d, { recursive: true, force: true }) })
    const tmp = () => { const d = fs.mkdtempSync(path.join(os.tmpdir(), 'mf-flood-')); dirs.push(d); return d }
    const r = await floods.runOne(sc, { Multifeed, tmp })
    t.comment(r.text)
    for (const p of r.problems) t.fail(p)
    t.ok(r.honestOk, 'the honest peer on another stream still gets its data')
    t.ok(r.added <= r.maxFeeds, `feeds added ${r.added} <= maxFeeds ${r.maxFeeds}`)
    t.is(guards.count(), 0, 'no unhandled rejection or uncaught exception')
  })
}

// Not a flood of feeds but of lengths: each announcement ahead of the local copy must not pile up work.
test('flood: one feed announced again and again at growing lengths does not pile up download ranges', { timeout: 60000 }, async (t) => {
  const m = await create(t)
  await m.writer('x')
  const { conn, raw } = await floods.hostile(m, m.key, { phase: 'live' })
  const victim = crypto.randomBytes(32)
  for (let i = 0; i < 20; i++) {
    const entries = []
    for (let j = 0; j < 500; j++) entries.push({ key: victim, length: i * 500 + j + 1 })
    raw.send(1, messages.encode(messages.feeds, { last: false, entries }))
  }
  await conn.sentinel()
  await engine.drain(conn.ex)
  const core = m.feed(victim)
  await core.ready()
  await new Promise((resolve) => setImmediate(resolve))
  const ranges = core.core.replicator._ranges.length
  t.comment(`10,000 announcements of one feed -> ${ranges} live download ranges on it`)
  t.ok(ranges <= 1, `one live download per feed, not one per announcement (${ranges})`)
  await conn.destroy()
})

// --- a peer that knows only the discovery key ---

// A bare protocol stream on the peer side; records every plaintext byte it receives.
function eavesdropper (m, isInitiator = true) {
  const s = m.replicate(!isInitiator)
  const p = Hypercore.createProtocolStream(isInitiator, { keepAlive: false })
  const errors = []
  s.on('error', (err) => errors.push(err))
  p.on('error', () => {})
  const plaintext = []
  p.noiseStream.on('data', (buf) => plaintext.push(b4a.from(buf)))
  s.pipe(p).pipe(s)
  // hold the multifeed's own channel open unanswered, so the stream lives until the core channels are settled
  Hypercore.getProtocolMuxer(p).pair({ protocol: messages.PROTOCOL }, () => new Promise(() => {}))
  const closed = Promise.all([new Promise((resolve) => s.once('close', resolve)), new Promise((resolve) => p.once('close', resolve))])
  return { s, p, mux: Hypercore.getProtocolMuxer(p), plaintext, closed, errors }
}

function contains (chunks, needle) {
  const all = b4a.concat(chunks)
  return all.indexOf(needle) !== -1
}

test('a peer that knows only the discovery key learns no feed key, no name, and the index core is never served', { timeout: 30000 }, async (t) => {
  const m = await create(t, { valueEncoding: 'utf-8' })
  const names = ['secret-name-alpha', 'secret-name-beta']
  const feeds = []
  for (const name of names) {
    const w = await m.writer(name)
    await w.append('block of writer ' + feeds.length) // not the name: names must stay local, data travels
    feeds.push(w)
  }
  // the local-only cores: the index in the multifeed's slot, and the default-key pointer
  const slot = m.store.namespace(b4a.toString(m.discoveryKey, 'hex'))
  const index = slot.get({ name: 'index', active: false })
  const pointer = m.store.get({ name: 'default-key', active: false })
  await index.ready()
  await pointer.ready()
  t.ok(await index.getUserData('key'), 'found the index core (it holds the key in its user data)')
  const local = [
    { what: 'index core', key: index.key, discoveryKey: index.discoveryKey },
    { what: 'default-key core', key: pointer.key, discoveryKey: pointer.discoveryKey }
  ]
  await slot.close() // closes the index session we opened; the multifeed keeps its own
  await pointer.close()
  const secrets = [m.key, ...feeds.map((f) => f.key), ...local.map((l) => l.key), ...names.map((n) => b4a.from(n))]

  // 1. the multifeed channel with a made-up capability
  {
    const e = eavesdropper(m)
    await e.p.noiseStream.opened
    const got = []
    const ch = e.mux.createChannel({
      protocol: messages.PROTOCOL,
      id: m.discoveryKey,
      handshake: c.raw,
      messages: [0, 1, 2, 3, 4].map((type) => ({ encoding: c.raw, onmessage: (buf) => got.push({ type, buf }) })),
      onopen: (hs) => got.push({ type: 'handshake', buf: hs })
    })
    ch.open(messages.encode(messages.handshake, { version: messages.VERSION, client: 'MULTIFEED', capability: crypto.randomBytes(32) }))
    await e.closed
    t.is(got.filter((g) => g.type !== 'handshake').length, 0, 'multifeed channel: no message beyond the handshake')
    for (const sec of secrets) t.absent(contains(e.plaintext, sec), 'multifeed channel: no secret in the plaintext received')
  }

  // 2. hypercore channels asking for each core by discovery key, with a made-up capability, then a request
  for (const target of [...local, ...feeds.map((f, i) => ({ what: 'feed ' + names[i], key: f.key, discoveryKey: f.discoveryKey }))]) {
    const e = eavesdropper(m)
    await e.p.noiseStream.opened
    const got = []
    let opened = false
    const w = hypercoreMessages.wire
    const ch = e.mux.createChannel({
      protocol: 'hypercore/alpha',
      id: target.discoveryKey,
      handshake: w.handshake,
      messages: [w.sync, w.request, w.cancel, w.data, w.noData, w.want, w.unwant, w.bitfield, w.range, w.extension].map((encoding, type) => ({ encoding, onmessage: (msg) => got.push({ type, msg }) })),
      onopen: () => { opened = true }
    })
    ch.open({ seeks: true, capability: crypto.randomBytes(32) })
    ch.messages[1].send({ id: 1, fork: 0, block: { index: 0, nodes: 0 }, hash: null, seek: null, upgrade: null, manifest: false, priority: 0 })
    await e.closed
    t.comment(`${target.what}: channel opened ${opened}, the multifeed's stream ended with ${e.errors.map((err) => err.code).join(', ') || 'no error'}`)
    t.is(got.length, 0, `${target.what}: no sync, no data, nothing`)
    const data = got.filter((g) => g.type === 3)
    t.is(data.length, 0, `${target.what}: no block served`)
    for (const sec of secrets) t.absent(contains(e.plaintext, sec), `${target.what}: no secret in the plaintext received`)
  }

  // 3. a real member (knows the shared key) replicates everything: the local-only cores never appear on the wire
  {
    const member = await create(t, { key: m.key, valueEncoding: 'utf-8' })
    const [s1, s2] = pipe(m, member)
    const plaintext = []
    s2.noiseStream.on('data', (buf) => plaintext.push(b4a.from(buf)))
    await until(member, ['feed', 'synced', 'exchange'], () => member.list().length === 2 && member.isSynced())
    t.is(await member.feed(feeds[0].key).get(0), 'block of writer 0', 'the member got the data')
    for (const l of local) {
      t.absent(contains(plaintext, l.discoveryKey), `member: the ${l.what}'s discovery key never went on the wire`)
      t.absent(contains(plaintext, l.key), `member: the ${l.what}'s key never went on the wire`)
    }
    for (const n of names) t.absent(contains(plaintext, b4a.from(n)), 'member: writer names stay local')
    for (const f of member.list()) t.is(f.name, null, 'member: remote feeds have no name')
    s1.destroy()
  }
})
