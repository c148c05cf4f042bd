// The same package through esModuleInterop default and named imports, as most TypeScript apps write it.
import Multifeed, { Networker, MultifeedError, type Feed, type FeedInfo } from 'hyper-multifeed'
import NetworkerDefault, { type SwarmOptions } from 'hyper-multifeed/networker'

export async function run (dir: string): Promise<FeedInfo[]> {
  const multi = new Multifeed(dir)
  const w: Feed = await multi.writer()
  await w.append(Buffer.from('x'))
  const a: Networker = new NetworkerDefault()
  const opts: SwarmOptions = { client: true }
  await a.swarm(multi, opts)
  await a.destroy()
  const err: unknown = new Error('x')
  if (err instanceof MultifeedError) console.log(err.code)
  return multi.list()
}
