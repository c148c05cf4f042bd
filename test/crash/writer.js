// Child process for the crash soak: opens a multifeed on DIR and loops forever, creating writers, appending
// and accepting remote feeds from a second in-process multifeed, until it is killed.
//   node test/crash/writer.js DIR KEYHEX REMOTEDIR SEED
// Every promise it makes is one stdout line, written only after the call that makes it resolved:
//   ready
//   feed <hex> writer|remote        writer() returned this key / the 'feed' event announced it
//   block <hex> <index> <value>     append() resolved on our own writer
//   blocks-remote <hex> <length>    (informational) the remote feed's contiguous length here
// stdout to a pipe is synchronous on Linux, so a line printed before SIGKILL reaches the parent.
'use strict'
const Multifeed = require('../..')

const [dir, keyHex, remoteDir, seedArg] = process.argv.slice(2)
let seed = Number(seedArg) >>> 0 || 1
function rand (n) {
  seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0
  return seed % n
}

function line (s) {
  process.stdout.write(s + '\n')
}

async function main () {
  const m = new Multifeed(dir, { key: keyHex, valueEncoding: 'utf-8' })
  const remote = new Multifeed(remoteDir, { key: keyHex, valueEncoding: 'utf-8' })
  m.on('feed', (feed, name) => {
    // own writers are reported when writer() returns; this is the remote feed's promise
    if (!feed.writable && !name) line('feed ' + feed.key.toString('hex') + ' remote')
  })
  await m.ready()
  await remote.ready()
  const s1 = m.replicate(true)
  const s2 = remote.replicate(false)
  s1.on('error', () => {})
  s2.on('error', () => {})
  s1.pipe(s2).pipe(s1)
  line('ready')

  const mine = []
  for (const info of m.list()) if (info.writable) mine.push(m.feed(info.key))
  const theirs = []
  let n = 0
  for (;;) {
    n++
    const what = rand(10)
    if (what < 2 || mine.length === 0) {
      const name = rand(3) === 0 ? undefined : 'w-' + process.pid + '-' + n
      const w = await m.writer(name)
      line('feed ' + w.key.toString('hex') + ' writer')
      mine.push(w)
    } else if (what < 6) {
      const w = mine[rand(mine.length)]
      const batch = 1 + rand(3)
      const values = []
      for (let i = 0; i < batch; i++) values.push('v' + (w.length + i) + '-' + w.key.toString('hex').slice(0, 8))
      const { length } = await w.append(values)
      for (let i = 0; i < batch; i++) line('block ' + w.key.toString('hex') + ' ' + (length - batch + i) + ' ' + values[i])
    } else if (what < 8) {
      // the remote makes a writer and writes: it arrives here by replication
      const w = await remote.writer()
      await w.append('remote-0')
      theirs.push(w)
    } else if (theirs.length > 0) {
      const w = theirs[rand(theirs.length)]
      await w.append('remote-' + w.length)
    }
    if (n % 4 === 0) await new Promise((resolve) => setImmediate(resolve))
  }
}

main().catch((err) => {
  line('error ' + (err && err.stack ? err.stack.replace(/\n/g, ' | ') : String(err)))
  process.exit(2)
})
