'use strict'
// Shared measurement helpers for bench scenarios.
//
// Every scenario is a standalone script run in its own child process
// (`node bench/scenario-X.js --flag value ...`) that prints exactly ONE JSON
// line on stdout (see emit()). Peak memory is read from /proc/self/status
// (VmHWM = high-water mark of resident set size) so each scenario's figure is
// not polluted by other scenarios. resetPeak() writes "5" to
// /proc/self/clear_refs, which resets VmHWM to the current RSS (Linux >= 4.0),
// so a scenario can measure the peak of one phase (e.g. only the sync, not
// the setup that created the data). An in-process 20 ms RSS sampler is kept as
// a fallback for systems without /proc.

const fs = require('fs')
const os = require('os')
const path = require('path')

const MB = 1024 * 1024

function now () {
  return Number(process.hrtime.bigint()) / 1e6 // ms, float
}

function readStatus () {
  try {
    const s = fs.readFileSync('/proc/self/status', 'utf8')
    const kb = (name) => {
      const m = s.match(new RegExp('^' + name + ':\\s+(\\d+) kB', 'm'))
      return m ? Number(m[1]) * 1024 : null
    }
    return { hwm: kb('VmHWM'), rss: kb('VmRSS') }
  } catch {
    return { hwm: null, rss: null }
  }
}

let sampler = null
let sampledPeak = 0

function sample () {
  const r = process.memoryUsage.rss()
  if (r > sampledPeak) sampledPeak = r
  return r
}

// Starts the 20 ms RSS sampler (fallback when /proc is not available; also
// harmless when it is).
function startSampler (intervalMs = 20) {
  if (sampler) return
  sample()
  sampler = setInterval(sample, intervalMs)
  sampler.unref()
}

function stopSampler () {
  if (sampler) clearInterval(sampler)
  sampler = null
}

// Current RSS in bytes.
function rss () {
  return readStatus().rss ?? process.memoryUsage.rss()
}

// Peak RSS in bytes since process start or the last resetPeak().
function peakRss () {
  const s = readStatus()
  sample()
  if (s.hwm !== null) return s.hwm
  return sampledPeak
}

// Reset the peak to the current RSS. Returns true if the kernel peak was reset.
function resetPeak () {
  sampledPeak = 0
  sample()
  try {
    fs.writeFileSync('/proc/self/clear_refs', '5')
    return true
  } catch {
    return false
  }
}

// Best-effort GC (only if node was started with --expose-gc).
function gc () {
  if (typeof global.gc === 'function') { global.gc(); global.gc() }
}

function toMB (bytes) {
  return bytes === null || bytes === undefined ? null : Math.round((bytes / MB) * 10) / 10
}

// A fresh directory under os.tmpdir(). Removed by cleanupTmp()/on exit.
const tmpDirs = new Set()
function tmpdir (prefix = 'hmf-bench-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  tmpDirs.add(dir)
  return dir
}

function rmrf (dir) {
  try { fs.rmSync(dir, { recursive: true, force: true }) } catch {}
}

function cleanupTmp () {
  for (const d of tmpDirs) rmrf(d)
  tmpDirs.clear()
}

process.once('exit', cleanupTmp)

// Minimal argv parser: --key value, --key=value, --flag (true), --no-flag.
function args (defaults = {}) {
  const out = { ...defaults }
  const argv = process.argv.slice(2)
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (!a.startsWith('--')) continue
    let k = a.slice(2)
    let v
    const eq = k.indexOf('=')
    if (eq !== -1) { v = k.slice(eq + 1); k = k.slice(0, eq) } else if (k.startsWith('no-')) { k = k.slice(3); v = false } else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) { v = argv[++i] } else v = true
    k = k.replace(/-([a-z])/g, (_, c) => c.toUpperCase())
    // numbers only for options whose default is a number (or that have no
    // default), so hex keys / paths given as strings are never coerced
    const numeric = !(k in defaults) || typeof defaults[k] === 'number'
    if (numeric && typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v)) v = Number(v)
    if (v === 'true') v = true
    if (v === 'false') v = false
    out[k] = v
  }
  return out
}

// Print the single JSON result line and exit.
function emit (result) {
  process.stdout.write(JSON.stringify(result) + '\n')
}

// Wraps a scenario main(): prints {error} JSON and exits 1 on failure, exits
// 0 otherwise (some libraries keep handles open, so we exit explicitly).
function main (fn, { timeoutMs = 10 * 60 * 1000 } = {}) {
  const t = setTimeout(() => {
    emit({ error: 'timeout after ' + timeoutMs + ' ms' })
    cleanupTmp()
    process.exit(2)
  }, timeoutMs)
  t.unref()
  Promise.resolve()
    .then(fn)
    .then((res) => {
      if (res !== undefined) emit(res)
      cleanupTmp()
      process.exit(0)
    }, (err) => {
      emit({ error: String((err && err.stack) || err) })
      cleanupTmp()
      process.exit(1)
    })
}

// Polls cond() every `intervalMs` until it returns true (or a promise of true).
async function waitFor (cond, { intervalMs = 5, timeoutMs = 5 * 60 * 1000, what = 'condition' } = {}) {
  const start = now()
  while (!(await cond())) {
    if (now() - start > timeoutMs) throw new Error('timeout waiting for ' + what)
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}

function machine () {
  return {
    nproc: os.cpus().length,
    cpu: (os.cpus()[0] || {}).model || 'unknown',
    memGB: Math.round(os.totalmem() / 1024 ** 3),
    node: process.version,
    platform: os.platform() + ' ' + os.release()
  }
}

function round (x) { return Math.round(x * 10) / 10 }

// Append throughput figures, the same for every append scenario.
function throughput (blocks, size, timeMs) {
  return {
    timeMs: round(timeMs),
    blocksPerSec: Math.round(blocks / (timeMs / 1000)),
    MBPerSec: Math.round((blocks * size / MB) / (timeMs / 1000) * 100) / 100
  }
}

// A scenario that runs in one process, or as a TCP server/client pair driven by a parent (`--tcp`).
function mainByRole (opts, { server, client, tcp, inProcess }) {
  return main(() => {
    if (opts.role === 'server') return server()
    if (opts.role === 'client') return client()
    if (opts.tcp) return tcp()
    return inProcess()
  })
}

module.exports = {
  now, rss, peakRss, resetPeak, startSampler, stopSampler, gc, toMB, MB, round, throughput,
  tmpdir, rmrf, cleanupTmp, args, emit, main, mainByRole, waitFor, machine
}
