// hypercore 11.39.5 / corestore 7.12.5, no hyper-multifeed: a peer behind a relay waits for the relay's core
// to grow again before it can get the blocks the relay already has. The relay works out whether it can prove
// an upgrade from a peer's length when that peer syncs (Peer.onsync -> _canUpgrade, from the tree nodes it
// stores), and after data looks again only for the peer the data came from (_handleData ->
// _updateCanUpgradeAndSync on `this`). A relay that took the newest block first (its upgrade comes with it)
// lacks the tree node of the block below the peer's length until those blocks arrive, from another peer;
// a peer that synced in between is never told it may upgrade (nor is its length acknowledged).
//
// Writer w (39 blocks), relay r (had 35, then took block 38 alone), reader c (37, from w earlier). c meets
// r; r then takes blocks 35..37 from w. Expected: c gets block 38 from r. Seen: it times out.
//   node test/upstream/hypercore-upgrade-after-out-of-order-data.js
const Corestore = require('corestore')
const os = require('os')
const path = require('path')
const fs = require('fs')

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'hc-upg-'))
function link (x, y) {
  const s1 = x.replicate(true)
  const s2 = y.replicate(false)
  s1.pipe(s2).pipe(s1)
  return () => { s1.destroy(); s2.destroy() }
}
const until = (fn) => new Promise((resolve) => { const check = () => fn() ? resolve() : setTimeout(check, 5); check() })

async function main () {
  const W = new Corestore(tmp())
  const R = new Corestore(tmp())
  const C = new Corestore(tmp())
  const w = W.get({ name: 'w' })
  for (let i = 0; i < 35; i++) await w.append('block ' + i)
  const r = R.get({ key: w.key })
  let cut = link(W, R)
  await r.download({ start: 0, end: 35 }).done()
  cut()

  await w.append(['block 35', 'block 36'])
  const c = C.get({ key: w.key })
  cut = link(W, C)
  await c.download({ start: 0, end: 37 }).done()
  cut()

  await w.append(['block 37', 'block 38'])
  const toWriter = link(W, R)
  await r.get(38) // the upgrade to 39 comes with it; blocks 35..37 (and the node of block 36) do not
  link(R, C)
  await until(() => r.peers.some((p) => p.remoteLength === 37 && p.syncsProcessing === 0 && p.canUpgrade === false))
  await r.download({ start: 35, end: 38 }).done() // from w: now r can prove 37 -> 39
  toWriter()

  const got = await Promise.race([c.get(38).then(() => 'got block 38 from the relay'), new Promise((resolve) => setTimeout(() => resolve('TIMED OUT: the relay never told c it may upgrade'), 3000))])
  console.log(got)
  const peer = r.peers.find((p) => p.remoteLength === 37)
  if (peer) console.log('relay: length', r.length, 'peer c: remoteLength', peer.remoteLength, 'canUpgrade', peer.canUpgrade, '(it can now:', await peer._canUpgrade(37, 0), ')')
  process.exit(0)
}
main()
