#!/usr/bin/env node
// Hostile members and broken peers (issue 11), heavy versions of the findings test/hostile.js checks in
// small. Each hostile peer is driven by hand over protomux (the multifeed channel, and where needed raw
// Hypercore channels) in this process; the multifeed under attack (the victim) runs alone in a child
// process (test/reliability/victim.js) and reaches every peer over its own TCP connection, so the memory
// figures (peak rss, sampled every 10 ms in the victim) are the victim's alone.
//
//   npm run reliability                      (= npm run build && node test/reliability/hostile.js)
//   node test/reliability/hostile.js --only 1,6 --iterations 50 --json out.json
//
// Prints one block of figures per scenario and a table at the end. Exits non-zero when a scenario
// behaves otherwise than the library says (a PROBLEM line says what was seen); 7, 8 and 10 only report.
// The library is loaded from dist/ (built by npm run build): the commit, whether lib/ differs from it, and
// a hash of dist/lib are printed at the start, and the hash again at the end (a rebuild during a run
// would mix two versions).
'use strict'
const os = require('os')
const fs = require('fs')
const path = require('path')
const b4a = require('b4a')
const c = require('compact-encoding')
const crypto = require('hypercore-crypto')
const Corestore = require('corestore')
const Multifeed = require('../..')
const { codedSymbolCodec } = require('../../dist/lib/riblt.js')
const { execFileSync } = require('child_process')
const { spawnVictim, honest, member, fakeEntries } = require('./peers.js')

// What is being measured: the commit, lib/ changes not committed, and the built code itself.
function fingerprint () {
  const repo = path.join(__dirname, '..', '..')
  const git = (...a) => { try { return execFileSync('git', a, { cwd: repo, encoding: 'utf-8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() } catch { return '' } }
  const h = require('crypto').createHash('sha256')
  const dist = path.join(repo, 'dist', 'lib')
  for (const f of fs.readdirSync(dist).sort()) if (f.endsWith('.js')) h.update(f).update(fs.readFileSync(path.join(dist, f)))
  return { commit: git('rev-parse', '--short', 'HEAD') || 'unknown (not a git checkout)', dirty: git('diff', '--name-only', 'HEAD', '--', 'lib').split('\n').filter(Boolean), dist: h.digest('hex').slice(0, 12) }
}

function arg (name, dflt) {
  const i = process.argv.indexOf('--' + name)
  if (i === -1) return dflt
  const v = process.argv[i + 1]
  return v === undefined || v.startsWith('--') ? true : v
}

const ONLY = arg('only', null) === null ? null : String(arg('only')).split(',')
const ITERATIONS = Number(arg('iterations', 200))
const JSON_OUT = arg('json', null)

const hex = (k) => b4a.toString(k, 'hex')
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const MB = (n) => (n / 1048576).toFixed(1) + ' MB'
const KB = (n) => n >= 1048576 ? MB(n) : (n / 1024).toFixed(1) + ' KB'
const secs = (ms) => ms === null || ms === undefined ? 'never' : ms >= 1000 ? (ms / 1000).toFixed(2) + ' s' : Math.round(ms) + ' ms'
const since = (t0, at) => at === null || at === undefined ? null : at - t0

const ROOT = fs.mkdtempSync(path.join(os.tmpdir(), 'mf-reliability-'))
let dirs = 0
const tmp = () => {
  const d = path.join(ROOT, String(dirs++))
  fs.mkdirSync(d)
  return d
}

function blocks (n, size = 64, prefix = 'block') {
  const out = []
  for (let i = 0; i < n; i++) out.push((prefix + ' ' + i + ' ').padEnd(size, '.'))
  return out
}

// Resources of one scenario, released whatever happens.
function scope () {
  const fns = []
  return {
    add (fn) { fns.push(fn) },
    async release () {
      for (const fn of fns.reverse()) await Promise.resolve().then(fn).catch(() => {})
    }
  }
}

async function until (fn, ms, every = 20) {
  const end = Date.now() + ms
  for (;;) {
    const v = await fn()
    if (v) return Date.now()
    if (Date.now() > end) return null
    await sleep(every)
  }
}

async function openMultifeed (s, opts) {
  const m = new Multifeed(tmp(), opts)
  s.add(() => m.close())
  await m.ready()
  return m
}

async function openStore (s) {
  const store = new Corestore(tmp())
  s.add(() => store.close())
  return store
}

async function victim (s, init) {
  const v = await spawnVictim()
  s.add(() => v.close())
  const info = await v.call('init', init)
  return { v, info }
}

async function memberOf (s, key, opts) {
  const p = await member(key, opts)
  s.add(() => p.close())
  return p
}

// A summary of the victim's memory between a mark and a snapshot.
function memory (base, snap) {
  return {
    rssBefore: base.rss,
    rssPeak: snap.peak.rss,
    rssGrowth: snap.peak.rss - base.rss,
    openPeak: snap.peak.open,
    coresPeak: snap.peak.cores
  }
}

function memText (mem) {
  return `victim rss ${MB(mem.rssBefore)} -> peak ${MB(mem.rssPeak)} (+${MB(mem.rssGrowth)}); cores open at peak: ${mem.openPeak} multifeed sessions, ${mem.coresPeak} in corestore`
}

// --- 1. lying lengths ---

async function lyingLengths (s, log) {
  const key = crypto.randomBytes(32)
  const { v } = await victim(s, { dir: tmp(), key: hex(key), opts: { timeout: 2000, stallTimeout: 2000 } })
  const hm = await openMultifeed(s, { key })
  const hw = await hm.writer('honest')
  await hw.append(blocks(50, 1024))
  const hs = await honest(hm)
  s.add(() => hs.close())
  const store = await openStore(s)
  const real = store.get({ name: 'real' })
  await real.append(blocks(5))
  const h = await memberOf(s, key, { store })
  await v.call('connect', { tag: 'hostile', port: h.port })
  await h.connected
  const base = await v.call('mark', { gc: true })
  const fakes = fakeEntries(300, 5)
  const t0 = Date.now()
  const sent = h.advertise([...fakes, { key: real.key, length: 1e9 }])
  const synced = v.call('synced', { ms: 30000 })
  const realArrived = v.call('waitLength', { keys: [hex(real.key)], length: 5, ms: 30000 })
  await sleep(100) // the honest peer connects while the liar's 301 downloads fill the window
  const tc = Date.now()
  await v.call('connect', { tag: 'honest', port: hs.port })
  const honestAt = (await v.call('waitLength', { keys: [hex(hw.key)], length: 50, ms: 20000 })).at
  const syncedAt = (await synced).at
  const realAt = (await realArrived).at
  const snap = await v.call('snapshot')
  const stalled = await v.call('stalledTimes')
  const mem = memory(base, snap)
  const hc = snap.conns.hostile
  const r = {
    synced: since(t0, syncedAt),
    honest: since(tc, honestAt),
    real: since(t0, realAt),
    stalled: stalled.length,
    stalledFirst: stalled.length ? since(t0, Math.min(...stalled.map((x) => x.at))) : null,
    stalledLast: stalled.length ? since(t0, Math.max(...stalled.map((x) => x.at))) : null,
    hostileOpen: hc.closed === null,
    wire: hc.read + hc.written,
    sent,
    ...mem
  }
  log(`300 feeds that exist nowhere (length 5) + a real 5-block feed advertised at 10^9; timeout 2000, stallTimeout 2000 (default 10,000), maxDownloads 256`)
  log(`synced() resolved after ${secs(r.synced)}; 'stalled' x${r.stalled} (first ${secs(r.stalledFirst)}, last ${secs(r.stalledLast)}); the liar's real feed's 5 blocks after ${secs(r.real)}`)
  log(`honest data (50 x 1 KB) from another connection, connected meanwhile: all arrived ${secs(r.honest)} after it connected; the liar's connection ${r.hostileOpen ? 'stays up' : 'closed: ' + JSON.stringify(hc.closed)}`)
  log(`${memText(mem)}; liar's connection ${KB(r.wire)} on the wire (${KB(sent)} of feed lists)`)
  const problems = []
  if (r.synced === null) problems.push('synced() never resolved')
  if (r.honest === null || r.honest > 2000) problems.push('the honest data was held up: ' + secs(r.honest))
  if (r.stalled !== 301) problems.push(`${r.stalled} 'stalled' events, expected 301`)
  if (!r.hostileOpen) problems.push('the liar\'s connection closed')
  return {
    r,
    problems,
    row: ['1 lying lengths (300 + 1 at 10^9)', `synced ${secs(r.synced)}; honest data ${secs(r.honest)}`, MB(mem.rssPeak) + ` (+${MB(mem.rssGrowth)})`, mem.openPeak, KB(r.wire)]
  }
}

// --- 2. drip ---

async function drip (s, log) {
  const key = crypto.randomBytes(32)
  const { v } = await victim(s, { dir: tmp(), key: hex(key), opts: { timeout: 500 } })
  const times = []
  const codes = []
  let wire = 0
  let drips = 0
  for (let i = 0; i < 5; i++) {
    const h = await memberOf(s, key)
    const tag = 'drip' + i
    await v.call('connect', { tag, port: h.port })
    await h.connected
    const t0 = Date.now()
    h.summary(fakeEntries(2, 5))
    const timer = setInterval(() => { if (h.channel && !h.channel.closed) { h.feeds([], false); drips++ } }, 400)
    const closed = await v.call('waitClose', { tag, ms: 5000 })
    clearInterval(timer)
    times.push(since(t0, closed.at))
    codes.push(closed.closed && closed.closed.code)
    const snap = await v.call('snapshot')
    wire += snap.conns[tag].read + snap.conns[tag].written
    await h.close()
  }
  const sorted = times.filter((t) => t !== null).sort((a, b) => a - b)
  log(`summary announcing 2 feeds, then an empty non-final \`feeds\` every 400 ms; timeout 500; 5 connections (${drips} drips in all)`)
  log(`closed with ${[...new Set(codes)].join(', ')} after ${times.map(secs).join(', ')} (median ${secs(sorted[2])}); ${KB(wire / 5)} on the wire per connection`)
  const problems = []
  if (codes.some((code) => code !== 'ERR_EXCHANGE_TIMEOUT')) problems.push('closed with ' + codes.join(', '))
  if (times.some((t) => t === null || t > 1500)) problems.push('a drip held the exchange past 1.5 s: ' + times.map(secs).join(', '))
  return {
    r: { times, codes, wirePerConnection: wire / 5 },
    problems,
    row: ['2 drip (empty batch / 400 ms, timeout 500)', `ERR_EXCHANGE_TIMEOUT after ${secs(sorted[0])}-${secs(sorted[sorted.length - 1])}`, '-', '-', KB(wire / 5) + '/conn']
  }
}

// --- 3. window starvation ---

async function starvation (s, log) {
  const key = crypto.randomBytes(32)
  const { v } = await victim(s, { dir: tmp(), key: hex(key), opts: { stallTimeout: 2000 } })
  const store = await openStore(s)
  const out = {}
  for (const fakesCount of [0, 256]) {
    const real = []
    for (let i = 0; i < 3; i++) {
      const core = store.get({ name: `real-${fakesCount}-${i}` })
      await core.append(blocks(10 + i, 256))
      real.push(core)
    }
    const h = await memberOf(s, key, { store })
    const tag = 'relay' + fakesCount
    await v.call('connect', { tag, port: h.port })
    await h.connected
    const base = await v.call('mark', { gc: true })
    const t0 = Date.now()
    h.advertise([...fakeEntries(fakesCount, 5), ...real.map((core) => ({ key: core.key, length: core.length }))])
    const each = await Promise.all(real.map((core) => v.call('waitLength', { keys: [hex(core.key)], length: core.length, ms: 20000 })))
    const all = each.some((x) => x.at === null) ? null : Math.max(...each.map((x) => x.at))
    const snap = await v.call('snapshot')
    out[fakesCount] = { first: since(t0, Math.min(...each.map((x) => x.at ?? Infinity))), all: since(t0, all), ...memory(base, snap), wire: snap.conns[tag].read + snap.conns[tag].written }
    await v.call('disconnect', { tag })
    await h.close()
  }
  const [ctl, st] = [out[0], out[256]]
  log(`a relay lists 256 never-served feeds (length 5) ahead of 3 real ones (10-12 blocks); maxDownloads 256, stallTimeout 2000 (default 10,000)`)
  log(`control (the 3 real ones alone): all arrived after ${secs(ctl.all)}; behind the 256: after ${secs(st.all)}`)
  log(`${memText(st)}`)
  const problems = []
  if (st.all === null) problems.push('the real feeds never arrived behind the fakes')
  if (st.all !== null && st.all > 2000 * 1.34 + 1500) problems.push(`the real feeds took ${secs(st.all)}, more than one stall round`)
  return {
    r: out,
    problems,
    row: ['3 window starvation (256 fakes, 3 real)', `real feeds ${secs(st.all)} (control ${secs(ctl.all)})`, MB(st.rssPeak) + ` (+${MB(st.rssGrowth)})`, st.openPeak, KB(st.wire)]
  }
}

// --- 4. stalling holder ---


// An honest writer's feed served by `honest`, and a member `holder` with a genuine copy (same key pair,
// same appends: the same signed tree) in a store of its own.
async function holderAndHonest (s, key, keyPair, data) {
  const hm = await openMultifeed(s, { key })
  const w = await hm.writer('w', { keyPair })
  await w.append(data)
  const hs = await honest(hm)
  s.add(() => hs.close())
  const store = await openStore(s)
  const copy = store.get({ key: keyPair.publicKey, keyPair })
  await copy.append(data)
  const holder = await memberOf(s, key, { store })
  return { hm, w, hs, store, copy, holder }
}

async function stallingHolder (s, log) {
  const key = crypto.randomBytes(32)
  const keyPair = crypto.keyPair()
  const N = 2000
  const data = blocks(N, 1024, 'x')
  const { v } = await victim(s, { dir: tmp(), key: hex(key), opts: {} }) // stallTimeout: the default 10 s
  const { hm, w, hs, copy, holder } = await holderAndHonest(s, key, keyPair, data)
  let swallowed = 0
  let firstSwallow
  const requested = new Promise((resolve) => { firstSwallow = resolve })
  copy.on('peer-add', (peer) => {
    if (peer.protomux === holder.muxer) peer.onrequest = async () => { swallowed++; firstSwallow() }
  })
  await v.call('connect', { tag: 'holder', port: holder.port })
  await holder.connected
  const base = await v.call('mark', { gc: true })
  const t0 = Date.now()
  holder.advertise([{ key: keyPair.publicKey, length: N }])
  await Promise.race([requested, sleep(5000)])
  const tc = Date.now()
  await v.call('connect', { tag: 'honest', port: hs.port })
  const done = await v.call('waitLength', { keys: [hex(keyPair.publicKey)], length: N, ms: 30000 })
  const snap = await v.call('snapshot')
  const stalled = await v.call('stalledTimes')
  const mem = memory(base, snap)
  const r = {
    all: since(t0, done.at),
    fromHonestConnect: since(tc, done.at),
    swallowed,
    stalled: stalled.map((x) => ({ tag: x.tag, after: since(t0, x.at) })),
    honestBlocks: snap.conns.honest.blocksDownloaded,
    holderBlocks: snap.conns.holder.blocksDownloaded,
    wire: snap.conns.honest.read + snap.conns.honest.written + snap.conns.holder.read + snap.conns.holder.written,
    ...mem
  }
  log(`a holder with a genuine copy of ${N} x 1 KB blocks swallows every block request and connects first; an honest peer connects ${secs(tc - t0)} later; stallTimeout 10,000 (default)`)
  log(`all ${N} blocks after ${secs(r.all)} (${secs(r.fromHonestConnect)} after the honest peer connected); ${swallowed} requests swallowed; 'stalled': ${r.stalled.map((x) => `${x.tag} at ${secs(x.after)}`).join(', ') || 'none'}; blocks counted per connection: honest ${r.honestBlocks}, holder ${r.holderBlocks}`)
  log(`${memText(mem)}; ${KB(r.wire)} on the wire`)
  const problems = []
  if (r.all === null || r.all > 15000) problems.push(`the blocks did not all arrive within 15 s (${secs(r.all)})`)
  return {
    r,
    problems,
    row: [`4 stalling holder (${N} blocks)`, `all blocks ${secs(r.all)}`, MB(mem.rssPeak) + ` (+${MB(mem.rssGrowth)})`, mem.openPeak, KB(r.wire)]
  }
}

// 4b. The same holder, with the honest peer connecting ~200 ms after it while the stall watchdog is already
// running (armed by an unrelated download that started 600 ms before the holder's): the sweep that gives
// the feed up on the holder's connection may find the honest connection past stallTimeout too (it made no
// progress either: hypercore waits for the holder's answer to its first request, the tree's length).
async function stallingHolderPhase (s, log) {
  const key = crypto.randomBytes(32)
  const keyPair = crypto.keyPair()
  const N = 2000
  const STALL = 3000 // the watchdog sweeps every min(1000, stallTimeout / 3) ms
  const data = blocks(N, 1024, 'x')
  const { v } = await victim(s, { dir: tmp(), key: hex(key), opts: { stallTimeout: STALL } })
  const { hm, w, hs, copy, holder } = await holderAndHonest(s, key, keyPair, data)
  const pacer = await memberOf(s, key) // advertises one feed that exists nowhere: it arms the watchdog
  let swallowed = 0
  copy.on('peer-add', (peer) => {
    if (peer.protomux === holder.muxer) peer.onrequest = async () => { swallowed++ }
  })
  await v.call('connect', { tag: 'pacer', port: pacer.port })
  await v.call('connect', { tag: 'holder', port: holder.port })
  await Promise.all([pacer.connected, holder.connected])
  const base = await v.call('mark', { gc: true })
  const tp = Date.now()
  pacer.advertise(fakeEntries(1, 5))
  await sleep(600)
  const t0 = Date.now()
  holder.advertise([{ key: keyPair.publicKey, length: N }])
  await sleep(150)
  const tc = Date.now()
  await v.call('connect', { tag: 'honest', port: hs.port })
  const done = await v.call('waitLength', { keys: [hex(keyPair.publicKey)], length: N, ms: 2 * STALL })
  const synced = await v.call('synced', { ms: 1000 })
  const snap = await v.call('snapshot')
  const stalled = (await v.call('stalledTimes')).filter((x) => x.key === hex(keyPair.publicKey))
  const [length] = await v.call('lengths', { keys: [hex(keyPair.publicKey)] })
  const mem = memory(base, snap)
  const r = {
    all: since(t0, done.at),
    honestAfterHolder: tc - t0,
    pacerBeforeHolder: t0 - tp,
    swallowed,
    stalled: stalled.map((x) => ({ tag: x.tag, after: since(t0, x.at) })),
    honestBlocks: snap.conns.honest.blocksDownloaded,
    synced: synced.at !== null,
    length,
    ...mem
  }
  log(`as 4 with stallTimeout ${STALL}; the watchdog already runs (a download on another connection began ${secs(r.pacerBeforeHolder)} before the holder's); the honest peer connects ${secs(r.honestAfterHolder)} after the holder advertised`)
  log(`all ${N} blocks: ${r.all === null ? `NOT within ${secs(2 * STALL)} (the victim's record: length ${length})` : 'after ' + secs(r.all)}; blocks from the honest connection: ${r.honestBlocks}; 'stalled' for the feed: ${r.stalled.map((x) => `${x.tag} at ${secs(x.after)}`).join(', ') || 'none'}; synced(): ${r.synced ? 'resolved' : 'waiting'}`)
  const problems = []
  if (r.all === null) problems.push(`the feed stalled on the honest connection in the same watchdog sweep as on the holder's: ${r.honestBlocks} of ${N} blocks arrived, synced() ${r.synced ? 'resolved without them' : 'still waits'}`)
  return {
    r,
    problems,
    row: [`4b stalling holder, honest peer +${secs(r.honestAfterHolder)}`, r.all === null ? `${length}/${N} blocks in ${secs(2 * STALL)}; synced() ${r.synced ? 'resolved' : 'waits'}` : `all blocks ${secs(r.all)}`, MB(mem.rssPeak) + ` (+${MB(mem.rssGrowth)})`, mem.openPeak, '-']
  }
}

// --- 6. flood, forwarding, purge ---

async function flood (s, log) {
  const key = crypto.randomBytes(32)
  const { v } = await victim(s, { dir: tmp(), key: hex(key), opts: {} })
  const vw = await v.call('writer', { name: 'v', blocks: ['victim block'] })
  // the line V - H1 - H2: H1 and H2 honest, in this process, joined by a pipe
  const h1 = await openMultifeed(s, { key })
  const h2 = await openMultifeed(s, { key })
  const h1w = await h1.writer('h1')
  await h1w.append('h1 block')
  const h2w = await h2.writer('h2')
  await h2w.append('h2 block')
  const pipe12 = () => {
    const a = h1.replicate(true)
    const b = h2.replicate(false)
    a.on('error', () => {})
    b.on('error', () => {})
    a.pipe(b).pipe(a)
    return [a, b]
  }
  let line = pipe12()
  const hs = await honest(h1)
  s.add(() => hs.close())
  await v.call('connect', { tag: 'h1', port: hs.port })
  await v.call('waitLength', { keys: [hex(h1w.key), hex(h2w.key)], length: 1, ms: 10000 })
  await until(() => h2.list().some((f) => f.key.equals(b4a.from(vw.key, 'hex')) && f.length === 1), 10000)
  const sizeBefore = (await v.call('snapshot')).size
  // the flood
  const F = await memberOf(s, key)
  await v.call('connect', { tag: 'flood', port: F.port })
  await F.connected
  const base = await v.call('mark', { gc: true })
  const junk = fakeEntries(99999, 1)
  const t0 = Date.now()
  F.summaryOf(junk.length)
  const sent = F.list(junk)
  const processed = await v.call('waitPhase', { tag: 'flood', phase: 'live', refused: 89999, ms: 60000 })
  const afterFlood = await v.call('snapshot')
  const recorded = afterFlood.size - sizeBefore
  // an honest new feed, over H1's connection, after the flood
  const h1b = await h1.writer('h1b')
  const t1 = Date.now()
  await h1b.append('after the flood')
  const newFeed = await v.call('waitLength', { keys: [hex(h1b.key)], length: 1, ms: 10000 })
  const snapNew = await v.call('snapshot')
  // the junk does not travel the line
  const junkSet = new Set(junk.map((e) => hex(e.key)))
  const junkAtH1 = h1.list().filter((f) => junkSet.has(hex(f.key))).length
  const junkAtH2 = h2.list().filter((f) => junkSet.has(hex(f.key))).length
  const vAtH2 = h2.list().some((f) => hex(f.key) === vw.key && f.length === 1)
  // H1 - H2 reconnect: H2 grows while apart
  for (const st of line) st.destroy()
  await until(() => h1.connections.length === 1 && h2.connections.length === 0, 5000)
  await h2w.append('h2 while apart')
  const t2 = Date.now()
  line = pipe12()
  const reconnected = await until(() => h1.list().some((f) => f.key.equals(h2w.key) && f.length === 2) && h1.isSynced() && h2.isSynced(), 10000)
  const reAtV = await v.call('waitLength', { keys: [hex(h2w.key)], length: 2, ms: 10000 })
  const lineModes = h1.connections.filter((ex) => ex.stream === line[0]).map((ex) => ex.mode)
  // purge what the flooding connection introduced, while it is still connected
  await v.call('mark', { gc: true })
  const purged = await v.call('purge', { tag: 'flood' })
  const afterPurge = await v.call('snapshot', { gc: true })
  // a second flood from another member; this time the member is gone before the purge
  const F2 = await memberOf(s, key)
  await v.call('connect', { tag: 'flood2', port: F2.port })
  await F2.connected
  F2.summaryOf(99999)
  F2.list(fakeEntries(99999, 1))
  await v.call('waitPhase', { tag: 'flood2', phase: 'live', refused: afterFlood.refused + 89999, ms: 60000 })
  await v.call('disconnect', { tag: 'flood2' })
  await v.call('mark', { gc: true })
  const purged2 = await v.call('purge', { tag: 'flood2' })
  const afterPurge2 = await v.call('snapshot', { gc: true })
  const mem = memory(base, afterFlood)
  const fc = afterFlood.conns.flood
  const r = {
    sentEntries: junk.length,
    sentBytes: sent,
    processed: since(t0, processed.at),
    recorded,
    refused: afterFlood.refused,
    refusedOnHonest: snapNew.conns.h1.refused,
    newFeed: since(t1, newFeed.at),
    junkAtH1,
    junkAtH2,
    vAtH2,
    reconnect: since(t2, reconnected),
    reconnectAtV: since(t2, reAtV.at),
    lineModes,
    purged,
    purgePeakOpen: afterPurge.peak.open,
    purgePeakCores: afterPurge.peak.cores,
    purgePeakRss: afterPurge.peak.rss,
    sizeAfterPurge: afterPurge.size,
    rssAfterPurge: afterPurge.rss,
    purged2,
    purge2PeakOpen: afterPurge2.peak.open,
    purge2PeakCores: afterPurge2.peak.cores,
    sizeAfterPurge2: afterPurge2.size,
    wire: fc.read + fc.written,
    ...mem
  }
  log(`one burst: summary of 99,999 + 25 \`feeds\` messages of fresh keys at length 1 (${MB(sent)}); maxNewFeedsPerConnection 10,000 (default)`)
  log(`processed in ${secs(r.processed)}: ${recorded} records stored, ${r.refused} refused ('refused' events), the connection ${fc.closed ? 'closed ' + JSON.stringify(fc.closed) : 'stays up'}; ${memText(mem)}`)
  log(`an honest new feed over H1 after the flood: arrived after ${secs(r.newFeed)}, refused on H1's connection: ${r.refusedOnHonest}`)
  log(`line V-H1-H2: junk at H1 ${junkAtH1}, at H2 ${junkAtH2}; V's own feed reached H2: ${vAtH2}; H1-H2 reconnect (H2 grew while apart): H1 had it after ${secs(r.reconnect)} (mode ${lineModes.join(',')}), V after ${secs(r.reconnectAtV)}`)
  log(`purge({ introducedBy: the flood's exchange }) with the flooder still connected: ${purged.removed} removed in ${secs(purged.ms)}; size ${afterPurge.size} (was ${sizeBefore} before the flood, +1 honest feed since); during the purge up to ${r.purgePeakOpen} feeds open, ${r.purgePeakCores} cores in corestore, rss peak ${MB(r.purgePeakRss)}; after it ${purged.openFeeds} open, rss ${MB(afterPurge.rss)} after GC`)
  log(`the same flood from a second member, purged after it disconnected: ${purged2.removed} removed in ${secs(purged2.ms)}; during the purge up to ${r.purge2PeakOpen} feeds open, ${r.purge2PeakCores} cores in corestore; size after ${afterPurge2.size}`)
  const problems = []
  if (recorded !== 10000) problems.push(`${recorded} records stored from the flood, expected 10,000`)
  if (r.newFeed === null) problems.push('the honest new feed did not arrive')
  if (r.refusedOnHonest > 0) problems.push('the honest connection had feeds refused')
  if (junkAtH1 + junkAtH2 > 0) problems.push(`junk forwarded: ${junkAtH1} at H1, ${junkAtH2} at H2`)
  if (!vAtH2) problems.push('V\'s own feed did not reach H2')
  if (r.reconnect === null) problems.push('H1-H2 reconnect did not converge')
  if (purged.removed !== 10000) problems.push(`purge removed ${purged.removed}, expected 10,000`)
  if (afterPurge.size !== sizeBefore + 1) problems.push(`size after purge ${afterPurge.size}, expected ${sizeBefore + 1}`)
  if (purged2.removed !== 10000 || afterPurge2.size !== sizeBefore + 1) problems.push(`the second purge removed ${purged2.removed}, size after ${afterPurge2.size}`)
  if (purged.ms > 10 * Math.max(100, purged2.ms)) problems.push(`purge with the flooder connected took ${secs(purged.ms)} (${secs(purged2.ms)} once it is gone): each removal frees a window slot and the next queued junk feed's core opens (up to ${r.purgePeakCores} cores in corestore), so every junk feed is opened, then cleared`)
  return {
    r,
    problems,
    row: ['6 flood (99,999 fresh keys, one burst)', `${recorded} stored in ${secs(r.processed)}; honest feed ${secs(r.newFeed)}; purge ${secs(purged.ms)} connected, ${secs(purged2.ms)} after`, MB(mem.rssPeak) + ` (+${MB(mem.rssGrowth)})`, mem.openPeak, KB(r.wire)]
  }
}

// A multifeed dir with `n` single-block writers, made once (in a victim process, then closed) for 7 and 10.
let prepared = null
async function preparedUploader (n) {
  if (prepared) return prepared
  const key = crypto.randomBytes(32)
  const dir = tmp()
  const v = await spawnVictim()
  const t0 = Date.now()
  const info = await v.call('init', { dir, key: hex(key), writers: n })
  await v.close()
  prepared = { dir, key, size: info.size, ms: Date.now() - t0 }
  return prepared
}

// --- 7. forced opening ---

// Waits until `fn()` (a number) has not changed for `quiet` ms (counted once it is above 0), or reached
// `target`, or `ms` passed.
async function settled (fn, target, quiet, ms) {
  let last = -1
  let since = Date.now()
  const end = Date.now() + ms
  for (;;) {
    const v = await fn()
    if (v !== last) { last = v; since = Date.now() }
    if (v >= target) return { value: v, at: Date.now() }
    if ((v > 0 && Date.now() - since >= quiet) || Date.now() > end) return { value: v, at: since }
    await sleep(20)
  }
}

async function forcedOpening (s, log) {
  const N = 5000
  const STALL = 3000
  const up = await preparedUploader(N)
  const { v } = await victim(s, { dir: up.dir, key: hex(up.key), opts: { stallTimeout: STALL } })
  const F = await memberOf(s, up.key)
  await v.call('connect', { tag: 'member', port: F.port })
  await F.connected
  const base = await v.call('mark', { gc: true })
  const t0 = Date.now()
  F.advertise([]) // an empty set: the uploader lists all of its feeds
  await until(() => F.listed().length >= N, 20000, 5)
  const listed = F.listed()
  const tl = Date.now()
  for (const e of listed) F.openCoreChannel(e.key)
  // the uploader answers the channels it opens a core for
  const first = await settled(() => F.hyperOpened, listed.length, 1000, 20000)
  const atFirst = await v.call('snapshot')
  await sleep(STALL + 1500) // past stallTimeout: are the cores of a peer that fetches nothing given up?
  const held = await v.call('snapshot')
  const answeredLater = F.hyperOpened
  const closedByVictim = F.hyperClosed
  await v.call('disconnect', { tag: 'member' })
  await sleep(500)
  const after = await v.call('snapshot')
  const mem = memory(base, held)
  const mc = held.conns.member
  const r = {
    listed: listed.length,
    list: since(t0, tl),
    answered: first.value,
    answeredIn: since(tl, first.at),
    openAtFirst: atFirst.openFeeds,
    coresAtFirst: atFirst.cores,
    answeredLater,
    closedByVictim,
    openLater: held.openFeeds,
    coresLater: held.cores,
    openAfterDisconnect: after.openFeeds,
    coresAfterDisconnect: after.cores,
    blocksUploaded: mc.blocksUploaded,
    wire: mc.read + mc.written,
    ...mem
  }
  log(`uploader with ${N} single-block feeds, stallTimeout ${STALL} (default 10,000); a member with an empty set gets the list (${secs(r.list)}) and opens a Hypercore channel for each of the ${r.listed} feeds, then never sends anything on them`)
  log(`the uploader answered ${r.answered} channels (settled after ${secs(r.answeredIn)}), holding ${r.openAtFirst} feeds open (corestore ${r.coresAtFirst}); ${secs(STALL + 1500)} later: ${r.answeredLater} answered, ${r.closedByVictim} closed by the uploader, ${r.openLater} open (corestore ${r.coresLater}); ${r.blocksUploaded} blocks uploaded`)
  log(`${memText(mem)}; ${KB(r.wire)} on the wire`)
  log(`after the member disconnected: ${r.openAfterDisconnect} open 0.5 s later (corestore ${r.coresAfterDisconnect}: its collector closes an idle core after 3-4 rounds of 2 s)`)
  return {
    r,
    problems: [],
    row: [`7 forced opening (${N} channels, no request)`, `${r.answered} answered, ${r.openLater} cores held ${secs(STALL + 1500)} later`, MB(mem.rssPeak) + ` (+${MB(mem.rssGrowth)})`, mem.openPeak, KB(r.wire)]
  }
}

// --- 8. many connections ---

async function manyConnections (s, log) {
  const N = 50000
  const C = 10
  const key = crypto.randomBytes(32)
  // the per-connection quota is raised for the set-up only: one connection makes the victim know N feeds
  const { v } = await victim(s, { dir: tmp(), key: hex(key), opts: { maxNewFeedsPerConnection: N } })
  const known = fakeEntries(N, 1)
  const S = await memberOf(s, key)
  await v.call('connect', { tag: 'setup', port: S.port })
  await S.connected
  const ts = Date.now()
  S.summaryOf(N)
  S.list(known)
  await v.call('waitPhase', { tag: 'setup', phase: 'live', ms: 60000 })
  await v.call('waitSize', { size: N, ms: 60000 })
  const setupMs = Date.now() - ts
  await v.call('disconnect', { tag: 'setup' })
  await S.close()
  await sleep(500)
  const base = await v.call('mark', { gc: true })
  const t0 = Date.now()
  const members = []
  for (let i = 0; i < C; i++) {
    const M = await memberOf(s, key)
    await v.call('connect', { tag: 'm' + i, port: M.port })
    await M.connected
    // each lists the N known feeds at an unserved length, in its own order (windows do not overlap)
    const rotated = known.slice(i * (N / C)).concat(known.slice(0, i * (N / C))).map((e) => ({ key: e.key, length: 5 }))
    M.summaryOf(N)
    M.list(rotated)
    members.push(M)
  }
  for (let i = 0; i < C; i++) await v.call('waitPhase', { tag: 'm' + i, phase: 'live', ms: 60000 })
  const live = Date.now()
  await sleep(3000)
  const snap = await v.call('snapshot')
  const mem = memory(base, snap)
  let wire = 0
  let pending = 0
  for (let i = 0; i < C; i++) {
    wire += snap.conns['m' + i].read + snap.conns['m' + i].written
    pending += snap.conns['m' + i].pending
  }
  const r = { setupMs, live: since(t0, live), openNow: snap.openFeeds, coresNow: snap.cores, pending, isSynced: snap.isSynced, wire, ...mem }
  log(`the victim knows ${N} feeds (records, no block: set up over one connection in ${secs(setupMs)} with maxNewFeedsPerConnection ${N}); ${C} member connections each list all ${N} at length 5 (never served), each in its own order`)
  log(`all ${C} exchanges live after ${secs(r.live)}; 3 s later: ${r.openNow} feeds open (corestore ${r.coresNow}), ${pending} downloads pending on the ${C} connections, synced: ${r.isSynced} (each pending download must stall first: rounds of stallTimeout, 10 s)`)
  log(`${memText(mem)}; ${MB(wire)} on the wire`)
  return {
    r,
    problems: [],
    row: [`8 many connections (${C} x ${N} re-announced)`, `${r.openNow} cores held; synced() waits for the stall rounds`, MB(mem.rssPeak) + ` (+${MB(mem.rssGrowth)})`, mem.openPeak, MB(wire)]
  }
}

// --- 9. queued work behind a slow accept filter ---

async function queuedWork (s, log, { shared = false } = {}) {
  const key = crypto.randomBytes(32)
  const { v } = await victim(s, { dir: tmp(), key: hex(key), gate: true })
  const F = await memberOf(s, key)
  await v.call('connect', { tag: 'member', port: F.port, shared })
  await F.connected
  F.summary([]) // both sets empty: in sync, live at once
  await v.call('waitPhase', { tag: 'member', phase: 'live', ms: 10000 })
  const base = await v.call('mark', { gc: true })
  F.feeds([{ key: crypto.randomBytes(32), length: 1 }]) // held by the accept filter
  await until(async () => (await v.call('snapshot')).acceptCalls > 0, 5000)
  // valid `symbols` messages (4,096 coded symbols each): counted as no entries by the in-flight bound
  const codec = c.array(codedSymbolCodec(14))
  const symbols = []
  for (let i = 0; i < 4096; i++) symbols.push({ sum: crypto.randomBytes(14), checksum: crypto.randomBytes(4).readUInt32LE(0), count: 1 })
  const buf = c.encode(codec, symbols)
  const TARGET = 200 * 1048576
  const count = Math.ceil(TARGET / buf.byteLength)
  const t0 = Date.now()
  let sent = 0
  let messages = 0
  let held = false // the victim stopped reading (backpressure) or closed
  let read = 0
  while (messages < count) {
    if (F.stream.destroyed) break
    F.send(2, buf)
    sent += buf.byteLength
    messages++
    if (messages % 64 !== 0) continue
    // a stream, not one buffer: never more than 32 MB ahead of what the victim has read
    const snap = await v.call('snapshot')
    read = snap.conns.member.read
    if (snap.conns.member.closed) break
    if (sent - read > 32 * 1048576) {
      const moved = await settled(async () => (await v.call('snapshot')).conns.member.read, sent - 16 * 1048576, 2000, 10000)
      read = moved.value
      if (read < sent - 16 * 1048576) { held = true; break }
    }
  }
  const last = await settled(async () => (await v.call('snapshot')).conns.member.read, sent, 1000, 60000)
  const sendMs = Date.now() - t0
  // does the victim still send on this connection? Its new writer is announced live to the member
  const own = await v.call('writer', { name: 'while-queued', blocks: ['one'] })
  const outbound = await until(() => F.listed().some((e) => hex(e.key) === own.key), 1500)
  const queued = await v.call('snapshot')
  const tr = Date.now()
  await v.call('releaseAccept')
  const closed = await v.call('waitClose', { tag: 'member', ms: 30000 })
  await sleep(200)
  const after = await v.call('snapshot', { gc: true })
  const mem = memory(base, queued)
  const mc = queued.conns.member
  const r = {
    messages,
    sent,
    victimRead: last.value,
    held,
    sendMs,
    closedBeforeRelease: mc.closed,
    outbound: outbound !== null,
    exchangeQueued: mc.queuedBytes,
    streamBuffered: mc.streamBuffered,
    streamWriteBuffered: mc.streamWriteBuffered,
    socketBuffered: mc.socketBuffered,
    noiseBuffered: mc.noiseBuffered,
    paused: mc.paused,
    rssQueued: queued.rss,
    closedAfterRelease: mc.closed ? null : since(tr, closed.at),
    code: closed.closed && closed.closed.code,
    rssAfter: after.rss,
    ...mem
  }
  log(`${shared ? 'a shared connection (a Noise stream over the socket, as Hyperswarm gives, m.replicate(stream))' : 'a stream of the multifeed\'s own (m.replicate(true)) piped to the socket'}; an accept filter that does not return (released by the script) holds one live batch; behind it the member sends valid \`symbols\` messages of ${KB(buf.byteLength)}, up to ${MB(TARGET)} (the issue's 1 GB scaled down), never more than 32 MB ahead of what the victim read`)
  log(`sent ${messages} messages (${MB(sent)}) in ${secs(sendMs)}; the victim read ${MB(r.victimRead)}${held ? ' and then stopped reading (backpressure)' : ''}; connection ${mc.closed ? 'closed with ' + mc.closed.code + ' before the release' : 'open while queued'}`)
  log(`while queued: ${MB(r.exchangeQueued)} waiting in the exchange's queue, ${MB(r.noiseBuffered)} decrypted in the Noise stream's read buffer (not yet read by protomux), ${MB(r.streamBuffered + r.streamWriteBuffered)} in the outer stream's buffers, ${MB(r.socketBuffered)} in the socket's (reading paused by the exchange: ${r.paused}); ${memText(mem)} (rss ${MB(r.rssQueued)})`)
  if (!mc.closed) log(`the victim's own new feed, announced meanwhile, reached the member: ${r.outbound ? 'yes (the victim still sends)' : 'no (within 1.5 s)'}`)
  log(`filter released: ${mc.closed ? 'already closed' : `the exchange closed ${secs(r.closedAfterRelease)} later with ${r.code}`}; rss after GC ${MB(r.rssAfter)}`)
  const problems = []
  if (r.victimRead > 50 * 1048576 && !mc.closed) {
    const where = r.exchangeQueued + r.noiseBuffered < r.victimRead / 10 ? 'in the exchange\'s message queue (uncounted)' : `${MB(r.exchangeQueued)} in the exchange's queue, ${MB(r.noiseBuffered)} in the Noise stream's read buffer`
    problems.push(`the victim read ${MB(r.victimRead)} behind a stuck accept filter and kept it (rss +${MB(mem.rssGrowth)}), neither paused nor cut off: ${where}` +
      (r.paused ? ' (the exchange paused the Noise stream, but secret-stream answers a full read buffer with rawStream.pause(), and for a replicate(bool) stream rawStream is its Bridge, not the socket: the socket is still read)' : ''))
  }
  return {
    r,
    problems,
    row: [`9${shared ? 'b' : ''} queued work, ${shared ? 'shared stream' : 'own stream'} (up to ${MB(TARGET)})`, `victim read ${MB(r.victimRead)} of ${MB(sent)}; ${mc.closed ? mc.closed.code : held ? 'reading paused' : 'all queued'}`, MB(mem.rssPeak) + ` (+${MB(mem.rssGrowth)})`, mem.openPeak, MB(r.victimRead)]
  }
}

// --- 10. honest first sync of 5,000 single-block feeds ---

async function firstSync (s, log) {
  const N = 5000
  const up = await preparedUploader(N)
  const { v } = await victim(s, { dir: up.dir, key: hex(up.key), opts: {} })
  const d = await openMultifeed(s, { key: up.key })
  const ds = await honest(d)
  s.add(() => ds.close())
  let dPeakOpen = 0
  const dTimer = setInterval(() => { dPeakOpen = Math.max(dPeakOpen, d.openFeeds) }, 10)
  s.add(() => clearInterval(dTimer))
  const base = await v.call('mark', { gc: true })
  const t0 = Date.now()
  await v.call('connect', { tag: 'downloader', port: ds.port })
  const done = await until(() => d.size >= N && d.isSynced() && d.list().every((f) => f.length === 1), 120000, 50)
  const snap = await v.call('snapshot')
  await sleep(3000)
  const later = await v.call('snapshot', { gc: true })
  const mem = memory(base, snap)
  const dc = snap.conns.downloader
  const r = { sync: since(t0, done), downloaderSize: d.size, downloaderPeakOpen: dPeakOpen, openAtEnd: snap.openFeeds, coresAtEnd: snap.cores, coresLater: later.cores, rssLater: later.rss, wire: dc.read + dc.written, uploaded: dc.blocksUploaded, ...mem }
  log(`uploader (the victim) with ${N} single-block feeds; an honest multifeed with none connects (maxDownloads 256 on its side)`)
  log(`first sync done after ${secs(r.sync)} (${r.downloaderSize} feeds, ${r.uploaded} blocks uploaded); downloader's peak feeds open ${dPeakOpen}`)
  log(`uploader: ${memText(mem)}; at the end ${r.openAtEnd} open (corestore ${r.coresAtEnd}), 3 s later corestore ${r.coresLater}, rss ${MB(r.rssLater)} after GC; ${MB(r.wire)} on the wire`)
  const problems = []
  if (r.sync === null) problems.push('the first sync did not finish')
  return {
    r,
    problems,
    row: [`10 honest first sync (${N} x 1 block)`, `synced ${secs(r.sync)}; uploader ${mem.openPeak} open, ${mem.coresPeak} in corestore at peak`, MB(mem.rssPeak) + ` (+${MB(mem.rssGrowth)})`, mem.openPeak, MB(r.wire)]
  }
}

// --- 13. close during a sync ---

// A seeded generator: the iterations' timings are reproducible with --seed.
function prng (seed) {
  let x = seed >>> 0 || 1
  return (n) => {
    x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0
    return x % n
  }
}
const SEED = Number(arg('seed', Date.now() % 1e9))

function pipe (a, b) {
  const s1 = a.replicate(true)
  const s2 = b.replicate(false)
  s1.on('error', () => {})
  s2.on('error', () => {})
  s1.pipe(s2).pipe(s1)
  return [s1, s2]
}

// --- 5. truncation ---

// Bytes written into a replication stream (one direction; both streams of a pipe give both).
function countBytes (stream) {
  const n = { bytes: 0 }
  stream.on('data', (d) => { n.bytes += d.byteLength })
  return n
}

async function truncation (s, log) {
  const key = crypto.randomBytes(32)
  const N = 2000
  const a = await openMultifeed(s, { key })
  const w = await a.writer('w')
  await w.append(blocks(N, 1024, 'old'))
  const b = await openMultifeed(s, { key })
  let [s1] = pipe(a, b)
  await b.synced()
  await until(() => b.list().some((f) => f.length === N), 10000)
  s1.destroy()
  // the writer truncates half its feed and appends as much again: a new fork of the same length
  await w.truncate(N / 2)
  await w.append(blocks(N / 2, 1024, 'new'))
  const expected = async (m) => {
    const f = m.list().find((x) => x.key.equals(w.key))
    if (!f || f.length !== N) return false
    return (await m.feed(w.key).get(N - 1, { wait: false, valueEncoding: 'utf-8' })) === blocks(N / 2, 1024, 'new')[N / 2 - 1]
  }
  let t0 = Date.now()
  let s1b
  ;[s1, s1b] = pipe(a, b)
  const wire = countBytes(s1)
  const wireBack = countBytes(s1b)
  const old = await until(() => expected(b), 15000)
  const oldMs = since(t0, old)
  const oldBytes = wire.bytes + wireBack.bytes
  // a fresh peer that meets only b (which holds the new fork now)
  const c = await openMultifeed(s, { key })
  t0 = Date.now()
  const [s2] = pipe(c, b)
  const fresh = await until(() => expected(c), 15000)
  const freshMs = since(t0, fresh)
  let synced = false
  await Promise.race([c.synced().then(() => { synced = true }), sleep(2000)])
  s1.destroy()
  s2.destroy()
  log(`a writer of ${N} x 1 KB blocks truncates to ${N / 2} and appends ${N / 2} new blocks (a new fork at the same length)`)
  log(`a peer on the old fork reconnects: the new fork in full after ${secs(oldMs)} (${KB(oldBytes)} on the wire, both ways)`)
  log(`a fresh peer that meets only that peer: the new fork in full after ${secs(freshMs)}; synced(): ${synced ? 'resolved' : 'pending'}`)
  const problems = []
  if (old === null) problems.push('the peer on the old fork never got the new fork')
  if (fresh === null) problems.push('the fresh peer never got the new fork')
  if (!synced) problems.push('the fresh peer\'s synced() did not resolve')
  return {
    r: { blocks: N, oldMs, oldBytes, freshMs, synced },
    problems,
    row: [`5 truncation: ${N} x 1 KB, truncated to ${N / 2}, ${N / 2} new`, `old-fork peer: ${secs(oldMs)}; fresh peer via it: ${secs(freshMs)}, synced()`, '-', '-', KB(oldBytes)]
  }
}

async function closeDuringSync (s, log) {
  const rand = prng(SEED)
  const key = crypto.randomBytes(32)
  const a = await openMultifeed(s, { key })
  const writers = []
  for (let i = 0; i < 3; i++) {
    const w = await a.writer('w' + i)
    await w.append(blocks(100, 100, 'y'))
    writers.push(w)
  }
  let uploads = 0
  for (const w of writers) w.on('upload', () => { uploads++ })
  const t0 = Date.now()
  let over = 0
  let wrong = 0
  let behindIterations = 0
  let behindRecords = 0
  let records = 0
  let maxBehind = 0
  for (let i = 0; i < ITERATIONS; i++) {
    const dir = tmp()
    const m = new Multifeed(dir, { key })
    await m.ready()
    const at = 1 + rand(299)
    const start = uploads
    const [s1] = pipe(a, m)
    await until(() => uploads - start >= at, 5000, 1)
    await m.close()
    s1.destroy()
    const m2 = new Multifeed(dir, { key })
    await m2.ready()
    let behind = 0
    for (const r of m2.list()) {
      records++
      const feed = m2.feed(r.key)
      await feed.ready()
      if (r.length > feed.contiguousLength) over++
      if (r.length < feed.contiguousLength) { behind++; maxBehind = Math.max(maxBehind, feed.contiguousLength - r.length) }
      const now = m2.list().find((f) => f.key.equals(r.key))
      if (now.length !== feed.contiguousLength) wrong++
    }
    if (behind > 0) behindIterations++
    behindRecords += behind
    await m2.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
  const ms = Date.now() - t0
  const r = { iterations: ITERATIONS, records, behindIterations, behindRecords, maxBehind, over, wrong, ms, seed: SEED }
  log(`${ITERATIONS} iterations (seed ${SEED}): sync 3 feeds x 100 blocks, close() after a random 1-299 uploads, reopen, compare each record with its core (${secs(ms)})`)
  log(`a record behind its core (understated) in ${behindIterations} of ${ITERATIONS} iterations (${behindRecords} of ${records} records, by up to ${maxBehind} blocks); overstated: ${over}; a record not following its core once opened: ${wrong}`)
  const problems = []
  if (over > 0) problems.push(`${over} records overstated their core`)
  if (wrong > 0) problems.push(`${wrong} opened records did not follow their core`)
  if (behindRecords > 0) problems.push(`${behindRecords} records understated their core after a clean close`)
  return {
    r,
    problems,
    row: [`13 close during a sync (x${ITERATIONS})`, `understated in ${behindIterations}/${ITERATIONS}; overstated ${over}`, '-', '-', '-']
  }
}

// --- 14. remove during a download ---

async function removeDuringDownload (s, log) {
  const rand = prng(SEED + 1)
  const key = crypto.randomBytes(32)
  const a = await openMultifeed(s, { key })
  const w = await a.writer('big')
  const N = 200
  await w.append(blocks(N, 1000, 'z'))
  let uploads = 0
  w.on('upload', () => { uploads++ })
  const t0 = Date.now()
  let left = 0
  let dirty = 0
  let stuck = 0
  for (let i = 0; i < ITERATIONS; i++) {
    const dir = tmp()
    const m = new Multifeed(dir, { key })
    await m.ready()
    const at = 1 + rand(N - 1)
    const start = uploads
    const [s1, s2] = pipe(a, m)
    const mux = s1.noiseStream.userData
    await until(() => uploads - start >= at, 5000, 1)
    await m.remove(w.key)
    const stopped = await until(() => !w.peers.some((p) => p.protomux === mux) || uploads - start >= N, 2000, 1)
    if (stopped === null) stuck++
    s1.destroy()
    s2.destroy()
    await m.close()
    const store = new Corestore(dir)
    const core = store.get({ key: w.key })
    await core.ready()
    let stored = 0
    for (let b = 0; b < N; b++) if (await core.has(b)) stored++
    await core.close()
    await store.close()
    left += stored
    if (stored > 0) dirty++
    fs.rmSync(dir, { recursive: true, force: true })
  }
  const ms = Date.now() - t0
  const r = { iterations: ITERATIONS, left, dirty, stuck, ms, seed: SEED + 1 }
  log(`${ITERATIONS} iterations (seed ${SEED + 1}): download a ${N} x 1 KB feed, remove() it after a random 1-${N - 1} uploads, close, count its blocks in storage (${secs(ms)})`)
  log(`blocks left after remove: ${left} in all (${dirty} iterations with any); the uploader's channel did not close within 2 s in ${stuck}`)
  const problems = []
  if (left > 0) problems.push(`${left} blocks left after remove() in ${dirty} iterations`)
  return {
    r,
    problems,
    row: [`14 remove during a download (x${ITERATIONS})`, `blocks left: ${left}`, '-', '-', '-']
  }
}

const SCENARIOS = [
  ['1', 'lying lengths', lyingLengths],
  ['2', 'drip', drip],
  ['3', 'window starvation', starvation],
  ['4', 'stalling holder', stallingHolder],
  ['4b', 'stalling holder, honest peer in the same watchdog sweep', stallingHolderPhase],
  ['5', 'truncation', truncation],
  ['6', 'flood, forwarding, purge', flood],
  ['7', 'forced opening', forcedOpening],
  ['8', 'many connections', manyConnections],
  ['9', 'queued work behind a slow accept filter, on a stream of its own', queuedWork],
  ['9b', 'queued work behind a slow accept filter, on a shared connection', (s, log) => queuedWork(s, log, { shared: true })],
  ['10', 'honest first sync of 5,000 feeds', firstSync],
  ['13', 'close during a sync', closeDuringSync],
  ['14', 'remove during a download', removeDuringDownload]
]

function table (rows) {
  const head = ['scenario', 'convergence / outcome', 'victim peak rss (growth)', 'cores open at peak', 'wire']
  const all = [head, ...rows]
  const widths = head.map((_, i) => Math.max(...all.map((r) => String(r[i]).length)))
  const line = (r) => '| ' + r.map((x, i) => String(x).padEnd(widths[i])).join(' | ') + ' |'
  return [line(head), '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|', ...rows.map(line)].join('\n')
}

async function main () {
  const started = Date.now()
  const unhandled = []
  process.on('unhandledRejection', (err) => unhandled.push(err))
  const fp = fingerprint()
  console.log(`hyper-multifeed reliability: hostile members and broken peers (issue 11); node ${process.version}, ${os.cpus().length} x ${os.cpus()[0].model}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM, ${new Date().toISOString()}`)
  console.log(`commit ${fp.commit}${fp.dirty.length ? ' + uncommitted changes to ' + fp.dirty.join(', ') : ''}; dist/lib ${fp.dist}; hypercore ${require('hypercore/package.json').version}, corestore ${require('corestore/package.json').version}`)
  const results = []
  for (const [id, name, fn] of SCENARIOS) {
    if (ONLY !== null && !ONLY.includes(id)) continue
    console.log(`\n== ${id}. ${name}`)
    const s = scope()
    const t0 = Date.now()
    let out
    try {
      out = await fn(s, (line) => console.log('  ' + line))
    } catch (err) {
      console.log('  FAILED: ' + (err.remoteStack || err.stack))
      out = { r: null, problems: ['threw: ' + err.message], row: [id + ' ' + name, 'threw: ' + err.message, '-', '-', '-'] }
    }
    await s.release()
    out.ms = Date.now() - t0
    for (const p of out.problems) console.log('  PROBLEM: ' + p)
    console.log(`  (${secs(out.ms)})`)
    results.push({ id, name, ...out })
  }
  if (prepared) console.log(`\n(the 5,000-feed uploader of 7 and 10 was made once in ${secs(prepared.ms)})`)
  console.log('\n' + table(results.map((x) => x.row)))
  const problems = results.reduce((n, x) => n + x.problems.length, 0)
  const fp2 = fingerprint()
  if (fp2.dist !== fp.dist) console.log(`\nWARNING: dist/lib changed during the run (${fp.dist} -> ${fp2.dist}): the figures mix two builds`)
  console.log(`\nunhandled rejections: ${unhandled.length}`)
  for (const e of unhandled.slice(0, 5)) console.log('  ' + (e && e.stack))
  console.log(`total ${secs(Date.now() - started)}: ${problems + unhandled.length === 0 ? 'ok' : `${problems} problem(s)`}`)
  if (JSON_OUT) fs.writeFileSync(JSON_OUT, JSON.stringify(results, null, 2))
  fs.rmSync(ROOT, { recursive: true, force: true })
  process.exit(problems + unhandled.length === 0 ? 0 : 1)
}

main().catch((err) => {
  console.error(err)
  fs.rmSync(ROOT, { recursive: true, force: true })
  process.exit(1)
})
