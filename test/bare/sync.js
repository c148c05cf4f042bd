// Run under the Bare runtime (Pear apps' runtime) by test/bare.js: bare test/bare/sync.js DIR_A DIR_B.
// Two multifeeds write through the promise API and the callback API, replicate over piped streams, and
// print one line: `synced <blocks of a as b sees them> <blocks of b as a sees them> <feeds> <feeds>`.
const Multifeed = require('hyper-multifeed')
const { Networker, MultifeedError } = require('hyper-multifeed')
const NetworkerSubpath = require('hyper-multifeed/networker')

const [dirA, dirB] = Bare.argv.slice(-2)

function writerCb (multi, name) {
  return new Promise((resolve, reject) => multi.writer(name, (err, feed) => err ? reject(err) : resolve(feed)))
}

function appendCb (feed, block) {
  return new Promise((resolve, reject) => feed.append(block).then(() => resolve(), reject))
}

async function main () {
  if (typeof process !== 'undefined') throw new Error('not running under Bare: process is defined')
  if (NetworkerSubpath !== Networker) throw new Error('hyper-multifeed/networker is not the Networker')

  const a = new Multifeed(dirA, { valueEncoding: 'utf-8' })
  const wa = await a.writer('main') // promise API
  await wa.append('from a')

  const b = new Multifeed(dirB, { key: a.key, valueEncoding: 'utf-8' })
  await new Promise((resolve, reject) => b.ready((err) => err ? reject(err) : resolve())) // callback API
  const wb = await writerCb(b, 'main')
  await appendCb(wb, 'from b')

  const s1 = a.replicate(true)
  const s2 = b.replicate(false)
  s1.pipe(s2).pipe(s1)
  await Promise.all([a.synced(), new Promise((resolve, reject) => b.synced((err) => err ? reject(err) : resolve()))])

  const seenByB = await b.feed(wa.key).get(0)
  const seenByA = await a.feed(wb.key).get(0)

  let error = null
  try {
    await b.remove(Buffer.alloc(32))
  } catch (err) {
    error = err
  }
  if (!(error instanceof MultifeedError) || error.code !== 'ERR_FEED_NOT_FOUND') throw new Error('expected a MultifeedError, got ' + error)

  await new Promise((resolve, reject) => a.close((err) => err ? reject(err) : resolve()))
  await b.close()
  console.log(`synced ${JSON.stringify(seenByB)} ${JSON.stringify(seenByA)} ${a.size} ${b.size}`)
}

main().catch((err) => {
  console.error('FAILED', err)
  Bare.exitCode = 1
})
