// The victim of test/reliability/hostile.js, alone in its own process so its memory figures are its own.
// One Multifeed on a directory; the parent drives it over IPC (request/response by id): it connects out over
// TCP to the peers the parent runs (each connection named by a tag), and reports what it sees: peak rss,
// feed cores open (multifeed.openFeeds) and cores corestore holds, bytes on each socket, events with their
// wall-clock times (the parent compares them with its own Date.now(): one machine, one clock).
'use strict'
const net = require('net')
const NoiseSecretStream = require('@hyperswarm/secret-stream')
const Multifeed = require('../..')

let m = null
const conns = new Map() // tag -> { socket, stream, ex, bytes, closed: { at, code } | null }
const events = { stalled: [], refused: [], closes: [], synced: [] }
let peak = null
let acceptGate = null // scenario 9: a slow accept filter, released by the parent
let acceptCalls = 0

function sample () {
  const rss = process.memoryUsage.rss()
  const open = m ? m.openFeeds : 0
  const cores = m ? m.store.cores.size : 0
  if (peak === null) peak = { rss, open, cores, rssAt: Date.now() }
  if (rss > peak.rss) { peak.rss = rss; peak.rssAt = Date.now() }
  if (open > peak.open) peak.open = open
  if (cores > peak.cores) peak.cores = cores
  return { rss, open, cores }
}
setInterval(sample, 10).unref()

function snapshot () {
  const now = sample()
  const u = process.memoryUsage()
  return {
    at: Date.now(),
    rss: now.rss,
    heapUsed: u.heapUsed,
    external: u.external,
    arrayBuffers: u.arrayBuffers,
    openFeeds: now.open,
    cores: now.cores,
    peak: { ...peak },
    size: m ? m.size : 0,
    isSynced: m ? m.isSynced() : null,
    stalled: events.stalled.length,
    refused: events.refused.reduce((n, r) => n + r.count, 0),
    acceptCalls,
    conns: Object.fromEntries([...conns].map(([tag, c]) => [tag, {
      read: c.socket.bytesRead,
      written: c.socket.bytesWritten,
      phase: c.ex ? c.ex.phase : null,
      mode: c.ex ? c.ex.mode : null,
      pending: c.ex ? c.ex.pending.size : 0,
      remote: c.ex ? c.ex.remote.size : 0,
      stalled: c.ex ? c.ex.stalled.size : 0,
      downloads: c.ex && c.ex.transfers ? c.ex.transfers.downloads.size : 0,
      queued: c.ex && c.ex.transfers ? c.ex.transfers.queued.size : 0,
      feedsKept: c.ex && c.ex.transfers ? c.ex.transfers.feeds.size : 0,
      queuedBytes: c.ex ? c.ex.queuedBytes || 0 : 0, // the exchange's received, unprocessed bytes
      streamBuffered: (c.stream._readableState && c.stream._readableState.buffered) || 0, // in the replication stream, not yet read by protomux
      streamWriteBuffered: (c.stream._writableState && c.stream._writableState.buffered) || 0, // written into it by the socket, not yet decrypted
      socketBuffered: c.socket.readableLength,
      noiseBuffered: (c.stream.noiseStream && c.stream.noiseStream._readableState && c.stream.noiseStream._readableState.buffered) || 0, // decrypted, not yet read by protomux
      paused: c.ex ? !!c.ex.paused : false,
      refused: events.refused.filter((r) => r.tag === tag).reduce((n, r) => n + r.count, 0),
      blocksDownloaded: c.ex ? c.ex.stats.blocksDownloaded : 0,
      blocksUploaded: c.ex ? c.ex.stats.blocksUploaded : 0,
      closed: c.closed
    }]))
  }
}

const tagOf = (ex) => { for (const [tag, c] of conns) if (c.ex === ex) return tag; return null }
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

// Polls `fn` every `every` ms until truthy or `ms` passed: the wall-clock time it became true, or null.
async function poll (fn, ms, every = 10) {
  const end = Date.now() + ms
  for (;;) {
    if (fn()) return Date.now()
    if (Date.now() > end) return null
    await sleep(every)
  }
}

const commands = {
  async init ({ dir, key, opts = {}, gate = false, writers = 0, writerBlocks = 1 }) {
    const o = { key, ...opts }
    if (gate) {
      let release
      acceptGate = { promise: new Promise((resolve) => { release = resolve }), release: () => release() }
      o.accept = async () => { acceptCalls++; await acceptGate.promise; return true }
    }
    m = new Multifeed(dir, o)
    await m.ready()
    m.on('stalled', (key, ex) => events.stalled.push({ at: Date.now(), key: key.toString('hex'), tag: tagOf(ex) }))
    m.on('refused', (count, ex) => events.refused.push({ at: Date.now(), count, tag: tagOf(ex) }))
    m.on('synced', () => events.synced.push(Date.now()))
    m.on('exchange-close', (ex, err) => {
      const tag = tagOf(ex)
      const c = conns.get(tag)
      if (c && !c.closed) c.closed = { at: Date.now(), code: err ? err.code : null }
      events.closes.push({ at: Date.now(), tag, code: err ? err.code : null })
    })
    // writers of one block each, made here (a setup step: the figures are taken after it)
    for (let i = 0; i < writers; i += 100) {
      await Promise.all(Array.from({ length: Math.min(100, writers - i) }, async (_, j) => {
        const w = await m.writer('w' + (i + j))
        const blocks = []
        for (let b = 0; b < writerBlocks; b++) blocks.push('writer ' + (i + j) + ' block ' + b)
        await w.append(blocks)
        await w.close()
      }))
    }
    return { key: m.key.toString('hex'), size: m.size }
  },

  async writer ({ name, blocks }) {
    const w = await m.writer(name)
    await w.append(blocks)
    return { key: w.key.toString('hex'), length: w.length }
  },

  // Connects out to a peer of the parent; the victim is the initiator of the replication stream.
  // `shared`: as Hyperswarm hands out a connection, a Noise stream over the socket that the multifeed
  // replicates on without owning it (m.replicate(stream)); otherwise a stream of the multifeed's own
  // (m.replicate(true)) piped to the socket.
  async connect ({ tag, port, shared = false }) {
    const socket = net.connect(port, '127.0.0.1')
    socket.setNoDelay(true)
    await new Promise((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
    let stream
    if (shared) {
      stream = new NoiseSecretStream(true, socket)
      m.replicate(stream)
    } else {
      stream = m.replicate(true)
      socket.pipe(stream).pipe(socket)
    }
    const c = { socket, stream, ex: null, closed: null }
    stream.on('error', () => {})
    socket.on('error', () => {})
    stream.once('close', () => socket.destroy())
    socket.once('close', () => stream.destroy())
    c.ex = m.connections.find((ex) => ex.stream === stream) || null
    conns.set(tag, c)
    return { at: Date.now() }
  },

  async disconnect ({ tag }) {
    const c = conns.get(tag)
    if (!c) return null
    c.stream.destroy()
    c.socket.destroy()
    await poll(() => c.ex === null || c.ex.closed, 5000)
    return { at: Date.now() }
  },

  // Resets the peaks: the figures that follow are from here on.
  async mark ({ gc = false } = {}) {
    if (gc && global.gc) { global.gc(); await sleep(50); global.gc() }
    peak = null
    return snapshot()
  },

  async snapshot ({ gc = false } = {}) {
    if (gc && global.gc) { global.gc(); await sleep(50); global.gc() }
    return snapshot()
  },

  async synced ({ ms = 60000 } = {}) {
    let timer
    const at = await Promise.race([
      m.synced().then(() => Date.now()),
      new Promise((resolve) => { timer = setTimeout(() => resolve(null), ms) })
    ])
    clearTimeout(timer)
    return { at }
  },

  // When our record of `key` reached `length` (the honest data arrived), or null after `ms`.
  async waitLength ({ keys, length, ms = 30000 }) {
    const want = new Set(keys)
    const at = await poll(() => {
      let n = 0
      for (const f of m.list()) if (want.has(f.key.toString('hex')) && f.length >= length) n++
      return n === want.size
    }, ms, 20)
    return { at }
  },

  async waitClose ({ tag, ms = 30000 }) {
    const c = conns.get(tag)
    const at = await poll(() => c.closed !== null, ms)
    return { at, closed: c.closed }
  },

  async waitPhase ({ tag, phase, refused = null, ms = 60000 }) {
    const c = conns.get(tag)
    const at = await poll(() => c.ex && c.ex.phase === phase && (refused === null || snapshot().refused >= refused), ms, 20)
    return { at }
  },

  async waitSize ({ size, ms = 60000 }) {
    return { at: await poll(() => m.size >= size, ms, 20) }
  },

  async waitBytes ({ tag, read, ms = 60000 }) {
    const c = conns.get(tag)
    return { at: await poll(() => c.socket.bytesRead >= read, ms, 20) }
  },

  async waitOpen ({ open, ms = 60000 }) {
    return { at: await poll(() => m.openFeeds >= open, ms, 20) }
  },

  async stalledTimes () {
    return events.stalled.map((s) => ({ at: s.at, key: s.key, tag: s.tag }))
  },

  async closes () {
    return events.closes
  },

  async has ({ keys }) {
    const set = new Set(m.list().map((f) => f.key.toString('hex')))
    return { count: keys.filter((k) => set.has(k)).length }
  },

  async lengths ({ keys }) {
    const byKey = new Map(m.list().map((f) => [f.key.toString('hex'), f.length]))
    return keys.map((k) => byKey.has(k) ? byKey.get(k) : null)
  },

  async purge ({ tag }) {
    const c = conns.get(tag)
    const t0 = Date.now()
    const removed = await m.purge({ introducedBy: c.ex })
    return { removed, ms: Date.now() - t0, size: m.size, openFeeds: m.openFeeds }
  },

  async releaseAccept () {
    if (acceptGate) acceptGate.release()
    return { at: Date.now() }
  },

  async close () {
    for (const c of conns.values()) { c.stream.destroy(); c.socket.destroy() }
    const t0 = Date.now()
    if (m) await m.close()
    return { ms: Date.now() - t0 }
  }
}

process.on('message', async ({ id, cmd, args }) => {
  try {
    const result = await commands[cmd](args || {})
    process.send({ id, result })
    if (cmd === 'close') setImmediate(() => process.exit(0))
  } catch (err) {
    process.send({ id, error: { message: err.message, code: err.code, stack: err.stack } })
  }
})
process.on('disconnect', () => process.exit(0))
process.send({ ready: true })
