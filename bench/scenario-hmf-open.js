'use strict'
// hyper-multifeed (5): open an existing multifeed holding --feeds feeds.
//
// The multifeed is B of the prepared 'pair' state (lib/hmf-state.js, shared
// with scenario-hmf-reconnect.js and cached, see lib/hmf.js): --feeds remote
// feeds of one 100-byte block each, downloaded from A. Each run copies it and
// measures, in a fresh process with the modules already loaded:
//   timeMs   = new Multifeed(dir) -> ready() -> list() has --feeds feeds at
//              length 1 (the feeds are listable; no feed core is opened),
//   growthMB = RSS after that - RSS before (after a GC), like corestore-open;
//   also growthAfterGcMB, peakGrowthMB, openFeeds (must be 0).
// --side a opens A instead (--feeds writers); by default a child process also
// measures A once and its figures are reported as writers{TimeMs,GrowthMB}.
//
//   node --expose-gc bench/scenario-hmf-open.js [--feeds 10000] [--side b|a] [--no-writers] [--no-cache] [--profile FILE]
//   node bench/scenario-hmf-open.js --role prepare --dir D [--feeds N]   (build the pair into D)
//   node bench/scenario-hmf-open.js --dir D [--feeds N]                  (measure a prepared D; D is kept)

const fs = require('fs')
const path = require('path')
const m = require('./lib/measure')
const hmf = require('./lib/hmf')
const { runScenario } = require('./lib/child')
const { profiler } = require('./lib/profile')

const Multifeed = hmf.load()
const opts = m.args({ feeds: 10000, side: 'b', writers: true, cache: true, role: null, dir: '', copy: '', profile: '' })
const prof = profiler(opts.profile) // --profile FILE: CPU profile of new Multifeed -> ready -> list
const round = hmf.round

async function measure (dir, expected) {
  m.gc()
  const rssBefore = m.rss()
  m.resetPeak()
  await prof.start()
  const t0 = m.now()
  const multi = new Multifeed(dir)
  await multi.ready()
  const list = multi.list()
  let full = 0
  for (const f of list) if (f.length >= 1) full++
  const timeMs = m.now() - t0
  const rssAfter = m.rss()
  await prof.stop()
  m.gc()
  const rssAfterGc = m.rss()
  const peak = m.peakRss()
  if (list.length !== expected || full !== expected) throw new Error('listed ' + list.length + ' feeds, ' + full + ' at length >= 1, expected ' + expected)
  const openFeeds = multi.openFeeds
  const tc = m.now()
  await multi.close()
  return {
    timeMs: round(timeMs),
    growthMB: m.toMB(rssAfter - rssBefore),
    growthAfterGcMB: m.toMB(rssAfterGc - rssBefore),
    peakGrowthMB: m.toMB(peak - rssBefore),
    openFeeds,
    closeMs: Math.round(m.now() - tc)
  }
}

async function run () {
  // a child measuring one already copied directory (the writer side)
  if (opts.copy) return measure(opts.copy, opts.feeds)

  if (opts.role === 'prepare') {
    const r = await runScenario(path.join(__dirname, 'lib', 'hmf-state.js'), ['--state-kind', 'pair', '--state-dir', opts.dir, '--feeds', opts.feeds], { timeoutMs: 10 * 60 * 1000 })
    if (r.error) throw new Error('prepare: ' + r.error)
    fs.writeFileSync(path.join(opts.dir, 'meta.json'), JSON.stringify(r))
    return { prepared: opts.dir, ...r }
  }
  let stateDir, built = false, buildMs = 0
  if (opts.dir) {
    stateDir = opts.dir
  } else {
    const state = await hmf.cachedState('pair', { feeds: opts.feeds, blocks: 1, size: 100 }, { noCache: !opts.cache })
    stateDir = state.dir
    built = state.built
    buildMs = state.buildMs
  }
  const meta = JSON.parse(fs.readFileSync(path.join(stateDir, 'meta.json'), 'utf8'))
  const side = opts.side === 'a' ? 'a' : 'b'
  const dir = hmf.copyState(path.join(stateDir, side), m.tmpdir)

  let writers = null
  if (opts.writers && side === 'b') {
    const other = hmf.copyState(path.join(stateDir, 'a'), m.tmpdir)
    const r = await runScenario(__filename, ['--copy', other, '--feeds', meta.feeds], { nodeArgs: ['--expose-gc'] })
    if (r.error) throw new Error('writer side: ' + r.error)
    writers = r
  }

  const res = await measure(dir, meta.feeds)
  return {
    scenario: 'hmf-open',
    feeds: meta.feeds,
    side: side === 'b' ? 'remote feeds (B of the synced pair)' : 'writers (A of the synced pair)',
    ...res,
    ...(writers ? { writersTimeMs: writers.timeMs, writersGrowthMB: writers.growthMB } : {}),
    stateBuilt: built,
    stateBuildMs: buildMs,
    gcExposed: typeof global.gc === 'function'
  }
}

m.main(run)
