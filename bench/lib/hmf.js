'use strict'
// Shared helpers for the hyper-multifeed scenarios (scenario-hmf-*.js).
//
// - load(): the built package (require(path.join(__dirname, '..', '..'))),
//   with a clear error when dist/ is missing.
// - addWriters(multi, n, ...): n named writers, created concurrently in
//   batches, each with `blocks` blocks.
// - cachedState(kind, params): expensive prepared state (10,000 or 100,000
//   feeds) built once by lib/hmf-state.js in a child process and cached under
//   os.tmpdir()/hmf-bench-cache/, keyed by kind + parameters + a fingerprint
//   of the built library (dist/lib/*.js) and of the hypercore/corestore
//   versions, so a changed library never measures stale state. Measurements
//   copy the cached directories (fs.cpSync) and never open the cache itself.
//   Stale entries of the same kind are pruned. `--no-cache` on a scenario
//   rebuilds into a throw-away directory instead.
// - exchangeSummary(multi): mode, exchange-channel bytes, timing of the first
//   connection's feed exchange.

const fs = require('fs')
const os = require('os')
const path = require('path')
const crypto = require('crypto')
const { runScenario } = require('./child')

const ROOT = path.join(__dirname, '..', '..')
const CACHE_ROOT = path.join(os.tmpdir(), 'hmf-bench-cache')
const BUILDER_VERSION = 1 // bump when a state builder changes what it writes

function load () {
  try {
    return require(ROOT)
  } catch (err) {
    throw new Error('cannot load hyper-multifeed from ' + ROOT + ' (run `npm run build` first): ' + err.message)
  }
}

function version (name) {
  try { return JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version } catch { return '?' }
}

// Hash of the built library and the storage stack: a cache built by another
// build is never reused.
function fingerprint () {
  const h = crypto.createHash('sha256')
  h.update('builder ' + BUILDER_VERSION + '\n')
  h.update('hypercore ' + version('hypercore') + ' corestore ' + version('corestore') + '\n')
  const lib = path.join(ROOT, 'dist', 'lib')
  for (const f of fs.readdirSync(lib).filter((f) => f.endsWith('.js')).sort()) {
    h.update(f + '\n')
    h.update(fs.readFileSync(path.join(lib, f)))
  }
  return h.digest('hex').slice(0, 12)
}

// Returns { dir, meta, built, buildMs }. If the cache has no complete entry,
// runs `node lib/hmf-state.js --state-kind K --state-dir TMP ...params` in a
// child process (so the measuring process never carries the builder's heap),
// which writes its directories into TMP and prints its meta as its JSON line;
// then TMP is renamed into place.
async function cachedState (kind, params, { noCache = false, timeoutMs = 10 * 60 * 1000 } = {}) {
  const script = path.join(__dirname, 'hmf-state.js')
  const label = kind + '-' + Object.entries(params).map(([k, v]) => k + v).join('-')
  const fp = fingerprint()
  fs.mkdirSync(CACHE_ROOT, { recursive: true })
  const dir = noCache
    ? fs.mkdtempSync(path.join(os.tmpdir(), 'hmf-bench-state-'))
    : path.join(CACHE_ROOT, label + '-' + fp)
  const metaFile = path.join(dir, 'meta.json')
  if (!noCache && fs.existsSync(metaFile)) {
    return { dir, meta: JSON.parse(fs.readFileSync(metaFile, 'utf8')), built: false, buildMs: 0 }
  }
  // prune entries of this kind/params built by another library build
  if (!noCache) {
    for (const e of fs.readdirSync(CACHE_ROOT)) {
      if (e.startsWith(label + '-') && e !== path.basename(dir)) fs.rmSync(path.join(CACHE_ROOT, e), { recursive: true, force: true })
    }
  }
  const tmp = noCache ? dir : dir + '.tmp-' + process.pid
  fs.rmSync(tmp, { recursive: true, force: true })
  fs.mkdirSync(tmp, { recursive: true })
  const t0 = Date.now()
  const args = ['--state-kind', kind, '--state-dir', tmp]
  for (const [k, v] of Object.entries(params)) args.push('--' + k, v)
  const res = await runScenario(script, args, { timeoutMs, nodeArgs: ['--expose-gc'] })
  if (res.error) {
    fs.rmSync(tmp, { recursive: true, force: true })
    throw new Error('building ' + label + ' failed: ' + res.error)
  }
  fs.writeFileSync(path.join(tmp, 'meta.json'), JSON.stringify({ ...res, fingerprint: fp, params }))
  if (!noCache) {
    fs.rmSync(dir, { recursive: true, force: true })
    fs.renameSync(tmp, dir)
  }
  return { dir, meta: JSON.parse(fs.readFileSync(metaFile, 'utf8')), built: true, buildMs: Date.now() - t0 }
}

// Copies one directory of a cached state (one Corestore) to a fresh place
// (registered for removal at exit by measure.tmpdir()). Corestore 7's
// hypercore-storage guards its directory with a device file (CORESTORE) that
// records the file's inode and an xattr, so a plain copy fails to open with
// "Invalid device file, was moved unsafely". The copy drops that file and the
// first open writes a new one, as for a directory opened the first time; the
// RocksDB data itself is copied as is (the store was closed cleanly).
function copyState (from, tmpdir) {
  const to = tmpdir('hmf-bench-copy-')
  fs.cpSync(from, to, { recursive: true })
  fs.rmSync(path.join(to, 'CORESTORE'), { force: true })
  return to
}

// n named writers 'w0'..'w{n-1}' (or prefix), created `concurrency` at a time,
// each with `blocks` blocks of `size` bytes. keepOpen: return the sessions
// (otherwise they are closed as soon as they are written, so 100,000 writers
// do not hold 100,000 open cores).
async function addWriters (multi, n, { blocks = 0, size = 100, prefix = 'w', concurrency = 256, keepOpen = false } = {}) {
  const data = []
  for (let j = 0; j < blocks; j++) data.push(Buffer.alloc(size, j & 0xff))
  const sessions = []
  for (let i = 0; i < n; i += concurrency) {
    const batch = []
    for (let j = i; j < Math.min(n, i + concurrency); j++) {
      batch.push((async () => {
        const w = await multi.writer(prefix + j)
        if (data.length) await w.append(data)
        if (keepOpen) return w
        await w.close()
        return null
      })())
    }
    for (const w of await Promise.all(batch)) if (w) sessions.push(w)
  }
  return sessions
}

// The feed exchange of a multifeed's first connection (call before the stream
// is destroyed: a closed exchange leaves multi.connections).
function exchangeSummary (multi) {
  const ex = multi.connections[0]
  if (!ex) return { mode: null }
  const s = ex.stats
  return {
    mode: ex.mode,
    inSync: s.inSync,
    exchangeBytesSent: s.exchangeBytesSent,
    exchangeBytesReceived: s.exchangeBytesReceived,
    exchangeBytes: s.exchangeBytesSent + s.exchangeBytesReceived,
    exchangeMs: s.finishedAt && s.startedAt ? s.finishedAt - s.startedAt : null
  }
}

function once (emitter, name) {
  return new Promise((resolve) => emitter.once(name, (...args) => resolve(args)))
}

// Rejects when a replication stream errors (so a failed exchange fails the
// scenario instead of hanging until the timeout).
function failOnError (...streams) {
  return new Promise((resolve, reject) => {
    for (const s of streams) s.on('error', (err) => reject(new Error('replication stream error: ' + ((err && err.stack) || err))))
  })
}

const { round } = require('./measure')

module.exports = { load, fingerprint, cachedState, copyState, addWriters, exchangeSummary, once, failOnError, round, CACHE_ROOT }
