// Many peers: 20 multifeeds in one process, in a ring and in a full mesh, each with its own writer, converge
// to the same 20 feeds at the same lengths; a live write then crosses the ring.
const test = require('brittle')
const b4a = require('b4a')
const crypto = require('hypercore-crypto')
const { create } = require('./helpers.js')

const PEERS = 20

// the feeds that hold data: an empty writer is never advertised to a peer that lacks it (nothing to fetch)
function state (m) {
  return m.list().filter((f) => f.length > 0).map((f) => b4a.toString(f.key, 'hex') + ':' + f.length).sort().join(',')
}

// Resolves when every multifeed lists `expected` (checked whenever any of them emits).
function allConverged (nodes, expected, timeoutMs = 50000) {
  return new Promise((resolve, reject) => {
    const events = ['feed', 'synced', 'exchange']
    const cores = []
    const check = () => {
      for (const m of nodes) if (!m.isSynced() || state(m) !== expected) return
      cleanup()
      resolve()
    }
    const onfeed = (core) => { cores.push(core); core.on('download', check) }
    const timer = setTimeout(() => {
      cleanup()
      const behind = nodes.filter((m) => state(m) !== expected).length
      reject(new Error(`${behind} of ${nodes.length} multifeeds did not converge`))
    }, timeoutMs)
    const cleanup = () => {
      clearTimeout(timer)
      for (const m of nodes) {
        for (const e of events) m.off(e, check)
        m.off('feed', onfeed)
      }
      for (const c of cores) c.off('download', check)
    }
    for (const m of nodes) {
      for (const e of events) m.on(e, check)
      m.on('feed', onfeed)
      for (const core of m.feeds()) { cores.push(core); core.on('download', check) }
    }
    check()
  })
}

function connect (a, b) {
  const s1 = a.replicate(true)
  const s2 = b.replicate(false)
  s1.on('error', () => {})
  s2.on('error', () => {})
  s1.pipe(s2).pipe(s1)
  return [s1, s2]
}

async function setup (t, n) {
  const key = crypto.randomBytes(32)
  const nodes = []
  const writers = []
  for (let i = 0; i < n; i++) {
    const m = await create(t, { key, valueEncoding: 'utf-8' })
    const w = await m.writer('peer-' + i)
    await w.append(['hello from ' + i, 'second block of ' + i])
    nodes.push(m)
    writers.push(w)
  }
  return { nodes, writers }
}

function expectedState (writers) {
  return writers.map((w) => b4a.toString(w.key, 'hex') + ':' + w.length).sort().join(',')
}

test(`mesh: ${PEERS} multifeeds in a ring converge, then a live write crosses the ring`, { timeout: 60000 }, async (t) => {
  const { nodes, writers } = await setup(t, PEERS)
  const streams = []
  const t0 = Date.now()
  for (let i = 0; i < PEERS; i++) streams.push(...connect(nodes[i], nodes[(i + 1) % PEERS]))
  await allConverged(nodes, expectedState(writers))
  const ms = Date.now() - t0
  t.comment(`ring of ${PEERS} (${PEERS} connections): converged on ${PEERS} feeds x 2 blocks in ${ms} ms`)
  for (const m of nodes) t.is(m.list().length, PEERS)
  const far = nodes[PEERS / 2]
  t.is(await far.feed(writers[0].key).get(1), 'second block of 0', 'data crossed half the ring')

  const t1 = Date.now()
  await writers[0].append('live after convergence')
  await allConverged(nodes, expectedState(writers))
  t.comment(`a live append on peer 0 reached all ${PEERS} peers (up to ${PEERS / 2} hops) in ${Date.now() - t1} ms`)
  t.is(await far.feed(writers[0].key).get(2), 'live after convergence')
  for (const s of streams) s.destroy()
})

test(`mesh: ${PEERS} multifeeds in a full mesh converge`, { timeout: 60000 }, async (t) => {
  const { nodes, writers } = await setup(t, PEERS)
  const streams = []
  const t0 = Date.now()
  for (let i = 0; i < PEERS; i++) for (let j = i + 1; j < PEERS; j++) streams.push(...connect(nodes[i], nodes[j]))
  await allConverged(nodes, expectedState(writers))
  const ms = Date.now() - t0
  t.comment(`full mesh of ${PEERS} (${PEERS * (PEERS - 1) / 2} connections): converged on ${PEERS} feeds x 2 blocks in ${ms} ms`)
  for (const m of nodes) {
    t.is(m.list().length, PEERS)
    t.is(m.connections.length, PEERS - 1)
  }
  for (const s of streams) s.destroy()
  await Promise.all(streams.map((s) => new Promise((resolve) => s.destroyed ? resolve() : s.once('close', resolve))))
  let left = 0
  for (const m of nodes) left += m.connections.length
  t.is(left, 0, 'no exchange left after every stream closed')
})
