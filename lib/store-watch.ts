// Corestore calls each watcher of each watching session for every core it opens. With a watcher per
// multifeed, 1,000 groups sharing one Corestore made 1,000 calls (and a discovery-key lookup each) per core
// opened: work that grew as groups x cores. One watcher per Corestore hands a core only to the multifeeds
// that have its feed.
import type Corestore from 'corestore'
import { toHex } from './keys'

type Listener = (discoveryKeyHex: string) => void
type Watcher = (core: unknown) => void

interface WatchableStore {
  watch(fn: Watcher): void
  unwatch(fn: Watcher): void
  [WATCH]?: StoreWatch
}

const WATCH = Symbol('hyper-multifeed store watch')

export class StoreWatch {
  private readonly store: WatchableStore
  private readonly listeners = new Map<string, Set<Listener>>() // by hex discovery key

  private constructor(store: WatchableStore) {
    this.store = store
  }

  // The Corestore (session) watched.
  get corestore(): Corestore {
    return this.store as unknown as Corestore
  }

  // The one watch of this Corestore (session): kept on it while any multifeed listens.
  static of(store: Corestore): StoreWatch {
    const s = store as unknown as WatchableStore
    return s[WATCH] ?? (s[WATCH] = new StoreWatch(s))
  }

  // `fn` is called with the discovery key whenever the Corestore opens that feed's core.
  add(discoveryKeyHex: string, fn: Listener): void {
    let set = this.listeners.get(discoveryKeyHex)
    if (set === undefined) {
      if (this.listeners.size === 0) this.store.watch(this.oncore)
      this.listeners.set(discoveryKeyHex, set = new Set())
    }
    set.add(fn)
  }

  remove(discoveryKeyHex: string, fn: Listener): void {
    const set = this.listeners.get(discoveryKeyHex)
    if (set === undefined || !set.delete(fn) || set.size > 0) return
    this.listeners.delete(discoveryKeyHex)
    if (this.listeners.size === 0) this.store.unwatch(this.oncore)
  }

  // How many multifeeds of this Corestore (session) have the feed.
  holders(discoveryKeyHex: string): number {
    return this.listeners.get(discoveryKeyHex)?.size ?? 0
  }

  private readonly oncore = (core: unknown): void => {
    const discoveryKey = (core as { discoveryKey?: Buffer | null }).discoveryKey
    if (!discoveryKey) return
    const hex = toHex(discoveryKey)
    const set = this.listeners.get(hex)
    if (set !== undefined) for (const fn of [...set]) fn(hex)
  }
}
