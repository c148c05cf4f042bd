'use strict'
// Reference (d): plain Hypercore 11 append throughput.
//
// Appends --appends blocks of --size bytes, awaiting each append() call, with
// --batch blocks per call (1 = one block per append(), 100 = arrays of 100).
//
//   node bench/scenario-hypercore-append.js [--appends 100000] [--size 100] [--batch 1]
//        [--via hypercore|corestore]
//
// --via hypercore (default): new Hypercore(tmpdir); corestore: a named core
// from a Corestore (what a corestore-based writer session is).

const Hypercore = require('hypercore')
const Corestore = require('corestore')
const m = require('./lib/measure')

const opts = m.args({ appends: 100000, size: 100, batch: 1, via: 'hypercore' })

async function run () {
  const dir = m.tmpdir('hmf-bench-append-')
  let store = null
  let core
  if (opts.via === 'corestore') {
    store = new Corestore(dir)
    core = store.get({ name: 'writer' })
  } else {
    core = new Hypercore(dir)
  }
  await core.ready()

  const batch = []
  for (let i = 0; i < opts.batch; i++) batch.push(Buffer.alloc(opts.size, i & 0xff))
  const calls = Math.ceil(opts.appends / opts.batch)
  const arg = opts.batch === 1 ? batch[0] : batch

  m.gc()
  const rssBefore = m.rss()
  m.resetPeak()
  const t0 = m.now()
  for (let i = 0; i < calls; i++) await core.append(arg)
  const timeMs = m.now() - t0
  const peak = m.peakRss()
  if (core.length !== calls * opts.batch) throw new Error('length mismatch ' + core.length)

  await core.close()
  if (store) await store.close()
  const blocks = calls * opts.batch
  return {
    scenario: 'hypercore-append',
    via: opts.via,
    appends: blocks,
    batch: opts.batch,
    size: opts.size,
    ...m.throughput(blocks, opts.size, timeMs),
    peakGrowthMB: m.toMB(peak - rssBefore)
  }
}

m.main(run)
