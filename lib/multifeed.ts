// A multifeed: the writers of many authors under one shared key, their membership kept in a local-only
// index, and a feed exchange on every replication stream. One record per feed; cores open on demand.
import ReadyResource from 'ready-resource'
import Corestore from 'corestore'
import type Hypercore from 'hypercore'
import type Protomux from 'protomux'
import crypto from 'hypercore-crypto'
import b4a from 'b4a'
import c from 'compact-encoding'
import safetyCatch from 'safety-catch'
import { FeedIndex } from './feed-index'
import { FeedExchange, ExchangeHost, LocalEntry } from './exchange'
import { ChannelRouter } from './router'
import { toKey, toHex } from './keys'
import { maybeCallback, splitCallback, Callback } from './callbacks'
import * as errors from './errors'
import { FeedEntry, LIMITS, RECORD_LENGTH } from './messages'
import { detachHeld, heldCore, trimIdleCores, settleWrites, protocolMuxer, replicateStore, coreChannels, endGracefully, storedInfos } from './internals'
import { MultifeedStats, newTransferStats, addTransferStats } from './stats'
import { FeedInfo, FeedRecord, newRecord, infoOf, downloadLive } from './feed-record'
import { TransferScheduler, TransferHost } from './transfers'
import { Position, covers } from './position'
import { FeedReader, ReaderHost, ReadStreamOptions } from './reader'
import { StorageFlusher } from './flusher'
import { Authority, AuthorityHost } from './authority'
import { NOT_COUNTING, REVOKED_SIGNER } from './membership'
import type { Signer } from './membership'
import type { MemberRecord } from './messages'

export type { FeedInfo } from './feed-record'

export type FeedFilter = (info: FeedInfo) => boolean | Promise<boolean>

export interface MultifeedOptions {
  key?: Buffer | string
  encryptionKey?: Buffer | string // the original multifeed's name for `key`
  valueEncoding?: unknown
  client?: string
  share?: FeedFilter
  accept?: FeedFilter
  namespace?: string
  maxFeeds?: number
  maxDownloads?: number
  maxTotalDownloads?: number
  maxConnections?: number
  stallTimeout?: number
  maxNewFeedsPerConnection?: number
  timeout?: number
  storeKey?: boolean // false: the shared key is never written to disk; every open must pass it
  // an authorized multifeed: true makes this device the owner; a key joins under that owner
  owner?: true | Buffer | string
}

export interface AuthorizeOptions {
  admin?: boolean // the feed's writer may authorize and revoke members
}

export interface RemoveOptions {
  block?: boolean // never accept this feed again, from any peer
  allowWriter?: boolean // our own writer goes too; writer(name) then makes a writer with a new key
}

export interface PurgeOptions {
  empty?: boolean // remote feeds of which we hold no block
  introducedBy?: FeedExchange // remote feeds this connection made us record (this session)
  block?: boolean // and refuse them for good
}

export interface ReplicateOptions {
  live?: boolean // false: end the stream once both sides have what the other advertised
  openFirst?: boolean // false: offer our channel (our discovery key) only once the remote offers its own
  [streamOption: string]: unknown // passed on to corestore.replicate
}

export interface WriterOptions {
  keyPair?: { publicKey: Buffer, secretKey: Buffer }
  keypair?: { publicKey: Buffer, secretKey: Buffer } // the original multifeed's spelling
}

// Reading cores' lengths from storage (after an unclean close, or for the feeds that were downloading at
// the last close) in slices keeps RocksDB's read buffers small: one batch for 10,000 feeds peaks at ~60 MB
// more.
const INFO_BATCH = 256

// Feeds one connection downloads at once; the rest wait their turn, so a first sync of many feeds holds
// a window of cores, not one per feed.
const DEFAULT_MAX_DOWNLOADS = 256
// Distinct feeds downloading on all connections together: many connections cannot open many windows.
const DEFAULT_MAX_TOTAL_DOWNLOADS = 1024
// Connections one multifeed exchanges on at once; more are refused (ERR_TOO_MANY_CONNECTIONS).
const DEFAULT_MAX_CONNECTIONS = 128
// A download that brings no block from a connection for this long is given up there (lib/transfers.ts).
const DEFAULT_STALL_TIMEOUT = 10_000
// Feeds one connection may make us record: one member cannot fill the index (and every peer's after it).
const DEFAULT_MAX_NEW_FEEDS_PER_CONNECTION = 10_000

// How long close() waits for a remote to end the streams we made before destroying them.
const CLOSE_GRACE = 2000

const DEFAULT_MAX_FEEDS = 100_000
const DEFAULT_TIMEOUT = 20_000

export class Multifeed extends ReadyResource implements ExchangeHost, TransferHost, AuthorityHost {
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
  private readonly ownsStore: boolean
  private readonly base: Corestore
  private readonly valueEncoding: unknown
  private codec: c.Encoder<unknown> | false | null = null // the valueEncoding for readers, once needed
  private readonly shareFilter: FeedFilter | null
  private readonly acceptFilter: FeedFilter | null
  private readonly timeout: number
  private readonly storeKey: boolean
  private slot: Corestore | null = null
  private index: FeedIndex | null = null
  private readonly records = new Map<string, FeedRecord>()
  private readonly byDiscoveryKey = new Map<string, FeedRecord>() // the same records, by hex discovery key
  private readonly writersByName = new Map<string, FeedRecord>()
  private readonly flusher: StorageFlusher
  private readonly ownerOption: true | Buffer | undefined
  private authority: Authority | null = null // authorized mode only
  private applyingRecords = 0 // membership records being stored and applied: not synced meanwhile
  private freeing: Promise<void> = Promise.resolve() // blocks of feeds that lost their authorization
  private readonly readers = new Set<FeedReader>() // open createReadStream()s, told of every feed change
  private readonly blocked = new Set<string>()
  private readonly exchanges = new Map<Protomux, FeedExchange>() // one per connection, by its muxer
  private readonly creatingWriters = new Map<string, Promise<FeedRecord>>() // by writer name
  private readonly creatingFeeds = new Map<string, Promise<FeedRecord>>() // remote feeds being recorded, by hex key
  private wasSynced = true
  private readonly transfers: TransferScheduler
  // the remote feeds each connection made us record (this session): its quota, and purge({ introducedBy })
  private readonly introducedBy = new Map<FeedExchange, Set<string>>()
  private readonly pastStats = newTransferStats()
  private pastConnections = 0

  constructor(storage: string | Corestore, opts: MultifeedOptions = {}) {
    super()
    // every option is checked before the storage is touched, so bad input leaves nothing open or locked
    let key = opts.key ?? opts.encryptionKey
    let owner = opts.owner
    // a join key: the shared key and the owner's key in one string (multi.joinKey)
    if (typeof key === 'string' && /^[0-9a-fA-F]{128}$/.test(key)) {
      if (owner !== undefined && owner !== true && toHex(toKey(owner, 'owner key')) !== key.slice(64).toLowerCase()) throw errors.INVALID_ARGUMENT('the join key names another owner than `owner`')
      owner = key.slice(64)
      key = key.slice(0, 64)
    }
    this.key = key === undefined || key === null ? null : toKey(key, 'multifeed key')
    if (owner !== undefined && owner !== true && (typeof owner !== 'string' && !b4a.isBuffer(owner))) throw errors.INVALID_ARGUMENT('owner must be true or a key', { value: owner })
    this.ownerOption = owner === undefined || owner === true ? owner : toKey(owner, 'owner key')
    this.discoveryKey = this.key ? crypto.discoveryKey(this.key) : null
    this.client = opts.client ?? 'MULTIFEED'
    if (typeof this.client !== 'string') throw errors.INVALID_ARGUMENT('client must be a string')
    if (this.client.length > LIMITS.maxStringLength) throw errors.INVALID_ARGUMENT(`client must be at most ${LIMITS.maxStringLength} characters`, { client: this.client })
    this.maxFeeds = opts.maxFeeds ?? DEFAULT_MAX_FEEDS
    if (!Number.isSafeInteger(this.maxFeeds) || this.maxFeeds < 1) throw errors.INVALID_ARGUMENT('maxFeeds must be a positive integer')
    this.maxDownloads = opts.maxDownloads ?? DEFAULT_MAX_DOWNLOADS
    if (!Number.isSafeInteger(this.maxDownloads) || this.maxDownloads < 1) throw errors.INVALID_ARGUMENT('maxDownloads must be a positive integer')
    this.maxTotalDownloads = opts.maxTotalDownloads ?? Math.max(this.maxDownloads, DEFAULT_MAX_TOTAL_DOWNLOADS)
    if (!Number.isSafeInteger(this.maxTotalDownloads) || this.maxTotalDownloads < 1) throw errors.INVALID_ARGUMENT('maxTotalDownloads must be a positive integer')
    this.maxConnections = opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS
    if (!Number.isSafeInteger(this.maxConnections) || this.maxConnections < 1) throw errors.INVALID_ARGUMENT('maxConnections must be a positive integer')
    this.maxNewFeedsPerConnection = opts.maxNewFeedsPerConnection ?? DEFAULT_MAX_NEW_FEEDS_PER_CONNECTION
    if (!Number.isSafeInteger(this.maxNewFeedsPerConnection) || this.maxNewFeedsPerConnection < 0) throw errors.INVALID_ARGUMENT('maxNewFeedsPerConnection must be a whole number')
    this.stallTimeout = opts.stallTimeout ?? DEFAULT_STALL_TIMEOUT
    if (!Number.isSafeInteger(this.stallTimeout) || this.stallTimeout < 1) throw errors.INVALID_ARGUMENT('stallTimeout must be a positive integer (ms)')
    this.timeout = opts.timeout ?? DEFAULT_TIMEOUT
    this.storeKey = opts.storeKey !== false
    if (!this.storeKey && this.key === null) throw errors.INVALID_ARGUMENT('storeKey: false needs the key: it cannot be found on disk')
    this.valueEncoding = opts.valueEncoding
    this.shareFilter = opts.share ?? null
    this.acceptFilter = opts.accept ?? null
    if (this.shareFilter !== null && typeof this.shareFilter !== 'function') throw errors.INVALID_ARGUMENT('share must be a function')
    if (this.acceptFilter !== null && typeof this.acceptFilter !== 'function') throw errors.INVALID_ARGUMENT('accept must be a function')
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
    this.store = this.base.namespace(opts.namespace ?? 'hyper-multifeed', { active: false })
    this.flusher = new StorageFlusher(this.base)
    this.transfers = new TransferScheduler(this, { maxDownloads: this.maxDownloads, maxUploads: this.maxDownloads, maxTotalDownloads: this.maxTotalDownloads, stallTimeout: this.stallTimeout })
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
    for (const key of blocked) this.blocked.add(toHex(key))
    // a blocked feed never comes back, even if a crash left its record behind
    const kept = feeds.filter((f) => !this.blocked.has(toHex(f.key)))
    const records = kept.map((f) => newRecord(f.key, f.name, f.writable, f.length, f.fork ?? 0))
    // the feeds that were downloading when the last close saved them may hold more blocks than it saw
    const behind = clean ? records.filter((r, i) => kept[i].behind === true) : records
    await this.readLengths(behind)
    if (clean) for (const r of behind) r.storedLength = -1 // saved again at close, without the mark
    for (const record of records) this.addRecord(record)
    this.authority = await Authority.open(this, this.index, this.discoveryKey!, this.ownerOption, records.length > 0)
    // a crash between storing a revocation and removing its feed: the feed goes now
    if (this.authority !== null) await this.dropUnauthorized(records.filter((r) => !r.writable && !this.authority!.isAuthorized(r.hex)))
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
    await this.freeing
    // remote feeds downloading now: blocks in flight still land after our sessions close, unseen by us
    const downloading = [...this.records.values()].filter((r) => r.core !== null && !r.writable)
    // readers end first: a named cursor saves its progress while the index is open
    await Promise.all([...this.readers].map((reader) => new Promise<void>((resolve) => {
      reader.once('close', () => resolve())
      reader.destroy()
    })))
    this.transfers.close()
    // streams we made end as a finished peer's do, so the other side sees no error
    const ending: Promise<void>[] = []
    for (const ex of [...this.exchanges.values()]) {
      if (ex.owned) ending.push(endGracefully(ex.stream, CLOSE_GRACE))
      ex.destroy(null)
    }
    await Promise.all(ending)
    const closing: Promise<void>[] = []
    for (const record of this.records.values()) {
      if (record.core) closing.push(record.core.close())
      record.core = null
    }
    await Promise.allSettled(closing)
    // the lengths that moved, and the mark that makes the next ready() trust them
    const behind = new Set(downloading.filter((r) => this.records.get(r.hex) === r))
    const moved = [...this.records.values()].filter((r) => !behind.has(r) && (r.length !== r.storedLength || r.fork !== r.storedFork))
    const saved = [...moved, ...[...behind].map((r) => ({ ...r, behind: true }))]
    if (this.index) await this.index.saveLengths(saved).catch(safetyCatch)
    await this.flusher.flush().catch(safetyCatch)
    await this.releaseStorage()
  }

  private async releaseStorage(): Promise<void> {
    if (this.index) await this.index.close()
    if (this.slot) await this.slot.close()
    await this.store.close()
    if (this.ownsStore) await this.base.close()
  }

  private addRecord(record: FeedRecord): void {
    const replaced = this.records.get(record.hex)
    if (replaced !== undefined) this.byDiscoveryKey.delete(toHex(replaced.discoveryKey))
    this.records.set(record.hex, record)
    this.byDiscoveryKey.set(toHex(record.discoveryKey), record)
    if (record.writable && record.name !== null) this.writersByName.set(record.name, record)
    this.changed(record)
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
    return maybeCallback(this.getWriter(name, opts), cb)
  }

  private async getWriter(name: string | undefined, opts: WriterOptions = {}): Promise<Hypercore> {
    if (name !== undefined && name !== null && typeof name !== 'string') {
      throw errors.INVALID_ARGUMENT('writer name must be a string', { value: name })
    }
    const keyPair = opts.keyPair ?? opts.keypair
    if (keyPair !== undefined) validateKeyPair(keyPair)
    if (!this.opened) await this.ready()
    if (this.closing) throw errors.CLOSED()
    if (typeof name === 'string') {
      const existing = this.writersByName.get(name)
      if (existing) return this.openReady(existing)
      // two calls for the same new name must not race into two records
      let creating = this.creatingWriters.get(name)
      if (!creating) {
        creating = this.createWriter(name, keyPair)
        this.creatingWriters.set(name, creating)
        const done = (): void => { this.creatingWriters.delete(name) }
        creating.then(done, done)
      }
      return this.openReady(await creating)
    }
    return this.openReady(await this.createWriter(null, keyPair))
  }

  private async openReady(record: FeedRecord): Promise<Hypercore> {
    const core = this.hand(record)
    await core.ready()
    return core
  }

  private async createWriter(name: string | null, keyPair: Hypercore.KeyPair | undefined): Promise<FeedRecord> {
    const core = await this.openWriterCore(name, keyPair)
    const hex = toHex(core.key!)
    const known = this.records.get(hex)
    if (known) {
      if (known.writable || !keyPair) {
        await core.close()
        return known
      }
      await this.makeWritable(known, name, core)
      return known
    }
    const record = newRecord(core.key!, name, true, core.contiguousLength, core.fork)
    // durable before anyone sees it: a crash after this line cannot lose a writer that writer() returned
    await this.putOrClose(record, core)
    this.addRecord(record)
    this.adopt(record, core)
    // the owner's and an admin's own writers are authorized as they are made
    if (this.authority !== null) await this.authority.authorize(record.key, false).catch((err) => { if (err.code !== 'ERR_NOT_ADMIN') throw err })
    this.emitFeed(record)
    this.announce(record)
    return record
  }

  // A peer advertised this key before we made a writer of it (a writer restored from its key pair on a
  // new device): the record becomes our writer, durably, and its session the writable one.
  private async makeWritable(record: FeedRecord, name: string | null, core: Hypercore): Promise<void> {
    await this.putOrClose({ ...record, name, writable: true }, core)
    record.writable = true
    record.name = name
    if (name !== null) this.writersByName.set(name, record)
    const previous = record.core
    const downloading = record.downloading
    this.adopt(record, core)
    if (downloading) downloadLive(record)
    if (previous !== null && !record.held) previous.close().catch(safetyCatch)
  }

  // The writer's record, durably; if that fails, the session opened for it goes too.
  private async putOrClose(record: FeedRecord, core: Hypercore): Promise<void> {
    try {
      await this.index!.put([record])
    } catch (err) {
      await core.close().catch(safetyCatch)
      throw err
    }
  }

  // Every feed session of ours: the multifeed's value encoding, and no linger, so once no session wants a
  // core its channels close and corestore can free it (and a writer the app closed is not attached to
  // new streams).
  private session(opts: { key?: Buffer, name?: string, keyPair?: Hypercore.KeyPair }): Hypercore {
    return this.slot!.get({ ...opts, valueEncoding: this.valueEncoding, notDownloadingLinger: 0, onwait: this.onwait })
  }

  // A get() on one of our sessions (or a session made from it) waits for a block: fetch it from a peer
  // that has it (our cores join no connection by themselves).
  private readonly onwait = (index: number, core: Hypercore): void => {
    const record = core.key ? this.records.get(toHex(core.key)) : undefined
    if (record !== undefined && record.core !== null && !this.closing) this.transfers.fetchBlock(record, index)
  }

  // A named writer's key derives from its name. A removed writer leaves its blocks cleared and its head
  // stored, so that key can never be written contiguously again: the name moves on to a next key.
  private async openWriterCore(name: string | null, keyPair: Hypercore.KeyPair | undefined): Promise<Hypercore> {
    if (keyPair || name === null) {
      const pair = keyPair ?? crypto.keyPair()
      const core = this.session({ key: pair.publicKey, keyPair: pair })
      await core.ready()
      return core
    }
    for (let generation = 0; ; generation++) {
      const core = this.session({ name: writerCoreName(name, generation) })
      await core.ready()
      if (core.length === 0 || this.records.has(toHex(core.key!))) return core
      await core.close()
    }
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
    const authority = this.authority
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

  // Stops replicating a feed, drops it from the index and frees its blocks. With `block`, the refusal is
  // persisted so no peer can bring it back.
  remove(key: Buffer | string, cb?: Callback<void>): Promise<void>
  remove(key: Buffer | string, opts: RemoveOptions, cb?: Callback<void>): Promise<void>
  remove(key: Buffer | string, ...args: unknown[]): Promise<void> {
    const [[opts], cb] = splitCallback<[RemoveOptions | undefined], void>(args)
    return maybeCallback(this.removeFeed(key, opts ?? {}), cb)
  }

  private async removeFeed(key: Buffer | string, opts: RemoveOptions): Promise<void> {
    const buf = toKey(key, 'feed key')
    const hex = toHex(buf)
    if (!this.opened) await this.ready()
    if (this.closing) throw errors.CLOSED()
    if (!this.records.has(hex) && !opts.block) throw errors.FEED_NOT_FOUND(buf)
    if (this.records.get(hex)?.writable && !opts.allowWriter) throw errors.WRITER_REMOVAL(buf)
    // the refusal is stored before the feed goes: a crash in between leaves it blocked, never back
    if (opts.block) {
      this.blocked.add(hex) // from now on no advertisement records it
      await this.index!.block(buf)
    }
    // a peer's advertisement of it being recorded right now lands first, then goes
    await this.creatingFeeds.get(hex)?.catch(noop)
    const record = this.records.get(hex)
    if (!record) {
      if (opts.block) await this.index!.delete(buf) // a record that was being written when it was blocked
      return
    }
    if (this.closing) return
    if (record.writable && !opts.allowWriter) throw errors.WRITER_REMOVAL(buf)
    await this.index!.delete(buf)
    await this.drop(record)
    this.checkSynced()
  }

  // Removes remote feeds in one call: those that never delivered a block (`empty`), and/or those one
  // connection made us record this session (`introducedBy`); `block` refuses them for good. Writers are
  // never purged. Resolves to how many were removed.
  purge(opts: PurgeOptions, cb?: Callback<number>): Promise<number> {
    return maybeCallback(this.purgeFeeds(opts), cb)
  }

  private async purgeFeeds(opts: PurgeOptions): Promise<number> {
    if (!opts || (opts.empty !== true && opts.introducedBy === undefined)) throw errors.INVALID_ARGUMENT('purge needs empty: true or introducedBy: exchange')
    if (!this.opened) await this.ready()
    if (this.closing) throw errors.CLOSED()
    const from = opts.introducedBy === undefined ? null : this.introducedBy.get(opts.introducedBy) ?? new Set<string>()
    const doomed: FeedRecord[] = []
    for (const record of from === null ? this.records.values() : [...from].map((hex) => this.records.get(hex))) {
      if (!record || record.writable) continue
      if (opts.empty === true && record.length > 0) continue
      doomed.push(record)
    }
    if (doomed.length === 0) return 0
    const keys = doomed.map((r) => r.key)
    if (opts.block) {
      for (const record of doomed) this.blocked.add(record.hex)
      await this.index!.blockMany(keys)
    }
    await this.index!.deleteMany(keys) // durable first: a crash then cannot bring them back
    // all of them leave every connection before any core is touched: a freed download slot must not
    // open the next feed of the same purge
    this.forget(doomed)
    for (const record of doomed) await this.free(record)
    this.checkSynced()
    return doomed.length
  }

  private async drop(record: FeedRecord): Promise<void> {
    this.forget([record])
    await this.free(record)
  }

  // The records go from memory, then from every connection (whose queues skip what is gone).
  private forget(records: FeedRecord[]): void {
    for (const record of records) {
      this.records.delete(record.hex)
      this.byDiscoveryKey.delete(toHex(record.discoveryKey))
      if (record.name !== null && this.writersByName.get(record.name) === record) this.writersByName.delete(record.name)
      for (const set of this.introducedBy.values()) set.delete(record.hex)
    }
    for (const record of records) this.transfers.removed(record)
    for (const reader of this.readers) for (const record of records) reader.removed(record.hex)
  }

  // Its blocks are freed (and 'remove' told).
  private async free(record: FeedRecord): Promise<void> {
    // the session with the live download goes first (its requests with it), so no block lands after clear
    const live = record.core
    record.core = null
    if (live !== null) {
      this.transfers.closeChannels(record, live)
      await live.close().catch(safetyCatch)
    }
    if (live !== null || record.length > 0) {
      const core = this.slot!.get({ key: record.key, active: false })
      try {
        await core.ready()
        this.transfers.closeChannels(record, core)
        await clearAll(core)
      } finally {
        await core.close()
      }
    }
    this.emit('remove', record.key)
  }

  async unblock(key: Buffer | string): Promise<void> {
    const buf = toKey(key, 'feed key')
    if (!this.opened) await this.ready()
    await this.index!.unblock(buf)
    this.blocked.delete(toHex(buf))
  }

  isBlocked(key: Buffer | string): boolean {
    return this.blocked.has(toHex(toKey(key, 'feed key')))
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

  // --- authorized mode ---

  // The owner's public key of an authorized multifeed; null for an open one (or before ready()).
  get owner(): Buffer | null {
    return this.authority?.owner ?? null
  }

  // One string that carries the shared key and the owner's key: what members join with (`key`).
  get joinKey(): string | null {
    if (this.authority === null || this.key === null) return null
    return toHex(this.key) + toHex(this.authority.owner)
  }

  // Signs (as the owner, or with one of our writers that is an admin) that a feed belongs to the group.
  async authorize(key: Buffer | string, opts: AuthorizeOptions = {}): Promise<void> {
    const buf = toKey(key, 'feed key')
    const authority = this.authorityReady()
    await this.applyingMembership(() => authority.authorize(buf, opts.admin === true))
  }

  // Signs that a feed is out, for good: every peer that learns it removes and refuses it.
  async revoke(key: Buffer | string): Promise<void> {
    const buf = toKey(key, 'feed key')
    const authority = this.authorityReady()
    await this.applyingMembership(() => authority.revoke(buf))
  }

  // Until records are stored and their effects begun (downloads of feeds they authorize), not synced.
  private async applyingMembership<T>(fn: () => Promise<T>): Promise<T> {
    this.applyingRecords++
    try {
      return await fn()
    } finally {
      this.applyingRecords--
      this.checkSynced()
    }
  }

  isAuthorized(key: Buffer | string): boolean {
    return this.authority !== null && this.authority.isAuthorized(toHex(toKey(key, 'feed key')))
  }

  private authorityReady(): Authority {
    if (this.closing) throw errors.CLOSED()
    if (!this.opened) throw errors.INVALID_ARGUMENT('the multifeed is not ready yet')
    if (this.authority === null) throw errors.INVALID_ARGUMENT('an open multifeed has no membership: create it with { owner }')
    return this.authority
  }

  // --- AuthorityHost ---

  async adminSigner(): Promise<{ feed: Buffer, signer: Signer } | null> {
    for (const record of this.records.values()) {
      if (!record.writable || !this.authority?.membership.isAdmin(record.hex)) continue
      // the open core's key pair, or a session of our own for it, closed again
      const core = record.core ?? this.slot!.get({ key: record.key, active: false })
      try {
        await core.ready()
        const pair = core.keyPair
        if (pair && pair.secretKey) return { feed: record.key, signer: { publicKey: pair.publicKey, secretKey: pair.secretKey } }
      } finally {
        if (core !== record.core) await core.close()
      }
    }
    return null
  }

  async membershipChanged(gained: string[], lost: string[]): Promise<void> {
    const dropping: FeedRecord[] = []
    for (const hex of lost) {
      const record = this.records.get(hex)
      if (this.authority!.membership.revoked.has(hex)) this.emit('revoked', b4a.from(hex, 'hex'))
      if (record !== undefined && !record.writable) dropping.push(record) // our own writer stays ours, unshared
    }
    await this.dropUnauthorized(dropping)
    // peers that advertised a feed before it was authorized: take it from them now, one batch each
    const fetch = new Map<FeedExchange, FeedEntry[]>()
    for (const hex of gained) {
      this.emit('authorized', b4a.from(hex, 'hex'), this.authority!.authorization(hex))
      const record = this.records.get(hex)
      if (record !== undefined) this.announce(record)
      for (const ex of this.exchanges.values()) {
        const theirs = ex.remotePosition(hex)
        if (theirs === undefined || theirs.length === RECORD_LENGTH || ex.closed) continue
        let entries = fetch.get(ex)
        if (!entries) fetch.set(ex, entries = [])
        entries.push({ key: b4a.from(hex, 'hex') as Buffer, length: theirs.length, fork: theirs.fork })
      }
    }
    await Promise.all([...fetch].map(([ex, entries]) => this.receiveEntries(ex, entries).then((began) => ex.emitRemoteFeeds(began), safetyCatch)))
  }

  // Remote feeds that are not (or no longer) authorized: gone from the multifeed at once, from the index
  // in one write; their blocks are freed one feed at a time in the background (close() waits for it), so
  // revoking many feeds opens no burst of cores.
  private async dropUnauthorized(records: FeedRecord[]): Promise<void> {
    if (records.length === 0) return
    this.forget(records)
    await this.index!.deleteMany(records.map((r) => r.key))
    for (const record of records) this.freeing = this.freeing.then(() => this.free(record)).catch(safetyCatch)
  }

  broadcastRecords(records: Array<[string, MemberRecord]>, from: unknown): void {
    for (const ex of this.exchanges.values()) if (ex !== from) ex.announceRecords(records)
  }

  async receiveRecords(exchange: FeedExchange, records: MemberRecord[]): Promise<void> {
    const authority = this.authority
    if (authority === null) return
    const refused = await this.applyingMembership(() => authority.receive(records, exchange))
    if (refused.length === 0) return
    this.emit('records-refused', refused, exchange)
    // an honest peer sends only records it checked: a bad one is a lie; records that do not count (yet)
    // happen in honest races, but not thousands
    const lie = refused.find((r) => r.reason !== NOT_COUNTING && r.reason !== REVOKED_SIGNER)
    if (lie) throw errors.BAD_MESSAGE('a membership record that does not verify: ' + lie.reason)
    exchange.refusedRecords += refused.length
    if (exchange.refusedRecords > LIMITS.maxEntriesPerMessage) throw errors.BAD_MESSAGE(`${exchange.refusedRecords} membership records whose signer is no admin`)
  }

  replicate(isInitiator: boolean | any, opts: ReplicateOptions = {}): any {
    if (this.closing) throw errors.CLOSED()
    const owned = !isStream(isInitiator)
    const { live = true, openFirst = true, ...streamOpts } = opts
    if (live === false && !owned) throw errors.INVALID_ARGUMENT('live: false needs a stream of its own (replicate(isInitiator)), not a shared one')
    const stream = replicateStore(this.store, isInitiator, streamOpts) as any
    const muxer = protocolMuxer(stream)
    ChannelRouter.from(muxer).claimCoreOpens() // corestore paired its catch-all again: ours goes first
    if (this.exchanges.has(muxer)) return stream
    if (this.exchanges.size >= this.maxConnections) {
      const err = errors.TOO_MANY_CONNECTIONS(this.maxConnections)
      // our own stream fails; on a shared one this multifeed just stays off it
      if (owned) stream.destroy(err)
      else if (this.listenerCount('channel-error') > 0) this.emit('channel-error', err, stream)
      return stream
    }
    const exchange = new FeedExchange(this, muxer, stream, owned, this.timeout, live === false, openFirst !== false)
    if (!exchange.closed) {
      this.exchanges.set(muxer, exchange)
      this.transfers.connect(exchange)
    }
    this.checkSynced() // a new connection is not synced yet: the next sync is news
    return stream
  }

  // Stops this multifeed's exchange and feed replication on one stream, leaving the stream and
  // everything else on it alone (the networker's unswarm).
  unreplicate(stream: any): void {
    const muxer = protocolMuxer(stream)
    this.exchanges.get(muxer)?.destroy(null)
    // a core another multifeed of the same Corestore records too is theirs as well: it stays
    const root = this.base.root ?? this.base
    const ours = (hex: string): boolean => this.records.has(hex) && !ChannelRouter.sharedWithOthers(muxer, hex, null, false, root)
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
    if (this.applyingRecords > 0) return false
    for (const ex of this.exchanges.values()) if (!ex.synced) return false
    return true
  }

  get connections(): FeedExchange[] {
    return [...this.exchanges.values()]
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


  // --- records and cores ---

  // The app gets the core: it stays open until the app closes it.
  private hand(record: FeedRecord): Hypercore {
    record.held = true
    return this.open(record)
  }

  // --- TransferHost ---

  recordOf(hex: string): FeedRecord | undefined {
    return this.records.get(hex)
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

  openCore(record: FeedRecord): Hypercore {
    return this.open(record)
  }

  // No connection needs it: close it unless the app holds it.
  closeCore(record: FeedRecord): void {
    if (record.held || record.core === null) return
    const core = record.core
    record.core = null
    core.close().then(() => { trimIdleCores(this.base, this.maxTotalDownloads) }, safetyCatch)
  }

  onstalled(record: FeedRecord, exchange: FeedExchange): void {
    this.emit('stalled', record.key, exchange)
    this.checkSynced()
  }

  private open(record: FeedRecord): Hypercore {
    if (record.core === null || record.core.closing) this.adopt(record, this.session({ key: record.key }))
    return record.core!
  }

  // Keep the record's length and fork current while its core is open, and tell every connection. Within
  // a fork the length only grows; a truncation (by the writer, or a peer's newer fork met in
  // replication) moves the record to the core's new fork and length.
  private adopt(record: FeedRecord, core: Hypercore): void {
    record.core = core
    record.downloading = false
    const update = (): void => {
      if (!core.opened) return
      const length = core.contiguousLength
      const fork = core.fork
      if (fork < record.fork || (fork === record.fork && length <= record.length)) return
      const grown = fork === record.fork ? length - record.length : 0
      record.length = length
      record.fork = fork
      this.flusher.wrote(Math.max(1, grown))
      this.transfers.grown(record, grown)
      this.announce(record)
      this.changed(record)
    }
    core.on('append', update)
    core.on('truncate', update)
    core.on('download', (index: number, bytes: number, from: Hypercore.Peer) => {
      const ex = this.exchangeOn(from)
      if (ex) this.transfers.downloaded(record, ex, bytes)
      if (index < record.length) this.changed(record) // a block below the length: one a reader may wait for
      update()
    })
    core.on('upload', (index: number, bytes: number, from: Hypercore.Peer) => {
      const ex = this.exchangeOn(from)
      if (ex) this.transfers.uploaded(record, ex, bytes)
    })
    // the remote closed its channel for this feed: it fetches nothing more from us
    core.on('peer-remove', (peer: Hypercore.Peer) => {
      const ex = this.exchangeOn(peer)
      if (ex) this.transfers.channelClosed(record, ex)
    })
    core.once('close', () => this.onclosed(record, core))
    core.ready().then(update, safetyCatch)
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

  private exchangeOn(peer: Hypercore.Peer): FeedExchange | null {
    return this.exchanges.get(peer.protomux) ?? null
  }

  private emitFeed(record: FeedRecord): void {
    if (this.listenerCount('feed') > 0) this.emit('feed', this.hand(record), record.name)
  }

  private announce(record: FeedRecord): void {
    if (this.exchanges.size === 0 || !this.shareable(record)) return
    this.isShared(record).then((shared) => {
      if (!shared) return
      for (const ex of this.exchanges.values()) ex.announce({ key: record.key, length: record.length, fork: record.fork })
    }, safetyCatch)
  }

  private async isShared(record: FeedRecord): Promise<boolean> {
    return this.shareFilter === null || !!(await this.shareFilter(infoOf(record)))
  }

  // --- ExchangeHost ---

  async sharedEntries(): Promise<LocalEntry[]> {
    const out: LocalEntry[] = []
    for (const record of this.records.values()) {
      if (this.shareable(record) && (this.shareFilter === null || await this.isShared(record))) out.push({ key: record.key, length: record.length, fork: record.fork })
    }
    // the membership records take part in the same set: an in-sync reconnect compares them too
    if (this.authority !== null) for (const e of this.authority.entries()) out.push(e)
    return out
  }

  // Only authorized feeds in an authorized multifeed; a remote feed only once we hold a block of it.
  private shareable(record: FeedRecord): boolean {
    return forwardable(record) && (this.authority === null || this.authority.isAuthorized(record.hex))
  }

  offer(exchange: FeedExchange, keys: Buffer[]): void {
    if (this.authority !== null) {
      const records = this.authority.recordsFor(keys)
      if (records.length > 0) exchange.sendRecords(records)
    }
    for (const key of keys) {
      const record = this.records.get(toHex(key))
      if (record) this.transfers.serve(exchange, record)
    }
  }

  hasFeed(hex: string, writer = false, store?: unknown): boolean {
    const record = this.records.get(hex)
    if (record === undefined || (writer && !record.writable)) return false
    return store === undefined || store === (this.base.root ?? this.base)
  }

  remoteCoreOpened(exchange: FeedExchange, discoveryKey: Buffer): Promise<void> | null {
    const record = this.byDiscoveryKey.get(toHex(discoveryKey))
    if (record === undefined) return null
    return this.transfers.remoteOpened(exchange, record)
  }

  localPosition(hex: string): Position {
    const r = this.records.get(hex)
    return r ? { length: r.length, fork: r.fork } : { length: 0, fork: 0 }
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
      if (entry.length === 0 || this.records.has(hex) || this.creatingFeeds.has(hex) || this.blocked.has(hex) || seen.has(hex)) continue
      if (this.records.size + fresh.length >= this.maxFeeds || introduced.size + fresh.length >= this.maxNewFeedsPerConnection) {
        refused++
        continue
      }
      // `length`: what the remote advertised (we have none of it yet)
      if (this.acceptFilter !== null && !(await this.acceptFilter({ key: entry.key, name: null, writable: false, length: entry.length }))) continue
      seen.add(hex)
      fresh.push(newRecord(b4a.from(entry.key) as Buffer, null, false, 0))
    }
    if (refused > 0) this.emit('refused', refused, exchange)
    if (this.closing || exchange.closed) return []
    if (fresh.length > 0) {
      await this.addRemotes(fresh)
      for (const record of fresh) introduced.add(record.hex)
    }

    const began: Hypercore[] = []
    for (const entry of entries) {
      const hex = toHex(entry.key)
      const record = this.records.get(hex) ?? await this.creatingFeeds.get(hex)
      if (!record || this.records.get(hex) !== record) continue
      const theirs = { length: entry.length, fork: entry.fork ?? 0 }
      if (!covers(theirs, record)) this.transfers.serve(exchange, record)
      else this.transfers.caughtUp(exchange, record)
      // a writer is the only source of its feed (a remote's other fork of it is not ours to take)
      if (record.writable || covers(record, theirs) || exchange.closed) continue
      const core = this.transfers.want(exchange, record, theirs)
      if (core) began.push(core)
    }
    this.checkSynced() // a live announcement can make a synced multifeed wait again
    return began
  }

  // Durable before they are announced onward or shown to the app.
  private async addRemotes(records: FeedRecord[]): Promise<void> {
    const written = this.index!.put(records)
    for (const record of records) {
      const created = written.then(() => record)
      created.catch(noop) // the failure reaches the caller through `written`
      this.creatingFeeds.set(record.hex, created)
    }
    try {
      await written
    } finally {
      for (const record of records) this.creatingFeeds.delete(record.hex)
    }
    const unauthorized: FeedRecord[] = []
    for (const record of records) {
      // blocked while its record was being written: it goes again (remove() waited for this write);
      // revoked meanwhile: its record goes from the index
      if (this.authority !== null && !this.authority.isAuthorized(record.hex)) unauthorized.push(record)
      else if (!this.blocked.has(record.hex)) this.addRecord(record)
    }
    if (unauthorized.length > 0) await this.index!.deleteMany(unauthorized.map((r) => r.key))
    for (const record of records) {
      if (this.records.get(record.hex) !== record) continue
      this.emitFeed(record)
      this.announce(record)
    }
  }

  private introduced(exchange: FeedExchange): Set<string> {
    let set = this.introducedBy.get(exchange)
    if (!set) this.introducedBy.set(exchange, set = new Set())
    return set
  }

  exchangeUpdated(exchange: FeedExchange): void {
    this.emit('exchange', exchange)
    this.checkSynced()
  }

  exchangeClosed(exchange: FeedExchange, err: errors.MultifeedError | null): void {
    if (this.exchanges.get(exchange.muxer) === exchange) {
      this.exchanges.delete(exchange.muxer)
      if (this.introducedBy.get(exchange)?.size === 0) this.introducedBy.delete(exchange)
      addTransferStats(this.pastStats, exchange.stats)
      if (exchange.stats.startedAt !== null) this.pastConnections++
    }
    this.transfers.disconnect(exchange)
    this.emit('exchange-close', exchange, err)
    if (err !== null && !exchange.owned && this.listenerCount('channel-error') > 0) this.emit('channel-error', err, exchange.stream)
    this.checkSynced()
  }

  private checkSynced(): void {
    const synced = this.isSynced()
    if (synced && !this.wasSynced) this.emit('synced')
    this.wasSynced = synced
  }
}

function noop(): void {}

// Frees every block. Blocks that arrived before the channels closed may still be queued for writing
// (and the upgrade that gives the core its length with them): let those writes through, clear again.
// A writer's head stays, so its key is never written again (writer(name) moves on to a new key).
async function clearAll(core: Hypercore): Promise<void> {
  for (let pass = 0; pass < 3; pass++) {
    await settleWrites(core)
    if (core.length > 0) await core.clear(0, core.length)
    if (pass > 0 && core.contiguousLength === 0) return
  }
}

// A remote feed is passed on to other peers only once we hold a verified block of it: a key nobody can
// serve (junk from one member) stops at the first honest peer instead of spreading through the group.
function forwardable(record: FeedRecord): boolean {
  return record.writable || record.length > 0
}

function writerCoreName(name: string, generation: number): string {
  return generation === 0 ? 'writer/' + name : `writer/${name}#${generation}`
}



function isStream(s: unknown): boolean {
  return typeof s === 'object' && s !== null && typeof (s as { pipe?: unknown }).pipe === 'function'
}

function validateKeyPair(kp: unknown): void {
  const k = kp as { publicKey?: unknown, secretKey?: unknown }
  if (!k || !b4a.isBuffer(k.publicKey) || (k.publicKey as Buffer).byteLength !== 32 ||
      !b4a.isBuffer(k.secretKey) || (k.secretKey as Buffer).byteLength !== 64) {
    throw errors.INVALID_ARGUMENT('keyPair must have a 32-byte publicKey and a 64-byte secretKey')
  }
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
