// One pairing handler per muxer for every multifeed on it. protomux keeps one notify callback per
// (protocol, id); a multifeed whose key is still loading cannot pair its id yet, so we pair the whole
// protocol once and route by id after every pending multifeed on this muxer is ready.
// The same for remote opens of Hypercore channels: corestore's handler would open any stored core the
// remote names, unbounded; ours lets the multifeed that has the feed serve it within its upload window,
// refuses other cores on a multifeed's own stream, and leaves them to corestore on a shared connection.
import type Protomux from 'protomux'
import b4a from 'b4a'
import { PROTOCOL } from './messages'
import type Corestore from 'corestore'
import { catchAll, heldCore, withdrawClosedOpens, HYPERCORE_PROTOCOL } from './internals'
import { GroupHello } from './hello'
import type { StoreWatch } from './store-watch'

const ROUTER = Symbol('hyper-multifeed router')

export interface Routed {
  // the remote opened a channel with our id: open ours now so protomux pairs them
  onremoteopen(): void
  // the remote offered a multifeed channel with an id no multifeed here has
  onforeign?(): void
  // the remote opened a Hypercore channel nothing of ours waits for: serve it if the feed is ours (null: not)
  onremotecore(discoveryKey: Buffer): Promise<void> | null
  // settles once the messages the remote sent before now are processed (null: none waits)
  received(): Promise<void> | null
  readonly owned: boolean // the stream is the multifeed's own (replicate(bool)): nothing else rides it
  // this multifeed has a record of the feed (hex key); `writer`: as one of its own writers; `store`: and
  // keeps it in that Corestore (so the core is the same object)
  hasFeed(hex: string, writer?: boolean, store?: unknown): boolean
  readonly storeWatch: StoreWatch // which multifeeds of its Corestore have which feed
  // another Corestore's copy of a feed this multifeed has (hex key) is on the connection now
  onothercopy(hex: string, store: Corestore): void
}

export class ChannelRouter {
  private readonly pending = new Set<Promise<unknown>>()
  private readonly routes = new Map<string, Routed>()
  // the remote offered a multifeed channel no multifeed here has: it runs multifeeds, with other keys
  foreignOffered = false
  private readonly watching = new Set<Routed>()
  // one 'close' listener per stream, whatever the number of multifeeds on it (1,000 groups on one
  // connection would otherwise add 1,000 listeners)
  private readonly closers = new Map<unknown, Set<() => void>>()

  private readonly muxer: Protomux
  readonly hello: GroupHello // greets every multifeed on a shared connection at once (lib/hello.ts)
  private coreFallback: ((id: Buffer | null) => unknown) | null = null // corestore's handler
  private readonly oncore = async (id: Buffer): Promise<void> => { await this.oncoreopen(id) }
  private readonly members = new Set<Routed>() // every multifeed exchange on this muxer, from its start
  private readonly stores = new Map<StoreWatch, number>() // the Corestores of the members: how many each

  private constructor(muxer: Protomux) {
    this.muxer = muxer
    withdrawClosedOpens(muxer) // we hold remote opens pending (here, and while a core opens for an upload)
    muxer.pair({ protocol: PROTOCOL }, (id) => this.onpair(id))
    this.hello = new GroupHello(muxer)
    this.claimCoreOpens()
  }

  // Pairs our handler for Hypercore opens, keeping the one it replaces (corestore pairs its own each
  // time a Corestore replicates on this muxer).
  claimCoreOpens(): void {
    const current = catchAll(this.muxer, HYPERCORE_PROTOCOL)
    if (current === this.oncore) return
    this.coreFallback = current
    this.muxer.pair({ protocol: HYPERCORE_PROTOCOL }, this.oncore)
  }

  private async oncoreopen(id: Buffer | null): Promise<unknown> {
    await this.allReady()
    if (!id) return
    // what the remote said before this open is heard first: it may have just announced the feed, and
    // opened its channel with the announcement (3.2); each wait is for messages already received
    const before: Array<Promise<void>> = []
    for (const routed of this.members) {
      const p = routed.received()
      if (p !== null) before.push(p)
    }
    if (before.length > 0) await Promise.all(before)
    let owned = false
    for (const routed of this.members) {
      const serving = routed.onremotecore(id)
      if (serving !== null) return serving
      if (routed.owned) owned = true
    }
    if (owned || this.coreFallback === null) return // refused: protomux rejects an open nothing answered
    return this.coreFallback(id)
  }

  // The router of this muxer, if a multifeed made one.
  private static existing(muxer: Protomux): ChannelRouter | undefined {
    return (muxer as Protomux & { [ROUTER]?: ChannelRouter })[ROUTER]
  }

  static from(muxer: Protomux): ChannelRouter {
    const m = muxer as Protomux & { [ROUTER]?: ChannelRouter }
    if (!m[ROUTER]) m[ROUTER] = new ChannelRouter(muxer)
    return m[ROUTER]
  }

  // Holds incoming opens until `ready` settles, so a remote open is never rejected for being early.
  wait(ready: Promise<unknown>): void {
    this.pending.add(ready)
    const done = (): void => { this.pending.delete(ready) }
    ready.then(done, done)
  }

  // Does another multifeed on this connection replicate this feed? Then its Hypercore channel here is
  // not ours alone to close (one channel per feed and connection, whichever group opened it).
  static sharedWithOthers(muxer: Protomux, feed: { hex: string, discoveryKeyHex: string }, self: Routed | null, writer = false, store?: unknown): boolean {
    const router = ChannelRouter.existing(muxer)
    if (!router) return false
    // every multifeed here keeps its cores in self's Corestore, and no other multifeed of it has the feed
    // (self counted only while it has it: a removal asks after forgetting the record): not shared, without
    // asking each of (say) 1,000 groups
    if (self !== null && router.stores.size === 1 && router.stores.has(self.storeWatch) && self.storeWatch.holders(feed.discoveryKeyHex) <= (self.hasFeed(feed.hex) ? 1 : 0)) return false
    for (const routed of router.routes.values()) if (routed !== self && routed.hasFeed(feed.hex, writer, store)) return true
    return false
  }

  // Another Corestore of the multifeeds on this connection whose copy of the feed is on it (attached: it
  // holds the feed's channel there, or gets it when the remote opens one), or null.
  static otherCopy(muxer: Protomux, discoveryKeyHex: string, self: StoreWatch): Corestore | null {
    const router = ChannelRouter.existing(muxer)
    if (!router || router.stores.size < 2) return null
    const ours = heldCore(self.corestore, discoveryKeyHex)
    for (const watch of router.stores.keys()) {
      if (watch === self) continue
      const held = heldCore(watch.corestore, discoveryKeyHex)
      // sessions of one Corestore share its cores: the same copy, nothing to bridge
      if (held !== null && held !== ours && held.replicator?.attached(muxer) === true) return watch.corestore
    }
    return null
  }

  // `self`'s copy of the feed is now on this connection: multifeeds of other Corestores here that have the
  // feed are told (their copies reach the remote through a bridge to it, lib/core-bridges.ts).
  static copyAttached(muxer: Protomux, feed: { hex: string, discoveryKeyHex: string }, self: StoreWatch): void {
    const router = ChannelRouter.existing(muxer)
    if (!router || router.stores.size < 2) return
    let others = false
    for (const watch of router.stores.keys()) if (watch !== self && watch.holders(feed.discoveryKeyHex) > 0) others = true
    if (!others) return
    for (const routed of router.members) {
      if (routed.storeWatch !== self && routed.hasFeed(feed.hex)) routed.onothercopy(feed.hex, self.corestore)
    }
  }

  join(routed: Routed): void {
    if (this.members.has(routed)) return
    this.members.add(routed)
    this.stores.set(routed.storeWatch, (this.stores.get(routed.storeWatch) ?? 0) + 1)
  }

  leave(routed: Routed): void {
    if (!this.members.delete(routed)) return
    const n = this.stores.get(routed.storeWatch)! - 1
    if (n === 0) this.stores.delete(routed.storeWatch)
    else this.stores.set(routed.storeWatch, n)
  }

  add(id: Buffer, routed: Routed): void {
    this.routes.set(b4a.toString(id, 'hex'), routed)
  }

  delete(id: Buffer, routed: Routed): void {
    const hex = b4a.toString(id, 'hex')
    if (this.routes.get(hex) === routed) this.routes.delete(hex)
  }

  // Every multifeed that was opening on this muxer is ready (or failed).
  private async allReady(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending])
  }

  private async onpair(id: Buffer | null): Promise<void> {
    await this.allReady()
    if (!id) return
    const routed = this.routes.get(b4a.toString(id, 'hex'))
    if (routed) routed.onremoteopen()
    else this.offeredForeign()
  }

  // Calls `fn` when `stream` closes; returns what stops that.
  onStreamClose(stream: { once(event: 'close', fn: () => void): unknown }, fn: () => void): () => void {
    let set = this.closers.get(stream)
    if (set === undefined) {
      const fresh = new Set<() => void>()
      set = fresh
      this.closers.set(stream, fresh)
      stream.once('close', () => {
        this.closers.delete(stream)
        for (const f of [...fresh]) f()
      })
    }
    const mine = set
    mine.add(fn)
    return () => { mine.delete(fn) }
  }

  // Tell `routed` once the remote shows it runs multifeeds with other keys.
  watchForeign(routed: Routed): void {
    this.watching.add(routed)
  }

  unwatchForeign(routed: Routed): void {
    this.watching.delete(routed)
  }

  private offeredForeign(): void {
    this.foreignOffered = true
    for (const routed of [...this.watching]) routed.onforeign?.()
  }
}
