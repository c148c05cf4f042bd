// hypercore 11.39.5 / corestore 7.12.5, no hyper-multifeed: writer a truncates its core (a new fork), b holds
// the old fork, and a fresh c is piped to b and to a in the same tick, over in-process pipes.
// Expected: a 'tick' line every 200 ms, then 'done c 1 7 b 1 7'. Seen: after the first line nothing more is
// printed and the process spins at 100% CPU: the peers trade `bitfield` messages without end
// (replicator onwirebitfield), every chunk crossing in the same microtask queue, so no timer ever runs.
// Over TCP it settles. Run: timeout 20 node test/upstream/hypercore-fork-bitfield-loop.js
const Corestore = require('corestore')
const os = require('os'); const path = require('path'); const fs = require('fs')
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'hc-'))
const blocks = (n, p) => Array.from({ length: n }, (_, i) => p + ' ' + i)
function pipe (x, y) { const s1 = x.replicate(true); const s2 = y.replicate(false); s1.pipe(s2).pipe(s1); return [s1, s2] }
;(async () => {
  const A = new Corestore(tmp()); const B = new Corestore(tmp()); const C = new Corestore(tmp())
  const a = A.get({ name: 'w' }); await a.ready()
  await a.append(blocks(10, 'old'))
  const b = B.get({ key: a.key }); await b.ready()
  let [s] = pipe(A, B)
  await b.download({ start: 0, end: 10 }).done()
  s.destroy()
  await a.truncate(5); await a.append(blocks(2, 'new'))
  console.log('a', a.fork, a.length, 'b', b.fork, b.length)
  const c = C.get({ key: a.key }); await c.ready()
  c.download({ start: 0, end: -1 })
  b.download({ start: 0, end: -1 })
  const tick = setInterval(() => console.log('tick c', c.fork, c.contiguousLength, 'b', b.fork, b.contiguousLength), 200)
  pipe(C, B)
  pipe(C, A)
  await new Promise((r) => setTimeout(r, 2000))
  clearInterval(tick)
  console.log('done c', c.fork, c.contiguousLength, 'b', b.fork, b.contiguousLength)
  process.exit(0)
})()
