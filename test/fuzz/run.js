#!/usr/bin/env node
// Long fuzz run with figures.
//   node test/fuzz/run.js --cases 100000                 decoder cases (and a tenth as many channel cases)
//   node test/fuzz/run.js --cases 100000 --channel 5000  explicit channel case count
//   node test/fuzz/run.js --seed 7 --only 1234 --what channel   rerun one case
//   node test/fuzz/run.js --floods                       also the flood scenarios (1,000,000 feeds)
//   node test/fuzz/run.js --shared 500                   also the shared-connection target: several multifeeds
//                                                        on one connection, a hostile peer on one of them
//   node test/fuzz/run.js --what shared --shared 300 --seed 7   only that (its cases share state: a case is
//                                                        reproduced by its seed and the cases before it)
// Exits non-zero on any violation, crash, unhandled rejection or uncaught exception.
'use strict'
const os = require('os')
const fs = require('fs')
const path = require('path')
const Multifeed = require('../..')
const engine = require('./engine.js')
const floods = require('./floods.js')

function arg (name, dflt) {
  const i = process.argv.indexOf('--' + name)
  if (i === -1) return dflt
  const v = process.argv[i + 1]
  return v === undefined || v.startsWith('--') ? true : v
}

async function main () {
  const cases = Number(arg('cases', 100000))
  const channelCases = Number(arg('channel', Math.max(100, Math.round(cases / 10))))
  const seed = Number(arg('seed', Date.now() % 1e9))
  const only = arg('only', null) === null ? null : Number(arg('only'))
  const what = arg('what', 'all')
  const guards = engine.installGuards()
  const started = Date.now()
  let failed = false
  console.log(`hyper-multifeed fuzz: seed ${seed}, node ${process.version}, ${os.cpus().length} x ${os.cpus()[0].model}, ${new Date().toISOString()}`)

  if (what === 'all' || what === 'decoders') {
    engine.gc()
    const m0 = engine.mem()
    const d = engine.runDecoderFuzz({ cases, seed, only })
    engine.gc()
    const m1 = engine.mem()
    console.log(`\n== decoders: ${d.cases} cases + ${d.bombs} bombs in ${d.ms} ms (max ${d.maxMs.toFixed(1)} ms per decode, largest array pre-allocated ${d.maxArray}); heap ${engine.mb(m0.heapUsed)} -> ${engine.mb(m1.heapUsed)}`)
    console.log('inputs:', JSON.stringify(d.byHow))
    console.log('raw decoder outcomes:', JSON.stringify(d.rawClasses))
    for (const [name, p] of Object.entries(d.perTarget)) {
      console.log(`  ${name.padEnd(12)} ${String(p.cases).padStart(7)} cases  ok ${String(p.ok).padStart(6)}  ERR_BAD_MESSAGE ${String(p.badMessage).padStart(6)}  refused by count ${String(p.refused).padStart(5)}  max ${p.maxMs.toFixed(1)} ms  max array ${p.maxArray}${p.overAlloc ? `  (pre-allocated past the input size in ${p.overAlloc} cases)` : ''}`)
    }
    console.log(`violations: ${d.violations.length}`)
    for (const v of d.violations) console.log('  ', JSON.stringify(v))
    if (d.violations.length) failed = true
  }

  if (what === 'all' || what === 'channel') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mf-fuzz-'))
    const f = new engine.ChannelFuzz({ Multifeed, dir, seed, timeout: 150 })
    await f.open()
    engine.gc()
    const m0 = engine.mem()
    const t0 = Date.now()
    let peak = m0.rss
    for (let i = 0; i < channelCases; i++) {
      if (only !== null && i !== only) continue
      await f.runCase(i)
      if (i % 500 === 499) {
        await f.reopen()
        peak = Math.max(peak, engine.mem().rss)
      }
      if (i % 1000 === 999) process.stderr.write(`  channel ${i + 1}/${channelCases} ${Math.round((Date.now() - t0) / 1000)} s\n`)
    }
    await f.reopen()
    await f.close()
    engine.gc()
    const m1 = engine.mem()
    const s = f.stats
    console.log(`\n== channel state machine: ${s.cases} connections in ${Date.now() - t0} ms (max ${s.maxCaseMs} ms per case), ${s.messagesSent} messages / ${engine.mb(s.bytesSent)} sent, ${s.reopens} reopens of the index`)
    console.log('scenarios:', JSON.stringify(s.byScenario))
    console.log('closed with:', JSON.stringify(s.closedWith), ` stayed open and sane: ${s.stayedOpen} (stalled after the handshake, never timed out: ${s.stalledOpen || 0})`)
    console.log('phase at the end of the case:', JSON.stringify(s.phasesReached))
    console.log('honest-peer walks: modes', JSON.stringify(s.walkModes || {}), `, completed honestly and cross-checked: ${s.honestCompleted || 0}, faults injected: ${JSON.stringify(s.faults || {})}`)
    console.log(`feeds added by peers (all advertised by them): ${s.feedsAddedByPeers}; rss ${engine.mb(m0.rss)} -> peak ${engine.mb(peak)} -> ${engine.mb(m1.rss)}`)
    console.log(`violations: ${s.violations.length}`)
    for (const v of s.violations) console.log('  ', JSON.stringify(v))
    if (s.violations.length) failed = true
  }

  const sharedArg = arg('shared', false)
  if (sharedArg !== false || what === 'shared') {
    const sharedCases = typeof sharedArg === 'string' ? Number(sharedArg) : Math.max(50, Math.round(channelCases / 20))
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mf-fuzz-shared-'))
    const f = new engine.SharedFuzz({ Multifeed, dir, seed, timeout: Number(arg('timeout', 300)) })
    await f.open()
    engine.gc()
    const m0 = engine.mem()
    const t0 = Date.now()
    let peak = m0.rss
    if (only !== null) console.log(`\n(case ${only} alone, on fresh storage: the cases before it are not run, so state-dependent failures may not show)`)
    for (let i = 0; i < sharedCases; i++) {
      if (only !== null && i !== only) continue
      await f.runCase(i)
      if (i % 100 === 99) {
        await f.reopen()
        peak = Math.max(peak, engine.mem().rss)
      }
      if (i % 100 === 99) process.stderr.write(`  shared ${i + 1}/${sharedCases} ${Math.round((Date.now() - t0) / 1000)} s\n`)
    }
    await f.reopen()
    await f.close()
    engine.gc()
    const m1 = engine.mem()
    peak = Math.max(peak, m1.rss)
    const s = f.stats
    console.log(`\n== shared connections: ${s.cases} connections in ${Date.now() - t0} ms (max ${s.maxCaseMs} ms per case), ${f.groups} multifeeds per connection, ${s.messagesSent} hostile messages / ${engine.mb(s.bytesSent)}, ${s.reopens} reopens`)
    console.log('made by:', JSON.stringify(s.byKind), ' victim:', JSON.stringify(s.byVictim), ' cross-key cases:', s.crossCases)
    console.log('scenarios:', JSON.stringify(s.byScenario))
    console.log('victim closed with:', JSON.stringify(s.closedWith), ` stayed open and sane: ${s.stayedOpen} (stalled after the handshake: ${s.stalledOpen || 0})`)
    console.log('phase at the end of the attack:', JSON.stringify(s.phasesReached))
    console.log('honest-peer walks on the victim: modes', JSON.stringify(s.walkModes || {}), `, cross-checked: ${s.honestCompleted || 0}, faults: ${JSON.stringify(s.faults || {})}`)
    console.log(`feeds added by hostile peers: ${s.feedsAddedByPeers} (most by one connection ${s.maxAddedPerConnection}, quota ${f.quota}), refused by the quota: ${s.refusedFeeds}`)
    console.log(`honest blocks delivered across the connections: ${s.deliveries} (slowest ${s.maxDeliveryMs} ms); unreplicates ${s.unreplicated}; rss ${engine.mb(m0.rss)} -> peak ${engine.mb(peak)} -> ${engine.mb(m1.rss)}`)
    console.log(`violations: ${s.violationCount || s.violations.length}${s.violationCount > s.violations.length ? ` (the first ${s.violations.length} below)` : ''}`)
    for (const [kind, n] of Object.entries(s.violationKinds || {})) console.log(`  ${String(n).padStart(5)} x ${kind}`)
    for (const v of s.violations) console.log('  ', JSON.stringify(v))
    if (s.violations.length) failed = true
    fs.rmSync(dir, { recursive: true, force: true })
  }

  if (arg('floods', false) || what === 'floods') {
    console.log('\n== floods')
    const results = await floods.runAll({ Multifeed, tmp: () => fs.mkdtempSync(path.join(os.tmpdir(), 'mf-flood-')), full: true, log: (s) => console.log('  ' + s) })
    for (const r of results) if (!r.ok) failed = true
  }

  console.log(`\nunhandled rejections: ${guards.unhandledRejections.length}, uncaught exceptions: ${guards.uncaughtExceptions.length}`)
  for (const e of guards.unhandledRejections.concat(guards.uncaughtExceptions).slice(0, 10)) console.log('  ', e && e.stack)
  if (guards.count() > 0) failed = true
  console.log(`total ${Math.round((Date.now() - started) / 1000)} s: ${failed ? 'FAILED' : 'ok'}`)
  process.exit(failed ? 1 : 0)
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
