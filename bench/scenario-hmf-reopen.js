'use strict'
// hyper-multifeed (issue 10.3): the first open after a session that wrote --feeds writers.
//
// Three fresh processes on one directory:
//   1. write:  new Multifeed(dir) -> --feeds named writers of one 100-byte block each -> close()
//              (reports writeMs and closeMs: the close must not get noticeably slower),
//   2. first:  new Multifeed(dir) -> ready() -> list() (timeMs: the figure of the target),
//   3. again:  the same once more (secondMs: an open with nothing left from the writing session).
//
//   node bench/scenario-hmf-reopen.js [--feeds 10000]

const path = require('path')
const m = require('./lib/measure')
const hmf = require('./lib/hmf')
const { runScenario } = require('./lib/child')

const opts = m.args({ feeds: 10000, role: '', dir: '' })

async function write () {
  const Multifeed = hmf.load()
  const t0 = m.now()
  const multi = new Multifeed(opts.dir)
  await multi.ready()
  await hmf.addWriters(multi, opts.feeds, { blocks: 1, size: 100 })
  const writeMs = m.now() - t0
  const t1 = m.now()
  await multi.close()
  return { writeMs: Math.round(writeMs), closeMs: Math.round(m.now() - t1) }
}

async function open () {
  const Multifeed = hmf.load()
  const t0 = m.now()
  const multi = new Multifeed(opts.dir)
  await multi.ready()
  const n = multi.list().length
  const timeMs = m.now() - t0
  await multi.close()
  if (n !== opts.feeds) throw new Error('listed ' + n + ' feeds, expected ' + opts.feeds)
  return { timeMs: hmf.round(timeMs) }
}

async function run () {
  if (opts.role === 'write') return write()
  if (opts.role === 'open') return open()
  const dir = path.join(m.tmpdir(), 'reopen')
  const child = async (role) => {
    const r = await runScenario(__filename, ['--role', role, '--dir', dir, '--feeds', opts.feeds], { timeoutMs: 10 * 60 * 1000 })
    if (r.error) throw new Error(role + ': ' + r.error)
    return r
  }
  const written = await child('write')
  const first = await child('open')
  const second = await child('open')
  return { scenario: 'hmf-reopen', feeds: opts.feeds, timeMs: first.timeMs, secondMs: second.timeMs, writeMs: written.writeMs, closeMs: written.closeMs }
}

m.main(run)
