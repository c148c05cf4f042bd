#!/usr/bin/env node
// Crash soak: spawn test/crash/writer.js on one storage, SIGKILL it at a random moment, reopen the storage
// here, check every feed it promised is in the index and every append it acknowledged is readable. Repeat.
//   node test/crash/soak.js --runs 100 [--seed N] [--dir PATH]
// Exits non-zero if anything promised was lost or the index failed to load.
'use strict'
const os = require('os')
const fs = require('fs')
const path = require('path')
const { spawn } = require('child_process')
const crypto = require('hypercore-crypto')
const Multifeed = require('../..')

const WRITER = path.join(__dirname, 'writer.js')

function prng (seed) {
  let s = seed >>> 0 || 1
  return (n) => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0
    return s % n
  }
}

// One run: spawn, kill, reopen, check. `state` carries the promises of every earlier run on the same storage.
async function run (state, i, rand) {
  const remoteDir = fs.mkdtempSync(path.join(state.tmp, 'remote-'))
  const child = spawn(process.execPath, [WRITER, state.dir, state.keyHex, remoteDir, String(state.seed + i)], { stdio: ['ignore', 'pipe', 'pipe'] })
  let buffered = ''
  let stderr = ''
  let lines = 0
  let ready = false
  const errors = []
  // kill after the k-th promise, or after a random delay: both land anywhere in the child's life
  const byCount = rand(2) === 0
  const killAfterLines = 1 + rand(150)
  const killAfterMs = rand(1500)
  let killed = false
  let killedAt = null
  const kill = (why) => {
    if (killed) return
    killed = true
    killedAt = why
    child.kill('SIGKILL')
  }
  const onLine = (l) => {
    const [kind, hex, a, b] = l.split(' ')
    if (kind === 'ready') ready = true
    else if (kind === 'feed') {
      if (!state.feeds.has(hex)) state.feeds.set(hex, { how: a, run: i })
      lines++
    } else if (kind === 'block') {
      state.blocks.set(hex + ':' + a, b)
      lines++
    } else if (kind === 'error') errors.push(l)
    if (byCount && lines >= killAfterLines) kill('after ' + lines + ' promises')
  }
  child.stdout.on('data', (d) => {
    buffered += d.toString()
    let nl
    while ((nl = buffered.indexOf('\n')) !== -1) {
      onLine(buffered.slice(0, nl))
      buffered = buffered.slice(nl + 1)
    }
  })
  child.stderr.on('data', (d) => { stderr += d.toString() })
  const timer = setTimeout(() => kill('after ' + killAfterMs + ' ms'), byCount ? 20000 : killAfterMs)
  const [code, signal] = await new Promise((resolve) => child.once('close', (code, signal) => resolve([code, signal])))
  clearTimeout(timer)
  if (buffered) onLine(buffered)
  if (!killed) errors.push(`the writer exited by itself: code ${code} signal ${signal} ${stderr.slice(0, 500)}`)
  else state.kills++

  // reopen and check everything promised, in this run and all before
  const t0 = Date.now()
  const m = new Multifeed(state.dir, { key: state.keyHex, valueEncoding: 'utf-8' })
  let lostFeeds = 0
  let lostBlocks = 0
  try {
    await m.ready()
    const list = m.list()
    const have = new Map(list.map((f) => [f.key.toString('hex'), f]))
    if (have.size !== list.length) errors.push(`duplicate records in the index: ${list.length} records, ${have.size} keys`)
    for (const [hex, p] of state.feeds) {
      const f = have.get(hex)
      if (!f) { lostFeeds++; errors.push(`lost feed ${hex.slice(0, 16)} (${p.how}, promised in run ${p.run})`); continue }
      if (p.how === 'writer' && !f.writable) errors.push(`writer ${hex.slice(0, 16)} is no longer writable`)
    }
    // list() must not understate a feed after a crash (its length decides what the exchange offers)
    const acknowledged = new Map()
    for (const id of state.blocks.keys()) {
      const [hex, index] = id.split(':')
      acknowledged.set(hex, Math.max(acknowledged.get(hex) ?? 0, Number(index) + 1))
    }
    for (const [hex, length] of acknowledged) {
      const f = have.get(hex)
      if (f && f.length < length) errors.push(`feed ${hex.slice(0, 16)} listed at length ${f.length}, ${length} blocks acknowledged`)
    }
    for (const [id, value] of state.blocks) {
      const [hex, index] = id.split(':')
      const feed = m.feed(hex)
      const got = feed ? await feed.get(Number(index), { wait: false }) : null
      if (got !== value) { lostBlocks++; if (lostBlocks <= 5) errors.push(`lost block ${hex.slice(0, 16)}#${index}: ${JSON.stringify(got)} instead of ${value}`) }
    }
    state.records = list.length
  } catch (err) {
    errors.push('the index did not load: ' + (err.stack || err))
  } finally {
    await m.close().catch((err) => errors.push('close failed: ' + err.message))
  }
  fs.rmSync(remoteDir, { recursive: true, force: true })
  state.lostFeeds += lostFeeds
  state.lostBlocks += lostBlocks
  state.reopenMs = Math.max(state.reopenMs, Date.now() - t0)
  return { run: i, ready, killedAt, promisedThisRun: lines, errors }
}

async function soak ({ runs = 100, seed = Date.now() % 1e9, dir = null, log = () => {} } = {}) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mf-crash-'))
  const state = {
    tmp,
    dir: dir || path.join(tmp, 'store'),
    keyHex: crypto.randomBytes(32).toString('hex'),
    seed,
    feeds: new Map(),
    blocks: new Map(),
    kills: 0,
    lostFeeds: 0,
    lostBlocks: 0,
    records: 0,
    reopenMs: 0
  }
  const rand = prng(seed)
  const started = Date.now()
  const failures = []
  let beforeReady = 0
  for (let i = 0; i < runs; i++) {
    const r = await run(state, i, rand)
    if (!r.ready) beforeReady++
    log(`run ${i + 1}/${runs}: killed ${r.killedAt}${r.ready ? '' : ' (before ready)'}, ${r.promisedThisRun} promises; totals: ${state.feeds.size} feeds, ${state.blocks.size} blocks promised, ${state.records} records, lost ${state.lostFeeds + state.lostBlocks}${r.errors.length ? ' ERRORS: ' + r.errors.join(' / ') : ''}`)
    if (r.errors.length) failures.push(r)
  }
  fs.rmSync(tmp, { recursive: true, force: true })
  const writers = [...state.feeds.values()].filter((f) => f.how === 'writer').length
  return {
    runs,
    seed,
    kills: state.kills,
    killedBeforeReady: beforeReady,
    promisedFeeds: state.feeds.size,
    promisedWriters: writers,
    promisedRemote: state.feeds.size - writers,
    promisedBlocks: state.blocks.size,
    records: state.records,
    lostFeeds: state.lostFeeds,
    lostBlocks: state.lostBlocks,
    maxReopenMs: state.reopenMs,
    ms: Date.now() - started,
    failures
  }
}

module.exports = { soak }

if (require.main === module) {
  const arg = (name, dflt) => {
    const i = process.argv.indexOf('--' + name)
    return i === -1 ? dflt : process.argv[i + 1]
  }
  const runs = Number(arg('runs', 100))
  const seed = Number(arg('seed', Date.now() % 1e9))
  console.log(`hyper-multifeed crash soak: ${runs} runs, seed ${seed}, node ${process.version}, ${os.cpus().length} x ${os.cpus()[0].model}, ${new Date().toISOString()}`)
  soak({ runs, seed, dir: arg('dir', null), log: (s) => console.log(s) }).then((r) => {
    const { failures, ...figures } = r
    console.log('\n' + JSON.stringify(figures, null, 2))
    console.log(`runs ${r.runs}, SIGKILLs ${r.kills}, promised feeds ${r.promisedFeeds} (${r.promisedWriters} writers, ${r.promisedRemote} remote), acknowledged blocks ${r.promisedBlocks}, lost ${r.lostFeeds} feeds / ${r.lostBlocks} blocks, failing runs ${failures.length}`)
    process.exit(failures.length || r.lostFeeds || r.lostBlocks ? 1 : 0)
  }, (err) => {
    console.error(err)
    process.exit(1)
  })
}
