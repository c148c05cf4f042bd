#!/usr/bin/env node
'use strict'
// Runs every bench scenario (each in its own child process, a few
// repetitions, median of each figure) and writes BENCHMARKS.md at the repo
// root.
//
//   npm run bench                 # full run (~4 min of baselines + ~5 min of hyper-multifeed + ~4 min of issue 13 on 2 cores; see README)
//   npm run bench -- --quick      # small run, writes bench/results/BENCHMARKS-quick.md
//   node bench/run.js [--quick] [--reps N] [--only REGEX] [--out FILE]
//
// Raw results of every run are also written as JSON to bench/results/
// (git-ignored).

const fs = require('fs')
const os = require('os')
const path = require('path')
const { runScenario } = require('./lib/child')
const { machine } = require('./lib/measure')

const ROOT = path.join(__dirname, '..')
const argv = process.argv.slice(2)
const flag = (name) => argv.includes('--' + name)
const option = (name, def) => {
  const i = argv.indexOf('--' + name)
  return i !== -1 && i + 1 < argv.length ? argv[i + 1] : def
}

const QUICK = flag('quick')
const ONLY = option('only', null) ? new RegExp(option('only')) : null
const OUT = path.resolve(option('out', QUICK ? path.join(__dirname, 'results', 'BENCHMARKS-quick.md') : path.join(ROOT, 'BENCHMARKS.md')))
const COMMAND = 'npm run bench' + (argv.length ? ' -- ' + argv.join(' ') : '')
const SCENARIO_TIMEOUT_MS = 5 * 60 * 1000

// ---------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------

const P = QUICK
  ? {
      reps: 1,
      feeds: 200, blocks: 10, size: 100, // first sync
      openCores: 2000, // corestore eager open reference
      appends: 10000, // append throughput, batch 100
      appendsB1: 5000, // append throughput, batch 1 (latency-bound: ~4-5k appends/s)
      reconnectFeeds: 2000, changed: [1, 10, 100], // hyper-multifeed reconnect
      firstContactFeeds: 10000, // hyper-multifeed first contact
      openFeeds: 2000, // hyper-multifeed open
      readFeeds: 2000, // issue 10: reading every feed, held reconnect, resume, reopen after writing
      // issue 13
      manyFeeds: 2000, // first sync of many small feeds (× 1 block)
      groups: 20, lateDelay: 8000, // groups on one connection: reconnect 3.5 s after the sync, and later (cores collected)
      groupsMany: 100, // many groups on one connection (× 5 feeds)
      liveAppends: 100, lineNodes: 7, lineRounds: 20, // live growth; a new feed crossing a line of peers
      slowReps: 1 // reps of the slowest issue 13 entries (first sync of manyFeeds, groupsMany, the late reconnect)
    }
  : {
      reps: 3,
      feeds: 1000, blocks: 10, size: 100,
      openCores: 10000,
      appends: 100000,
      appendsB1: 30000,
      reconnectFeeds: 10000, changed: [1, 10, 100, 1000],
      firstContactFeeds: 100000,
      openFeeds: 10000,
      readFeeds: 10000,
      manyFeeds: 10000,
      groups: 200, lateDelay: 15500,
      groupsMany: 1000,
      liveAppends: 500, lineNodes: 7, lineRounds: 100,
      slowReps: 1 // ~55 s (10,000 feeds, both), ~45 s (1,000 groups and its baseline), ~20 s (late reconnect) per rep
    }
if (option('reps')) P.reps = Number(option('reps'))

const sync = ['--feeds', P.feeds, '--blocks', P.blocks, '--size', P.size]
// issue 13
const WRITERS_PER_GROUP = 5
const EARLY_DELAY = 3500 // ms after the first sync: writers still lingering in corestore before the fix
const syncMany = ['--feeds', P.manyFeeds, '--blocks', 1, '--size', 100]
const syncGroups = ['--feeds', P.groupsMany * WRITERS_PER_GROUP, '--blocks', 1, '--size', 100]
const groups = (n, delay) => ['--groups', n, '--writers', WRITERS_PER_GROUP, '--blocks', 1, '--size', 100, '--delay', delay]
const liveArgs = ['--appends', P.liveAppends, '--size', 100]
const lineArgs = ['--line', P.lineNodes, '--rounds', P.lineRounds, '--size', 100]

// ---------------------------------------------------------------------------
// Scenarios. Each: { id, script (relative to bench/), args, reps, prepare?,
// interleave? (entries with the same key run rep by rep in turn) }.
// A scenario whose script file does not exist is skipped and shows as TODO.
// ---------------------------------------------------------------------------

const BASELINES = [
  { id: 'corestore-sync', script: 'scenario-corestore-sync.js', args: sync, interleave: 'sync' },
  { id: 'corestore-sync-tcp', script: 'scenario-corestore-sync.js', args: [...sync, '--tcp'], interleave: 'sync-tcp' },
  { id: 'multifeed6-sync', script: 'scenario-multifeed6-sync.js', args: [...sync, '--storage', 'disk'], interleave: 'sync' },
  { id: 'multifeed6-sync-tcp', script: 'scenario-multifeed6-sync.js', args: [...sync, '--storage', 'disk', '--tcp'], interleave: 'sync-tcp' },
  // multifeed 6 on random-access-memory, as DEVELOPERS.md installs it: the configuration behind the issue's
  // reference figures (11.5-30 s, 3.8 GB); one run each (~45 s and ~11 GB peak in one process here)
  { id: 'multifeed6-sync-ram', script: 'scenario-multifeed6-sync.js', args: [...sync, '--storage', 'ram'], reps: 1 },
  { id: 'multifeed6-sync-ram-tcp', script: 'scenario-multifeed6-sync.js', args: [...sync, '--storage', 'ram', '--tcp'], reps: 1 },
  { id: 'corestore-open', script: 'scenario-corestore-open.js', args: ['--cores', P.openCores], prepare: true },
  { id: 'hypercore-append-b1', script: 'scenario-hypercore-append.js', args: ['--appends', P.appendsB1, '--batch', 1], interleave: 'append-b1' },
  { id: 'hypercore-append-b100', script: 'scenario-hypercore-append.js', args: ['--appends', P.appends, '--batch', 100], interleave: 'append-b100' },
  { id: 'corestore-append-b1', script: 'scenario-hypercore-append.js', args: ['--appends', P.appendsB1, '--batch', 1, '--via', 'corestore'], interleave: 'append-b1' },
  { id: 'corestore-append-b100', script: 'scenario-hypercore-append.js', args: ['--appends', P.appends, '--batch', 100, '--via', 'corestore'], interleave: 'append-b100' },
  // issue 13: first sync of many small feeds (prints openMs: opening the receiver's cores by key, before the clock)
  { id: 'corestore-sync-many', script: 'scenario-corestore-sync.js', args: syncMany, interleave: 'sync-many', reps: P.slowReps },
  // issue 13.4: the same cores as hmf-groups-many (groups × 5) on one stream, keys known
  { id: 'corestore-sync-groups', script: 'scenario-corestore-sync.js', args: syncGroups, interleave: 'groups-many', reps: P.slowReps },
  // the same with A's cores closed after appending, as hmf-groups-many's writers: A opens each when B asks
  { id: 'corestore-sync-groups-closed', script: 'scenario-corestore-sync.js', args: [...syncGroups, '--close-writers'], interleave: 'groups-many', reps: P.slowReps },
  // issue 13.3: live growth, the reader holds the core with a live download
  { id: 'corestore-live', script: 'scenario-corestore-live.js', args: liveArgs, interleave: 'live' },
  { id: 'corestore-live-tcp', script: 'scenario-corestore-live.js', args: [...liveArgs, '--tcp'], interleave: 'live-tcp' },
  { id: 'corestore-live-line', script: 'scenario-corestore-live.js', args: lineArgs, interleave: 'live-line' }
]

// ---- TODO(hyper-multifeed): hook scenarios -------------------------------
// These plug in once the hyper-multifeed API lands (require('/work/main'),
// built into dist/ by `npm run build`). Create the script files named below;
// until a file exists its rows in BENCHMARKS.md read "TODO". What each script
// must print (one JSON line) is specified in bench/README.md ("Hook
// contract"); the target rows below read exactly those fields.
const HMF = [
  // first sync, same shape as corestore-sync: prints { timeMs, peakRssMB } (pipe: both peers in one process, peak after setup)
  // (the first-sync rows run interleaved rep by rep with their corestore and multifeed 6 baselines, see runGroup)
  { id: 'hmf-sync', script: 'scenario-hmf-sync.js', args: sync, interleave: 'sync' },
  // same over TCP: prints { timeMs, peakRssMB (downloader), serverPeakRssMB }
  { id: 'hmf-sync-tcp', script: 'scenario-hmf-sync.js', args: [...sync, '--tcp'], interleave: 'sync-tcp' },
  // two in-sync peers with --feeds feeds reconnect: prints { bytes, timeMs, openFeedsA, openFeedsB, exchangeBytes, mode } (bytes after the Noise handshake, both directions; time replicate() -> synced())
  // (the synced pair of peers is built once and cached under os.tmpdir()/hmf-bench-cache, see lib/hmf.js; hmf-open reuses it)
  { id: 'hmf-reconnect', script: 'scenario-hmf-reconnect.js', args: ['--feeds', P.reconnectFeeds, '--changed', 0] },
  // same with --changed d feeds that got new blocks while apart: prints { bytes, exchangeBytes, timeMs } (target on exchangeBytes: the
  // exchange channel's bytes; the wire bytes also carry the Hypercore replication of the d new blocks)
  ...P.changed.map((d) => ({ id: 'hmf-reconnect-d' + d, script: 'scenario-hmf-reconnect.js', args: ['--feeds', P.reconnectFeeds, '--changed', d] })),
  // first contact, B knows none of A's --feeds feeds: prints { bytes, exchangeBytes, timeMs } (bytes to learn the feed list; A cached like above)
  { id: 'hmf-first-contact', script: 'scenario-hmf-first-contact.js', args: ['--feeds', P.firstContactFeeds], reps: 1 },
  // open an existing multifeed with --feeds feeds: prints { timeMs, growthMB } (like corestore-open)
  { id: 'hmf-open', script: 'scenario-hmf-open.js', args: ['--feeds', P.openFeeds] },
  // writer append throughput, same args as hypercore-append: prints { blocksPerSec }
  // (interleaved rep by rep with the plain Hypercore and corestore append baselines, see runGroup)
  { id: 'hmf-append-b1', script: 'scenario-hmf-append.js', args: ['--appends', P.appendsB1, '--batch', 1], interleave: 'append-b1' },
  { id: 'hmf-append-b100', script: 'scenario-hmf-append.js', args: ['--appends', P.appends, '--batch', 100], interleave: 'append-b100' },
  // issue 10: the in-sync reconnect with every feed held by the app and followed by a live read stream
  { id: 'hmf-reconnect-held', script: 'scenario-hmf-reconnect.js', args: ['--feeds', P.readFeeds, '--changed', 0, '--held'] },
  // read every block of --feeds feeds x 3 through createReadStream, and through the naive app loop: prints { timeMs, peakGrowthMB, mostCores }
  { id: 'hmf-read-stream', script: 'scenario-hmf-read.js', args: ['--feeds', P.readFeeds, '--blocks', 3, '--via', 'stream'], interleave: 'read' },
  { id: 'hmf-read-naive', script: 'scenario-hmf-read.js', args: ['--feeds', P.readFeeds, '--blocks', 3, '--via', 'naive'], interleave: 'read' },
  // resume from a checkpoint after 10 feeds grew: prints { timeMs, blocks }
  { id: 'hmf-read-resume', script: 'scenario-hmf-read.js', args: ['--feeds', P.readFeeds, '--blocks', 3, '--via', 'resume', '--grown', 10] },
  // the first open in a fresh process after a session that wrote --feeds writers: prints { timeMs, secondMs, closeMs }
  { id: 'hmf-reopen', script: 'scenario-hmf-reopen.js', args: ['--feeds', P.readFeeds] },
  // issue 12: authorized multifeeds (owner + member, every feed authorized by a signed record)
  { id: 'hmf-auth-reconnect', script: 'scenario-hmf-authorized.js', args: ['--feeds', P.readFeeds, '--mode', 'reconnect'] },
  { id: 'hmf-auth-first-contact', script: 'scenario-hmf-authorized.js', args: ['--feeds', P.readFeeds, '--mode', 'first-contact'], reps: 1 },
  { id: 'hmf-auth-flood', script: 'scenario-hmf-authorized.js', args: ['--feeds', P.readFeeds, '--mode', 'flood', '--flood', 100000, '--changed', 100], reps: 1 },
  // issue 13.1: first sync of many small feeds, interleaved with corestore-sync-many
  { id: 'hmf-sync-many', script: 'scenario-hmf-sync.js', args: syncMany, interleave: 'sync-many', reps: P.slowReps },
  // issue 13.2: groups sharing one Corestore per side, all on one connection; reconnect 3.5 s after the sync and after the idle
  // cores were collected: prints { timeMs, bytes, bytesPerGroup, coresA, coresB } of the reconnect, { syncMs, syncBytes, syncedGroups } of the first sync
  { id: 'hmf-groups', script: 'scenario-hmf-groups.js', args: groups(P.groups, EARLY_DELAY), interleave: 'groups' },
  { id: 'hmf-groups-late', script: 'scenario-hmf-groups.js', args: groups(P.groups, P.lateDelay), interleave: 'groups', reps: P.slowReps },
  // issue 13.4: many groups on one connection, interleaved with corestore-sync-groups
  { id: 'hmf-groups-many', script: 'scenario-hmf-groups.js', args: groups(P.groupsMany, EARLY_DELAY), interleave: 'groups-many', reps: P.slowReps },
  // the same with A's writers held open by the app, as corestore-sync-groups' cores (the stream made by a multifeed)
  { id: 'hmf-groups-many-held', script: 'scenario-hmf-groups.js', args: [...groups(P.groupsMany, EARLY_DELAY), '--hold-writers', '--stream', 'multifeed'], interleave: 'groups-many', reps: P.slowReps },
  // issue 13.3: live growth: prints { p50Ms, bytesPerAppend }; the peer app holds the feed (b.feed(key)) or nothing
  { id: 'hmf-live-held', script: 'scenario-hmf-live.js', args: [...liveArgs, '--hold', 'feed'], interleave: 'live' },
  { id: 'hmf-live', script: 'scenario-hmf-live.js', args: [...liveArgs, '--hold', 'none'], interleave: 'live' },
  { id: 'hmf-live-held-tcp', script: 'scenario-hmf-live.js', args: [...liveArgs, '--hold', 'feed', '--tcp'], interleave: 'live-tcp' },
  { id: 'hmf-live-tcp', script: 'scenario-hmf-live.js', args: [...liveArgs, '--hold', 'none', '--tcp'], interleave: 'live-tcp' },
  // a new feed crossing a line of multifeeds: prints { perHopMs, timeMs, hopMs }
  { id: 'hmf-live-line', script: 'scenario-hmf-live.js', args: lineArgs, interleave: 'live-line' }
]
// ---------------------------------------------------------------------------

// ---------------------------------------------------------------------------
// Running
// ---------------------------------------------------------------------------

const results = {}
const groupS = { baselines: 0, hmf: 0 } // wall time of each group of scenarios
const loadStart = os.loadavg()

function median (xs) {
  const s = xs.slice().sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}

function medianOf (runs) {
  const out = {}
  const ok = runs.filter((r) => !r.error)
  if (!ok.length) return null
  for (const k of Object.keys(ok[0])) {
    const vals = ok.map((r) => r[k])
    if (vals.every((v) => typeof v === 'number')) out[k] = Math.round(median(vals) * 10) / 10
    else out[k] = vals[0]
  }
  return out
}

// Runs a group of scenarios. Usually one; entries that share an `interleave`
// key (first sync: corestore, multifeed 6, hyper-multifeed; append: plain
// Hypercore, corestore, hyper-multifeed) run
// repetition by repetition in turn (A1 B1 C1 A2 B2 C2 ...), so a change in
// the machine's load hits all of them alike and their ratio stays fair.
async function runGroup (defs) {
  const live = []
  for (const def of defs) {
    const entry = results[def.id] = { id: def.id, script: def.script, args: def.args, runs: [], median: null, todo: false, wallS: 0 }
    const scriptPath = path.join(__dirname, def.script)
    if (ONLY && !ONLY.test(def.id)) { entry.skipped = true; continue }
    if (!fs.existsSync(scriptPath)) { entry.todo = true; log(def.id + ': TODO (no ' + def.script + ')'); continue }
    const started = Date.now()
    const extra = await prepare(def, entry, scriptPath)
    entry.wallS += (Date.now() - started) / 1000
    if (extra) live.push({ def, entry, scriptPath, extra: extra.args, prepDir: extra.prepDir, reps: def.reps || P.reps, failed: false })
  }
  try {
    const maxReps = Math.max(0, ...live.map((x) => x.reps))
    for (let i = 0; i < maxReps; i++) {
      for (const x of live) {
        if (i >= x.reps || x.failed) continue
        const t = Date.now()
        const r = await runScenario(x.scriptPath, [...x.def.args, ...x.extra], { timeoutMs: SCENARIO_TIMEOUT_MS, nodeArgs: ['--expose-gc'] })
        x.entry.wallS += (Date.now() - t) / 1000
        x.entry.runs.push(r)
        log(x.def.id + ' #' + (i + 1) + '/' + x.reps + ' (' + ((Date.now() - t) / 1000).toFixed(1) + ' s): ' + (r.error ? 'ERROR ' + String(r.error).split('\n')[0] : brief(r)))
        if (r.error) x.failed = true
      }
    }
  } finally {
    for (const x of live) if (x.prepDir) fs.rmSync(x.prepDir, { recursive: true, force: true })
  }
  for (const x of live) x.entry.median = medianOf(x.entry.runs)
}

// def.prepare: prepare the data once (in its own process), measure each rep
// in a fresh process with --dir D. Returns { args, prepDir } or null on error.
async function prepare (def, entry, scriptPath) {
  if (!def.prepare) return { args: [], prepDir: null }
  const prepDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hmf-bench-prep-'))
  const t = Date.now()
  const prep = await runScenario(scriptPath, ['--role', 'prepare', '--dir', prepDir, ...def.args], { timeoutMs: SCENARIO_TIMEOUT_MS, nodeArgs: ['--expose-gc'] })
  entry.prepare = prep
  log(def.id + ': prepared in ' + ((Date.now() - t) / 1000).toFixed(1) + ' s' + (prep.error ? ' ERROR ' + prep.error : ''))
  if (prep.error) { entry.runs.push(prep); fs.rmSync(prepDir, { recursive: true, force: true }); return null }
  return { args: ['--dir', prepDir], prepDir }
}

function brief (r) {
  return ['timeMs', 'peakRssMB', 'growthMB', 'bytes', 'exchangeBytes', 'mode', 'blocksPerSec', 'stateBuildMs', 'openMs', 'syncMs', 'syncBytes', 'syncedGroups', 'bytesPerGroup', 'p50Ms', 'bytesPerAppend', 'perHopMs'].filter((k) => k in r && !(k === 'stateBuildMs' && !r[k])).map((k) => k + '=' + r[k]).join(' ')
}

// ", of which hmf-x 12 s, ..." for the whole-run line
function hmfTimes () {
  const parts = HMF.map((d) => results[d.id]).filter((e) => e && !e.todo && !e.skipped).map((e) => e.id + ' ' + Math.round(e.wallS) + ' s')
  return parts.length ? ': ' + parts.join(', ') : ''
}

const t0 = Date.now()
function log (msg) {
  process.stderr.write('[bench ' + ((Date.now() - t0) / 1000).toFixed(0).padStart(4) + 's] ' + msg + '\n')
}

// ---------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------

const get = (id, field) => {
  const e = results[id]
  if (!e || !e.median) return undefined
  return e.median[field]
}
const state = (id) => {
  const e = results[id]
  if (!e) return 'missing'
  if (e.todo) return 'TODO'
  if (e.skipped) return 'skipped'
  if (!e.median) return 'error'
  return 'ok'
}

const fmt = (v, unit = '') => v === undefined || v === null ? '–' : (typeof v === 'number' ? v.toLocaleString('en-US', { maximumFractionDigits: 1 }) : v) + unit
const ms = (v) => fmt(v, ' ms')
const mb = (v) => fmt(v, ' MB')
const bytes = (v) => fmt(v, ' B')

// A target row. need: scenario ids that must have run; value(): display
// string; check(): true/false. Both are only called when all `need` are ok.
function row (figure, target, need, value, check) {
  const states = need.map(state)
  let shown, met
  const hmfMissing = need.find((id, i) => id.startsWith('hmf-') && states[i] === 'TODO')
  if (hmfMissing) { shown = 'TODO'; met = 'TODO (hyper-multifeed scenario not written yet)' } else if (states.some((s) => s === 'skipped')) { shown = '–'; met = 'skipped' } else if (states.some((s) => s !== 'ok')) { shown = 'error'; met = 'error (' + need.filter((id, i) => states[i] !== 'ok').join(', ') + ')' } else {
    shown = value()
    met = check() ? '✅ met' : '❌ not met'
  }
  return '| ' + [figure, shown, target, met].join(' | ') + ' |'
}

// multifeed 6 baselines for the ratio targets: RAM first, the configuration the issue's reference figures
// (11.5-30 s, 3.8 GB) were measured in, then disk, a stronger multifeed 6 shown for a fair picture
const MF6 = [['multifeed6-sync-ram', 'RAM (random-access-memory, the issue\'s reference)'], ['multifeed6-sync', 'disk (random-access-file)']]

// The two ratio targets against each multifeed 6 baseline: time (≥ 4× faster) and peak memory (≤ 1/10).
function mf6Rows (L, hmfId, suffix, what, memWhat, memOf) {
  const t = () => get(hmfId, 'timeMs')
  for (const [base, storage] of MF6) {
    const id = base + suffix
    const mf = get(id, 'timeMs')
    const mfMem = state(id) === 'ok' ? memOf(id) : undefined
    L.push(row(what + ' speed-up vs multifeed 6 on ' + storage, '≥ 4× faster, i.e. ≤ ' + ms(mf && mf / 4),
      [hmfId, id], () => fmt(mf / t()) + '× (' + ms(t()) + ' vs ' + ms(mf) + ')', () => t() <= mf / 4))
    L.push(row(memWhat + ' vs multifeed 6 on ' + storage, '≤ 1/10 of multifeed 6 = ' + mb(mfMem && mfMem / 10),
      [hmfId, id], () => mb(memOf(hmfId)) + ' (1/' + fmt(mfMem / memOf(hmfId)) + ')', () => memOf(hmfId) <= mfMem / 10))
  }
}

function targetsTable () {
  const L = []
  L.push('| Figure (hyper-multifeed) | Measured | Target | Met? |')
  L.push('| --- | --- | --- | --- |')
  const n = P.feeds + ' feeds × ' + P.blocks + ' blocks × ' + P.size + ' B'
  const cs = get('corestore-sync', 'timeMs')
  L.push(row('First sync time, ' + n + ' (pipe)', '≤ 1.15 × raw corestore = ' + ms(cs && cs * 1.15),
    ['hmf-sync', 'corestore-sync'], () => ms(get('hmf-sync', 'timeMs')), () => get('hmf-sync', 'timeMs') <= 1.15 * cs))
  mf6Rows(L, 'hmf-sync', '', 'First sync', 'First sync peak RSS (both peers, one process)', (id) => get(id, 'peakRssMB'))
  L.push(row('Reconnect, two in-sync peers, ' + P.reconnectFeeds.toLocaleString('en-US') + ' feeds: bytes', '< 1 KB (1,024 B)',
    ['hmf-reconnect'], () => bytes(get('hmf-reconnect', 'bytes')), () => get('hmf-reconnect', 'bytes') < 1024))
  L.push(row('Reconnect, two in-sync peers, ' + P.reconnectFeeds.toLocaleString('en-US') + ' feeds: time', '< 100 ms',
    ['hmf-reconnect'], () => ms(get('hmf-reconnect', 'timeMs')), () => get('hmf-reconnect', 'timeMs') < 100))
  L.push(row('Reconnect, two in-sync peers: feed cores opened (both reopened from disk first)', '0 (`openFeeds` on both sides after the exchange)',
    ['hmf-reconnect'], () => fmt(get('hmf-reconnect', 'openFeedsA')) + ' + ' + fmt(get('hmf-reconnect', 'openFeedsB')) + ' (mode ' + get('hmf-reconnect', 'mode') + ')',
    () => get('hmf-reconnect', 'openFeedsA') === 0 && get('hmf-reconnect', 'openFeedsB') === 0))
  for (const d of P.changed) {
    const id = 'hmf-reconnect-d' + d
    const limit = 3 * 32 * d + 200
    L.push(row('Reconnect, ' + d + ' of ' + P.reconnectFeeds.toLocaleString('en-US') + ' feeds changed: exchange bytes', '≤ 3 × 32 × d + 200 = ' + bytes(limit),
      [id], () => bytes(get(id, 'exchangeBytes')) + ' (' + get(id, 'mode') + ', ' + ms(get(id, 'timeMs')) + '; wire incl. block transfer ' + bytes(get(id, 'bytes')) + ')', () => get(id, 'exchangeBytes') <= limit))
  }
  const fc = P.firstContactFeeds
  L.push(row('First contact, ' + fc.toLocaleString('en-US') + ' feeds: bytes', '≤ 1.2 × 32 × n = ' + bytes(Math.floor(1.2 * 32 * fc)),
    ['hmf-first-contact'], () => bytes(get('hmf-first-contact', 'bytes')) + ' (' + fmt(get('hmf-first-contact', 'bytesPerFeed')) + ' B/feed, ' + ms(get('hmf-first-contact', 'timeMs')) + ')', () => get('hmf-first-contact', 'bytes') <= 1.2 * 32 * fc))
  L.push(row('Open multifeed with ' + P.openFeeds.toLocaleString('en-US') + ' feeds: time', '< 500 ms (raw corestore eager open of ' + P.openCores.toLocaleString('en-US') + ' cores: ' + ms(get('corestore-open', 'timeMs')) + ')',
    ['hmf-open'], () => ms(get('hmf-open', 'timeMs')), () => get('hmf-open', 'timeMs') < 500))
  L.push(row('Open multifeed with ' + P.openFeeds.toLocaleString('en-US') + ' feeds: RSS growth', '< 50 MB (raw corestore eager open: ' + mb(get('corestore-open', 'growthMB')) + ')',
    ['hmf-open'], () => mb(get('hmf-open', 'growthMB')), () => get('hmf-open', 'growthMB') < 50))
  for (const b of [1, 100]) {
    const ref = get('hypercore-append-b' + b, 'blocksPerSec')
    const cs = get('corestore-append-b' + b, 'blocksPerSec')
    const v = () => get('hmf-append-b' + b, 'blocksPerSec')
    L.push(row('Writer append throughput, batch ' + b + ' (' + (b === 1 ? P.appendsB1 : P.appends).toLocaleString('en-US') + ' × ' + P.size + ' B)', '≥ 0.9 × plain Hypercore = ' + fmt(ref && Math.round(ref * 0.9), ' blocks/s'),
      ['hmf-append-b' + b, 'hypercore-append-b' + b], () => fmt(v(), ' blocks/s') + ' (' + fmt(v() / ref, '×') + (cs ? '; ' + fmt(v() / cs, '×') + ' corestore named core' : '') + ')', () => v() >= 0.9 * ref))
  }
  const rf = P.readFeeds.toLocaleString('en-US')
  L.push(row('Reconnect, two in-sync peers, ' + rf + ' feeds, each held by the app with a live read stream: bytes', '< 1 KB (1,024 B)',
    ['hmf-reconnect-held'], () => bytes(get('hmf-reconnect-held', 'bytes')) + ' (' + ms(get('hmf-reconnect-held', 'timeMs')) + ', mode ' + get('hmf-reconnect-held', 'mode') + ')', () => get('hmf-reconnect-held', 'bytes') < 1024))
  const naiveT = get('hmf-read-naive', 'timeMs')
  const naiveM = get('hmf-read-naive', 'peakGrowthMB')
  L.push(row('Read every block of ' + rf + ' feeds × 3 through createReadStream: time', '≤ the naive app loop = ' + ms(naiveT),
    ['hmf-read-stream', 'hmf-read-naive'], () => ms(get('hmf-read-stream', 'timeMs')) + ' (most cores at once ' + fmt(get('hmf-read-stream', 'mostCores')) + ' vs ' + fmt(get('hmf-read-naive', 'mostCores')) + ')', () => get('hmf-read-stream', 'timeMs') <= naiveT))
  L.push(row('Read every block of ' + rf + ' feeds × 3 through createReadStream: peak RSS growth', '≤ 1/5 of the naive app loop = ' + mb(naiveM && naiveM / 5),
    ['hmf-read-stream', 'hmf-read-naive'], () => mb(get('hmf-read-stream', 'peakGrowthMB')) + ' (naive ' + mb(naiveM) + ')', () => get('hmf-read-stream', 'peakGrowthMB') <= naiveM / 5))
  L.push(row('Resume from a checkpoint after 10 of ' + rf + ' feeds grew', 'exactly 10 blocks',
    ['hmf-read-resume'], () => fmt(get('hmf-read-resume', 'blocks')) + ' blocks in ' + ms(get('hmf-read-resume', 'timeMs')) + ' (checkpoint ' + bytes(get('hmf-read-resume', 'checkpointBytes')) + ' of JSON)', () => get('hmf-read-resume', 'blocks') === 10))
  L.push(row('Reconnect, two in-sync peers, ' + rf + ' authorized feeds (and as many records): bytes', '< 1 KB (1,024 B)',
    ['hmf-auth-reconnect'], () => bytes(get('hmf-auth-reconnect', 'bytes')) + ' (' + ms(get('hmf-auth-reconnect', 'timeMs')) + ', mode ' + get('hmf-auth-reconnect', 'exchangeMode') + ')', () => get('hmf-auth-reconnect', 'bytes') < 1024))
  L.push(row('First contact with ' + rf + ' authorized feeds: exchange bytes per feed', '32 + 64 = 96 B (a key and a signature)',
    ['hmf-auth-first-contact'], () => fmt(get('hmf-auth-first-contact', 'exchangeBytesPerFeed'), ' B') + ' (' + bytes(get('hmf-auth-first-contact', 'exchangeBytes')) + '; whole first sync of the feeds ' + ms(get('hmf-auth-first-contact', 'timeMs')) + ')', () => get('hmf-auth-first-contact', 'exchangeBytesPerFeed') <= 96))
  L.push(row('A member floods 100,000 fresh keys at an honest peer: feeds recorded', '0',
    ['hmf-auth-flood'], () => fmt(get('hmf-auth-flood', 'recorded')) + ' (peak RSS growth ' + mb(get('hmf-auth-flood', 'peakGrowthMB')) + '; 100 feeds of the owner that grew meanwhile synced in ' + ms(get('hmf-auth-flood', 'timeMs')) + ')', () => get('hmf-auth-flood', 'recorded') === 0))
  L.push(row('First open in a fresh process after a session that wrote ' + rf + ' writers', '< 500 ms',
    ['hmf-reopen'], () => ms(get('hmf-reopen', 'timeMs')) + ' (next open ' + ms(get('hmf-reopen', 'secondMs')) + '; that session\'s close ' + ms(get('hmf-reopen', 'closeMs')) + ')', () => get('hmf-reopen', 'timeMs') < 500))
  issue13Rows(L)
  return L.join('\n')
}

const num = (v) => v === undefined || v === null ? '–' : v.toLocaleString('en-US')
const runs = (reps) => reps === 1 ? '1 run' : reps + ' runs'
const ratio = (a, b) => (a / b).toFixed(2) + '×'
const ms2 = (v) => v === undefined || v === null ? '–' : v.toLocaleString('en-US', { maximumFractionDigits: 2 }) + ' ms' // latencies of a few ms

// Issue 13: many small feeds, groups on one connection, live growth. Each row
// compares with its raw corestore baseline measured in the same run
// (interleaved rep by rep).
function issue13Rows (L) {
  // 13.1 first sync of many small feeds: raw corestore counting its opens of the receiver's cores
  const many = num(P.manyFeeds) + ' feeds × 1 block × 100 B (pipe, ' + runs(P.slowReps) + ' each)'
  const csMany = () => get('corestore-sync-many', 'timeMs') + get('corestore-sync-many', 'openMs')
  const hm = (k) => get('hmf-sync-many', k)
  const cm = (k) => get('corestore-sync-many', k)
  const needMany = ['hmf-sync-many', 'corestore-sync-many']
  L.push(row('First sync of ' + many + ': time', '≤ 0.8 × raw corestore counting its opens' + (state('corestore-sync-many') === 'ok' ? ' = 0.8 × (' + ms(cm('timeMs')) + ' + ' + ms(cm('openMs')) + ') = ' + ms(Math.round(0.8 * csMany())) : ''),
    needMany, () => ms(hm('timeMs')) + ' (' + ratio(hm('timeMs'), csMany()) + ')', () => hm('timeMs') <= 0.8 * csMany()))
  L.push(row('First sync of ' + many + ': peak RSS (both peers, one process)', '≤ 0.5 × raw corestore' + (state('corestore-sync-many') === 'ok' ? ' = ' + mb(Math.round(cm('peakRssMB') * 5) / 10) : ''),
    needMany, () => mb(hm('peakRssMB')) + ' (' + ratio(hm('peakRssMB'), cm('peakRssMB')) + ')', () => hm('peakRssMB') <= 0.5 * cm('peakRssMB')))
  L.push(row('First sync of ' + many + ': wire bytes', '≤ 1.1 × raw corestore' + (state('corestore-sync-many') === 'ok' ? ' = ' + bytes(Math.round(cm('bytes') * 1.1)) : ''),
    needMany, () => bytes(hm('bytes')) + ' (' + ratio(hm('bytes'), cm('bytes')) + ')', () => hm('bytes') <= 1.1 * cm('bytes')))

  // 13.2 writers that linger: the reconnect costs the same 3.5 s after the sync as once corestore collected the idle cores
  const early = (k) => get('hmf-groups', k)
  const late = (k) => get('hmf-groups-late', k)
  const reconnect = (g) => bytes(g('bytes')) + ' (' + fmt(g('bytesPerGroup'), ' B') + '/group, ' + ms(g('timeMs')) + '; cores held ' + num(g('coresA')) + ' + ' + num(g('coresB')) + ')'
  L.push(row(num(P.groups) + ' groups × ' + WRITERS_PER_GROUP + ' writers (closed after appending) on one connection: in-sync reconnect bytes, ' + (EARLY_DELAY / 1000) + ' s after the sync vs ' + (P.lateDelay / 1000) + ' s (' + runs(P.slowReps) + ')',
    'the same (±2 %): no lingering writer attached', ['hmf-groups', 'hmf-groups-late'],
    () => reconnect(early) + ' vs ' + reconnect(late), () => Math.abs(early('bytes') - late('bytes')) <= 0.02 * late('bytes')))

  // 13.3 live growth: p50 latency append -> block at the peer, and wire bytes per append, vs raw corestore on the same transport
  for (const [tcp, label] of [['', 'pipe'], ['-tcp', 'TCP (2 processes)']]) {
    const raw = 'corestore-live' + tcp
    for (const [id, held] of [['hmf-live-held' + tcp, 'the peer app holds the feed (b.feed(key))'], ['hmf-live' + tcp, 'the peer app holds nothing']]) {
      const p50 = () => get(id, 'p50Ms') / get(raw, 'p50Ms')
      const per = () => get(id, 'bytesPerAppend') / get(raw, 'bytesPerAppend')
      L.push(row('Live growth, ' + num(P.liveAppends) + ' appends × 100 B, ' + label + ', ' + held + ': p50 append → block at the peer, and bytes per append',
        '≤ 1.1 × raw corestore (reader holding the core with a live download)' + (state(raw) === 'ok' ? ' = ' + ms2(Math.round(get(raw, 'p50Ms') * 110) / 100) + ', ' + bytes(Math.round(get(raw, 'bytesPerAppend') * 1.1)) : ''),
        [id, raw], () => ms2(get(id, 'p50Ms')) + ' (' + ratio(get(id, 'p50Ms'), get(raw, 'p50Ms')) + '), ' + bytes(get(id, 'bytesPerAppend')) + ' (' + ratio(get(id, 'bytesPerAppend'), get(raw, 'bytesPerAppend')) + ')',
        () => p50() <= 1.1 && per() <= 1.1))
    }
  }
  const hop = (id) => get(id, 'perHopMs')
  L.push(row('A new feed crosses a line of ' + P.lineNodes + ' multifeeds (pipes): time per hop, new writer + one block', '≤ 2 × a raw corestore live append per hop' + (state('corestore-live-line') === 'ok' ? ' = ' + ms2(Math.round(hop('corestore-live-line') * 200) / 100) : ''),
    ['hmf-live-line', 'corestore-live-line'], () => ms2(hop('hmf-live-line')) + ' (' + ratio(hop('hmf-live-line'), hop('corestore-live-line')) + '; whole line ' + ms(get('hmf-live-line', 'timeMs')) + ')',
    () => hop('hmf-live-line') <= 2 * hop('corestore-live-line')))

  // 13.4 many groups on one connection. Raw corestore is measured with A's cores in the state ours are in:
  // closed after appending (A opens each when B asks), or held open by the app
  const gm = (k) => get('hmf-groups-many', k)
  const manyGroups = num(P.groupsMany) + ' groups × ' + WRITERS_PER_GROUP + ' feeds × 1 block on one connection (' + runs(P.slowReps) + ' each)'
  const rawGroups = (id) => get(id, 'timeMs') + get(id, 'openMs') // counting the opens of B's cores
  const complete = (id) => get(id, 'syncedGroups') === P.groupsMany
  const groupsDone = (id) => complete(id) ? 'every group complete' : '**only ' + num(get(id, 'syncedGroups')) + ' of ' + num(P.groupsMany) + ' groups complete** when synced() resolved (' + num(get(id, 'stalledEvents')) + ' downloads given up as stalled, the first after ' + ms(get(id, 'firstStallMs')) + ')'
  for (const [hmfId, rawId, how] of [
    ['hmf-groups-many', 'corestore-sync-groups-closed', 'A\'s writers closed by the app after appending, as raw corestore\'s A cores'],
    ['hmf-groups-many-held', 'corestore-sync-groups', 'A\'s writers held open by the app, as raw corestore\'s A cores (connection made by a multifeed)'],
    ['hmf-groups-many', 'corestore-sync-groups', 'A\'s writers closed, raw corestore\'s A cores open (unlike states: ours reopens 5 cores per group that raw\'s holds; the comparison of earlier runs)']
  ]) {
    const need = [hmfId, rawId]
    L.push(row('First sync of ' + manyGroups + ', ' + how + ': time to every group synced', '≤ 1.0 × raw corestore, the same ' + num(P.groupsMany * WRITERS_PER_GROUP) + ' cores on one stream counting its opens of B\'s cores' + (state(rawId) === 'ok' ? ' = ' + ms(get(rawId, 'timeMs')) + ' + ' + ms(get(rawId, 'openMs')) + ' = ' + ms(Math.round(rawGroups(rawId))) : '') + '; every group holding its feeds',
      need, () => ms(get(hmfId, 'syncMs')) + ' (' + ratio(get(hmfId, 'syncMs'), rawGroups(rawId)) + '); ' + groupsDone(hmfId),
      () => get(hmfId, 'syncMs') <= rawGroups(rawId) && complete(hmfId)))
    L.push(row('First sync of ' + manyGroups + ', ' + how + ': wire bytes', '≤ 1.0 × raw corestore' + (state(rawId) === 'ok' ? ' = ' + bytes(get(rawId, 'bytes')) : ''),
      need, () => bytes(get(hmfId, 'syncBytes')) + ' (' + ratio(get(hmfId, 'syncBytes'), get(rawId, 'bytes')) + ')', () => get(hmfId, 'syncBytes') <= get(rawId, 'bytes')))
  }
  L.push(row('In-sync reconnect of ' + num(P.groupsMany) + ' groups on one connection, ' + (EARLY_DELAY / 1000) + ' s after the sync: bytes per group', '≤ 100 B',
    ['hmf-groups-many', 'hmf-groups-many-held'], () => fmt(gm('bytesPerGroup'), ' B') + ' (' + bytes(gm('bytes')) + ', ' + ms(gm('timeMs')) + ', ' + num(gm('inSyncGroups')) + ' groups in-sync; ' + num(P.groups) + ' groups: ' + (state('hmf-groups') === 'ok' ? fmt(early('bytesPerGroup'), ' B') : state('hmf-groups')) + '); writers held by the app: ' + fmt(get('hmf-groups-many-held', 'bytesPerGroup'), ' B') + ' (' + ms(get('hmf-groups-many-held', 'timeMs')) + ')',
    () => gm('bytesPerGroup') <= 100 && get('hmf-groups-many-held', 'bytesPerGroup') <= 100))
}

function tcpTable () {
  const L = []
  L.push('| Figure (hyper-multifeed, TCP) | Measured | Target | Met? |')
  L.push('| --- | --- | --- | --- |')
  const cs = get('corestore-sync-tcp', 'timeMs')
  L.push(row('First sync time over TCP', '≤ 1.15 × raw corestore = ' + ms(cs && cs * 1.15),
    ['hmf-sync-tcp', 'corestore-sync-tcp'], () => ms(get('hmf-sync-tcp', 'timeMs')), () => get('hmf-sync-tcp', 'timeMs') <= 1.15 * cs))
  mf6Rows(L, 'hmf-sync-tcp', '-tcp', 'First sync over TCP', 'First sync peak RSS over TCP (downloader + uploader)', (id) => get(id, 'peakRssMB') + get(id, 'serverPeakRssMB'))
  return L.join('\n')
}

// Every hyper-multifeed scenario with the secondary figures its script prints.
function hmfTable () {
  const L = []
  L.push('| Scenario | Parameters | Time | Memory | Other |')
  L.push('| --- | --- | --- | --- | --- |')
  const f = (id, k, unit = '') => fmt(get(id, k), unit)
  const line = (id, label, params, time, mem, other) => {
    const st = state(id)
    const cells = st === 'ok' ? [time(), mem(), other()] : [st, '', '']
    L.push('| ' + [label, params, ...cells].join(' | ') + ' |')
  }
  const n = P.feeds + ' × ' + P.blocks + ' × ' + P.size + ' B'
  line('hmf-sync', 'First sync, pipe', n, () => ms(get('hmf-sync', 'timeMs')),
    () => mb(get('hmf-sync', 'peakRssMB')) + ' (growth ' + mb(get('hmf-sync', 'peakGrowthMB')) + ')',
    () => 'feed list learned after ' + ms(get('hmf-sync', 'exchangeDoneMs')) + ' (' + get('hmf-sync', 'mode') + ', exchange ' + bytes(get('hmf-sync', 'exchangeBytes')) + '); wire ' + bytes(get('hmf-sync', 'bytes')) + '; writer setup ' + ms(get('hmf-sync', 'setupMs')))
  line('hmf-sync-tcp', 'First sync, TCP (2 processes)', n, () => ms(get('hmf-sync-tcp', 'timeMs')),
    () => mb(get('hmf-sync-tcp', 'peakRssMB')) + ' downloader + ' + mb(get('hmf-sync-tcp', 'serverPeakRssMB')) + ' uploader',
    () => 'feed list learned after ' + ms(get('hmf-sync-tcp', 'exchangeDoneMs')) + '; wire ' + bytes(get('hmf-sync-tcp', 'bytes')))
  for (const d of [0, ...P.changed]) {
    const id = d === 0 ? 'hmf-reconnect' : 'hmf-reconnect-d' + d
    line(id, 'Reconnect, ' + d + ' changed', P.reconnectFeeds.toLocaleString('en-US') + ' feeds × 1 block', () => ms(get(id, 'timeMs')), () => '–',
      () => 'mode ' + get(id, 'mode') + ', exchange ' + bytes(get(id, 'exchangeBytes')) + ' (' + f(id, 'exchangeMs', ' ms') + '), wire ' + bytes(get(id, 'bytes')) + ', feed cores open after: ' + f(id, 'openFeedsA') + ' + ' + f(id, 'openFeedsB'))
  }
  line('hmf-first-contact', 'First contact (B empty)', P.firstContactFeeds.toLocaleString('en-US') + ' feeds × 1 block, every one declined by B\'s accept()', () => ms(get('hmf-first-contact', 'timeMs')),
    () => mb(get('hmf-first-contact', 'peakRssMB')) + ' (growth ' + mb(get('hmf-first-contact', 'peakGrowthMB')) + ')',
    () => 'mode ' + get('hmf-first-contact', 'mode') + ', exchange ' + bytes(get('hmf-first-contact', 'exchangeBytes')) + ', wire ' + bytes(get('hmf-first-contact', 'bytes')) + '; feed cores opened ' + f('hmf-first-contact', 'openFeedsA') + ' (A) + ' + f('hmf-first-contact', 'openFeedsB') + ' (B); opening A: ' + f('hmf-first-contact', 'openMs', ' ms'))
  line('hmf-open', 'Open (new Multifeed → ready → list)', P.openFeeds.toLocaleString('en-US') + ' remote feeds × 1 block', () => ms(get('hmf-open', 'timeMs')),
    () => 'growth ' + mb(get('hmf-open', 'growthMB')) + ' (after GC ' + mb(get('hmf-open', 'growthAfterGcMB')) + ', peak ' + mb(get('hmf-open', 'peakGrowthMB')) + ')',
    () => 'feed cores opened ' + f('hmf-open', 'openFeeds') + '; the writer side (' + P.openFeeds.toLocaleString('en-US') + ' writers): ' + f('hmf-open', 'writersTimeMs', ' ms') + ', ' + f('hmf-open', 'writersGrowthMB', ' MB'))
  for (const b of [1, 100]) {
    const id = 'hmf-append-b' + b
    line(id, 'Writer append, batch ' + b, (b === 1 ? P.appendsB1 : P.appends).toLocaleString('en-US') + ' × ' + P.size + ' B', () => ms(get(id, 'timeMs')),
      () => mb(get(id, 'peakGrowthMB')) + ' peak growth', () => fmt(get(id, 'blocksPerSec'), ' blocks/s') + ' (' + fmt(get(id, 'MBPerSec'), ' MB/s') + ')')
  }
  // issue 13
  line('hmf-sync-many', 'First sync of many small feeds, pipe (' + runs(P.slowReps) + ')', num(P.manyFeeds) + ' × 1 × 100 B', () => ms(get('hmf-sync-many', 'timeMs')),
    () => mb(get('hmf-sync-many', 'peakRssMB')) + ' (growth ' + mb(get('hmf-sync-many', 'peakGrowthMB')) + ')',
    () => 'feed list learned after ' + ms(get('hmf-sync-many', 'exchangeDoneMs')) + ' (' + get('hmf-sync-many', 'mode') + ', exchange ' + bytes(get('hmf-sync-many', 'exchangeBytes')) + '); wire ' + bytes(get('hmf-sync-many', 'bytes')) + '; writer setup ' + ms(get('hmf-sync-many', 'setupMs')))
  for (const [id, n, delay, label] of [['hmf-groups', P.groups, EARLY_DELAY, ''], ['hmf-groups-late', P.groups, P.lateDelay, ', late reconnect (' + runs(P.slowReps) + ')'], ['hmf-groups-many', P.groupsMany, EARLY_DELAY, ' (' + runs(P.slowReps) + ')'], ['hmf-groups-many-held', P.groupsMany, EARLY_DELAY, ', writers held by the app, connection made by a multifeed (' + runs(P.slowReps) + ')']]) {
    line(id, 'Groups on one connection (one Corestore per side)' + label, num(n) + ' groups × ' + WRITERS_PER_GROUP + ' writers × 1 × 100 B; reconnect ' + fmt(delay / 1000, ' s') + ' after the sync', () => 'first sync ' + ms(get(id, 'syncMs')) + ', reconnect ' + ms(get(id, 'timeMs')),
      () => mb(get(id, 'syncPeakRssMB')) + ' peak (first sync)',
      () => 'first sync: wire ' + bytes(get(id, 'syncBytes')) + ' (' + fmt(get(id, 'syncBytesPerGroup'), ' B') + '/group), ' + num(get(id, 'syncedGroups')) + ' groups complete at synced(), ' + num(get(id, 'stalledEvents')) + ' stalled' + (get(id, 'catchUps') ? ' (' + get(id, 'catchUps') + ' catch-up connection(s), ' + ms(get(id, 'catchUpMs')) + ')' : '') +
        '; reconnect: wire ' + bytes(get(id, 'bytes')) + ' (' + fmt(get(id, 'bytesPerGroup'), ' B') + '/group), ' + num(get(id, 'inSyncGroups')) + ' groups in-sync, Hypercore channels ' + num(get(id, 'coreChannels')) + ', cores corestore held before it ' + num(get(id, 'coresA')) + ' + ' + num(get(id, 'coresB')) + '; writer setup ' + ms(get(id, 'setupMs')))
  }
  for (const [id, label] of [['hmf-live-held', 'pipe, peer holds the feed'], ['hmf-live', 'pipe, peer holds nothing'], ['hmf-live-held-tcp', 'TCP, peer holds the feed'], ['hmf-live-tcp', 'TCP, peer holds nothing']]) {
    line(id, 'Live growth, ' + label, num(P.liveAppends) + ' appends × 100 B, each awaited at the peer', () => 'p50 ' + ms2(get(id, 'p50Ms')) + ' (p90 ' + ms2(get(id, 'p90Ms')) + ', p99 ' + ms2(get(id, 'p99Ms')) + ')', () => '–',
      () => fmt(get(id, 'bytesPerAppend'), ' B') + '/append (' + bytes(get(id, 'bytesWriterToReader')) + ' writer → peer, ' + bytes(get(id, 'bytesReaderToWriter')) + ' back); whole run ' + ms(get(id, 'timeMs')) + (get(id, 'detectedByPoll') ? '; ' + get(id, 'detectedByPoll') + ' blocks noticed only by the 2 ms poll' : ''))
  }
  line('hmf-live-line', 'A new feed crosses a line of multifeeds (pipes)', P.lineNodes + ' multifeeds, ' + P.lineRounds + ' rounds of a new writer + 1 block', () => ms2(get('hmf-live-line', 'perHopMs')) + ' per hop (whole line ' + ms(get('hmf-live-line', 'timeMs')) + ')', () => '–',
    () => 'hops (ms, median): ' + get('hmf-live-line', 'hopMs') + '; ' + bytes(get('hmf-live-line', 'bytesPerRound')) + ' on all links per round; writer() ' + ms(get('hmf-live-line', 'writerMs')))
  const built = HMF.map((d) => results[d.id]).filter((e) => e && e.runs.some((r) => r.stateBuilt))
  if (built.length) L.push('\nPrepared state built during this run (cached under `' + path.join(os.tmpdir(), 'hmf-bench-cache') + '`, reused by later runs of the same library build): ' + built.map((e) => e.id + ' ' + fmt(Math.round(e.runs.find((r) => r.stateBuilt).stateBuildMs / 100) / 10, ' s')).join(', ') + '.')
  return L.join('\n')
}

function baselineTable () {
  const L = []
  L.push('| Scenario | Parameters | Time | Peak RSS | Other |')
  L.push('| --- | --- | --- | --- | --- |')
  const cell = (id, f) => state(id) === 'ok' ? f() : state(id)
  const n = P.feeds + ' × ' + P.blocks + ' × ' + P.size + ' B'
  const syncRow = (id, label, params, opens = false) => L.push('| ' + [label, params,
    cell(id, () => ms(get(id, 'timeMs'))),
    cell(id, () => get(id, 'transport') === 'tcp'
      ? mb(get(id, 'peakRssMB')) + ' downloader + ' + mb(get(id, 'serverPeakRssMB')) + ' uploader'
      : mb(get(id, 'peakRssMB')) + ' (growth ' + mb(get(id, 'peakGrowthMB')) + ')'),
    cell(id, () => 'wire bytes ' + fmt(get(id, 'bytes')) + (get(id, 'setupMs') !== undefined ? '; writer setup ' + ms(get(id, 'setupMs')) : '') + (opens ? '; opening the receiver\'s cores by key (before the clock) ' + ms(get(id, 'openMs')) : ''))
  ].join(' | ') + ' |')
  syncRow('corestore-sync', '(a) First sync, raw corestore 7 (keys known), pipe', n)
  syncRow('corestore-sync-tcp', '(a) First sync, raw corestore 7, TCP (2 processes)', n)
  syncRow('multifeed6-sync', '(b) First sync, multifeed 6.0.0, pipe', n + ', disk (random-access-file)')
  syncRow('multifeed6-sync-tcp', '(b) First sync, multifeed 6.0.0, TCP (2 processes)', n + ', disk')
  syncRow('multifeed6-sync-ram', '(b\') First sync, multifeed 6.0.0, pipe, RAM storage (1 run)', n + ', random-access-memory')
  syncRow('multifeed6-sync-ram-tcp', '(b\') First sync, multifeed 6.0.0, TCP (2 processes), RAM storage (1 run)', n + ', random-access-memory')
  L.push('| ' + ['(c) Eager open of existing corestore 7 cores (by key, concurrent)', P.openCores.toLocaleString('en-US') + ' cores × 1 block',
    cell('corestore-open', () => ms(get('corestore-open', 'timeMs'))),
    cell('corestore-open', () => mb(get('corestore-open', 'peakGrowthMB')) + ' peak growth'),
    cell('corestore-open', () => 'RSS growth ' + mb(get('corestore-open', 'growthMB')) + ' (after GC ' + mb(get('corestore-open', 'growthAfterGcMB')) + ')')
  ].join(' | ') + ' |')
  for (const [id, label] of [['hypercore-append-b1', '(d) Append, plain Hypercore, batch 1'], ['hypercore-append-b100', '(d) Append, plain Hypercore, batch 100'], ['corestore-append-b1', '(d) Append, corestore named core, batch 1'], ['corestore-append-b100', '(d) Append, corestore named core, batch 100']]) {
    L.push('| ' + [label, (id.endsWith('-b1') ? P.appendsB1 : P.appends).toLocaleString('en-US') + ' × ' + P.size + ' B',
      cell(id, () => ms(get(id, 'timeMs'))),
      cell(id, () => mb(get(id, 'peakGrowthMB')) + ' peak growth'),
      cell(id, () => fmt(get(id, 'blocksPerSec'), ' blocks/s') + ' (' + fmt(get(id, 'MBPerSec'), ' MB/s') + ')')
    ].join(' | ') + ' |')
  }
  // issue 13
  syncRow('corestore-sync-many', '(a) First sync of many small feeds, raw corestore 7 (keys known), pipe (' + runs(P.slowReps) + ')', num(P.manyFeeds) + ' × 1 × 100 B', true)
  syncRow('corestore-sync-groups', '(a) First sync, raw corestore 7, the cores of ' + num(P.groupsMany) + ' groups on one stream, pipe (' + runs(P.slowReps) + ')', num(P.groupsMany * WRITERS_PER_GROUP) + ' × 1 × 100 B', true)
  syncRow('corestore-sync-groups-closed', '(a) The same, A\'s cores closed after appending (a fresh Corestore on A\'s folder opens each when B asks) (' + runs(P.slowReps) + ')', num(P.groupsMany * WRITERS_PER_GROUP) + ' × 1 × 100 B', true)
  for (const [id, label] of [['corestore-live', '(e) Live growth, raw corestore 7, pipe'], ['corestore-live-tcp', '(e) Live growth, raw corestore 7, TCP (2 processes)']]) {
    L.push('| ' + [label + ' (reader holds the core with a live download)', num(P.liveAppends) + ' appends × 100 B, each awaited at the peer',
      cell(id, () => 'p50 ' + ms2(get(id, 'p50Ms')) + ' (p90 ' + ms2(get(id, 'p90Ms')) + ', p99 ' + ms2(get(id, 'p99Ms')) + ')'), '–',
      cell(id, () => fmt(get(id, 'bytesPerAppend'), ' B') + '/append; whole run ' + ms(get(id, 'timeMs')))
    ].join(' | ') + ' |')
  }
  L.push('| ' + ['(e) A live append crosses a line of raw corestores (pipes), every store holding the core with a live download', P.lineNodes + ' stores, ' + P.lineRounds + ' rounds of 1 block',
    cell('corestore-live-line', () => ms2(get('corestore-live-line', 'perHopMs')) + ' per hop (whole line ' + ms(get('corestore-live-line', 'timeMs')) + ')'), '–',
    cell('corestore-live-line', () => 'hops (ms, median): ' + get('corestore-live-line', 'hopMs') + '; ' + bytes(get('corestore-live-line', 'bytesPerRound')) + ' on all links per round')
  ].join(' | ') + ' |')
  return L.join('\n')
}

function versions () {
  const v = (p) => { try { return JSON.parse(fs.readFileSync(p, 'utf8')).version } catch { return 'not installed' } }
  const nm = path.join(ROOT, 'node_modules')
  const mf = path.join(__dirname, 'multifeed6', 'node_modules')
  return 'hypercore ' + v(path.join(nm, 'hypercore/package.json')) +
    ', corestore ' + v(path.join(nm, 'corestore/package.json')) +
    ', multifeed ' + v(path.join(mf, 'multifeed/package.json')) +
    ' (hypercore ' + v(path.join(mf, 'hypercore/package.json')) + ')' +
    ', hyper-multifeed ' + v(path.join(ROOT, 'package.json'))
}

function report (totalS) {
  const mach = machine()
  const csT = get('corestore-sync', 'timeMs')
  const mfT = get('multifeed6-sync', 'timeMs')
  const errors = Object.values(results).filter((e) => e.runs.some((r) => r.error))
  const todoScripts = new Map()
  for (const e of Object.values(results)) if (e.todo) todoScripts.set(e.script, (todoScripts.get(e.script) || []).concat(e.id))
  const todos = [...todoScripts].map(([script, ids]) => '`bench/' + script + '` (' + ids.join(', ') + ')')
  const L = []
  L.push('# Benchmarks')
  L.push('')
  L.push('Generated by `' + COMMAND + '`' + (QUICK ? ' (**quick run: smaller sizes, 1 repetition — not the reference figures**)' : '') + '.')
  L.push('')
  L.push('- Machine: ' + mach.nproc + ' CPUs (`nproc`: ' + mach.nproc + ', ' + mach.cpu + '), ' + mach.memGB + ' GB RAM, ' + mach.platform)
  L.push('- Node ' + mach.node + '; ' + versions())
  L.push('- Date: ' + new Date().toISOString())
  const loadEnd = os.loadavg()
  const busy = loadStart[0] > 0.5 || loadStart[1] > 1 || loadEnd[1] > mach.nproc
  L.push('- Load average (1/5/15 min) at start: ' + loadStart.map((x) => x.toFixed(2)).join(' / ') + ', at end: ' + loadEnd.map((x) => x.toFixed(2)).join(' / ') +
    (busy ? ' — **other processes were competing for the CPUs; absolute figures are noisy, compare ratios within this run**' : ''))
  L.push('- Each scenario runs in its own `node --expose-gc` child process, ' + P.reps + ' repetition(s) (first contact and multifeed 6 on RAM: 1 run each' + (P.slowReps !== P.reps ? '; issue 13\'s first sync of ' + num(P.manyFeeds) + ' feeds, ' + num(P.groupsMany) + ' groups and late reconnect: ' + runs(P.slowReps) + ' each' : '') + '); figures are medians; the first-sync, append and issue 13 scenarios run interleaved rep by rep with their baselines, so their ratios see the same load. Whole run: ' + Math.round(totalS) + ' s (baselines ' + Math.round(groupS.baselines) + ' s, hyper-multifeed ' + Math.round(groupS.hmf) + ' s' + hmfTimes() + ').')
  L.push('- Peak RSS is the kernel high-water mark (VmHWM), reset after setup so it covers the measured phase; "growth" is relative to RSS just before that phase. Bytes are counted on the wire after the Noise handshake, both directions.')
  L.push('')
  for (const [title, table] of [
    ['## Targets for hyper-multifeed', targetsTable],
    ['### First sync over TCP (two processes on 127.0.0.1)', tcpTable],
    ['## hyper-multifeed scenarios', hmfTable],
    ['## Baselines', baselineTable]
  ]) L.push(title, '', table(), '')
  const notes = []
  const ramT = get('multifeed6-sync-ram', 'timeMs')
  const ramM = get('multifeed6-sync-ram', 'peakRssMB')
  if (ramT && ramM) {
    notes.push('The issue set the multifeed 6 targets from its own measurement, "11.5-30 s with a 3.8 GB peak": that is multifeed 6 on random-access-memory, as DEVELOPERS.md installs it (here ' + ms(ramT) + ', ' + mb(ramM) + '). The RAM rows are the targets as set; the disk rows show a much stronger multifeed 6 for a fair picture.')
  }
  if (csT && mfT) {
    notes.push('On disk, raw corestore (the floor) syncs ' + (mfT >= csT ? fmt(mfT / csT) + '× faster than' : 'at ' + fmt(mfT / csT) + '× the speed of') + ' multifeed 6, so "≥ 4× faster than multifeed 6 on disk" would require beating raw corestore by ' + fmt(4 / (mfT / csT)) + '×' + (mfT / csT < 4 ? ', which "≤ 1.15 × raw corestore" (raw corestore as the floor) rules out.' : '.'))
  }
  const csM = get('corestore-sync', 'peakRssMB')
  const mfM = get('multifeed6-sync', 'peakRssMB')
  if (csM && mfM) {
    notes.push('Raw corestore peaks at ' + mb(csM) + ' during the same sync (both peers, one process), against ' + mb(mfM / 10) + ' for 1/10 of multifeed 6 on disk: ' + (csM > mfM / 10 ? 'the floor itself is ' + fmt(csM / (mfM / 10)) + '× over that.' : 'the floor is within it.'))
  }
  const coT = get('corestore-open', 'timeMs')
  const coM = get('corestore-open', 'growthMB')
  if (coT && coM) {
    const per = P.openCores / P.openFeeds
    notes.push('Opening ' + P.openCores.toLocaleString('en-US') + ' corestore cores eagerly takes ' + ms(coT) + ' and ' + mb(coM) + ' (≈ ' + fmt(coM * 1024 / P.openCores, ' KB') + ' per open core)' + (per === 1 ? '' : ' (' + P.openCores + ' cores vs ' + P.openFeeds + ' feeds)') + ', against < 500 ms / < 50 MB for opening a multifeed of ' + P.openFeeds.toLocaleString('en-US') + ' feeds: hyper-multifeed has to list feeds without opening their cores.')
  }
  const afc = get('hmf-auth-first-contact', 'exchangeBytesPerFeed')
  if (afc) {
    notes.push('First contact with authorized feeds costs ' + fmt(afc, ' B') + ' of exchange per feed against 96 B for a key and a signature: each feed crosses as its membership record (98 B: type, flags, key, 64-byte signature), the record\'s id as an entry of the list (34 B) and the feed\'s own entry (34 B). Leaving the ids out of list mode (the records themselves come first) would bring it near 138 B; the record and the feed\'s entry (its length) stay, so 96 B is below what one signed authorization and one length take in this design.')
  }
  if (notes.length) {
    L.push('### What the baselines imply')
    L.push('')
    for (const n of notes) L.push('- ' + n)
    L.push('')
  }
  if (todos.length) {
    L.push('## TODO')
    L.push('')
    L.push('hyper-multifeed scenarios not written yet (see bench/README.md, "Hook contract"): ' + todos.join(', ') + '.')
    L.push('')
  }
  if (errors.length) {
    L.push('## Errors')
    L.push('')
    for (const e of errors) L.push('- ' + e.id + ': `' + String(e.runs.find((r) => r.error).error).split('\n')[0].slice(0, 300) + '`')
    L.push('')
  }
  return L.join('\n')
}

async function main () {
  log((QUICK ? 'quick' : 'full') + ' run, ' + P.reps + ' rep(s) -> ' + path.relative(ROOT, OUT))
  if (!fs.existsSync(path.join(__dirname, 'multifeed6', 'node_modules', 'multifeed'))) {
    log('multifeed 6 is not installed: run `npm --prefix bench/multifeed6 ci` (its scenarios will show errors)')
  }
  const all = [...BASELINES, ...HMF]
  const done = new Set()
  for (const def of all) {
    if (done.has(def)) continue
    const group = def.interleave ? all.filter((d) => d.interleave === def.interleave) : [def]
    for (const d of group) done.add(d)
    await runGroup(group)
  }
  const totalS = (Date.now() - t0) / 1000
  const wall = (defs) => defs.reduce((sum, d) => sum + (results[d.id] ? results[d.id].wallS : 0), 0)
  groupS.baselines = wall(BASELINES)
  groupS.hmf = wall(HMF)
  const md = report(totalS)
  fs.mkdirSync(path.dirname(OUT), { recursive: true })
  fs.writeFileSync(OUT, md + '\n')
  const resultsDir = path.join(__dirname, 'results')
  fs.mkdirSync(resultsDir, { recursive: true })
  fs.writeFileSync(path.join(resultsDir, (QUICK ? 'quick' : 'full') + '-' + new Date().toISOString().replace(/[:.]/g, '-') + '.json'),
    JSON.stringify({ command: COMMAND, machine: machine(), params: P, results }, null, 2) + '\n')
  log('wrote ' + path.relative(ROOT, OUT) + ' in ' + Math.round(totalS) + ' s')
}

main().catch((err) => { console.error(err); process.exit(1) })
