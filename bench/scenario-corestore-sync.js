'use strict'
// Baseline (a): first sync with raw corestore 7 — the floor.
//
// Store A creates --feeds cores by name and appends --blocks blocks of --size
// bytes to each; store B opens the same cores by key (all keys known in
// advance); A<->B replicate, B calls core.download() on every core and we
// wait until every core on B has contiguousLength === --blocks.
// timeMs = replicate start -> done. Peak RSS is measured for the sync phase
// only (VmHWM reset after setup) and for the whole process.
//
//   node bench/scenario-corestore-sync.js [--feeds 1000] [--blocks 10] [--size 100] [--tcp] [--close-writers] [--profile FILE]
//
// --tcp: A and B live in two child processes connected over 127.0.0.1.

const path = require('path')
const fs = require('fs')
const Corestore = require('corestore')
const m = require('./lib/measure')
const { round } = m
const { pipeCounted, pipeCountedSocket } = require('./lib/counter')
const tcp = require('./lib/tcp')
const { profiler } = require('./lib/profile')

const opts = m.args({ feeds: 1000, blocks: 10, size: 100, tcp: false, role: null, profile: '', closeWriters: false })
const prof = profiler(opts.profile) // --profile FILE: CPU profile of the measured phase (pipe only)

async function createWriterStore (dir) {
  const t0 = m.now()
  const store = new Corestore(dir)
  const cores = []
  for (let i = 0; i < opts.feeds; i++) cores.push(store.get({ name: 'feed-' + i }))
  await Promise.all(cores.map((c) => c.ready()))
  const blocks = []
  for (let j = 0; j < opts.blocks; j++) blocks.push(Buffer.alloc(opts.size, j & 0xff))
  await Promise.all(cores.map((c) => c.append(blocks)))
  if (!opts.closeWriters) return { store, cores, setupMs: m.now() - t0 }
  // --close-writers: A holds no core at the sync (a fresh Corestore on the same folder opens each
  // stored core when B asks for it), as a multifeed's writers closed by the app
  const keys = cores.map((c) => c.key)
  await store.close()
  const reopened = new Corestore(dir)
  await reopened.ready()
  return { store: reopened, cores: keys.map((key) => ({ key })), setupMs: m.now() - t0 }
}

async function openReaderStore (dir, keys) {
  const t0 = m.now()
  const store = new Corestore(dir)
  const cores = keys.map((key) => store.get({ key }))
  await Promise.all(cores.map((c) => c.ready()))
  return { store, cores, openMs: m.now() - t0 }
}

// Calls download() on every core and resolves when all have contiguousLength >= blocks.
function downloadAll (cores, blocks) {
  return new Promise((resolve) => {
    let remaining = cores.length
    if (remaining === 0) return resolve()
    for (const core of cores) {
      let done = false
      const check = () => {
        if (done || core.contiguousLength < blocks) return
        done = true
        core.off('download', check)
        core.off('append', check)
        if (--remaining === 0) resolve()
      }
      core.on('download', check)
      core.on('append', check)
      core.download()
      check()
    }
  })
}

async function inProcess () {
  const a = await createWriterStore(m.tmpdir('hmf-bench-cs-a-'))
  const b = await openReaderStore(m.tmpdir('hmf-bench-cs-b-'), a.cores.map((c) => c.key))
  const setupPeak = m.peakRss()
  m.gc()
  const rssBefore = m.rss()
  m.resetPeak()
  await prof.start()

  const t0 = m.now()
  const s1 = a.store.replicate(true)
  const s2 = b.store.replicate(false)
  const counted = pipeCounted(s1, s2)
  await downloadAll(b.cores, opts.blocks)
  const timeMs = m.now() - t0
  await prof.stop()
  const peak = m.peakRss()

  // sanity check: one block
  const blk = await b.cores[b.cores.length - 1].get(opts.blocks - 1)
  if (!blk || blk.length !== opts.size) throw new Error('bad block')

  s1.destroy(); s2.destroy()
  await Promise.all([a.store.close(), b.store.close()])
  return {
    scenario: 'corestore-sync',
    transport: 'pipe',
    feeds: opts.feeds,
    blocks: opts.blocks,
    size: opts.size,
    timeMs: round(timeMs),
    peakRssMB: m.toMB(peak),
    peakGrowthMB: m.toMB(peak - rssBefore),
    processPeakRssMB: m.toMB(Math.max(peak, setupPeak)),
    setupMs: round(a.setupMs),
    openMs: round(b.openMs),
    ...counted.summary()
  }
}

async function server () {
  const dir = m.tmpdir('hmf-bench-cs-a-')
  const a = await createWriterStore(dir)
  const keysFile = path.join(dir, 'keys.json')
  fs.writeFileSync(keysFile, JSON.stringify(a.cores.map((c) => c.key.toString('hex'))))
  const { socket } = await tcp.listenOnce((port) => tcp.announce({ port, keysFile }))
  m.resetPeak()
  const repl = a.store.replicate(true)
  const counted = pipeCountedSocket(socket, repl)
  await tcp.waitParentDone()
  const peak = m.peakRss()
  const summary = counted.summary()
  repl.destroy(); socket.destroy()
  await a.store.close()
  return { role: 'server', peakRssMB: m.toMB(peak), setupMs: round(a.setupMs), bytesSent: summary.bytesAToB, bytesReceived: summary.bytesBToA }
}

async function client () {
  const keys = JSON.parse(fs.readFileSync(opts.keysFile, 'utf8')).map((h) => Buffer.from(h, 'hex'))
  const b = await openReaderStore(m.tmpdir('hmf-bench-cs-b-'), keys)
  m.gc()
  const rssBefore = m.rss()
  m.resetPeak()
  const t0 = m.now()
  const socket = await tcp.connect(opts.port)
  const repl = b.store.replicate(false)
  const counted = pipeCountedSocket(socket, repl)
  await downloadAll(b.cores, opts.blocks)
  const timeMs = m.now() - t0
  const peak = m.peakRss()
  const summary = counted.summary()
  repl.destroy(); socket.destroy()
  await b.store.close()
  return { role: 'client', timeMs: round(timeMs), peakRssMB: m.toMB(peak), peakGrowthMB: m.toMB(peak - rssBefore), openMs: round(b.openMs), bytesSent: summary.bytesAToB, bytesReceived: summary.bytesBToA }
}

function tcpParent () {
  const args = ['--feeds', opts.feeds, '--blocks', opts.blocks, '--size', opts.size]
  return tcp.runTcpSync(__filename, 'corestore-sync', args, (server, client) => ({
    feeds: opts.feeds, blocks: opts.blocks, size: opts.size, openMs: client.openMs
  }))
}

m.mainByRole(opts, { server, client, tcp: tcpParent, inProcess })
