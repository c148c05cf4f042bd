// Each record's core is followed through a weak session for as long as corestore keeps that core (a weak
// session closes with it and does not keep it open): blocks that land after the multifeed's own session
// closed (a request still in flight, a channel the remote keeps open) still move the record. A remote
// that sees our core hold a block may skip announcing it (lib/announcer.ts), so whatever the core holds,
// the multifeed must know.
import type Hypercore from 'hypercore'
import safetyCatch from 'safety-catch'
import type { FeedRecord } from './feed-record'
import { recheckUpgrades } from './internals'

// What the followers report to their multifeed (lib/multifeed.ts).
export interface FollowerHost {
  closing(): boolean
  grown(record: FeedRecord, core: Hypercore): void // the core may hold more, or another fork
  downloaded(record: FeedRecord, index: number, bytes: number, from: Hypercore.Peer): void
  uploaded(record: FeedRecord, bytes: number, from: Hypercore.Peer): void // while a session of ours is open
  channelClosed(record: FeedRecord, peer: Hypercore.Peer): void // the remote fetches nothing more from us
}

interface Follower {
  record: FeedRecord
  session: Hypercore
}

export class CoreFollowers {
  private readonly host: FollowerHost
  private readonly followers = new Map<string, Follower>() // by hex key
  // when each remote (a core's peer on one connection) last fetched a block from us, whoever's session
  // was open: the announcer holds growth back only from a remote that fetches (lib/announcer.ts)
  private readonly fetches = new WeakMap<Hypercore.Peer, number>()

  constructor(host: FollowerHost) {
    this.host = host
  }

  // Follow the core `core` (a session of the record's, just opened) is a session of.
  follow(record: FeedRecord, core: Hypercore): void {
    const current = this.followers.get(record.hex)
    if (current !== undefined && current.record === record && current.session.core === core.core && !current.session.closing) {
      this.host.grown(record, current.session)
      return
    }
    if (current !== undefined) {
      this.followers.delete(record.hex)
      current.session.close().catch(safetyCatch)
    }
    if (core.closing || this.host.closing()) return
    this.track(record, core.session({ weak: true, active: false, wait: false, onwait: null }))
  }

  // Follow through `watcher`, a weak passive session of the record's core (closed with it, or by unfollow).
  track(record: FeedRecord, watcher: Hypercore): void {
    const follower = { record, session: watcher }
    this.followers.set(record.hex, follower)
    const following = (): boolean => this.followers.get(record.hex) === follower
    const update = (): void => { if (following()) this.host.grown(record, watcher) }
    watcher.on('append', update)
    watcher.on('truncate', update)
    watcher.on('download', (index: number, bytes: number, from: Hypercore.Peer) => {
      recheckUpgrades(watcher, from)
      if (!following()) return
      this.host.downloaded(record, index, bytes, from)
      update()
    })
    watcher.on('upload', (index: number, bytes: number, from: Hypercore.Peer) => {
      if (!following()) return
      this.fetches.set(from, Date.now())
      // counted while a session of ours is open (stats: blocks fetched from the multifeed's sessions)
      if (record.core === null || record.core.closing || record.core.core !== watcher.core) return
      this.host.uploaded(record, bytes, from)
    })
    watcher.on('peer-remove', (peer: Hypercore.Peer) => {
      if (following()) this.host.channelClosed(record, peer)
    })
    watcher.once('close', () => { if (following()) this.followers.delete(record.hex) })
    watcher.ready().then(update, safetyCatch)
  }

  // Stop following the feed (only its follower for `record`, when given).
  unfollow(hex: string, record?: FeedRecord): Promise<void> {
    const follower = this.followers.get(hex)
    if (follower === undefined || (record !== undefined && follower.record !== record)) return Promise.resolve()
    this.followers.delete(hex)
    return follower.session.close()
  }

  async closeAll(): Promise<void> {
    await Promise.allSettled([...this.followers.keys()].map((hex) => this.unfollow(hex)))
  }

  // When this remote last fetched a block of the core from us (0: never, as far as we saw).
  lastFetch(peer: Hypercore.Peer): number {
    return this.fetches.get(peer) ?? 0
  }

  // A session of the feed's core, open now: the record's own, or the weak one that follows a core we let go of.
  sessionOf(record: FeedRecord): Hypercore | null {
    if (record.core !== null && !record.core.closing) return record.core
    const follower = this.followers.get(record.hex)
    return follower !== undefined && follower.record === record && !follower.session.closing ? follower.session : null
  }
}
