// A strict CommonJS app using README's API. Compiled with --noEmit by test/consumer.js, never run.
import Multifeed = require('hyper-multifeed')
import NetworkerExport = require('hyper-multifeed/networker')

const { Networker, MultifeedError } = Multifeed

export async function quickStart (): Promise<string> {
  const a = new Multifeed<string>('./alice', { valueEncoding: 'utf-8' })
  await a.ready()
  const w = await a.writer('main')
  const appended: { length: number, byteLength: number } = await w.append('hello')
  void appended

  const b = new Multifeed<string>('./bob', { key: a.key!, valueEncoding: 'utf-8' })
  const s1 = a.replicate(true)
  const s2 = b.replicate(false)
  s1.pipe(s2).pipe(s1)
  s1.on('error', (err: Error) => console.error(err.message))
  s2.on('remote-feeds', (feeds: Multifeed.Feed[]) => console.log(feeds.length))

  b.on('feed', (feed, name) => {
    const hex: string = feed.key.toString('hex')
    const label: string = name ?? 'remote'
    console.log(hex, label)
  })
  b.on('synced', () => console.log('synced'))
  b.on('remove', (key) => console.log(key.byteLength))
  await b.synced()
  const feed = b.feed(w.key)
  if (feed === undefined) throw new Error('no feed')
  const first: string = await feed.get(0)

  const all: Multifeed.Feed<string>[] = b.feeds()
  const info: Multifeed.FeedInfo[] = b.list()
  const n: number = b.size + b.openFeeds + all.length + info.length
  const stats: Multifeed.MultifeedStats = b.stats()
  const moved: number = stats.blocksDownloaded + stats.bytesUploaded + stats.connections + n
  for (const ex of b.connections) {
    const mode: string = ex.mode
    const inSync: boolean = ex.stats.inSync
    console.log(mode, inSync, ex.synced)
  }
  void moved

  await b.remove(w.key, { block: true })
  console.log(b.isBlocked(w.key), b.isSynced())
  await b.unblock(w.key.toString('hex'))
  b.unreplicate(s2)
  await a.close()
  await b.close()
  return first
}

export function callbacks (multi: Multifeed): void {
  multi.ready((err) => {
    if (err) return console.error(err)
    multi.writer('main', (err, w) => {
      if (err || !w) return
      w.append(Buffer.from('block')).catch(console.error)
    })
    multi.writer('other', { keyPair: { publicKey: Buffer.alloc(32), secretKey: Buffer.alloc(64) } }, () => {})
    multi.remove(Buffer.alloc(32), { allowWriter: true }, () => {})
    multi.synced(() => multi.close(() => {}))
  })
}

export async function errors (multi: Multifeed): Promise<void> {
  try {
    await multi.remove(Buffer.alloc(32))
  } catch (err) {
    if (err instanceof MultifeedError) {
      const code: string = err.code
      const name: string = err.name
      const key: Buffer | undefined = err.key
      if (err.code === 'ERR_TOO_MANY_FEEDS') console.log(err.limit, err.count)
      if (err.code === 'ERR_VERSION_MISMATCH') console.log(err.usVersion, err.themVersion)
      console.log(code, name, key)
    }
  }
  multi.on('exchange-close', (ex, err) => {
    if (err instanceof MultifeedError && err.code === 'ERR_KEY_MISMATCH') console.log(err.discoveryKey, ex.mode)
  })
  multi.on('channel-error', (err, stream) => console.error(err.message, stream))
  const own = new MultifeedError('ERR_CLOSED', 'closed', { resource: 'multifeed' })
  const asError: Error = own
  void asError
}

export async function networking (multi: Multifeed): Promise<void> {
  const net = new Networker()
  await net.swarm(multi)
  await net.swarm(multi, { server: true, client: false })
  net.on('connection', (conn, info) => {
    const remote: Buffer = conn.remotePublicKey
    console.log(remote, info.publicKey)
    multi.replicate(conn)
  })
  net.on('error', (err) => console.error(err.message))
  const swarmed: Multifeed[] = net.multifeeds
  console.log(swarmed.length, net.connections)
  await net.unswarm(multi)
  await net.destroy()

  // the subpath: the class itself, with Networker beside it
  const fromSubpath: Multifeed.Networker = new NetworkerExport({ maxPeers: 8 })
  const same: typeof NetworkerExport = NetworkerExport.Networker
  const opts: NetworkerExport.SwarmOptions = { server: false }
  await new same().swarm(multi, opts)
  await fromSubpath.destroy()
}
