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
const Corestore = require('corestore')
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

// Shared connections: three multifeeds (keys of their own; two in one Corestore, one in its own) on one
// connection made by a plain Corestore or a bare NoiseSecretStream (a Hyperswarm connection); each case a raw
// hostile peer attacks one of them with every scenario above (plus a flood past maxNewFeedsPerConnection) while
// the honest twins of the others exchange and replicate on the same connection. Then the victim unreplicates.
// engine.SharedFuzz lists what is checked. Reproduce a failure with MF_FUZZ_SEED (the cases share state).
test('shared connections: a hostile peer on one multifeed, honest peers for the others on the same connection', { timeout: 120000 }, async (t) => {
  const guards = engine.installGuards()
  t.teardown(() => guards.remove())
  const f = new engine.SharedFuzz({ Multifeed, dir: await t.tmp(), seed: SEED })
  await f.open()
  const cases = 36
  const t0 = Date.now()
  for (let i = 0; i < cases; i++) await f.runCase(i)
  await f.reopen()
  await f.close()
  const s = f.stats
  t.comment(`seed ${SEED}: ${s.cases} shared connections in ${Date.now() - t0} ms (max ${s.maxCaseMs} ms); made by ${JSON.stringify(s.byKind)}; victim ${JSON.stringify(s.byVictim)}; scenarios ${JSON.stringify(s.byScenario)}`)
  t.comment(`victim closed with ${JSON.stringify(s.closedWith)}, open and sane ${s.stayedOpen}; honest walks cross-checked ${s.honestCompleted || 0}; cross-key cases ${s.crossCases}; feeds refused by the quota ${s.refusedFeeds}, most added by one connection ${s.maxAddedPerConnection}; honest blocks delivered ${s.deliveries} (slowest ${s.maxDeliveryMs} ms); ${s.unreplicated} unreplicates, ${s.reopens} reopens`)
  for (const v of s.violations) t.fail(`${v.where}: ${v.msg}`)
  t.is(s.violations.length, 0, 'failures stayed channel-errors of the victim, the connection and the others ran on and converged, unreplicate left them alone, the index only holds advertised feeds')
  t.ok(s.deliveries >= cases * 8, 'honest blocks went both ways on every connection')
  t.is(guards.unhandledRejections.length, 0, 'no unhandled rejection')
  t.is(guards.uncaughtExceptions.length, 0, 'no uncaught exception')
})

// Found by the shared fuzz, pinned down here without randomness.

const hexOf = (k) => b4a.toString(k, 'hex')
const lengthOf = (m, key) => (m.list().find((f) => b4a.equals(f.key, key)) || { length: -1 }).length
async function waitFor (fn, ms) {
  for (const end = Date.now() + ms; Date.now() < end;) {
    if (fn()) return true
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  return !!fn()
}

// A remote feed whose download finished: the connection let go of the multifeed's session, but Corestore still
// holds the core (it collects idle cores seconds later), attached to the connection. unreplicate(stream) must
// detach it too. Found by the shared fuzz: it detached only cores the multifeed held a session of (and it ended
// the exchange first, which let go of the connection's sessions), so such cores stayed attached, with their
// 'close' listener on the stream and hypercore reopening their channel there. Whether the feed then still syncs
// is up to the remote and Corestore (it attaches any core it has when the remote opens a channel for it): only
// reported below.
test('shared connection: unreplicate(stream) detaches the multifeed\'s feeds from the connection, also those whose session was let go', { timeout: 30000 }, async (t) => {
  const sa = new Corestore(await t.tmp())
  const sb = new Corestore(await t.tmp())
  t.teardown(() => Promise.all([sa.close(), sb.close()]), { order: 2 })
  const key = crypto.randomBytes(32)
  const keyY = crypto.randomBytes(32)
  const a = await create(t, { key, valueEncoding: 'utf-8' }, sa)
  const ay = await create(t, { key: keyY, valueEncoding: 'utf-8' }, sa)
  const b = await create(t, { key, valueEncoding: 'utf-8' }, sb)
  const by = await create(t, { key: keyY, valueEncoding: 'utf-8' }, sb)
  const wb = await b.writer('b')
  await wb.append('b0')
  const wy = await by.writer('y')
  await wy.append('y0')
  const s1 = sa.replicate(true)
  const s2 = sb.replicate(false)
  const errors = []
  s1.on('error', (e) => errors.push(e))
  s2.on('error', (e) => errors.push(e))
  s1.pipe(s2).pipe(s1)
  t.teardown(() => { s1.destroy(); s2.destroy() }, { order: 0 })
  for (const [m, s] of [[a, s1], [ay, s1], [b, s2], [by, s2]]) m.replicate(s)
  t.ok(await waitFor(() => lengthOf(a, wb.key) === 1 && lengthOf(ay, wy.key) === 1, 5000), 'both multifeeds synced over the shared connection')
  t.ok(await waitFor(() => a.openFeeds === 0, 5000), 'the connection let go of a\'s session of b\'s writer')
  const mux = Hypercore.getProtocolMuxer(s1)
  const held = sa.cores.get(hexOf(wb.discoveryKey)) // corestore internals: the core it still holds, if any
  t.comment(`before unreplicate: corestore holds b's writer ${!!held}, attached to the connection ${!!held && held.replicator.attached(mux)}`)
  a.unreplicate(s1)
  t.absent(held && held.replicator.attached(mux), 'after a.unreplicate(s1), b\'s writer is no longer attached to the connection on a\'s side')
  t.absent(held && s1.noiseStream.listeners('close').includes(held.replicator._onstreamclose), 'and its \'close\' listener left the stream')
  await wb.append('b1, after a.unreplicate(s1)')
  await wy.append('y1')
  t.ok(await waitFor(() => lengthOf(ay, wy.key) === 2, 5000), 'the other multifeed on the connection goes on')
  t.is(errors.length, 0, 'no error on the connection')
})

// Cross keys: a member of group 0 advertises a feed of group 2 to m0 (feed keys are no secret to a member of
// both groups). m0 and m2 have a Corestore each, as two multifeeds opened on two directories and swarmed by one
// Networker do: m0's copy and m2's writer are two cores with one Hypercore channel id on the connection.
async function crossKeys (t) {
  const sa = new Corestore(await t.tmp())
  const sa2 = new Corestore(await t.tmp())
  const sb = new Corestore(await t.tmp())
  const sh = new Corestore(await t.tmp())
  t.teardown(() => Promise.all([sa.close(), sa2.close(), sb.close(), sh.close()]), { order: 2 })
  const k0 = crypto.randomBytes(32)
  const k2 = crypto.randomBytes(32)
  const m0 = await create(t, { key: k0, valueEncoding: 'utf-8' }, sa)
  const m2 = await create(t, { key: k2, valueEncoding: 'utf-8' }, sa2)
  const twin2 = await create(t, { key: k2, valueEncoding: 'utf-8' }, sb)
  await (await m0.writer('w')).append('m0 0')
  const w2 = await m2.writer('w')
  await w2.append('m2 0')
  // the member of group 0 on the shared connection (or, with `own`, on a connection of m0's alone):
  // goes live, then advertises `entries`
  const connect = async ({ own = false } = {}) => {
    const conn = own
      ? engine.connectShared({ kind: 'store', isInitiator: true, storeA: sa, storeB: sh, victim: m0, locals: [m0], remotes: [] })
      : engine.connectShared({ kind: 'store', isInitiator: true, storeA: sa, storeB: sb, victim: m0, locals: [m0, m2], remotes: [twin2] })
    t.teardown(() => conn.destroy(), { order: 0 })
    if (!conn.s.noiseStream.handshakeHash) await conn.s.noiseStream.opened
    if (!conn.p.noiseStream.handshakeHash) await conn.p.noiseStream.opened
    const raw = engine.openChannel(conn, k0, engine.validHandshake(k0, conn.p.noiseStream))
    conn.release()
    t.ok(await raw.opened, 'the member of group 0 opened its channel')
    raw.send(0, messages.encode(messages.summary, { count: 0, digest: b4a.alloc(32) }))
    raw.send(1, messages.encode(messages.feeds, { last: true, entries: [] }))
    conn.advertise = (entries) => raw.send(1, messages.encode(messages.feeds, { last: false, entries }))
    return conn
  }
  // on a connection of m0's alone, the member of group 0 advertises m2's writer: m0 records its key
  const recordedByM0 = async () => {
    const first = await connect({ own: true })
    first.advertise([{ key: w2.key, length: 1 }])
    t.ok(await waitFor(() => lengthOf(m0, w2.key) >= 0, 5000), 'm0 recorded the key of m2\'s writer')
    await first.destroy()
  }
  const reachesTwin = async (conn) => {
    t.ok(await waitFor(() => lengthOf(twin2, w2.key) === 1, 2000), `m2's twin got m2's writer over the shared connection (the twin holds ${Math.max(0, lengthOf(twin2, w2.key))} of 1)`)
    t.absent(conn.s.destroyed, 'the connection stays')
  }
  return { m0, m2, twin2, w2, connect, recordedByM0, reachesTwin }
}

// m0.unreplicate(stream) closes every Hypercore channel whose key m0 records, the one m2's writer replicates
// on included: nothing reopens it, and m2's later blocks never reach its twin on that connection.
test('shared connection, cross keys: unreplicate(stream) of one multifeed leaves another\'s feed of the same key replicating', { timeout: 30000 }, async (t) => {
  const { m0, m2, twin2, w2, connect } = await crossKeys(t)
  const conn = await connect()
  t.ok(await waitFor(() => lengthOf(twin2, w2.key) === 1, 5000), 'm2\'s twin got m2\'s writer over the connection')
  conn.advertise([{ key: w2.key, length: 1 }])
  t.ok(await waitFor(() => lengthOf(m0, w2.key) >= 0, 5000), 'm0 recorded the key of m2\'s writer')
  m0.unreplicate(conn.s)
  await w2.append('m2 1, after m0.unreplicate')
  t.ok(await waitFor(() => lengthOf(twin2, w2.key) === 2, 2000), `m2's block appended after m0.unreplicate(stream) reached its twin (the twin holds ${lengthOf(twin2, w2.key)} of 2)`)
  t.ok(m2.connections.some((e) => e.stream === conn.s && !e.closed), 'm2\'s exchange is still up')
  t.absent(conn.s.destroyed, 'the connection stays')
})

// m0 recorded the key of m2's writer earlier; on the shared connection the member of group 0 advertises it
// again, longer: m0's copy takes the channel id, and m2's writer never reaches its twin on that connection.
test('shared connection, cross keys: a feed of another group advertised to one multifeed does not cut that group\'s own feed off', { timeout: 30000 }, async (t) => {
  const { w2, connect, recordedByM0, reachesTwin } = await crossKeys(t)
  await recordedByM0()
  const conn = await connect()
  conn.advertise([{ key: w2.key, length: 5 }])
  await reachesTwin(conn)
})

// The same, with m0's app holding its copy of m2's writer's feed: the connection is a stream of m0's whole
// Corestore, so corestore attaches that copy (an app's session is active) and the twin's open goes to it;
// m2's writer attaches too and is bridged to it (before, it waited for an open that never came).
test('shared connection, cross keys: another group\'s copy of a writer\'s feed that its app holds does not cut the writer off', { timeout: 30000 }, async (t) => {
  const { m0, w2, connect, recordedByM0, reachesTwin } = await crossKeys(t)
  await recordedByM0()
  const held = m0.feed(w2.key)
  await held.ready()
  await reachesTwin(await connect())
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
  // a block of its own: its set differs from the peer's empty one, so the exchange goes on to live
  await (await m.writer('x')).append('x')
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
    let refused = null
    const chClosed = new Promise((resolve) => { refused = resolve })
    const w = hypercoreMessages.wire
    const ch = e.mux.createChannel({
      protocol: 'hypercore/alpha',
      id: target.discoveryKey,
      handshake: w.handshake,
      messages: [w.sync, w.request, w.cancel, w.data, w.noData, w.want, w.unwant, w.bitfield, w.range, w.extension].map((encoding, type) => ({ encoding, onmessage: (msg) => got.push({ type, msg }) })),
      onopen: () => { opened = true },
      onclose: () => refused()
    })
    ch.open({ seeks: true, capability: crypto.randomBytes(32) })
    ch.messages[1].send({ id: 1, fork: 0, block: { index: 0, nodes: 0 }, hash: null, seek: null, upgrade: null, manifest: false, priority: 0 })
    // a feed's core opens and Hypercore ends the stream on the bad capability; any other core is refused
    // (the channel closes, the stream stays until the exchange's timeout)
    await Promise.race([e.closed, chClosed])
    t.comment(`${target.what}: channel opened ${opened}, the multifeed's stream ended with ${e.errors.map((err) => err.code).join(', ') || (e.s.destroyed ? 'no error' : 'nothing: it stays')}`)
    e.p.destroy()
    await e.closed
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
