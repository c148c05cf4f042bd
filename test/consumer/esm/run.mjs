// Run by test/consumer.js: ES imports of both entries from an app's node_modules, and a small sync of
// two multifeeds through the promise and the callback API.
import fs from 'fs'
import os from 'os'
import path from 'path'
import { createRequire } from 'module'
import Multifeed, { Networker, MultifeedError } from 'hyper-multifeed'
import NetworkerDefault, { Networker as NamedNetworker } from 'hyper-multifeed/networker'

const require = createRequire(import.meta.url)
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hmf-consumer-'))

try {
  const a = new Multifeed(path.join(dir, 'a'), { valueEncoding: 'utf-8' })
  const w = await a.writer('main')
  await w.append('hello')
  const b = new Multifeed(path.join(dir, 'b'), { key: a.key, valueEncoding: 'utf-8' })
  const w2 = await new Promise((resolve, reject) => b.writer('main', (err, feed) => err ? reject(err) : resolve(feed)))
  await w2.append('hi')
  const s1 = a.replicate(true)
  const s2 = b.replicate(false)
  s1.pipe(s2).pipe(s1)
  await Promise.all([a.synced(), b.synced()])
  const got = await b.feed(w.key).get(0)
  let error = null
  try {
    await b.remove(Buffer.alloc(32))
  } catch (err) {
    error = err
  }
  let badName = null
  try {
    await b.writer(42) // the rejected name is not a fact that can replace err.name
  } catch (err) {
    badName = err
  }
  await a.close()
  await b.close()
  console.log(JSON.stringify({
    got,
    feeds: [a.size, b.size],
    networker: NetworkerDefault === Networker && NamedNetworker === Networker && require('hyper-multifeed/networker') === Networker,
    error: error instanceof MultifeedError && error.name === 'MultifeedError' && error.code === 'ERR_FEED_NOT_FOUND' && error.key.equals(Buffer.alloc(32)) &&
      badName instanceof MultifeedError && badName.name === 'MultifeedError' && badName.code === 'ERR_INVALID_ARGUMENT'
  }))
} finally {
  fs.rmSync(dir, { recursive: true, force: true })
}
