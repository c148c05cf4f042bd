// The multifeed's side of its feed exchanges, one per connection (lib/exchange.ts keeps the wire): which
// connections it takes, which of our feeds each may see, which advertised feeds we record and fetch (each
// connection within its quota of new feeds), what each is offered to upload, and the totals of the
// connections that closed.
import type Hypercore from 'hypercore'
import type Corestore from 'corestore'
import type Protomux from 'protomux'
import b4a from 'b4a'
import safetyCatch from 'safety-catch'
import { FeedExchange, ExchangeHost, LocalEntry } from './exchange'
import type { StoreWatch } from './store-watch'
import type { FeedSet } from './feed-set'
import type { FeedIndex } from './feed-index'
import type { TransferScheduler } from './transfers'
import { GROWTH_LINGER } from './transfers'
import type { Authorization } from './authorization'
import type { Authority } from './authority'
import type { FeedFilter } from './options'
import { FeedRecord, newRecord, infoOf } from './feed-record'
import { FeedEntry, MemberRecord, RECORD_LENGTH } from './messages'
import { Position, covers } from './position'
import { MultifeedStats, newTransferStats, addTransferStats } from './stats'
import { endGracefully, remoteHolds, downloadingPeer } from './internals'
import { toHex } from './keys'
import * as errors from './errors'

// How long close() waits for a remote to end the streams we made before destroying them.
const CLOSE_GRACE = 2000

export interface ExchangeSetHost {
  readonly key: Buffer | null
  readonly discoveryKey: Buffer | null
  readonly client: string
  readonly closing: Promise<void> | null
  readonly opening: Promise<void> | null
  readonly owner: Buffer | null
  readonly index: FeedIndex | null
  readonly members: Authorization
  emit(event: string, ...args: unknown[]): boolean
  listenerCount(event: string): number
  emitFeed(record: FeedRecord): void // the app's 'feed' event, for a feed just recorded
  followedCore(record: FeedRecord): Hypercore | null // a session of the feed's core, if corestore keeps it open
  lastFetch(peer: Hypercore.Peer): number // when that remote last fetched a block of the core from us (0: never)
  checkSynced(): void
}

export interface ExchangeSetOptions {
  base: Corestore // the Corestore our cores live in
  storeWatch: StoreWatch // which multifeeds of that Corestore have which feed
  maxFeeds: number
  maxConnections: number
  maxNewFeedsPerConnection: number
  timeout: number
  share: FeedFilter | null
  accept: FeedFilter | null
}

export class ExchangeSet implements ExchangeHost {
  readonly maxFeeds: number
  private readonly host: ExchangeSetHost
  private readonly records: FeedSet
  private readonly transfers: TransferScheduler
  private readonly opts: ExchangeSetOptions
  private readonly exchanges = new Map<Protomux, FeedExchange>() // one per connection, by its muxer
  // the remote feeds each connection made us record (this session): its quota, and purge({ introducedBy })
  private readonly introducedBy = new Map<FeedExchange, Set<string>>()
  private readonly pastStats = newTransferStats()
  private pastConnections = 0

  constructor(host: ExchangeSetHost, records: FeedSet, transfers: TransferScheduler, opts: ExchangeSetOptions) {
    this.host = host
    this.records = records
    this.transfers = transfers
    this.opts = opts
    this.maxFeeds = opts.maxFeeds
  }

  get key(): Buffer | null { return this.host.key }
  get discoveryKey(): Buffer | null { return this.host.discoveryKey }
  get client(): string { return this.host.client }
  get closing(): Promise<void> | null { return this.host.closing }
  get opening(): Promise<void> | null { return this.host.opening }
  get owner(): Buffer | null { return this.host.owner }

  private get authority(): Authority | null {
    return this.host.members.authority
  }

  values(): IterableIterator<FeedExchange> {
    return this.exchanges.values()
  }

  get(muxer: Protomux): FeedExchange | undefined {
    return this.exchanges.get(muxer)
  }

  // The exchange of the connection a core's peer is on, if that connection is ours.
  of(peer: Hypercore.Peer): FeedExchange | null {
    return this.exchanges.get(peer.protomux) ?? null
  }

  // An exchange on a new connection; none on one that has it already, nor past maxConnections.
  join(muxer: Protomux, stream: any, owned: boolean, finite: boolean, openFirst: boolean): void {
    if (this.exchanges.has(muxer)) return
    if (this.exchanges.size >= this.opts.maxConnections) {
      const err = errors.TOO_MANY_CONNECTIONS(this.opts.maxConnections)
      // our own stream fails; on a shared one this multifeed just stays off it
      if (owned) stream.destroy(err)
      else if (this.host.listenerCount('channel-error') > 0) this.host.emit('channel-error', err, stream)
      return
    }
    const exchange = new FeedExchange(this, muxer, stream, owned, this.opts.timeout, finite, openFirst)
    if (!exchange.closed) {
      this.exchanges.set(muxer, exchange)
      this.transfers.connect(exchange)
    }
    this.host.checkSynced() // a new connection is not synced yet: the next sync is news
  }

  // At close: streams we made end as a finished peer's do, so the other side sees no error.
  close(): Promise<void[]> {
    const ending: Promise<void>[] = []
    for (const ex of [...this.exchanges.values()]) {
      if (ex.owned) ending.push(endGracefully(ex.stream, CLOSE_GRACE))
      ex.destroy(null)
    }
    return Promise.all(ending)
  }

  get synced(): boolean {
    for (const ex of this.exchanges.values()) if (!ex.synced) return false
    return true
  }

  // Counters over the multifeed's life: connections that closed still count.
  stats(): MultifeedStats {
    const total: MultifeedStats = { ...this.pastStats, connections: this.pastConnections }
    for (const ex of this.exchanges.values()) {
      addTransferStats(total, ex.stats)
      if (ex.stats.startedAt !== null) total.connections++
    }
    return total
  }

  // The remote feeds `exchange` made us record this session.
  introducedFeeds(exchange: FeedExchange): ReadonlySet<string> {
    return this.introducedBy.get(exchange) ?? new Set<string>()
  }

  // The feed left the multifeed: no connection introduced it any more.
  forget(hex: string): void {
    for (const set of this.introducedBy.values()) set.delete(hex)
  }

  announce(record: FeedRecord): void {
    if (this.exchanges.size === 0 || !this.shareable(record)) return
    this.isShared(record).then((shared) => {
      if (!shared) return
      for (const ex of this.exchanges.values()) ex.announce({ key: record.key, length: record.length, fork: record.fork })
    }, safetyCatch)
  }

  private async isShared(record: FeedRecord): Promise<boolean> {
    return this.opts.share === null || !!(await this.opts.share(infoOf(record)))
  }

  // --- ExchangeHost ---

  async sharedEntries(): Promise<LocalEntry[]> {
    const out: LocalEntry[] = []
    for (const record of this.records.values()) {
      if (this.shareable(record) && (this.opts.share === null || await this.isShared(record))) out.push({ key: record.key, length: record.length, fork: record.fork })
    }
    // the membership records take part in the same set: an in-sync reconnect compares them too
    const authority = this.authority
    if (authority !== null) for (const e of authority.entries()) out.push(e)
    return out
  }

  // Only authorized feeds in an authorized multifeed; a remote feed only once we hold a block of it.
  private shareable(record: FeedRecord): boolean {
    const authority = this.authority
    return forwardable(record) && (authority === null || authority.isAuthorized(record.hex))
  }

  offer(exchange: FeedExchange, keys: Buffer[], announced = false): void {
    const authority = this.authority
    if (authority !== null) {
      const records = authority.recordsFor(keys)
      if (records.length > 0) exchange.sendRecords(records)
    }
    for (const key of keys) {
      const record = this.records.get(toHex(key))
      if (record) this.transfers.serve(exchange, record, announced)
    }
  }

  get storeWatch(): StoreWatch {
    return this.opts.storeWatch
  }

  hasFeed(hex: string, writer = false, store?: unknown): boolean {
    const record = this.records.get(hex)
    if (record === undefined || (writer && !record.writable)) return false
    return store === undefined || store === (this.opts.base.root ?? this.opts.base)
  }

  otherCopy(exchange: FeedExchange, hex: string, store: Corestore): void {
    const record = this.records.get(hex)
    if (record !== undefined) this.transfers.bridge(exchange, record, store)
  }

  remoteCoreOpened(exchange: FeedExchange, discoveryKey: Buffer): Promise<void> | null {
    const record = this.records.withDiscoveryKey(discoveryKey)
    if (record === undefined) return null
    return this.transfers.remoteOpened(exchange, record)
  }

  // What the feed's Hypercore channel on this connection tells of the remote's copy: it holds `position`,
  // or it downloads the feed in that fork (each false without a core of ours open for the feed there).
  remoteHolds(exchange: FeedExchange, hex: string, position: Position): boolean {
    const core = this.openCoreOf(hex)
    return core !== null && remoteHolds(core, exchange.muxer, position.length, position.fork)
  }

  // Downloading, and fetching: an active session alone (an app's handle that reads nothing, a core opened
  // to serve a third peer) asks for no new block, and its growth would wait the announcer's whole grace.
  // So the remote counts only if it fetched a block of the core from us within GROWTH_LINGER (a session
  // with a live range fetches each block as it comes): growth further apart is announced (a few bytes),
  // where a wrong hold costs the grace.
  remoteDownloads(exchange: FeedExchange, hex: string, position: Position): boolean {
    const core = this.openCoreOf(hex)
    const peer = core === null ? null : downloadingPeer(core, exchange.muxer, position.fork)
    if (peer === null) return false
    const fetched = this.host.lastFetch(peer)
    return fetched > 0 && Date.now() - fetched < GROWTH_LINGER
  }

  private openCoreOf(hex: string): Hypercore | null {
    const record = this.records.get(hex)
    return record === undefined ? null : this.host.followedCore(record)
  }

  localPosition(hex: string): Position {
    const r = this.records.get(hex)
    return r ? { length: r.length, fork: r.fork } : { length: 0, fork: 0 }
  }

  receiveRecords(exchange: FeedExchange, records: MemberRecord[]): Promise<void> {
    return this.host.members.receiveRecords(exchange, records)
  }

  async receiveEntries(exchange: FeedExchange, entries: FeedEntry[]): Promise<Hypercore[]> {
    // first the feeds new to us: filtered, then recorded durably in one batch. A feed advertised empty
    // is nothing to download and is never recorded; past this connection's quota or maxFeeds the new
    // feeds are refused (the connection and the updates of known feeds go on).
    const fresh: FeedRecord[] = []
    const seen = new Set<string>()
    const introduced = this.introduced(exchange)
    let refused = 0
    const authority = this.authority
    // authorized mode: membership records (their ids travel as entries) come in `records` messages, and
    // a feed without a valid chain of signatures to the owner is never recorded nor fetched
    if (authority !== null) entries = entries.filter((e) => e.length !== RECORD_LENGTH && authority.isAuthorized(toHex(e.key)))
    for (const entry of entries) {
      const hex = toHex(entry.key)
      if (entry.length === 0 || this.records.known(hex) || seen.has(hex)) continue
      if (this.records.size + fresh.length >= this.maxFeeds || introduced.size + fresh.length >= this.opts.maxNewFeedsPerConnection) {
        refused++
        continue
      }
      // `length`: what the remote advertised (we have none of it yet)
      if (this.opts.accept !== null && !(await this.opts.accept({ key: entry.key, name: null, writable: false, length: entry.length }))) continue
      seen.add(hex)
      fresh.push(newRecord(b4a.from(entry.key) as Buffer, null, false, 0))
    }
    if (refused > 0) this.host.emit('refused', refused, exchange)
    if (this.host.closing || exchange.closed) return []
    if (fresh.length > 0) {
      await this.addRemotes(fresh)
      for (const record of fresh) introduced.add(record.hex)
    }

    const began: Hypercore[] = []
    for (const entry of entries) {
      const hex = toHex(entry.key)
      const record = this.records.get(hex) ?? await this.records.beingRecorded(hex)
      if (!record || this.records.get(hex) !== record) continue
      const theirs = { length: entry.length, fork: entry.fork ?? 0 }
      if (!covers(theirs, record)) this.transfers.serve(exchange, record)
      else this.transfers.caughtUp(exchange, record)
      // a writer is the only source of its feed (a remote's other fork of it is not ours to take)
      if (record.writable || covers(record, theirs) || exchange.closed) continue
      const core = this.transfers.want(exchange, record, theirs)
      if (core) began.push(core)
    }
    this.host.checkSynced() // a live announcement can make a synced multifeed wait again
    return began
  }

  // Durable before they are announced onward or shown to the app.
  private async addRemotes(records: FeedRecord[]): Promise<void> {
    const written = this.host.index!.put(records)
    this.records.recording(records, written)
    // no await between the write and the set: a receiveEntries() waiting in beingRecorded() resumes
    // after this and finds the records there (it skips a feed it does not find)
    try {
      await written
    } finally {
      this.records.recorded(records)
    }
    const authority = this.authority
    const unauthorized: FeedRecord[] = []
    for (const record of records) {
      // blocked while its record was being written: it goes again (remove() waited for this write);
      // revoked meanwhile: its record goes from the index
      if (authority !== null && !authority.isAuthorized(record.hex)) unauthorized.push(record)
      else if (!this.records.isBlocked(record.hex)) this.records.add(record)
    }
    if (unauthorized.length > 0) await this.host.index!.deleteMany(unauthorized.map((r) => r.key))
    for (const record of records) {
      if (this.records.get(record.hex) !== record) continue
      this.host.emitFeed(record)
      this.announce(record)
    }
  }

  private introduced(exchange: FeedExchange): Set<string> {
    let set = this.introducedBy.get(exchange)
    if (!set) this.introducedBy.set(exchange, set = new Set())
    return set
  }

  exchangeUpdated(exchange: FeedExchange): void {
    this.host.emit('exchange', exchange)
    this.host.checkSynced()
  }

  exchangeClosed(exchange: FeedExchange, err: errors.MultifeedError | null): void {
    if (this.exchanges.get(exchange.muxer) === exchange) {
      this.exchanges.delete(exchange.muxer)
      if (this.introducedBy.get(exchange)?.size === 0) this.introducedBy.delete(exchange)
      addTransferStats(this.pastStats, exchange.stats)
      if (exchange.stats.startedAt !== null) this.pastConnections++
    }
    this.transfers.disconnect(exchange)
    this.host.emit('exchange-close', exchange, err)
    if (err !== null && !exchange.owned && this.host.listenerCount('channel-error') > 0) this.host.emit('channel-error', err, exchange.stream)
    this.host.checkSynced()
  }
}

// A feed is passed on to other peers only once we hold a block of it. A remote feed: a key nobody can serve
// (junk from one member) stops at the first honest peer instead of spreading through the group. Our own
// writer too (3.2.1): a receiver never records a feed at length 0, so an empty writer in our set would only
// keep two sets that agree on every feed from matching, and every reconnect from being in sync. (A writer
// truncated to 0 is not advertised either until it appends: a peer on the old fork that opened its channel
// for it would make hypercore 11.39 at our end ask it for the old fork's length without end,
// test/upstream/hypercore-truncate-to-zero-upgrade-loop.js.)
function forwardable(record: FeedRecord): boolean {
  return record.length > 0
}
