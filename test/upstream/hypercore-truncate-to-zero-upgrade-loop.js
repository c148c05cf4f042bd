// hypercore 11.39.5 / corestore 7.12.5, no hyper-multifeed: writer a truncates its core to length 0 (a new
// fork); b still holds the old fork (length 2). When they replicate, a asks b for an upgrade to b's length
// again and again: Peer.onsync sets lengthAcked = 0 for a remote on another fork, and `lengthAcked ===
// core.state.length` then holds for a core at length 0, so a's replicator takes b as a source of an
// upgrade; b's answer (the old fork's proof) does not apply, and the request goes out again. Over
// in-process pipes every round trip crosses in the same turn of the event loop: no timer runs again.
// Expected: 'tick' lines, then 'done'. Seen: the writer's request count climbing without end, no 'tick'
// (100% CPU).
//   timeout 20 node test/upstream/hypercore-truncate-to-zero-upgrade-loop.js
const Corestore = require('corestore')
const os = require('os')
const path = require('path')
const fs = require('fs')

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'hc-t0-'))
function link (x, y) {
  const s1 = x.replicate(true)
  const s2 = y.replicate(false)
  s1.pipe(s2).pipe(s1)
  return () => { s1.destroy(); s2.destroy() }
}

async function main () {
  const A = new Corestore(tmp())
  const B = new Corestore(tmp())
  const a = A.get({ name: 'w' })
  await a.append(['x', 'y'])
  const b = B.get({ key: a.key })
  let cut = link(A, B)
  await b.download({ start: 0, end: 2 }).done()
  cut()
  await a.truncate(0)
  let requests = 0
  const timer = setInterval(() => console.log('tick, requests a sent so far:', requests), 200)
  a.on('peer-add', (peer) => {
    const send = peer.wireRequest.send.bind(peer.wireRequest)
    peer.wireRequest.send = (msg) => {
      if (++requests % 10000 === 0) process._rawDebug(requests + ' requests from the writer, the last: upgrade ' + JSON.stringify(msg.upgrade) + ' at fork ' + msg.fork)
      return send(msg)
    }
  })
  cut = link(A, B)
  await new Promise((resolve) => setTimeout(resolve, 1000))
  clearInterval(timer)
  cut()
  console.log('done: the writer sent', requests, 'requests')
  process.exit(0)
}
main()
