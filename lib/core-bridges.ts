// Protomux carries one Hypercore channel per feed on a connection, and that channel serves one core object.
// When multifeeds of two Corestores share a connection and both hold a feed, the channel belongs to the copy
// that opened it first: the other copy can neither fetch nor serve the feed there, and the remote, which
// sees one peer, holds back announcements of growth that peer already fetches. A bridge replicates the two
// copies to each other in this process, live and both ways, so the copy on the channel carries the other's
// blocks to the remote and the remote's blocks to it: the two Corestores act as one on that connection.
// Its sessions are passive (corestore attaches neither copy to other connections for it). A bridge lasts
// while a connection it serves does (one bridge per feed serves each connection where that copy holds the
// channel); blocks over it count for one of those that transfers the feed.
import type Hypercore from 'hypercore'
import type Corestore from 'corestore'
import safetyCatch from 'safety-catch'
import type { FeedRecord } from './feed-record'
import { protocolMuxer, recheckUpgrades } from './internals'

interface Stream {
  destroy(): void
  pipe(to: Stream): Stream
  on(event: string, fn: (...args: any[]) => void): void
}

class CoreBridge<E> {
  readonly muxer: unknown // our end: a peer on it is the other copy
  readonly exchanges = new Set<E>() // the connections it serves, the first first
  private readonly sessions: Hypercore[]
  private readonly streams: Stream[]

  constructor(ourStore: Corestore, readonly theirStore: Corestore, key: Buffer, exchange: E) {
    this.exchanges.add(exchange)
    const mine = ourStore.get({ key, active: false })
    let theirs: Hypercore
    try {
      theirs = theirStore.get({ key, active: false })
    } catch (err) {
      mine.close().catch(safetyCatch)
      throw err
    }
    this.sessions = [mine, theirs]
    this.streams = [this.sessions[0].replicate(true, { keepAlive: false }), this.sessions[1].replicate(false, { keepAlive: false })]
    this.muxer = protocolMuxer(this.streams[0])
    this.streams[0].pipe(this.streams[1]).pipe(this.streams[0])
    for (const stream of this.streams) stream.on('error', safetyCatch) // ended by close(), or a store closing
    // each copy fetches whatever the other holds, now and as either grows
    for (const session of this.sessions) session.download({ start: 0, end: -1 })
    // the other copy serves remotes on the connection: blocks it takes from ours may let it upgrade them
    // (ours is followed by its multifeed, lib/followers.ts)
    theirs.on('download', (index: number, bytes: number, from: unknown) => recheckUpgrades(theirs, from))
  }

  close(): void {
    for (const stream of this.streams) stream.destroy()
    for (const session of this.sessions) session.close().catch(safetyCatch)
  }
}

export class CoreBridges<E> {
  private readonly bridges = new Map<string, CoreBridge<E>>() // feed (hex key) -> its bridge

  // `perConnection`: at most this many bridges serve one connection (its download and upload windows); past
  // it the oldest that carries no transfer of that connection stops serving it (`busy` says which do), and
  // if every one does, none is added (one still needed opens again when its feed next moves). A peer that
  // makes another group's Corestore attach our feeds one after another cannot pile up bridges, nor close
  // the ones transfers go over.
  constructor(private readonly ourStore: Corestore, private readonly perConnection: number, private readonly busy: (hex: string, exchange: E) => boolean = () => false) {}

  // Bridges our copy of the feed to the one in `theirStore`, for `exchange`'s connection. One bridge per
  // feed: a second connection where the same copy holds the channel is served by the same bridge (where
  // another store's copy does, it is not bridged).
  open(record: FeedRecord, theirStore: Corestore, exchange: E): void {
    const existing = this.bridges.get(record.hex)
    if (existing !== undefined && (existing.theirStore !== theirStore || existing.exchanges.has(exchange))) return
    if (!this.makeRoom(exchange)) return
    if (existing !== undefined) {
      existing.exchanges.add(exchange)
      return
    }
    let bridge: CoreBridge<E>
    try {
      bridge = new CoreBridge(this.ourStore, theirStore, record.key, exchange)
    } catch {
      return // a store closing: no bridge (the connection's next move of the feed tries again)
    }
    this.bridges.set(record.hex, bridge)
  }

  // Below the connection's cap, after the oldest idle bridge stopped serving it if need be; false if every
  // bridge that serves it carries a transfer.
  private makeRoom(exchange: E): boolean {
    let count = 0
    let idle: string | null = null
    for (const [hex, bridge] of this.bridges) {
      if (!bridge.exchanges.has(exchange)) continue
      count++
      if (idle === null && !this.busy(hex, exchange)) idle = hex
    }
    if (count < this.perConnection) return true
    if (idle === null) return false
    this.leave(idle, exchange)
    return true
  }

  has(record: FeedRecord): boolean {
    return this.bridges.has(record.hex)
  }

  // Does a bridge of the feed serve this connection?
  serves(record: FeedRecord, exchange: E): boolean {
    return this.bridges.get(record.hex)?.exchanges.has(exchange) ?? false
  }

  close(record: FeedRecord): void {
    this.closeHex(record.hex)
  }

  private closeHex(hex: string): void {
    const bridge = this.bridges.get(hex)
    if (bridge === undefined) return
    this.bridges.delete(hex)
    bridge.close()
  }

  // The bridge stops serving this connection, and closes if it serves no other.
  private leave(hex: string, exchange: E): void {
    const bridge = this.bridges.get(hex)
    if (bridge === undefined) return
    bridge.exchanges.delete(exchange)
    if (bridge.exchanges.size === 0) this.closeHex(hex)
  }

  // The connection closed: its bridges stop serving it (every bridge closes, without one).
  closeAll(exchange?: E): void {
    for (const [hex, bridge] of [...this.bridges]) {
      if (exchange === undefined) this.closeHex(hex)
      else if (bridge.exchanges.has(exchange)) this.leave(hex, exchange)
    }
  }

  // The connection a peer on one of our bridges stands for, or null if the peer is not on one: of those the
  // bridge serves, one that transfers the feed (its blocks count there, and keep its stall clock going),
  // else the first.
  exchangeOf(muxer: unknown, hex: string): E | null {
    for (const bridge of this.bridges.values()) {
      if (bridge.muxer !== muxer) continue
      let first: E | null = null
      for (const exchange of bridge.exchanges) {
        if (this.busy(hex, exchange)) return exchange
        if (first === null) first = exchange
      }
      return first
    }
    return null
  }

  get size(): number {
    return this.bridges.size
  }
}
