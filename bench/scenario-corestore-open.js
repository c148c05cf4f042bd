'use strict'
// Reference (c): open --cores existing corestore 7 cores eagerly.
//
// A store with --cores named cores (each with --blocks blocks of 100 bytes) is
// prepared in a separate child process (--role prepare); then this process
// opens the store and get({ key }) + ready() on every core (all concurrently,
// or one after another with --sequential). Reports time and RSS growth
// (after open, after GC, and peak) relative to the process before opening.
//
//   node bench/scenario-corestore-open.js [--cores 10000] [--blocks 1] [--sequential]
//   node bench/scenario-corestore-open.js --role prepare --dir D [--cores N]   (prints {keysFile})
//   node bench/scenario-corestore-open.js --dir D          (measure an already prepared store; D is kept)

const path = require('path')
const fs = require('fs')
const Corestore = require('corestore')
const m = require('./lib/measure')
const { runScenario } = require('./lib/child')

const opts = m.args({ cores: 10000, blocks: 1, sequential: false, role: null, dir: null })

async function prepare (dir) {
  const t0 = m.now()
  const store = new Corestore(path.join(dir, 'store'))
  const cores = []
  for (let i = 0; i < opts.cores; i++) cores.push(store.get({ name: 'core-' + i }))
  await Promise.all(cores.map((c) => c.ready()))
  const blocks = []
  for (let j = 0; j < opts.blocks; j++) blocks.push(Buffer.alloc(100, j & 0xff))
  if (blocks.length) await Promise.all(cores.map((c) => c.append(blocks)))
  const keysFile = path.join(dir, 'keys.json')
  fs.writeFileSync(keysFile, JSON.stringify(cores.map((c) => c.key.toString('hex'))))
  await store.close()
  return { keysFile, cores: opts.cores, prepareMs: Math.round(m.now() - t0) }
}

async function measure (dir) {
  const keys = JSON.parse(fs.readFileSync(path.join(dir, 'keys.json'), 'utf8')).map((h) => Buffer.from(h, 'hex'))
  m.gc()
  const rssBefore = m.rss()
  m.resetPeak()
  const t0 = m.now()
  const store = new Corestore(path.join(dir, 'store'))
  await store.ready()
  const cores = keys.map((key) => store.get({ key }))
  if (opts.sequential) {
    for (const c of cores) await c.ready()
  } else {
    await Promise.all(cores.map((c) => c.ready()))
  }
  const timeMs = m.now() - t0
  const rssAfter = m.rss()
  m.gc()
  const rssAfterGc = m.rss()
  const peak = m.peakRss()
  let totalLength = 0
  for (const c of cores) totalLength += c.length
  if (totalLength !== keys.length * opts.blocks) throw new Error('unexpected total length ' + totalLength)
  const tc = m.now()
  await store.close()
  const closeMs = m.now() - tc
  return {
    scenario: 'corestore-open',
    cores: keys.length,
    mode: opts.sequential ? 'sequential' : 'concurrent',
    timeMs: Math.round(timeMs * 10) / 10,
    growthMB: m.toMB(rssAfter - rssBefore),
    growthAfterGcMB: m.toMB(rssAfterGc - rssBefore),
    peakGrowthMB: m.toMB(peak - rssBefore),
    closeMs: Math.round(closeMs),
    gcExposed: typeof global.gc === 'function'
  }
}

m.main(async () => {
  if (opts.role === 'prepare') return prepare(opts.dir)
  if (opts.dir) return measure(opts.dir)
  const dir = m.tmpdir('hmf-bench-open-')
  const prep = await runScenario(__filename, ['--role', 'prepare', '--dir', dir, '--cores', opts.cores, '--blocks', opts.blocks])
  if (prep.error) throw new Error('prepare: ' + prep.error)
  const res = await measure(dir)
  res.prepareMs = prep.prepareMs
  return res
})
