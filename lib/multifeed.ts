// A multifeed: the writers of many authors under one shared key, their membership kept in a local-only
// index, and a feed exchange on every replication stream. One record per feed; cores open on demand.
import ReadyResource from 'ready-resource'
import Corestore from 'corestore'
import type Hypercore from 'hypercore'
import crypto from 'hypercore-crypto'
import b4a from 'b4a'
import c from 'compact-encoding'
import safetyCatch from 'safety-catch'
import { FeedIndex } from './feed-index'
import type { FeedExchange, LocalEntry } from './exchange'
import { ChannelRouter } from './router'
import { toKey, toHex } from './keys'
import { maybeCallback, splitCallback, Callback } from './callbacks'
import * as errors from './errors'
import { detachHeld, heldCore, trimIdleCores, protocolMuxer, replicateStore, coreChannels, storedInfos } from './internals'
import type { MultifeedStats } from './stats'
import { FeedInfo, FeedRecord, newRecord, infoOf, downloadLive } from './feed-record'
import { FeedSet } from './feed-set'
import { TransferScheduler, TransferHost } from './transfers'
import { FeedReader, ReaderHost, ReadStreamOptions } from './reader'
import { StorageFlusher } from './flusher'
import { StoreWatch } from './store-watch'
import { MultifeedOptions, checkOptions } from './options'
import { ExchangeSet, ExchangeSetHost } from './exchange-set'
import { Removal, RemovalHost, RemoveOptions, PurgeOptions } from './removal'
import { Authorization, AuthorizationHost, AuthorizeOptions } from './authorization'
import { Writers, WritersHost, WriterOptions } from './writers'
import { CoreFollowers } from './followers'

export type { FeedInfo } from './feed-record'
export type { FeedFilter, MultifeedOptions } from './options'
export type { RemoveOptions, PurgeOptions } from './removal'
export type { AuthorizeOptions } from './authorization'
export type { WriterOptions } from './writers'

export interface ReplicateOptions {
  live?: boolean // false: end the stream once both sides have what the other advertised
  openFirst?: boolean // false: offer our channel (our discovery key) only once the remote offers its own
  [streamOption: string]: unknown // passed on to corestore.replicate
}

// Reading cores' lengths from storage (after an unclean close, or for the feeds that were downloading at
// the last close) in slices keeps RocksDB's read buffers small: one batch for 10,000 feeds peaks at ~60 MB
// more.
const INFO_BATCH = 256

export class Multifeed extends ReadyResource implements TransferHost, ReaderHost, ExchangeSetHost, RemovalHost, AuthorizationHost, WritersHost {
  key: Buffer | null
  discoveryKey: Buffer | null
  readonly client: string
  readonly maxFeeds: number
  readonly maxDownloads: number
  readonly maxTotalDownloads: number
  readonly maxConnections: number
  readonly stallTimeout: number
  readonly maxNewFeedsPerConnection: number
  readonly store: Corestore
  index: FeedIndex | null = null // from ready() on; the modules below write their records in it
  readonly members: Authorization // an authorized multifeed's membership in effect (lib/authorization.ts)
  private readonly ownsStore: boolean
  private readonly base: Corestore
  private readonly valueEncoding: unknown
  private codec: c.Encoder<unknown> | false | null = null // the valueEncoding for readers, once needed
  private readonly storeKey: boolean
  private slot: Corestore | null = null
  private readonly records: FeedSet
  private readonly flusher: StorageFlusher
  private readonly storeWatch: StoreWatch
  private storeReleased = false // closed (or failed to open): records added late watch nothing
  private readonly ownerOption: true | Buffer | undefined
  private readonly readers = new Set<FeedReader>() // open createReadStream()s, told of every feed change
  // the weak session that follows each record's core while corestore keeps it (lib/followers.ts)
  private readonly followers: CoreFollowers
  private wasSynced = true
  private readonly transfers: TransferScheduler
  private readonly exchanges: ExchangeSet
  private readonly removal: Removal
  private readonly writers: Writers

  constructor(storage: string | Corestore, opts: MultifeedOptions = {}) {
    super()
    const o = checkOptions(opts) // every option before the storage is touched
    this.key = o.key
    this.ownerOption = o.owner
    this.discoveryKey = this.key ? crypto.discoveryKey(this.key) : null
    this.client = o.client
    this.maxFeeds = o.maxFeeds
    this.maxDownloads = o.maxDownloads
    this.maxTotalDownloads = o.maxTotalDownloads
    this.maxConnections = o.maxConnections
    this.maxNewFeedsPerConnection = o.maxNewFeedsPerConnection
    this.stallTimeout = o.stallTimeout
    this.storeKey = o.storeKey
    this.valueEncoding = o.valueEncoding
    if (typeof storage === 'string') {
      this.base = new Corestore(storage)
      this.ownsStore = true
    } else if (storage && typeof (storage as Corestore).namespace === 'function') {
      this.base = storage
      this.ownsStore = false
    } else {
      throw errors.INVALID_ARGUMENT('storage must be a directory path or a Corestore', { storage })
    }
    // A passive store: corestore attaches none of its cores to a connection by itself (not when it is
    // replicated, not when a core starts downloading), so the app's open sessions do not open a
    // Hypercore channel per feed on every connection. Which feeds get a channel is the exchange's call.
    this.store = this.base.namespace(o.namespace, { active: false })
    this.flusher = new StorageFlusher(this.base)
    this.storeWatch = StoreWatch.of(this.base)
    // a remote skips announcing growth its Hypercore channel shows our *core* holds: whoever opens that
    // core (another multifeed of this Corestore, an app session, corestore for a remote), we follow it
    this.records = new FeedSet((record) => this.changed(record), (dk, known) => {
      if (known && !this.storeReleased) this.storeWatch.add(dk, this.onstorecore)
      else this.storeWatch.remove(dk, this.onstorecore)
    })
    this.transfers = new TransferScheduler(this, { maxDownloads: this.maxDownloads, maxUploads: this.maxDownloads, maxTotalDownloads: this.maxTotalDownloads, stallTimeout: this.stallTimeout }, this.store, this.storeWatch)
    // the followers report to private methods: no new public members
    this.followers = new CoreFollowers({
      closing: () => this.closing !== null,
      grown: (record, core) => this.grow(record, core),
      downloaded: (record, index, bytes, from) => {
        const ex = this.exchanges.of(from) ?? this.transfers.bridges.exchangeOf(from.protomux, record.hex)
        if (ex) this.transfers.downloaded(record, ex, bytes)
        if (index < record.length) this.changed(record) // a block below the length: one a reader may wait for
      },
      uploaded: (record, bytes, from) => {
        const ex = this.exchanges.of(from)
        if (ex) this.transfers.uploaded(record, ex, bytes)
        else this.transfers.bridgeUploaded(record, from.protomux)
      },
      channelClosed: (record, peer) => {
        const ex = this.exchanges.of(peer)
        if (ex) this.transfers.channelClosed(record, ex)
      }
    })
    this.exchanges = new ExchangeSet(this, this.records, this.transfers, { base: this.base, storeWatch: this.storeWatch, maxFeeds: this.maxFeeds, maxConnections: this.maxConnections, maxNewFeedsPerConnection: this.maxNewFeedsPerConnection, timeout: o.timeout, share: o.share, accept: o.accept })
    this.removal = new Removal(this, this.records, this.transfers, this.exchanges)
    this.members = new Authorization(this, this.records, this.exchanges, this.removal)
    this.writers = new Writers(this, this.records, this.exchanges, this.members)
    this.ready().catch(safetyCatch)
  }

  protected async _open(): Promise<void> {
    try {
      await this.openIndex()
    } catch (err) {
      // a failed open releases what it took: this instance stays closed (ready-resource), but a new
      // Multifeed on the same storage can open it once the cause is fixed
      await this.releaseStorage().catch(safetyCatch)
      throw err
    }
  }

  private async openIndex(): Promise<void> {
    try {
      await this.store.ready()
    } catch (err) {
      throw storageError(err, this.base)
    }
    // The first multifeed in a storage becomes its default: reopening without a key finds it again.
    const pointer = new FeedIndex(this.store.get({ name: 'default-key', active: false }))
    try {
      await pointer.ready()
      let stored = await pointer.getKey()
      if (stored !== null && stored.byteLength !== 32) throw errors.STORAGE_CORRUPT('the stored multifeed key is not 32 bytes')
      if (!this.storeKey) {
        if (stored !== null && b4a.equals(stored, this.key!)) await pointer.setKey(null) // a copy from an earlier open
      } else if (stored === null) {
        stored = this.key ?? crypto.randomBytes(32)
        await pointer.setKey(stored)
      }
      if (this.key === null) {
        this.key = stored!
        this.discoveryKey = crypto.discoveryKey(stored!)
      }
    } finally {
      await pointer.close()
    }
    this.slot = this.store.namespace(toHex(this.discoveryKey!), { active: false })
    this.index = new FeedIndex(this.slot.get({ name: 'index', active: false }), (n) => this.flusher.wrote(n))
    await this.index.ready()
    // the index lives under the key's discovery key, so only that key's multifeed finds it
    const stored = await this.index.getKey()
    if (stored !== null && !b4a.equals(stored, this.key!)) throw errors.STORAGE_CORRUPT('the index belongs to another multifeed')
    if (stored === null && this.storeKey) await this.index.setKey(this.key!)
    else if (stored !== null && !this.storeKey) await this.index.setKey(null)

    const { feeds, blocked, clean } = await this.index.load()
    for (const key of blocked) this.records.block(toHex(key))
    // a blocked feed never comes back, even if a crash left its record behind
    const kept = feeds.filter((f) => !this.records.isBlocked(toHex(f.key)))
    const records = kept.map((f) => newRecord(f.key, f.name, f.writable, f.length, f.fork ?? 0))
    // the feeds that were downloading when the last close saved them may hold more blocks than it saw
    const behind = clean ? records.filter((r, i) => kept[i].behind === true) : records
    await this.readLengths(behind)
    if (clean) for (const r of behind) r.storedLength = -1 // saved again at close, without the mark
    for (const record of records) this.records.add(record)
    for (const record of records) if (heldCore(this.base, record.discoveryKeyHex) !== null) this.followHeld(record)
    await this.members.open(this.index, this.discoveryKey!, this.ownerOption, records)
    await this.index.markOpen()
  }

  // After an unclean close: the truth from each core's stored state, its contiguous length (a writer's
  // own length is its head). close() then saves the ones that differ from the index.
  private async readLengths(records: FeedRecord[]): Promise<void> {
    for (let i = 0; i < records.length; i += INFO_BATCH) {
      const slice = records.slice(i, i + INFO_BATCH)
      const infos = await storedInfos(this.base, slice.map((r) => r.discoveryKey))
      slice.forEach((record, j) => {
        const info = infos[j]
        record.length = info === null ? 0 : Math.max(info.hints?.contiguousLength ?? 0, record.writable && info.head ? info.head.length : 0)
        record.fork = info?.head?.fork ?? 0
      })
    }
  }

  protected async _close(): Promise<void> {
    await this.removal.freed
    // remote feeds downloading now: blocks in flight still land after our sessions close, unseen by us
    const downloading = [...this.records.values()].filter((r) => r.core !== null && !r.writable)
    // readers end first: a named cursor saves its progress while the index is open
    await Promise.all([...this.readers].map((reader) => new Promise<void>((resolve) => {
      reader.once('close', () => resolve())
      reader.destroy()
    })))
    this.transfers.close()
    await this.exchanges.close()
    const closing: Promise<void>[] = []
    for (const record of this.records.values()) {
      if (record.core) closing.push(record.core.close())
      record.core = null
    }
    await Promise.allSettled(closing)
    // blocks that landed in a core after our session closed still moved its record: its follower goes last
    await this.followers.closeAll()
    // the lengths that moved, and the mark that makes the next ready() trust them
    const behind = new Set(downloading.filter((r) => this.records.get(r.hex) === r))
    const moved = [...this.records.values()].filter((r) => !behind.has(r) && (r.length !== r.storedLength || r.fork !== r.storedFork))
    const saved = [...moved, ...[...behind].map((r) => ({ ...r, behind: true }))]
    if (this.index) await this.index.saveLengths(saved).catch(safetyCatch)
    await this.flusher.flush().catch(safetyCatch)
    await this.releaseStorage()
  }

  private unwatchStore(): void {
    this.storeReleased = true
    for (const record of this.records.values()) this.storeWatch.remove(record.discoveryKeyHex, this.onstorecore)
  }

  private async releaseStorage(): Promise<void> {
    this.unwatchStore()
    if (this.index) await this.index.close()
    if (this.slot) await this.slot.close()
    await this.store.close()
    if (this.ownsStore) await this.base.close()
  }

  // A feed appeared, grew or got blocks: readers may have more to read.
  private changed(record: FeedRecord): void {
    for (const reader of this.readers) reader.changed(record)
  }

  // --- the app's API ---

  ready(cb?: Callback<void>): Promise<void> {
    return maybeCallback(super.ready(), cb)
  }

  close(cb?: Callback<void>): Promise<void> {
    return maybeCallback(super.close(), cb)
  }

  // The writable core for `name`, created if missing; no name: a new writer on every call.
  writer(cb?: Callback<Hypercore>): Promise<Hypercore>
  writer(name: string | undefined, cb?: Callback<Hypercore>): Promise<Hypercore>
  writer(name: string | undefined, opts: WriterOptions, cb?: Callback<Hypercore>): Promise<Hypercore>
  writer(...args: unknown[]): Promise<Hypercore> {
    const [[name, opts], cb] = splitCallback<[string | undefined, WriterOptions | undefined], Hypercore>(args)
    return maybeCallback(this.writers.get(name, opts), cb)
  }

  feeds(): Hypercore[] {
    if (this.closing) return [] // as the original multifeed did after close()
    const out: Hypercore[] = []
    for (const record of this.records.values()) out.push(this.hand(record))
    return out
  }

  feed(key: Buffer | string): Hypercore | undefined {
    if (this.closing) return undefined
    let hex: string
    try {
      hex = toHex(toKey(key, 'feed key'))
    } catch {
      return undefined
    }
    const record = this.records.get(hex)
    return record ? this.hand(record) : undefined
  }

  // Every block of every feed (or of those `opts` selects) as one stream; see lib/reader.ts.
  createReadStream(opts: ReadStreamOptions = {}): FeedReader {
    if (this.closing) throw errors.CLOSED()
    const reader = new FeedReader(this, opts)
    this.readers.add(reader)
    return reader
  }

  // Membership without opening anything.
  list(): FeedInfo[] {
    const out: FeedInfo[] = []
    const authority = this.members.authority
    for (const r of this.records.values()) {
      const info = infoOf(r)
      if (authority !== null) {
        const a = authority.authorization(r.hex)
        info.authorized = a !== null
        info.admin = a !== null && a.admin
        info.authorizedBy = a === null ? null : a.by ?? authority.owner
      }
      out.push(info)
    }
    return out
  }

  // Stops replicating a feed, drops it from the index and frees its blocks (lib/removal.ts).
  remove(key: Buffer | string, cb?: Callback<void>): Promise<void>
  remove(key: Buffer | string, opts: RemoveOptions, cb?: Callback<void>): Promise<void>
  remove(key: Buffer | string, ...args: unknown[]): Promise<void> {
    const [[opts], cb] = splitCallback<[RemoveOptions | undefined], void>(args)
    return maybeCallback(this.removal.remove(key, opts ?? {}), cb)
  }

  purge(opts: PurgeOptions, cb?: Callback<number>): Promise<number> {
    return maybeCallback(this.removal.purge(opts), cb)
  }

  unblock(key: Buffer | string): Promise<void> {
    return this.removal.unblock(key)
  }

  isBlocked(key: Buffer | string): boolean {
    return this.records.isBlocked(toHex(toKey(key, 'feed key')))
  }

  // How many feed cores are open now (the rest are records only).
  get openFeeds(): number {
    let n = 0
    for (const r of this.records.values()) if (r.core !== null && !r.core.closing) n++
    return n
  }

  get size(): number {
    return this.records.size
  }

  // --- authorized mode (lib/authorization.ts) ---

  // The owner's public key of an authorized multifeed; null for an open one (or before ready()).
  get owner(): Buffer | null {
    return this.members.authority?.owner ?? null
  }

  // One string that carries the shared key and the owner's key: what members join with (`key`).
  get joinKey(): string | null {
    const authority = this.members.authority
    if (authority === null || this.key === null) return null
    return toHex(this.key) + toHex(authority.owner)
  }

  // Signs (as the owner, or with one of our writers that is an admin) that a feed belongs to the group.
  authorize(key: Buffer | string, opts: AuthorizeOptions = {}): Promise<void> {
    return this.members.authorize(key, opts)
  }

  // Signs that a feed is out, for good: every peer that learns it removes and refuses it.
  revoke(key: Buffer | string): Promise<void> {
    return this.members.revoke(key)
  }

  isAuthorized(key: Buffer | string): boolean {
    return this.members.isAuthorized(key)
  }

  replicate(isInitiator: boolean | any, opts: ReplicateOptions = {}): any {
    if (this.closing) throw errors.CLOSED()
    const owned = !isStream(isInitiator)
    const { live = true, openFirst = true, ...streamOpts } = opts
    if (live === false && !owned) throw errors.INVALID_ARGUMENT('live: false needs a stream of its own (replicate(isInitiator)), not a shared one')
    const stream = replicateStore(this.store, isInitiator, streamOpts) as any
    const muxer = protocolMuxer(stream)
    ChannelRouter.from(muxer).claimCoreOpens() // corestore paired its catch-all again: ours goes first
    this.exchanges.join(muxer, stream, owned, live === false, openFirst !== false)
    return stream
  }

  // Stops this multifeed's exchange and feed replication on one stream, leaving the stream and
  // everything else on it alone (the networker's unswarm).
  unreplicate(stream: any): void {
    const muxer = protocolMuxer(stream)
    this.exchanges.get(muxer)?.destroy(null)
    // a core another multifeed of the same Corestore records too is theirs as well: it stays
    const root = this.base.root ?? this.base
    const ours = (hex: string): boolean => {
      const record = this.records.get(hex)
      return record !== undefined && !ChannelRouter.sharedWithOthers(muxer, record, null, false, root)
    }
    for (const record of this.records.values()) {
      if (!ours(record.hex)) continue
      detachHeld(this.base, record.discoveryKey, muxer) // the core object every session of ours shares
    }
    // detaching stops new feed channels; the open ones of our cores (ours, or opened by corestore on
    // request) close here. A channel of another Corestore's core for the same feed is not ours to close.
    for (const { channel, key, core } of coreChannels(muxer)) {
      if (!key || !ours(toHex(key))) continue
      if (core === heldCore(this.base, crypto.discoveryKey(key))) channel.close()
    }
    this.checkSynced()
  }

  // Resolves once every accepted remote feed on the current connections is downloaded as far as the remote advertised.
  synced(cb?: Callback<void>): Promise<void> {
    const p = this.isSynced() ? Promise.resolve() : new Promise<void>((resolve, reject) => {
      const onsynced = (): void => { cleanup(); resolve() }
      const onclose = (): void => { cleanup(); reject(errors.CLOSED()) }
      const cleanup = (): void => { this.off('synced', onsynced); this.off('close', onclose) }
      this.on('synced', onsynced)
      this.on('close', onclose)
    })
    return maybeCallback(p, cb)
  }

  isSynced(): boolean {
    return !this.members.applying && this.exchanges.synced
  }

  checkSynced(): void {
    const synced = this.isSynced()
    if (synced && !this.wasSynced) this.emit('synced')
    this.wasSynced = synced
  }

  get connections(): FeedExchange[] {
    return [...this.exchanges.values()]
  }

  stats(): MultifeedStats {
    return this.exchanges.stats()
  }

  // What the exchanges offer as our set (test/fuzz compares a connection's view with it).
  sharedEntries(): Promise<LocalEntry[]> {
    return this.exchanges.sharedEntries()
  }

  // --- records and cores (hand, session and adopt serve lib/writers.ts too) ---

  // The app gets the core: it stays open until the app closes it.
  hand(record: FeedRecord): Hypercore {
    record.held = true
    return this.open(record)
  }

  // Every feed session of ours: the multifeed's value encoding, and no linger, so once no session wants a
  // core its channels close and corestore can free it (and a writer the app closed is not attached to
  // new streams).
  session(opts: { key?: Buffer, name?: string, keyPair?: Hypercore.KeyPair }): Hypercore {
    return this.slot!.get({ ...opts, valueEncoding: this.valueEncoding, notDownloadingLinger: 0, onwait: this.onwait })
  }

  // A get() on one of our sessions (or a session made from it) waits for a block: fetch it from a peer
  // that has it (our cores join no connection by themselves).
  private readonly onwait = (index: number, core: Hypercore): void => {
    const record = core.key ? this.records.get(toHex(core.key)) : undefined
    if (record !== undefined && record.core !== null && !this.closing) this.transfers.fetchBlock(record, index)
  }

  private open(record: FeedRecord): Hypercore {
    if (record.core === null || record.core.closing) this.adopt(record, this.session({ key: record.key }))
    return record.core!
  }

  // Keep the record's length and fork current while its core is open, and tell every connection. Within
  // a fork the length only grows; a truncation (by the writer, or a peer's newer fork met in
  // replication) moves the record to the core's new fork and length.
  adopt(record: FeedRecord, core: Hypercore): void {
    record.core = core
    record.downloading = false
    core.once('close', () => this.onclosed(record, core))
    core.ready().then(() => this.followers.follow(record, core), safetyCatch)
  }

  private readonly onstorecore = (discoveryKeyHex: string): void => {
    const record = this.closing ? undefined : this.records.withDiscoveryKey(discoveryKeyHex)
    if (record !== undefined) queueMicrotask(() => this.followHeld(record))
  }

  // Follow the core corestore holds for the record, opened by someone else (no session of ours on it).
  private followHeld(record: FeedRecord): void {
    if (this.closing || this.slot === null || this.followers.sessionOf(record) !== null) return
    const s = this.slot.get({ key: record.key, weak: true, active: false, wait: false } as Parameters<Corestore['get']>[0])
    s.ready().then(() => {
      if (this.closing || this.records.get(record.hex) !== record || this.followers.sessionOf(record) !== null) return s.close()
      this.followers.track(record, s)
    }).catch(safetyCatch)
  }

  // A session of the feed's core, open now: ours, or the weak one that follows a core we let go of.
  followedCore(record: FeedRecord): Hypercore | null {
    return this.followers.sessionOf(record)
  }

  // When this remote (a core's peer on one connection) last fetched a block of the core from us (0: never).
  lastFetch(peer: Hypercore.Peer): number {
    return this.followers.lastFetch(peer)
  }

  private grow(record: FeedRecord, core: Hypercore): void {
    if (!core.opened) return
    const length = core.contiguousLength
    const fork = core.fork
    if (fork < record.fork || (fork === record.fork && length <= record.length)) return
    const grown = fork === record.fork ? length - record.length : 0
    record.length = length
    record.fork = fork
    this.flusher.wrote(Math.max(1, grown))
    this.transfers.grown(record, grown)
    this.exchanges.announce(record)
    this.changed(record)
  }

  // The session closed (the app closed what it was handed, or we released it): forget it, and reopen
  // at once if connections still replicate the feed.
  private onclosed(record: FeedRecord, core: Hypercore): void {
    if (record.core !== core) return
    const downloading = record.downloading
    record.core = null
    record.held = false
    record.downloading = false
    if (this.closing || !this.transfers.inUse(record) || this.records.get(record.hex) !== record) return
    this.open(record)
    if (downloading) downloadLive(record)
  }

  // --- TransferHost ---

  recordOf(hex: string): FeedRecord | undefined {
    return this.records.get(hex)
  }

  openCore(record: FeedRecord): Hypercore {
    return this.open(record)
  }

  // No connection needs it: close it unless the app holds it. corestore keeps closed cores a while as a
  // cache for quick reopens; past a connection's window of them the oldest close now, so a sync of many
  // feeds holds about two windows of cores (open and idle), not every core it touched.
  closeCore(record: FeedRecord): void {
    if (record.held || record.core === null) return
    const core = record.core
    record.core = null
    this.transfers.closeSettledChannels(record, core)
    core.close().then(() => { trimIdleCores(this.base, this.maxDownloads) }, safetyCatch)
  }

  onstalled(record: FeedRecord, exchange: FeedExchange): void {
    this.emit('stalled', record.key, exchange)
    this.checkSynced()
  }

  // --- ReaderHost ---

  allRecords(): Iterable<FeedRecord> {
    return [...this.records.values()]
  }

  // A session for one reader's turn: passive (it replicates nothing), raw, and never waiting for a block.
  readSession(record: FeedRecord): Hypercore {
    return this.slot!.get({ key: record.key, active: false, wait: false })
  }

  decode(block: Buffer): unknown {
    if (this.codec === null) this.codec = this.valueEncoding ? c.from(this.valueEncoding as string) : false
    return this.codec === false ? block : c.decode(this.codec, block)
  }

  // A reader's cores are not reopened soon: corestore keeps no more of them idle than the reader's window.
  async closeReadSession(session: Hypercore, keep: number): Promise<void> {
    await session.close()
    trimIdleCores(this.base, keep)
  }

  async loadCursor(name: string): Promise<Map<string, number>> {
    await this.ready()
    return await this.index!.loadCursor(name)
  }

  async saveCursor(name: string, progress: Map<string, number>): Promise<void> {
    if (this.index === null || this.closed) throw errors.CLOSED()
    await this.index.saveCursor(name, progress)
  }

  readerClosed(reader: FeedReader): void {
    this.readers.delete(reader)
  }

  // --- for lib/exchange-set.ts, lib/removal.ts, lib/authorization.ts and lib/writers.ts ---

  emitFeed(record: FeedRecord): void {
    if (this.listenerCount('feed') > 0) this.emit('feed', this.hand(record), record.name)
  }

  // A session of the feed's stored core that replicates nothing: to clear it, or to read its key pair.
  storedCore(record: FeedRecord): Hypercore {
    return this.slot!.get({ key: record.key, active: false })
  }

  // The feeds left the multifeed: readers skip them.
  forgotten(records: FeedRecord[]): void {
    for (const record of records) this.followers.unfollow(record.hex, record).catch(safetyCatch)
    for (const reader of this.readers) for (const record of records) reader.removed(record.hex)
  }
}

function isStream(s: unknown): boolean {
  return typeof s === 'object' && s !== null && typeof (s as { pipe?: unknown }).pipe === 'function'
}

function storageError(err: unknown, store: Corestore): Error {
  const e = err as Error & { code?: string }
  const path = (store.storage as unknown as { path?: string })?.path ?? ''
  if (/lock/i.test(e.message || '')) return errors.STORAGE_LOCKED(path, err)
  if (/Another corestore/i.test(e.message || '')) return errors.STORAGE_CORRUPT(e.message, { path, cause: err })
  return e
}

module.exports = Multifeed
module.exports.Multifeed = Multifeed
module.exports.default = Multifeed
