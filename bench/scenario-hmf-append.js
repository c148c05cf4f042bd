'use strict'
// hyper-multifeed (6): writer append throughput, same measurement as
// scenario-hypercore-append.js: --appends blocks of --size bytes, awaiting
// each append() call, --batch blocks per call, on the session returned by
// m.writer('bench') of a fresh multifeed (no connection).
//
//   node bench/scenario-hmf-append.js [--appends 100000] [--size 100] [--batch 1] [--profile FILE]

const m = require('./lib/measure')
const hmf = require('./lib/hmf')
const { profiler } = require('./lib/profile')

const Multifeed = hmf.load()
const opts = m.args({ appends: 100000, size: 100, batch: 1, profile: '' })
const prof = profiler(opts.profile) // --profile FILE: CPU profile of the append loop

async function run () {
  const multi = new Multifeed(m.tmpdir('hmf-bench-append-'))
  await multi.ready()
  const core = await multi.writer('bench')

  const batch = []
  for (let i = 0; i < opts.batch; i++) batch.push(Buffer.alloc(opts.size, i & 0xff))
  const calls = Math.ceil(opts.appends / opts.batch)
  const arg = opts.batch === 1 ? batch[0] : batch

  m.gc()
  const rssBefore = m.rss()
  m.resetPeak()
  await prof.start()
  const t0 = m.now()
  for (let i = 0; i < calls; i++) await core.append(arg)
  const timeMs = m.now() - t0
  await prof.stop()
  const peak = m.peakRss()
  if (core.length !== calls * opts.batch) throw new Error('length mismatch ' + core.length)
  const listed = multi.list().find((f) => f.name === 'bench')
  if (!listed || listed.length !== core.length) throw new Error('list() shows length ' + (listed && listed.length) + ', core has ' + core.length)

  await core.close()
  await multi.close()
  const blocks = calls * opts.batch
  return {
    scenario: 'hmf-append',
    appends: blocks,
    batch: opts.batch,
    size: opts.size,
    ...m.throughput(blocks, opts.size, timeMs),
    peakGrowthMB: m.toMB(peak - rssBefore)
  }
}

m.main(run)
