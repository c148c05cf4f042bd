'use strict'
// Builders of the prepared hyper-multifeed states that lib/hmf.js
// cachedState() caches. Run as a child process, never in a measuring one:
//
//   node bench/lib/hmf-state.js --state-kind pair --state-dir D --feeds 10000 [--blocks 1] [--size 100]
//     D/a: multifeed A with --feeds writers 'w0'.. of --blocks blocks each;
//     D/b: multifeed B, synced from A over a pipe (so both hold the same
//     feeds at the same lengths). Used by scenario-hmf-reconnect.js and
//     scenario-hmf-open.js.
//
//   node bench/lib/hmf-state.js --state-kind authorized-pair --state-dir D --feeds 10000
//     As 'pair', for an authorized multifeed: A is the owner (its writers are
//     authorized as they are made: one signed record each), B a member that
//     joined with A's join key and synced. Meta adds joinKey. Used by
//     scenario-hmf-authorized.js.
//
//   node bench/lib/hmf-state.js --state-kind sender --state-dir D --feeds 100000
//     D/a: multifeed A with --feeds writers of --blocks blocks of --size bytes
//     (first contact: the receiver learns the list, and declines every feed).
//     Used by scenario-hmf-first-contact.js.
//
// Prints one JSON line: the meta (key, counts, build times) that cachedState()
// stores as meta.json.

const path = require('path')
const m = require('./measure')
const hmf = require('./hmf')

const Multifeed = hmf.load()
const opts = m.args({ stateKind: '', stateDir: '', feeds: 10000, blocks: 1, size: 100 })

async function pair (authorized = false) {
  const t0 = m.now()
  const a = new Multifeed(path.join(opts.stateDir, 'a'), authorized ? { owner: true } : {})
  await a.ready()
  await hmf.addWriters(a, opts.feeds, { blocks: opts.blocks, size: opts.size })
  const writersMs = m.now() - t0

  const t1 = m.now()
  const b = new Multifeed(path.join(opts.stateDir, 'b'), { key: authorized ? a.joinKey : a.key, maxFeeds: Math.max(100000, opts.feeds) })
  await b.ready()
  const s1 = a.replicate(true)
  const s2 = b.replicate(false)
  s1.pipe(s2).pipe(s1)
  await Promise.race([Promise.all([a.synced(), b.synced()]), hmf.failOnError(s1, s2)])
  const full = b.list().filter((f) => f.length === opts.blocks).length
  if (b.size !== opts.feeds || full !== opts.feeds) throw new Error('B has ' + b.size + ' feeds, ' + full + ' at length ' + opts.blocks)
  const syncMs = m.now() - t1
  s1.destroy(); s2.destroy()
  await Promise.all([a.close(), b.close()])

  // reopen once: both sides must list every feed at its full length, or the
  // reconnect would not be measuring "two peers in sync"
  const a2 = new Multifeed(path.join(opts.stateDir, 'a'))
  const b2 = new Multifeed(path.join(opts.stateDir, 'b'))
  await Promise.all([a2.ready(), b2.ready()])
  const lenA = a2.list().filter((f) => f.length === opts.blocks).length
  const lenB = b2.list().filter((f) => f.length === opts.blocks).length
  const key = a2.key.toString('hex')
  const joinKey = a2.joinKey
  await Promise.all([a2.close(), b2.close()])
  if (lenA !== opts.feeds || lenB !== opts.feeds) throw new Error('after reopen: A lists ' + lenA + ', B lists ' + lenB + ' feeds at length ' + opts.blocks + ' (of ' + opts.feeds + ')')
  return { kind: authorized ? 'authorized-pair' : 'pair', key, joinKey, feeds: opts.feeds, blocks: opts.blocks, size: opts.size, prefix: 'w', writersMs: Math.round(writersMs), syncMs: Math.round(syncMs) }
}

async function sender () {
  const t0 = m.now()
  const a = new Multifeed(path.join(opts.stateDir, 'a'), { maxFeeds: Math.max(100000, opts.feeds) })
  await a.ready()
  // one block each: a feed advertised at length 0 is not advertised at all (protocol 3.2.1)
  await hmf.addWriters(a, opts.feeds, { blocks: opts.blocks, size: opts.size, concurrency: 512 })
  const key = a.key.toString('hex')
  const size = a.size
  await a.close()
  if (size !== opts.feeds) throw new Error('A has ' + size + ' feeds')
  return { kind: 'sender', key, feeds: opts.feeds, prefix: 'w', writersMs: Math.round(m.now() - t0) }
}

m.main(() => {
  if (!opts.stateDir) throw new Error('--state-dir is required')
  if (opts.stateKind === 'pair') return pair()
  if (opts.stateKind === 'authorized-pair') return pair(true)
  if (opts.stateKind === 'sender') return sender()
  throw new Error('unknown --state-kind ' + opts.stateKind)
}, { timeoutMs: 15 * 60 * 1000 })
