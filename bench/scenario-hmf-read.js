'use strict'
// hyper-multifeed (issue 10): an app that reads every block of every feed.
//
// Prepared once (lib/hmf-state.js 'pair', cached): A with --feeds writers of
// --blocks blocks each, B synced from A. Per run, on a copy:
//
//   --via stream  B's copy: for await (const block of multi.createReadStream())
//   --via naive   B's copy: for (const f of multi.feeds()) for await (const b of f.createReadStream())
//                 (the app loop of the original multifeed's users)
//   --via resume  A's copy: read everything through createReadStream() and take
//                 its checkpoint (not timed); append one block to --grown writers
//                 (evenly spread); close; open fresh and time
//                 createReadStream({ since: checkpoint }) to its end.
//
// Prints: timeMs (the read, from the stream's creation to its end; for resume,
// the resumed stream only), blocks delivered, peakGrowthMB (peak RSS during the
// read minus RSS before it, from /proc VmHWM), mostCores (the most cores the
// Corestore held at once, sampled every 5 ms and at every block: open sessions
// and the idle ones corestore keeps for a while).
//
//   node bench/scenario-hmf-read.js [--feeds 10000] [--blocks 3] [--via stream|naive|resume] [--grown 10]

const path = require('path')
const Corestore = require('corestore')
const m = require('./lib/measure')
const hmf = require('./lib/hmf')

const Multifeed = hmf.load()
const opts = m.args({ feeds: 10000, blocks: 3, via: 'stream', grown: 10, cache: true })
const round = hmf.round

async function open (dir, key) {
  const store = new Corestore(dir)
  const multi = new Multifeed(store, { key, maxFeeds: Math.max(100000, opts.feeds) })
  await multi.ready()
  return { store, multi, async close () { await multi.close(); await store.close() } }
}

// Runs `read` while sampling peak RSS and the Corestore's core count.
async function measured (store, read) {
  m.gc()
  const before = m.rss()
  m.resetPeak()
  let mostCores = store.cores.size
  const count = () => { if (store.cores.size > mostCores) mostCores = store.cores.size }
  const timer = setInterval(count, 5)
  const t0 = m.now()
  const blocks = await read(count)
  const timeMs = m.now() - t0
  clearInterval(timer)
  return { timeMs: round(timeMs), blocks, peakGrowthMB: m.toMB(m.peakRss() - before), mostCores }
}

async function readAll (stream, count) {
  let n = 0
  for await (const block of stream) { // eslint-disable-line no-unused-vars
    n++
    count()
  }
  return n
}

async function run () {
  const state = await hmf.cachedState('pair', { feeds: opts.feeds, blocks: opts.blocks, size: 100 }, { noCache: !opts.cache })
  const key = Buffer.from(state.meta.key, 'hex')
  const total = state.meta.feeds * opts.blocks

  if (opts.via === 'resume') {
    const dir = hmf.copyState(path.join(state.dir, 'a'), m.tmpdir)
    const first = await open(dir, key)
    const stream = first.multi.createReadStream()
    const all = await readAll(stream, () => {})
    if (all !== total) throw new Error('read ' + all + ' of ' + total + ' blocks')
    const checkpoint = JSON.stringify(stream.checkpoint())
    const names = []
    for (let i = 0; i < opts.grown; i++) names.push(state.meta.prefix + Math.floor(i * state.meta.feeds / opts.grown))
    for (const name of names) {
      const w = await first.multi.writer(name)
      await w.append(Buffer.alloc(100, 0xee))
      await w.close()
    }
    await first.close()
    const again = await open(dir, key)
    const res = await measured(again.store, (count) => readAll(again.multi.createReadStream({ since: JSON.parse(checkpoint) }), count))
    await again.close()
    if (res.blocks !== opts.grown) throw new Error('resumed with ' + res.blocks + ' blocks, expected ' + opts.grown)
    return { scenario: 'hmf-read', via: 'resume', feeds: state.meta.feeds, grown: opts.grown, checkpointBytes: checkpoint.length, ...res }
  }

  const dir = hmf.copyState(path.join(state.dir, 'b'), m.tmpdir)
  const { store, multi, close } = await open(dir, key)
  let res
  if (opts.via === 'naive') {
    res = await measured(store, async (count) => {
      let n = 0
      for (const feed of multi.feeds()) n += await readAll(feed.createReadStream(), count)
      return n
    })
  } else if (opts.via === 'stream') {
    res = await measured(store, (count) => readAll(multi.createReadStream(), count))
  } else {
    throw new Error('--via must be stream, naive or resume')
  }
  await close()
  if (res.blocks !== total) throw new Error('read ' + res.blocks + ' of ' + total + ' blocks')
  return { scenario: 'hmf-read', via: opts.via, feeds: state.meta.feeds, blockCount: opts.blocks, ...res }
}

m.main(run)
