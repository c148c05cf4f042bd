'use strict'
// Live growth (issue 13.3), shared by scenario-hmf-live.js and
// scenario-corestore-live.js: a writer appends one block at a time, each
// waiting until the reader has it; latency = append() called -> the reader
// sees the block (its available length reached it), wire bytes per append.
//
// A scenario supplies two sides (all times are m.now(), process.hrtime =
// CLOCK_MONOTONIC, one clock for every process on the machine, so the writer's
// and the reader's timestamps compare across the two TCP processes):
//
//   makeWriter(dir) -> { info, replicate(isInitiator) -> stream, append(buf) -> Promise, close() }
//     info: a JSON-able object the reader needs (keys, in hex); the writer
//     already holds --base blocks when the reader connects.
//   makeReader(dir, info) -> { replicate(isInitiator) -> stream, start(stream) -> Promise
//     (after connecting: until it holds the writer's first blocks, and takes
//     whatever it holds during the run), length() (blocks available to the
//     app now), watch(notify) (calls notify() whenever length() may have
//     grown; notify('poll') from a fallback timer, counted as detectedByPoll),
//     close() }
//
// runPipe(): both sides in one process over a counted pipe. runTcp(): the
// writer (--role server) and the reader (--role client) in two processes over
// 127.0.0.1; the parent relays "append i" to the writer and "tell me when you
// have L" to the reader (stdin/stdout JSON lines, lib/child.js), so the
// relay's own latency is outside the measured interval. Bytes are counted at
// the reader's end of the wire (both directions, after the Noise handshake)
// from just before the first measured append to `settleMs` after the last.
//
// Also the helpers of the "line" variant (a block crossing a line of peers):
// Arrivals, pipeLine, lineRounds.

const m = require('./measure')
const { pipeCounted, pipeCountedSocket } = require('./counter')
const tcp = require('./tcp')
const { spawnNode, parentMessages } = require('./child')

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

function percentile (xs, p) {
  if (!xs.length) return null
  const s = xs.slice().sort((a, b) => a - b)
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil(p / 100 * s.length) - 1))
  return s[i]
}

const r2 = (x) => Math.round(x * 100) / 100

function latencyStats (lat) {
  const mean = lat.reduce((a, b) => a + b, 0) / (lat.length || 1)
  return {
    p50Ms: r2(percentile(lat, 50)),
    p90Ms: r2(percentile(lat, 90)),
    p99Ms: r2(percentile(lat, 99)),
    maxMs: r2(Math.max(...lat)),
    meanMs: r2(mean)
  }
}

// Records the time at which each length was first seen. length(): what the
// side holds now; call check() whenever it may have grown. at(L) resolves with
// the time the side first held L blocks (even if asked later), or rejects
// after timeoutMs.
class Arrivals {
  constructor (length, { timeoutMs = 20000, what = 'block' } = {}) {
    this.length = length
    this.seen = 0
    this.times = new Map()
    this.waiters = []
    this.timeoutMs = timeoutMs
    this.what = what
    this.byVia = {} // how each growth was noticed: 'event', or 'poll' (a fallback timer)
    this.check()
  }

  // Returns true if the length grew since the last check.
  check (via = 'event') {
    const len = this.length()
    if (len <= this.seen) return false
    const t = m.now()
    this.byVia[via] = (this.byVia[via] || 0) + 1
    for (let l = this.seen + 1; l <= len; l++) this.times.set(l, t)
    this.seen = len
    this.waiters = this.waiters.filter((w) => {
      if (w.len > len) return true
      clearTimeout(w.timer)
      w.resolve(this.times.get(w.len))
      return false
    })
    return true
  }

  at (len) {
    if (this.seen >= len) return Promise.resolve(this.times.get(len) ?? 0)
    return new Promise((resolve, reject) => {
      const w = { len, resolve }
      w.timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w)
        reject(new Error(this.what + ' ' + len + ' did not arrive within ' + this.timeoutMs + ' ms (holds ' + this.length() + ')'))
      }, this.timeoutMs)
      this.waiters.push(w)
    })
  }
}

function block (i, size) {
  const b = Buffer.alloc(size, i & 0xff)
  b.writeUInt32LE(i, 0)
  return b
}

// The reader holds the writer's `base` first blocks; returns an Arrivals on it.
async function startReader (r, stream, base) {
  await r.start(stream)
  const arrivals = new Arrivals(() => r.length())
  r.watch((via) => arrivals.check(via))
  await arrivals.at(base)
  return arrivals
}

async function runPipe ({ makeWriter, makeReader, appends, size, base = 1, settleMs = 200 }) {
  const w = await makeWriter(m.tmpdir('hmf-bench-live-w-'))
  const r = await makeReader(m.tmpdir('hmf-bench-live-r-'), w.info)
  const s1 = w.replicate(true)
  const s2 = r.replicate(false)
  s1.on('error', () => {})
  s2.on('error', () => {})
  const counted = pipeCounted(s1, s2)
  const arrivals = await startReader(r, s2, base)
  await sleep(settleMs)
  m.gc()
  m.resetPeak()
  const snap = counted.snapshot()
  const lat = []
  const t0 = m.now()
  for (let i = 0; i < appends; i++) {
    const t = m.now()
    await w.append(block(i, size))
    lat.push((await arrivals.at(base + i + 1)) - t)
  }
  const timeMs = m.now() - t0
  await sleep(settleMs)
  const bytes = counted.since(snap)
  const peak = m.peakRss()
  s1.destroy(); s2.destroy()
  await Promise.all([w.close(), r.close()])
  return { transport: 'pipe', appends, size, timeMs: m.round(timeMs), ...latencyStats(lat), ...bytesFigures(bytes, appends), detectedByPoll: arrivals.byVia.poll || 0, peakRssMB: m.toMB(peak) }
}

// bytes: { ab: writer -> reader, ba: reader -> writer, total }
function bytesFigures (bytes, appends) {
  return { bytes: bytes.total, bytesPerAppend: m.round(bytes.total / appends), bytesWriterToReader: bytes.ab, bytesReaderToWriter: bytes.ba }
}

// --role server: the writer.
async function tcpWriter ({ makeWriter, size }) {
  const w = await makeWriter(m.tmpdir('hmf-bench-live-w-'))
  const { socket } = await tcp.listenOnce((port) => tcp.announce({ port, info: JSON.stringify(w.info) }))
  const repl = w.replicate(true)
  repl.on('error', () => {})
  pipeCountedSocket(socket, repl)
  const messages = parentMessages()
  while (true) {
    const msg = await messages.next()
    if (msg.eof || msg.done) break
    if (msg.append !== undefined) {
      const t0 = m.now()
      await w.append(block(msg.append, size))
      tcp.announce({ appended: msg.append, t0 })
    }
  }
  messages.close()
  repl.destroy(); socket.destroy()
  await w.close()
  return { role: 'server' }
}

// --role client --port N --info JSON: the reader.
async function tcpReader ({ makeReader, port, info, base = 1 }) {
  const r = await makeReader(m.tmpdir('hmf-bench-live-r-'), JSON.parse(info))
  const socket = await tcp.connect(port)
  const repl = r.replicate(false)
  repl.on('error', () => {})
  const counted = pipeCountedSocket(socket, repl)
  const arrivals = await startReader(r, repl, base)
  tcp.announce({ ready: true })
  const messages = parentMessages()
  let snap = null
  let result = null
  while (true) {
    const msg = await messages.next()
    if (msg.eof) break
    if (msg.mark) {
      m.gc()
      m.resetPeak()
      snap = counted.snapshot()
      tcp.announce({ marked: true })
    } else if (msg.until !== undefined) {
      tcp.announce({ have: msg.until, t: await arrivals.at(msg.until) })
    } else if (msg.done) {
      const since = counted.since(snap) // counted at the reader: ab = what it sent
      result = { role: 'client', since: { ab: since.ba, ba: since.ab, total: since.total }, detectedByPoll: arrivals.byVia.poll || 0, peakRssMB: m.toMB(m.peakRss()) }
      break
    }
  }
  messages.close()
  repl.destroy(); socket.destroy()
  await r.close()
  return result
}

async function next (child, what) {
  const line = await child.next()
  if (line.error) throw new Error(what + ': ' + line.error)
  return line
}

// The parent of a TCP run: `node script --role server ...args` and
// `node script --role client --port N --info JSON ...args`.
async function runTcp (script, args, o) {
  const { appends, base = 1, settleMs = 200 } = o
  const server = spawnNode(script, ['--role', 'server', ...args], { nodeArgs: ['--expose-gc'] })
  let client = null
  try {
    const hello = await next(server, 'writer')
    client = spawnNode(script, ['--role', 'client', ...args, '--port', hello.port, '--info', hello.info], { nodeArgs: ['--expose-gc'] })
    await next(client, 'reader')
    await sleep(settleMs)
    client.send({ mark: true })
    await next(client, 'reader')
    const lat = []
    const t0 = m.now()
    for (let i = 0; i < appends; i++) {
      client.send({ until: base + i + 1 })
      server.send({ append: i })
      const [a, h] = await Promise.all([next(server, 'writer'), next(client, 'reader')])
      lat.push(h.t - a.t0)
    }
    const timeMs = m.now() - t0
    await sleep(settleMs)
    client.send({ done: true })
    const res = await next(client, 'reader')
    server.send({ done: true })
    await next(server, 'writer')
    await Promise.all([client.exited, server.exited])
    return { transport: 'tcp', appends, size: o.size, timeMs: m.round(timeMs), ...latencyStats(lat), ...bytesFigures(res.since, appends), detectedByPoll: res.detectedByPoll, readerPeakRssMB: res.peakRssMB }
  } finally {
    server.kill()
    if (client) client.kill()
  }
}

// A live-growth scenario: pipe (one process) or --tcp (two), by --role.
function main (script, opts, sides, extra = {}) {
  const o = { ...sides, appends: opts.appends, size: opts.size }
  const args = ['--appends', opts.appends, '--size', opts.size, ...(sides.args || [])]
  return m.mainByRole(opts, {
    server: () => tcpWriter(o),
    client: () => tcpReader({ ...o, port: opts.port, info: opts.info }),
    tcp: async () => ({ ...extra, ...(await runTcp(script, args, o)) }),
    inProcess: async () => ({ ...extra, ...(await runPipe(o)) })
  })
}

// Connects nodes[i].replicate(true) to nodes[i+1].replicate(false) through
// counting pipes; returns { streams: [[right of 0], [left of 1, right of 1], ...], counters, destroy() }.
function pipeLine (nodes) {
  const streams = nodes.map(() => [])
  const counters = []
  const all = []
  for (let i = 0; i + 1 < nodes.length; i++) {
    const s1 = nodes[i].replicate(true)
    const s2 = nodes[i + 1].replicate(false)
    s1.on('error', () => {})
    s2.on('error', () => {})
    counters.push(pipeCounted(s1, s2))
    streams[i].push(s1)
    streams[i + 1].push(s2)
    all.push(s1, s2)
  }
  return {
    streams,
    counters,
    bytes: () => counters.reduce((sum, c) => sum + c.snapshot().total, 0),
    destroy: () => { for (const s of all) s.destroy() }
  }
}

// Rounds of "write at node 0, time until every node down the line holds it".
// round(r) does the write and resolves { t0, times } (times[i]: when node i+1
// held it). Returns the medians over rounds: timeMs (node 0 -> last node),
// perHopMs (that / hops), hopMs (each hop's median, as a string).
async function lineRounds (rounds, round, { gapMs = 100 } = {}) {
  const totals = []
  const hops = []
  for (let r = 0; r < rounds; r++) {
    const { t0, times } = await round(r)
    totals.push(times[times.length - 1] - t0)
    times.forEach((t, i) => (hops[i] = hops[i] || []).push(t - (i ? times[i - 1] : t0)))
    await sleep(gapMs)
  }
  const total = percentile(totals, 50)
  return {
    hops: hops.length,
    rounds,
    timeMs: r2(total),
    perHopMs: r2(total / hops.length),
    maxTimeMs: r2(Math.max(...totals)),
    hopMs: hops.map((h) => r2(percentile(h, 50))).join(' ')
  }
}

module.exports = { Arrivals, percentile, latencyStats, block, runPipe, runTcp, tcpWriter, tcpReader, main, pipeLine, lineRounds, sleep }
