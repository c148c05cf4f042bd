// hypercore 11.39.5: a reader that opens a core it has none of, with a live download range, asks for the
// first block only after a separate upgrade round trip. On channel open the writer corks `sync` and
// `range` into one batch; the reader handles `sync` first and sends its upgrade request at once
// (onsync -> _addUpgradeMaybe -> _update), before the `range` that says the writer holds the block is
// processed, so _includeLastBlock() finds no remote bitfield and the request carries no block. The block
// is asked for when the upgrade answer lands: two requests and two data messages per new core, where
// one would do. A new feed crossing a line of peers pays this at every hop.
//
//   node test/upstream/hypercore-first-block-two-round-trips.js
// prints the requests the writer received; expected with the bug: an upgrade-only request, then a
// block-only one.
const Corestore = require('corestore')
const os = require('os')
const path = require('path')
const fs = require('fs')

async function main () {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hc-2rtt-'))
  const a = new Corestore(path.join(dir, 'a'))
  const b = new Corestore(path.join(dir, 'b'))
  const writer = a.get({ name: 'w' })
  await writer.append('the only block')
  const reader = b.get({ key: writer.key })
  await reader.ready()
  const requests = []
  writer.on('peer-add', (peer) => {
    const onrequest = peer.onrequest.bind(peer)
    peer.onrequest = (msg) => {
      requests.push({ block: msg.block ? msg.block.index : null, upgrade: msg.upgrade ? msg.upgrade.length : null })
      return onrequest(msg)
    }
  })
  reader.download({ start: 0, end: -1 })
  const s1 = a.replicate(true)
  const s2 = b.replicate(false)
  s1.pipe(s2).pipe(s1)
  await reader.get(0)
  console.log('requests the writer received:', JSON.stringify(requests))
  console.log(requests.length > 1 ? 'BUG: ' + requests.length + ' round trips for one block' : 'ok: one round trip')
  s1.destroy()
  s2.destroy()
  await Promise.all([a.close(), b.close()])
  fs.rmSync(dir, { recursive: true, force: true })
}

main()
