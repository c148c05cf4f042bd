// Minimal reproduction: protomux ignores a remote close of a channel whose open is still pending
// (waiting for our pair() notify); if we then accept, the remote id slot stays taken forever and
// the remote's next open that reuses the id throws 'Invalid open message' (stream destroyed).
const NoiseSecretStream = require('@hyperswarm/secret-stream')
const Protomux = require('protomux')
const c = require('compact-encoding')

const a = new NoiseSecretStream(true)
const b = new NoiseSecretStream(false)
a.rawStream.pipe(b.rawStream).pipe(a.rawStream)
const ma = new Protomux(a)
const mb = new Protomux(b)
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
b.on('error', (err) => console.log('B stream error:', err.message))
b.on('close', () => console.log('B stream closed'))

// B answers remote opens after an async step (like a handler that opens a core first)
mb.pair({ protocol: 'p' }, async (id) => {
  await sleep(50)
  const ch = mb.createChannel({ protocol: 'p', id, onclose: (remote) => console.log('B channel', id.toString(), 'closed, remote:', remote) })
  ch.open()
  console.log('B accepted', id.toString())
})

async function main () {
  await a.opened
  const x = ma.createChannel({ protocol: 'p', id: Buffer.from('x') })
  x.open() // local id 1
  await sleep(10)
  x.close() // before B's notify resolved: B ignores this close (r.session === null)
  console.log('A closed x')
  await sleep(100) // B accepted x meanwhile: its open reaches A, which frees local id 1
  console.log('B still holds remote id 1 for x:', mb._remote[0] !== null && mb._remote[0].session?.id.toString())
  const y = ma.createChannel({ protocol: 'p', id: Buffer.from('y') })
  y.open() // reuses local id 1
  console.log('A opened y with local id', y._localId)
  await sleep(100)
}
main()
