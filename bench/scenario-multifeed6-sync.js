'use strict'
// Baseline (b): first sync with the old multifeed@6.0.0 (hypercore 9).
//
// Multifeed A has --feeds writers with --blocks blocks of --size bytes each;
// multifeed B is empty; A<->B replicate; done when B has --feeds feeds each of
// length --blocks fully downloaded. timeMs = replicate start -> done.
//
//   node bench/scenario-multifeed6-sync.js [--feeds 1000] [--blocks 10] [--size 100]
//        [--storage disk|ram] [--tcp]
//
// multifeed 6 lives in its own install: bench/multifeed6 (npm --prefix bench/multifeed6 ci).
// --storage disk (default): random-access-file under a tmp dir, like-for-like with
// corestore/hyper-multifeed on disk; ram: random-access-memory.
// NB: the shared key is passed as `encryptionKey`: multifeed 6 forwards its
// opts to hypercore 9, which takes the legacy `key` option as every writer's
// own public key (writers then fail with "This feed is not writable").

const path = require('path')
const crypto = require('crypto')
const m = require('./lib/measure')
const { round } = m
const { pipeCounted, pipeCountedSocket } = require('./lib/counter')
const tcp = require('./lib/tcp')

const MF6 = path.join(__dirname, 'multifeed6', 'node_modules')
let multifeed, ram
try {
  multifeed = require(path.join(MF6, 'multifeed'))
  ram = require(path.join(MF6, 'random-access-memory'))
} catch (err) {
  m.emit({ error: 'multifeed 6 not installed: run `npm --prefix bench/multifeed6 ci` (' + err.message + ')' })
  process.exit(1)
}

const opts = m.args({ feeds: 1000, blocks: 10, size: 100, storage: 'disk', tcp: false, role: null, key: null })

const p = (fn) => new Promise((resolve, reject) => fn((err, val) => err ? reject(err) : resolve(val)))

function storage (label) {
  if (opts.storage === 'ram') return ram
  return m.tmpdir('hmf-bench-mf6-' + label + '-')
}

async function open (label, encryptionKey) {
  const mf = multifeed(storage(label), { encryptionKey })
  mf.on('error', (err) => { console.error('multifeed error', err) })
  await p((cb) => mf.ready(cb))
  return mf
}

async function createWriters (mf) {
  const t0 = m.now()
  const blocks = []
  for (let j = 0; j < opts.blocks; j++) blocks.push(Buffer.alloc(opts.size, j & 0xff))
  // multifeed 6 serialises writer creation with a lock, so create sequentially
  for (let i = 0; i < opts.feeds; i++) {
    const w = await p((cb) => mf.writer('w' + i, cb))
    await p((cb) => w.append(blocks, cb))
  }
  return m.now() - t0
}

function isSynced (mf) {
  const feeds = mf.feeds()
  if (feeds.length < opts.feeds) return false
  let n = 0
  for (const f of feeds) {
    if (f.length >= opts.blocks && f.has(0, opts.blocks)) n++
  }
  return n >= opts.feeds
}

async function inProcess () {
  const encryptionKey = crypto.randomBytes(32)
  const a = await open('a', encryptionKey)
  const setupMs = await createWriters(a)
  const b = await open('b', encryptionKey)
  const setupPeak = m.peakRss()
  m.gc()
  const rssBefore = m.rss()
  m.resetPeak()

  const t0 = m.now()
  const s1 = a.replicate(true, { live: true })
  const s2 = b.replicate(false, { live: true })
  s1.on('error', () => {}); s2.on('error', () => {})
  const counted = pipeCounted(s1, s2, { framing: 'none' })
  await m.waitFor(() => isSynced(b), { intervalMs: 10, what: 'multifeed 6 sync' })
  const timeMs = m.now() - t0
  const peak = m.peakRss()
  const summary = counted.summary()

  s1.destroy(); s2.destroy()
  await p((cb) => a.close(cb)).catch(() => {})
  await p((cb) => b.close(cb)).catch(() => {})
  return {
    scenario: 'multifeed6-sync',
    transport: 'pipe',
    storage: opts.storage,
    feeds: opts.feeds,
    blocks: opts.blocks,
    size: opts.size,
    timeMs: round(timeMs),
    peakRssMB: m.toMB(peak),
    peakGrowthMB: m.toMB(peak - rssBefore),
    processPeakRssMB: m.toMB(Math.max(peak, setupPeak)),
    setupMs: round(setupMs),
    bytes: summary.bytes,
    bytesAToB: summary.bytesAToB,
    bytesBToA: summary.bytesBToA
  }
}

async function server () {
  const encryptionKey = crypto.randomBytes(32)
  const a = await open('a', encryptionKey)
  const setupMs = await createWriters(a)
  const { socket } = await tcp.listenOnce((port) => tcp.announce({ port, key: encryptionKey.toString('hex') }))
  m.resetPeak()
  const repl = a.replicate(true, { live: true })
  repl.on('error', () => {}); socket.on('error', () => {})
  const counted = pipeCountedSocket(socket, repl, { framing: 'none' })
  await tcp.waitParentDone()
  const peak = m.peakRss()
  const s = counted.summary()
  repl.destroy(); socket.destroy()
  await p((cb) => a.close(cb)).catch(() => {})
  return { role: 'server', peakRssMB: m.toMB(peak), setupMs: round(setupMs), bytesSent: s.bytesAToB, bytesReceived: s.bytesBToA }
}

async function client () {
  const b = await open('b', Buffer.from(String(opts.key), 'hex'))
  m.gc()
  const rssBefore = m.rss()
  m.resetPeak()
  const t0 = m.now()
  const socket = await tcp.connect(opts.port)
  const repl = b.replicate(false, { live: true })
  repl.on('error', () => {}); socket.on('error', () => {})
  const counted = pipeCountedSocket(socket, repl, { framing: 'none' })
  await m.waitFor(() => isSynced(b), { intervalMs: 10, what: 'multifeed 6 sync' })
  const timeMs = m.now() - t0
  const peak = m.peakRss()
  const s = counted.summary()
  repl.destroy(); socket.destroy()
  await p((cb) => b.close(cb)).catch(() => {})
  return { role: 'client', timeMs: round(timeMs), peakRssMB: m.toMB(peak), peakGrowthMB: m.toMB(peak - rssBefore), bytesSent: s.bytesAToB, bytesReceived: s.bytesBToA }
}

function tcpParent () {
  const args = ['--feeds', opts.feeds, '--blocks', opts.blocks, '--size', opts.size, '--storage', opts.storage]
  return tcp.runTcpSync(__filename, 'multifeed6-sync', args, () => ({
    storage: opts.storage, feeds: opts.feeds, blocks: opts.blocks, size: opts.size
  }))
}

m.mainByRole(opts, { server, client, tcp: tcpParent, inProcess })
