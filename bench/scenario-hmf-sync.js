'use strict'
// hyper-multifeed (1): first sync, same shape as scenario-corestore-sync.js.
//
// Multifeed A has --feeds writers (created through writer(), sessions kept
// open like the baseline's cores) with --blocks blocks of --size bytes each;
// multifeed B is empty and only knows the shared key. A<->B replicate; done
// when b.synced() resolves AND b.list() shows all --feeds feeds at length
// --blocks. timeMs = replicate() -> done. B discovers the feeds itself (the
// feed exchange), unlike the baseline whose reader opened every core by key
// before the clock started. Peak RSS: VmHWM reset after setup (both peers in
// one process).
//
//   node bench/scenario-hmf-sync.js [--feeds 1000] [--blocks 10] [--size 100] [--tcp] [--profile FILE]
//
// --tcp: A (uploader, --role server) and B (downloader, --role client) in two
// processes over 127.0.0.1, via lib/tcp.js runTcpPair; timeMs is measured by
// the downloader from connect() to done.

const m = require('./lib/measure')
const { pipeCounted, pipeCountedSocket } = require('./lib/counter')
const tcp = require('./lib/tcp')
const hmf = require('./lib/hmf')
const { profiler } = require('./lib/profile')

const Multifeed = hmf.load()
const opts = m.args({ feeds: 1000, blocks: 10, size: 100, tcp: false, role: null, port: 0, mfkey: '', profile: '' })
const prof = profiler(opts.profile) // --profile FILE: CPU profile of the measured phase (pipe, or the downloader over TCP)
const round = hmf.round

async function createWriterSide (dir) {
  const t0 = m.now()
  const a = new Multifeed(dir)
  await a.ready()
  const writers = await hmf.addWriters(a, opts.feeds, { blocks: opts.blocks, size: opts.size, keepOpen: true })
  return { a, writers, setupMs: m.now() - t0 }
}

async function openReaderSide (dir, key) {
  const t0 = m.now()
  const b = new Multifeed(dir, { key })
  await b.ready()
  return { b, openMs: m.now() - t0 }
}

// b.synced() plus a check of what B actually holds.
async function done (b) {
  await b.synced()
  const list = b.list()
  const full = list.filter((f) => f.length >= opts.blocks).length
  if (list.length !== opts.feeds || full !== opts.feeds) {
    throw new Error('synced() resolved but B has ' + list.length + ' feeds, ' + full + ' at length ' + opts.blocks)
  }
}

async function verifyBlock (b) {
  const last = b.list()[opts.feeds - 1]
  const blk = await b.feed(last.key).get(opts.blocks - 1)
  if (!blk || blk.length !== opts.size) throw new Error('bad block')
}

async function inProcess () {
  const { a, setupMs } = await createWriterSide(m.tmpdir('hmf-bench-sync-a-'))
  const { b, openMs } = await openReaderSide(m.tmpdir('hmf-bench-sync-b-'), a.key)
  const setupPeak = m.peakRss()
  m.gc()
  const rssBefore = m.rss()
  m.resetPeak()
  await prof.start()

  const t0 = m.now()
  const s1 = a.replicate(true)
  const s2 = b.replicate(false)
  const counted = pipeCounted(s1, s2)
  let exchangeDoneMs = null
  s2.once('remote-feeds', () => { exchangeDoneMs = m.now() - t0 })
  await Promise.race([done(b), hmf.failOnError(s1, s2)])
  const timeMs = m.now() - t0
  await prof.stop()
  const peak = m.peakRss()
  const summary = counted.summary()
  const ex = hmf.exchangeSummary(b)
  const openFeedsB = b.openFeeds

  await verifyBlock(b)
  s1.destroy(); s2.destroy()
  await Promise.all([a.close(), b.close()])
  return {
    scenario: 'hmf-sync',
    transport: 'pipe',
    feeds: opts.feeds,
    blocks: opts.blocks,
    size: opts.size,
    timeMs: round(timeMs),
    peakRssMB: m.toMB(peak),
    peakGrowthMB: m.toMB(peak - rssBefore),
    processPeakRssMB: m.toMB(Math.max(peak, setupPeak)),
    exchangeDoneMs: round(exchangeDoneMs), // replicate() -> B's first 'remote-feeds' (feed list learned, downloads begun)
    setupMs: round(setupMs),
    openMs: round(openMs),
    openFeedsB,
    ...ex,
    ...summary
  }
}

async function server () {
  const { a, setupMs } = await createWriterSide(m.tmpdir('hmf-bench-sync-a-'))
  const { socket } = await tcp.listenOnce((port) => tcp.announce({ port, mfkey: a.key.toString('hex') }))
  m.resetPeak()
  const repl = a.replicate(true)
  repl.on('error', () => {}) // the client hangs up at the end
  const counted = pipeCountedSocket(socket, repl)
  await tcp.waitParentDone()
  const peak = m.peakRss()
  const summary = counted.summary()
  const ex = hmf.exchangeSummary(a)
  repl.destroy(); socket.destroy()
  await a.close()
  return { role: 'server', peakRssMB: m.toMB(peak), setupMs: round(setupMs), bytesSent: summary.bytesAToB, bytesReceived: summary.bytesBToA, exchangeBytes: ex.exchangeBytes }
}

async function client () {
  const { b, openMs } = await openReaderSide(m.tmpdir('hmf-bench-sync-b-'), Buffer.from(opts.mfkey, 'hex'))
  m.gc()
  const rssBefore = m.rss()
  m.resetPeak()
  await prof.start()
  const t0 = m.now()
  const socket = await tcp.connect(opts.port)
  const repl = b.replicate(false)
  const counted = pipeCountedSocket(socket, repl)
  let exchangeDoneMs = null
  repl.once('remote-feeds', () => { exchangeDoneMs = m.now() - t0 })
  await Promise.race([done(b), hmf.failOnError(repl)])
  const timeMs = m.now() - t0
  await prof.stop()
  const peak = m.peakRss()
  const summary = counted.summary()
  const ex = hmf.exchangeSummary(b)
  await verifyBlock(b)
  repl.destroy(); socket.destroy()
  await b.close()
  return { role: 'client', timeMs: round(timeMs), exchangeDoneMs: round(exchangeDoneMs), peakRssMB: m.toMB(peak), peakGrowthMB: m.toMB(peak - rssBefore), openMs: round(openMs), bytesSent: summary.bytesAToB, bytesReceived: summary.bytesBToA, ...ex }
}

function tcpParent () {
  const args = ['--feeds', opts.feeds, '--blocks', opts.blocks, '--size', opts.size]
  if (opts.profile) args.push('--profile', opts.profile)
  return tcp.runTcpSync(__filename, 'hmf-sync', args, (server, client) => ({
    feeds: opts.feeds,
    blocks: opts.blocks,
    size: opts.size,
    peakGrowthMB: client.peakGrowthMB,
    exchangeDoneMs: client.exchangeDoneMs,
    mode: client.mode,
    exchangeBytes: client.exchangeBytes,
    openMs: client.openMs
  }))
}

m.mainByRole(opts, { server, client, tcp: tcpParent, inProcess })
