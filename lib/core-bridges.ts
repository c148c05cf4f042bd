// Protomux carries one Hypercore channel per feed on a connection, and that channel serves one core object.
// When multifeeds of two Corestores share a connection and both hold a feed, the channel belongs to the copy
// that opened it first: the other copy can neither fetch nor serve the feed there, and the remote, which
// sees one peer, holds back announcements of growth that peer already fetches. A bridge replicates the two
// copies to each other in this process, live and both ways, so the copy on the channel carries the other's
// blocks to the remote and the remote's blocks to it: the two Corestores act as one on that connection.
// Its sessions are passive (corestore attaches neither copy to other connections for it). A bridge lasts
// while the connection it was made for does; blocks over it count for that connection.
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
  private readonly sessions: Hypercore[]
  private readonly streams: Stream[]

  constructor(ourStore: Corestore, theirStore: Corestore, key: Buffer, readonly exchange: E) {
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

  // `perConnection`: at most this many bridges for one connection (its download and upload windows); past
  // it the oldest closes (one still needed opens again when its feed next moves). A peer that makes another
  // group's Corestore attach our feeds one after another cannot pile up bridges.
  constructor(private readonly ourStore: Corestore, private readonly perConnection: number) {}

  // Bridges our copy of the feed to the one in `theirStore`, for `exchange`'s connection. One bridge per
  // feed: once ours is bridged to another copy, a second connection where that copy holds the channel is
  // served the same way.
  open(record: FeedRecord, theirStore: Corestore, exchange: E): void {
    if (this.bridges.has(record.hex)) return
    let count = 0
    let oldest: string | null = null
    for (const [hex, bridge] of this.bridges) {
      if (bridge.exchange !== exchange) continue
      if (oldest === null) oldest = hex
      count++
    }
    let bridge: CoreBridge<E>
    try {
      bridge = new CoreBridge(this.ourStore, theirStore, record.key, exchange)
    } catch {
      return // a store closing: no bridge (the connection's next move of the feed tries again)
    }
    if (count >= this.perConnection && oldest !== null) this.closeHex(oldest)
    this.bridges.set(record.hex, bridge)
  }

  has(record: FeedRecord): boolean {
    return this.bridges.has(record.hex)
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

  // Every bridge made for this connection (every bridge, without one).
  closeAll(exchange?: E): void {
    for (const [hex, bridge] of [...this.bridges]) {
      if (exchange === undefined || bridge.exchange === exchange) this.closeHex(hex)
    }
  }

  // The connection a peer on one of our bridges stands for, or null if the peer is not on one.
  exchangeOf(muxer: unknown): E | null {
    for (const bridge of this.bridges.values()) if (bridge.muxer === muxer) return bridge.exchange
    return null
  }

  get size(): number {
    return this.bridges.size
  }
}
