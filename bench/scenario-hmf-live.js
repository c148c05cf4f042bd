'use strict'
// hyper-multifeed (issue 13.3): live growth, same shape as
// scenario-corestore-live.js.
//
// Multifeed A has a writer with one block; multifeed B (same key) starts
// empty. A<->B replicate; once B has the writer's first block, A appends
// --appends blocks of --size bytes one at a time, each waiting until B has
// it. Prints p50Ms (also p90Ms, p99Ms, meanMs, maxMs) of append() called ->
// block available at B, and bytesPerAppend (wire bytes both directions after
// the handshake, from before the first append to 200 ms after the last, /
// appends). See lib/live.js.
//
// --hold: what B's app holds of the writer's feed during the run:
//   feed    b.feed(key) (the shared session) stays open; "available" = its
//           contiguousLength ('download' events)
//   stream  a live b.createReadStream({ live: true }); "available" = blocks
//           the stream delivered
//   none    nothing: "available" = the feed's length in b.list() (checked on
//           'synced', on the 'download' of the cores the connection opens
//           ('remote-feeds'), and every 2 ms as a fallback: detectedByPoll
//           counts the blocks only the fallback noticed)
//
//   node bench/scenario-hmf-live.js [--appends 500] [--size 100] [--hold feed|stream|none] [--tcp]
//   node bench/scenario-hmf-live.js --line 7 [--rounds 10]
//
// --tcp: writer and reader in two processes over 127.0.0.1.
// --line n: n multifeeds (same key, a Corestore each) piped in a line (one
// process), synced and holding nothing. Each of --rounds rounds creates a new
// writer at the first (not timed: writerMs), appends one block and times
// until every multifeed lists the feed at length 1 (detected as with
// --hold none). Prints timeMs (first -> last, median over rounds), perHopMs
// (that / (n - 1)), hopMs (each hop's median).

const m = require('./lib/measure')
const hmf = require('./lib/hmf')
const live = require('./lib/live')

const Multifeed = hmf.load()
const opts = m.args({ appends: 500, size: 100, hold: 'none', tcp: false, role: null, port: 0, info: '', line: 0, rounds: 10 })
if (!['feed', 'stream', 'none'].includes(opts.hold)) throw new Error('--hold feed|stream|none')

// The length multi's list() shows for the feed `hex` (0 if not listed).
function listedLength (multi, hex) {
  for (const f of multi.list()) if (f.key.toString('hex') === hex) return f.length
  return 0
}

// Calls notify() whenever a feed of multi may have grown, without holding any
// core: on 'synced', on 'download'/'append' of the cores the connections open
// ('remote-feeds' of each stream), and notify('poll') every 2 ms.
function watchList (multi, streams, notify) {
  multi.on('synced', () => notify())
  multi.on('exchange', () => notify()) // growth that came over Hypercore without an announcement (README)
  for (const s of streams) {
    s.on('remote-feeds', (cores) => {
      for (const core of cores) {
        core.on('download', () => notify())
        core.on('append', () => notify())
      }
      notify()
    })
  }
  const timer = setInterval(() => notify('poll'), 2)
  return () => clearInterval(timer)
}

async function makeWriter (dir) {
  const a = new Multifeed(dir)
  await a.ready()
  const w = await a.writer('live')
  await w.append(Buffer.alloc(opts.size, 0xaa))
  return {
    info: { mfkey: a.key.toString('hex'), feed: w.key.toString('hex') },
    replicate: (isInitiator) => a.replicate(isInitiator),
    append: (buf) => w.append(buf),
    close: () => a.close()
  }
}

async function makeReader (dir, info) {
  const b = new Multifeed(dir, { key: Buffer.from(info.mfkey, 'hex') })
  await b.ready()
  let length = () => 0
  let watch = null
  let stop = () => {}
  return {
    replicate: (isInitiator) => b.replicate(isInitiator),
    async start (stream) {
      if (opts.hold === 'feed') {
        await b.synced()
        const feed = b.feed(info.feed)
        if (!feed) throw new Error('B does not list the writer\'s feed after synced()')
        await feed.ready()
        length = () => feed.contiguousLength
        watch = (notify) => { feed.on('download', () => notify()); feed.on('append', () => notify()) }
      } else if (opts.hold === 'stream') {
        let delivered = 0
        const notifiers = []
        const rs = b.createReadStream({ live: true })
        rs.on('data', ({ key, seq }) => {
          if (key.toString('hex') !== info.feed) return
          delivered = Math.max(delivered, seq + 1)
          for (const n of notifiers) n()
        })
        rs.on('error', () => {})
        length = () => delivered
        watch = (notify) => notifiers.push(notify)
        stop = () => rs.destroy()
      } else {
        length = () => listedLength(b, info.feed)
        watch = (notify) => { stop = watchList(b, [stream], notify) }
      }
    },
    length: () => length(),
    watch: (notify) => watch(notify),
    async close () { stop(); await b.close() }
  }
}

async function line () {
  const n = opts.line
  const nodes = [new Multifeed(m.tmpdir('hmf-bench-line-'))]
  await nodes[0].ready()
  for (let i = 1; i < n; i++) nodes.push(new Multifeed(m.tmpdir('hmf-bench-line-'), { key: nodes[0].key }))
  await Promise.all(nodes.map((x) => x.ready()))
  const net = live.pipeLine(nodes)
  await Promise.race([Promise.all(nodes.map((x) => x.synced())), hmf.failOnError(...net.streams.flat())])
  // what each node lists of the round's feed
  let hex = null
  const arrivals = []
  const stops = []
  for (let i = 1; i < n; i++) {
    const a = new live.Arrivals(() => hex === null ? 0 : listedLength(nodes[i], hex), { what: 'node ' + i + ': the new feed at length' })
    stops.push(watchList(nodes[i], net.streams[i], (via) => a.check(via)))
    arrivals.push(a)
  }
  const writerMs = []
  const bytes0 = net.bytes()
  const res = await live.lineRounds(opts.rounds, async (r) => {
    const t = m.now()
    const w = await nodes[0].writer('round-' + r)
    writerMs.push(m.now() - t)
    for (const a of arrivals) { a.seen = 0; a.times.clear() } // a new feed: lengths start over
    hex = w.key.toString('hex')
    const t0 = m.now()
    await w.append(live.block(r, opts.size))
    const times = await Promise.all(arrivals.map((a) => a.at(1)))
    await w.close() // the app is done with it; the feed stays in the multifeed
    return { t0, times }
  })
  const bytesPerRound = Math.round((net.bytes() - bytes0) / opts.rounds)
  const detectedByPoll = arrivals.reduce((s, a) => s + (a.byVia.poll || 0), 0)
  for (const stop of stops) stop()
  net.destroy()
  await Promise.all(nodes.map((x) => x.close()))
  return { scenario: 'hmf-live-line', nodes: n, ...res, bytesPerRound, writerMs: Math.round(live.percentile(writerMs, 50) * 100) / 100, detectedByPoll }
}

if (opts.line) m.main(line)
else live.main(__filename, opts, { makeWriter, makeReader, args: ['--hold', opts.hold] }, { scenario: 'hmf-live', hold: opts.hold })
