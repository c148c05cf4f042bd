// Flood scenarios: a peer that knows the key advertises a million feeds, announces in a tight loop or sends
// huge messages. Each scenario measures memory, checks the hostile channel closes with the right code, and
// checks an honest peer on another stream of the same multifeed still gets its data.
'use strict'
const b4a = require('b4a')
const crypto = require('hypercore-crypto')
const messages = require('../../dist/lib/messages.js')
const engine = require('./engine.js')

const MILLION = 1000000
const BATCH = messages.LIMITS.maxEntriesPerMessage

// A multifeed under attack, plus an honest multifeed with the same key replicating with it on its own stream.
async function setup ({ Multifeed, tmp, maxFeeds, feedListener = false }) {
  const key = crypto.randomBytes(32)
  const m = new Multifeed(tmp(), { key, maxFeeds, valueEncoding: 'utf-8' })
  const honest = new Multifeed(tmp(), { key, valueEncoding: 'utf-8' })
  await m.ready()
  const own = await m.writer('own')
  await own.append('victim data')
  const hw = await honest.writer('honest')
  await hw.append('honest 0')
  const h1 = m.replicate(true)
  const h2 = honest.replicate(false)
  h1.pipe(h2).pipe(h1)
  let onfeed = null
  const arrived = new Promise((resolve) => m.on('feed', onfeed = (f) => { if (b4a.equals(f.key, hw.key)) resolve(f) }))
  const copy = await arrived
  m.off('feed', onfeed)
  // an app listening to 'feed' gets a core opened for every feed added: that costs far more per feed
  if (feedListener) m.on('feed', () => {})
  await readBlock(copy, 0)
  return { key, m, honest, hw, copy, h1, h2 }
}

async function teardown ({ m, honest, h1, h2 }) {
  h1.destroy()
  h2.destroy()
  await m.close()
  await honest.close()
}

// Resolves when block i is readable (downloads it if needed): the honest peer's data arrived.
async function readBlock (core, i) {
  return core.get(i)
}

// The hostile side, driven to the point where it floods.
async function hostile (m, key, { phase }) {
  const conn = engine.connect(m, false)
  if (!conn.p.noiseStream.handshakeHash) await conn.p.noiseStream.opened
  const raw = engine.openChannel(conn, key, engine.validHandshake(key, conn.p.noiseStream))
  await raw.opened
  if (phase === 'live') {
    raw.send(0, messages.encode(messages.summary, { count: 0, digest: b4a.alloc(32) }))
    raw.send(1, messages.encode(messages.feeds, { last: true, entries: [] }))
    await conn.sentinel()
    await engine.drain(conn.ex)
    if (conn.ex.phase !== 'live') throw new Error('could not reach live: ' + conn.ex.phase)
  }
  return { conn, raw }
}

function randomEntries (n, length = 0) {
  const keys = crypto.randomBytes(32 * n)
  const out = new Array(n)
  for (let i = 0; i < n; i++) out[i] = { key: keys.subarray(i * 32, i * 32 + 32), length }
  return out
}

// Samples rss/heap while a scenario runs (measurement only, never used to decide anything).
function sampler () {
  let peakRss = 0
  let peakHeap = 0
  const tick = () => {
    const u = process.memoryUsage()
    peakRss = Math.max(peakRss, u.rss)
    peakHeap = Math.max(peakHeap, u.heapUsed)
  }
  const timer = setInterval(tick, 10)
  tick()
  return { stop () { clearInterval(timer); tick(); return { peakRss, peakHeap } } }
}

// One scenario end to end. `send(raw, conn)` floods and returns how much it sent.
async function scenario (name, opts, phase, send) {
  const env = await setup(opts)
  const { m, key, hw, copy } = env
  const before = m.list().length
  engine.gc()
  const m0 = engine.mem()
  const s = sampler()
  const t0 = Date.now()
  let { conn, raw } = await hostile(m, key, { phase })
  // the honest peer keeps writing while the flood goes on
  let honestBlocks = 1
  const honestWriting = (async () => {
    for (let i = 1; i <= 5; i++) {
      await hw.append('honest ' + i)
      honestBlocks++
      await new Promise((resolve) => setImmediate(resolve))
    }
  })()
  const sent = await send(raw, conn)
  const closed = await Promise.race([conn.sClosed.then(() => true), conn.sentinel().then(() => engine.drain(conn.ex)).then(() => conn.s.destroyed)])
  if (!closed) await Promise.race([conn.sClosed, new Promise((resolve) => setTimeout(resolve, 30000))])
  const ms = Date.now() - t0
  const err = conn.sErrors[0] || conn.ex.error
  await honestWriting
  await hw.append('after the flood')
  honestBlocks++
  const got = []
  for (let i = 0; i < honestBlocks; i++) got.push(await readBlock(copy, i))
  const honestOk = got[0] === 'honest 0' && got[honestBlocks - 1] === 'after the flood'
  const peaks = s.stop()
  await conn.destroy()
  const added = m.list().length - before
  // drop the harness's own references to the hostile side before measuring what the multifeed retains
  const exchangeRemote = conn.ex.remote.size
  conn = null
  raw = null
  await new Promise((resolve) => setImmediate(resolve))
  engine.gc()
  const m1 = engine.mem()
  await teardown(env)
  return {
    name,
    exchangeRemote,
    code: err ? err.code : null,
    ms,
    sent,
    added,
    honestOk,
    honestBlocks,
    maxFeeds: m.maxFeeds,
    heapBefore: m0.heapUsed,
    heapPeak: peaks.peakHeap,
    heapAfter: m1.heapUsed,
    rssBefore: m0.rss,
    rssPeak: peaks.peakRss,
    rssAfter: m1.rss
  }
}

// The scenarios. `full` uses the default maxFeeds (250,000) where it matters; otherwise small limits keep it fast.
function scenarios ({ full }) {
  const small = 2000
  return [
    {
      name: 'summary advertising 1,000,000 feeds',
      maxFeeds: full ? undefined : small,
      expect: 'ERR_TOO_MANY_FEEDS',
      phase: 'handshake',
      send: async (raw) => {
        raw.send(0, messages.encode(messages.summary, { count: MILLION, digest: crypto.randomBytes(32) }))
        return { messages: 1, entries: MILLION, bytes: 37 }
      }
    },
    {
      name: 'plain list of 1,000,000 feeds sent in a tight loop',
      maxFeeds: full ? undefined : small,
      expect: 'ERR_TOO_MANY_FEEDS',
      phase: 'handshake',
      send: async (raw, conn) => {
        raw.send(0, messages.encode(messages.summary, { count: 0, digest: b4a.alloc(32) })) // an honest-looking empty summary: plain lists
        let bytes = 0
        let msgs = 0
        for (let sent = 0; sent < MILLION && !conn.s.destroyed; sent += BATCH) {
          const buf = messages.encode(messages.feeds, { last: sent + BATCH >= MILLION, entries: randomEntries(Math.min(BATCH, MILLION - sent)) })
          raw.send(1, buf)
          bytes += buf.byteLength
          msgs++
          if (msgs % 16 === 0) await new Promise((resolve) => setImmediate(resolve)) // let the wire move: it is a loop, not one buffer
        }
        return { messages: msgs, entries: msgs * BATCH, bytes }
      }
    },
    {
      name: 'live announcements of new feeds in a tight loop (1,000,000)',
      maxFeeds: full ? undefined : small,
      expect: 'ERR_TOO_MANY_FEEDS',
      phase: 'live',
      send: async (raw, conn) => {
        let bytes = 0
        let msgs = 0
        for (let sent = 0; sent < MILLION && !conn.s.destroyed; sent += BATCH) {
          const buf = messages.encode(messages.feeds, { last: false, entries: randomEntries(BATCH) })
          raw.send(1, buf)
          bytes += buf.byteLength
          msgs++
          if (msgs % 16 === 0) await new Promise((resolve) => setImmediate(resolve))
        }
        return { messages: msgs, entries: msgs * BATCH, bytes }
      }
    },
    ...(full ? [{
      name: 'live announcements of new feeds in a tight loop (1,000,000), with an app listening to \'feed\'',
      maxFeeds: undefined,
      feedListener: true,
      expect: 'ERR_TOO_MANY_FEEDS',
      phase: 'live',
      send: async (raw, conn) => {
        let bytes = 0
        let msgs = 0
        for (let sent = 0; sent < MILLION && !conn.s.destroyed; sent += BATCH) {
          const buf = messages.encode(messages.feeds, { last: false, entries: randomEntries(BATCH) })
          raw.send(1, buf)
          bytes += buf.byteLength
          msgs++
          if (msgs % 16 === 0) await new Promise((resolve) => setImmediate(resolve))
        }
        return { messages: msgs, entries: msgs * BATCH, bytes }
      }
    }] : []),
    {
      // paced so the in-flight bound never trips: the cap that holds is maxFeeds itself
      name: `paced live announcements, each batch processed before the next, up to maxFeeds (${full ? 20000 : small})`,
      maxFeeds: full ? 20000 : small,
      expect: 'ERR_TOO_MANY_FEEDS',
      phase: 'live',
      send: async (raw, conn) => {
        let bytes = 0
        let msgs = 0
        while (!conn.s.destroyed && msgs < 1000) {
          const buf = messages.encode(messages.feeds, { last: false, entries: randomEntries(1000) })
          raw.send(1, buf)
          bytes += buf.byteLength
          msgs++
          await Promise.race([conn.sentinel().then(() => engine.drain(conn.ex)), conn.sClosed])
        }
        return { messages: msgs, entries: msgs * 1000, bytes }
      }
    },
    {
      name: 'huge messages: 15 MB of garbage as feeds, symbols and diff',
      maxFeeds: small,
      expect: 'ERR_BAD_MESSAGE',
      phase: 'handshake',
      send: async (raw) => {
        const big = crypto.randomBytes(15 * 1024 * 1024)
        big[0] = 0 // feeds: last = false, then a list length that lies
        raw.send(0, messages.encode(messages.summary, { count: 0, digest: b4a.alloc(32) }))
        raw.send(1, big)
        raw.send(2, big)
        raw.send(4, big)
        return { messages: 3, entries: 0, bytes: 3 * big.byteLength }
      }
    },
    {
      name: 'maximal valid feeds messages (4096 entries) repeated: the same feeds over and over',
      maxFeeds: small,
      // A valid peer may repeat itself. The in-flight bound counts queued entries, not distinct feeds, so the
      // channel may close with ERR_TOO_MANY_FEEDS although only 1,990 distinct feeds (< maxFeeds) were sent:
      // either outcome is accepted; the index must not grow past the distinct keys.
      expect: 'open-or-ERR_TOO_MANY_FEEDS',
      phase: 'live',
      send: async (raw, conn) => {
        const entries = randomEntries(Math.min(BATCH, small - 10))
        const buf = messages.encode(messages.feeds, { last: false, entries })
        let msgs = 0
        for (let i = 0; i < 200 && !conn.s.destroyed; i++) {
          raw.send(1, buf)
          msgs++
          if (msgs % 16 === 0) await new Promise((resolve) => setImmediate(resolve))
        }
        return { messages: msgs, entries: msgs * entries.length, bytes: msgs * buf.byteLength, distinct: entries.length }
      }
    }
  ]
}

function judge (sc, r) {
  const problems = []
  if (sc.expect === 'open-or-ERR_TOO_MANY_FEEDS') {
    if (r.code !== null && r.code !== 'ERR_TOO_MANY_FEEDS') problems.push(`closed with ${r.code}`)
  } else if (r.code !== sc.expect) problems.push(`closed with ${r.code}, expected ${sc.expect}`)
  if (!r.honestOk) problems.push('the honest peer\'s data did not arrive')
  const limit = r.maxFeeds
  if (r.added > limit) problems.push(`${r.added} feeds added, more than maxFeeds ${limit}`)
  if (r.sent.distinct !== undefined && r.added > r.sent.distinct) problems.push(`${r.added} feeds added from ${r.sent.distinct} distinct keys`)
  // retained memory after the hostile channel is gone: a few hundred bytes per feed added is expected (records,
  // keys); anything beyond 64 MB plus 2 KB per added feed is a leak
  const retained = r.heapAfter - r.heapBefore
  const perFeed = sc.feedListener ? 32768 : 2048
  if (retained > 64 * 1048576 + r.added * perFeed) problems.push(`heap retained ${engine.mb(retained)} after the flood (${Math.round(retained / Math.max(1, r.added))} bytes per feed added)`)
  return problems
}

function describe (sc, r, problems) {
  const mb = engine.mb
  return `${sc.name}: sent ${r.sent.messages} messages / ${mb(r.sent.bytes)} (${r.sent.entries} entries); ` +
    `closed with ${r.code || 'nothing (open)'} after ${r.ms} ms; feeds added ${r.added} (maxFeeds ${r.maxFeeds}); ` +
    `retained ${r.added ? Math.round((r.heapAfter - r.heapBefore) / r.added) + ' B heap per feed added; ' : ''}` +
    `heap ${mb(r.heapBefore)} -> peak ${mb(r.heapPeak)} -> ${mb(r.heapAfter)}, rss ${mb(r.rssBefore)} -> peak ${mb(r.rssPeak)} -> ${mb(r.rssAfter)}; ` +
    `honest peer: ${r.honestBlocks} blocks ${r.honestOk ? 'all arrived' : 'MISSING'}` + (problems.length ? ` -- PROBLEMS: ${problems.join('; ')}` : '')
}

async function runOne (sc, { Multifeed, tmp }) {
  const r = await scenario(sc.name, { Multifeed, tmp, maxFeeds: sc.maxFeeds, feedListener: !!sc.feedListener }, sc.phase, sc.send)
  const problems = judge(sc, r)
  return { ...r, problems, ok: problems.length === 0, text: describe(sc, r, problems) }
}

async function runAll ({ Multifeed, tmp, full = false, log = () => {} }) {
  const out = []
  for (const sc of scenarios({ full })) {
    const r = await runOne(sc, { Multifeed, tmp })
    log(r.text)
    out.push(r)
  }
  return out
}

module.exports = { scenarios, runOne, runAll, setup, teardown, hostile, randomEntries, MILLION }
