// The app imports hypercore itself, typed by its own hypercore.d.ts: the package must leave that alone.
import Hypercore from 'hypercore'
import Multifeed from 'hyper-multifeed'

export async function own (dir: string): Promise<number> {
  const core = new Hypercore(dir)
  await core.ready()
  await core.truncate(0)
  const snap: Hypercore = core.snapshot()
  // @ts-expect-error the app's Hypercore has no purge(): no declaration of ours is merged into it
  await core.purge()
  const multi = new Multifeed(dir + '/multi')
  const feed = await multi.writer('main')
  const mine = feed as unknown as Hypercore // the app may view our feeds through its own type
  return snap.length + mine.length
}
