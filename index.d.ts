// Declarations of the package entry (index.js): the Multifeed class is the export, with Multifeed,
// Networker and MultifeedError beside it.
//
// Self-contained on purpose: hypercore, corestore and hyperswarm ship no types, and an app may declare its
// own (`declare module 'hypercore'`). So nothing here imports them: the cores, stores and swarms the API
// takes or hands out are described by the structural interfaces below (Feed, CorestoreLike, ...). The
// only imports are Node's `events` (with the global Buffer: an app needs @types/node) and ./networker.
// test/consumer.js compiles apps against these files and checks that the implementation matches them.
import { EventEmitter } from 'events'
import NetworkerClass = require('./api/networker')

declare class Multifeed<T = any> extends EventEmitter {
  // `storage`: a directory path or an existing Corestore (the multifeed keeps its cores in a namespace).
  constructor(storage: string | Multifeed.CorestoreLike, opts?: Multifeed.MultifeedOptions)

  // the shared key; null until ready() when none was given (the storage's default key is read then)
  readonly key: Buffer | null
  readonly discoveryKey: Buffer | null
  readonly client: string
  readonly maxFeeds: number
  readonly maxDownloads: number
  readonly stallTimeout: number
  readonly maxTotalDownloads: number
  readonly maxConnections: number
  readonly maxNewFeedsPerConnection: number

  readonly opened: boolean
  readonly closed: boolean
  readonly opening: Promise<void> | null
  readonly closing: Promise<void> | null
  ready(cb?: Multifeed.Callback<void>): Promise<void>
  close(cb?: Multifeed.Callback<void>): Promise<void>

  // The writable feed for `name`, created if missing, ready when returned; no name: a new writer.
  writer(cb?: Multifeed.Callback<Multifeed.Feed<T>>): Promise<Multifeed.Feed<T>>
  writer(name: string | undefined, cb?: Multifeed.Callback<Multifeed.Feed<T>>): Promise<Multifeed.Feed<T>>
  writer(name: string | undefined, opts: Multifeed.WriterOptions, cb?: Multifeed.Callback<Multifeed.Feed<T>>): Promise<Multifeed.Feed<T>>

  // every feed, local and remote
  feeds(): Array<Multifeed.Feed<T>>
  // one feed by Buffer or hex key
  feed(key: Buffer | string): Multifeed.Feed<T> | undefined
  // membership records, without opening any core
  list(): Multifeed.FeedInfo[]
  // Every block of every feed (or those `opts` selects), `{ key, seq, value }`: in order per feed, in fair
  // turns across feeds, with at most `opts.window` cores open at once; resumable with `since` or `cursor`.
  createReadStream(opts?: Multifeed.ReadStreamOptions): Multifeed.MultifeedReadStream<T>
  readonly size: number
  readonly openFeeds: number

  remove(key: Buffer | string, cb?: Multifeed.Callback<void>): Promise<void>
  remove(key: Buffer | string, opts: Multifeed.RemoveOptions, cb?: Multifeed.Callback<void>): Promise<void>
  // Removes remote feeds that never delivered a block (`empty`) and/or that one connection made us record
  // (`introducedBy`); resolves to how many. Writers are never purged.
  purge(opts: Multifeed.PurgeOptions, cb?: Multifeed.Callback<number>): Promise<number>
  unblock(key: Buffer | string): Promise<void>
  isBlocked(key: Buffer | string): boolean

  // Authorized multifeeds. The owner's public key (null: an open multifeed, or before ready()).
  readonly owner: Buffer | null
  // the shared key and the owner's key in one string of 128 hex characters: members join with it as `key`
  readonly joinKey: string | null
  // The owner, or a device one of whose writers is an admin, signs that a feed belongs to the group
  // (ERR_NOT_ADMIN otherwise); `admin: true` lets the feed's writer authorize and revoke members.
  authorize(key: Buffer | string, opts?: Multifeed.AuthorizeOptions): Promise<void>
  // Signs that a feed is out for good: every peer that learns it removes and refuses it. Only the owner
  // revokes an admin.
  revoke(key: Buffer | string): Promise<void>
  isAuthorized(key: Buffer | string): boolean

  // A boolean: a new replication stream to pipe to the other side's. A stream (a Hyperswarm connection, a
  // protocol stream): attach to it and return it.
  replicate(isInitiator: boolean, opts?: Multifeed.ReplicateOptions): Multifeed.ReplicationStream
  replicate<S extends Multifeed.StreamLike>(stream: S, opts?: Multifeed.ReplicateOptions): S
  unreplicate(stream: Multifeed.StreamLike): void

  synced(cb?: Multifeed.Callback<void>): Promise<void>
  isSynced(): boolean
  // one exchange per connection
  readonly connections: Multifeed.Exchange[]
  // sums over every connection this multifeed has had, closed ones included
  stats(): Multifeed.MultifeedStats

  on(event: 'feed', listener: (feed: Multifeed.Feed<T>, name: string | null) => void): this
  on(event: 'synced' | 'ready' | 'close', listener: () => void): this
  on(event: 'remove', listener: (key: Buffer) => void): this
  on(event: 'exchange', listener: (exchange: Multifeed.Exchange) => void): this
  on(event: 'exchange-close', listener: (exchange: Multifeed.Exchange, err: Error | null) => void): this
  on(event: 'channel-error', listener: (err: Error, stream: Multifeed.StreamLike) => void): this
  on(event: 'stalled', listener: (key: Buffer, exchange: Multifeed.Exchange) => void): this
  on(event: 'refused', listener: (count: number, exchange: Multifeed.Exchange) => void): this
  on(event: string | symbol, listener: (...args: any[]) => void): this
  once(event: 'feed', listener: (feed: Multifeed.Feed<T>, name: string | null) => void): this
  once(event: 'synced' | 'ready' | 'close', listener: () => void): this
  once(event: 'remove', listener: (key: Buffer) => void): this
  once(event: 'exchange', listener: (exchange: Multifeed.Exchange) => void): this
  once(event: 'exchange-close', listener: (exchange: Multifeed.Exchange, err: Error | null) => void): this
  once(event: 'channel-error', listener: (err: Error, stream: Multifeed.StreamLike) => void): this
  once(event: 'stalled', listener: (key: Buffer, exchange: Multifeed.Exchange) => void): this
  once(event: 'refused', listener: (count: number, exchange: Multifeed.Exchange) => void): this
  once(event: string | symbol, listener: (...args: any[]) => void): this
}

type MultifeedInstance<T> = Multifeed<T>
declare const MultifeedValue: typeof Multifeed

declare namespace Multifeed {
  export const Multifeed: typeof MultifeedValue
  export type Multifeed<T = any> = MultifeedInstance<T>
  export const Networker: typeof NetworkerClass
  export type Networker = NetworkerClass
  export type SwarmOptions = NetworkerClass.SwarmOptions
  export type HyperswarmLike = NetworkerClass.HyperswarmLike
  export type HyperswarmOptions = NetworkerClass.HyperswarmOptions
  export type PeerInfo = NetworkerClass.PeerInfo
  export type Connection = NetworkerClass.Connection

  // Node-style callback, accepted as the last argument of every async method beside the promise.
  export type Callback<V> = (err: Error | null, value?: V) => void

  export interface KeyPair {
    publicKey: Buffer
    secretKey: Buffer
  }

  // What the multifeed hands out for a feed: a Hypercore 11 session, opened by key or ready, so `key`
  // and `discoveryKey` are set. The blocks are T (decoded with the multifeed's valueEncoding).
  export interface Feed<T = any> extends EventEmitter {
    readonly key: Buffer
    readonly discoveryKey: Buffer
    readonly keyPair: KeyPair | null
    readonly length: number
    readonly contiguousLength: number
    readonly byteLength: number
    readonly fork: number
    readonly writable: boolean
    readonly readable: boolean
    readonly opened: boolean
    readonly closed: boolean
    readonly closing: Promise<void> | null
    readonly peers: readonly FeedPeer[]
    ready(): Promise<void>
    close(): Promise<void>
    append(block: T | T[]): Promise<{ length: number, byteLength: number }>
    get(index: number, opts?: FeedGetOptions): Promise<T>
    has(start: number, end?: number): Promise<boolean>
    update(opts?: { wait?: boolean }): Promise<boolean>
    seek(byteOffset: number, opts?: { wait?: boolean, timeout?: number }): Promise<[number, number]>
    download(range?: FeedRange): FeedDownload
    createReadStream(opts?: FeedReadStreamOptions): FeedReadStream<T>
    clear(start: number, end?: number): Promise<void>
    setUserData(key: string, value: Buffer | string | null): Promise<void>
    getUserData(key: string): Promise<Buffer | null>
  }

  export interface FeedGetOptions {
    wait?: boolean
    timeout?: number
    valueEncoding?: unknown
  }

  export interface FeedRange {
    start?: number
    end?: number
    linear?: boolean
    blocks?: number[]
  }

  export interface FeedDownload {
    done(): Promise<void>
    destroy(): void
  }

  export interface FeedReadStreamOptions {
    start?: number
    end?: number
    live?: boolean
    snapshot?: boolean
  }

  // A readable stream (streamx) of blocks: 'data' events, or `for await`.
  export interface FeedReadStream<T = any> extends EventEmitter, AsyncIterable<T> {
    destroy(err?: Error | null): void
    pause(): this
    resume(): this
  }

  export interface ReadStreamOptions {
    // keep the stream open: blocks appended or downloaded later, and feeds that appear later (default false:
    // end once what is stored at the start has been delivered)
    live?: boolean
    // resume after a checkpoint() (after a restart, too): exactly the blocks that came after it
    since?: Checkpoint
    // a named cursor whose progress is saved in the local index (at least once: a crash repeats what was
    // handed over since the last save); not together with `since`
    cursor?: string
    // only these feeds (Buffer, hex or z-base-32 keys), or those the predicate accepts
    feeds?: Array<Buffer | string> | ((info: FeedInfo) => boolean)
    // only our writers ('local') or only feeds of others ('remote')
    origin?: 'local' | 'remote'
    // cores open for reading at once (default 64)
    window?: number
    // blocks of one feed per turn before the next feed's turn (default 32)
    batch?: number
  }

  // Blocks of each feed handed to the consumer, by hex key: JSON-serialisable.
  export interface Checkpoint {
    v: number
    at: Record<string, number>
  }

  export interface Block<T = any> {
    key: Buffer
    seq: number
    value: T
    error?: Error // the block does not decode with the valueEncoding: `value` is undefined
  }

  // A readable object stream (streamx): 'data' events, or `for await`.
  export interface MultifeedReadStream<T = any> extends EventEmitter, AsyncIterable<Block<T>> {
    readonly live: boolean
    readonly cursor: string | null
    // everything handed over so far; pass it as `since` to resume after it
    checkpoint(): Checkpoint
    // a named cursor's progress, saved now (also every second while reading, and on close)
    save(): Promise<void>
    destroy(err?: Error | null): void
    pause(): this
    resume(): this
  }

  export interface FeedPeer {
    readonly remotePublicKey: Buffer
    readonly remoteLength: number
    readonly remoteContiguousLength: number
  }

  // A Corestore (7.x), as far as the multifeed needs one.
  export interface CorestoreLike {
    namespace(name: string | Buffer, opts?: any): unknown
    replicate(isInitiator: any, opts?: any): unknown
    ready(): Promise<void>
    close(): Promise<void>
  }

  // A duplex stream: what replicate() and unreplicate() take besides a boolean (a Hyperswarm connection,
  // a Hypercore protocol stream).
  export interface StreamLike {
    pipe(dest: any, ...args: any[]): unknown
  }

  // The Noise-encrypted stream replicate(bool) returns; pipe it to the other side's and back. It emits
  // 'remote-feeds' (feeds: Feed[]) and 'error' (a MultifeedError on a fatal exchange error).
  export interface ReplicationStream extends EventEmitter {
    readonly destroyed: boolean
    pipe<D>(dest: D, cb?: (err: Error | null) => void): D
    write(data: Buffer): boolean
    end(data?: Buffer): this
    destroy(err?: Error | null): void
  }

  export interface ReplicateOptions {
    live?: boolean // false: end the stream once both sides have what the other advertised
    openFirst?: boolean // false: offer the multifeed's channel (its discovery key) only once the remote offers its own
    [streamOption: string]: unknown // passed on to corestore.replicate
  }

  export interface FeedInfo {
    key: Buffer
    name: string | null // null for remote feeds
    writable: boolean
    length: number // contiguous length known locally
    // authorized multifeeds only (list()): whether a valid chain of signed records authorizes the feed,
    // whether its writer is an admin, and whose record authorizes it (the owner's key or an admin feed's)
    authorized?: boolean
    admin?: boolean
    authorizedBy?: Buffer | null
  }

  export interface AuthorizeOptions {
    admin?: boolean // the feed's writer may authorize and revoke members
  }

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
    stallTimeout?: number // ms a download may bring no block from a connection before it is given up there
    maxNewFeedsPerConnection?: number // feeds one connection may make us record; the excess is refused
    maxTotalDownloads?: number // distinct feeds downloading on all connections together
    maxConnections?: number // connections exchanging at once; more get ERR_TOO_MANY_CONNECTIONS
    timeout?: number
    storeKey?: boolean // false: the shared key is never written to disk
    // an authorized multifeed: true makes this device the owner (its key pair is made and kept here); a
    // key (or a join key as `key`) joins under that owner
    owner?: true | Buffer | string
  }

  export interface PurgeOptions {
    empty?: boolean
    introducedBy?: Exchange
    block?: boolean
  }

  export interface RemoveOptions {
    block?: boolean
    allowWriter?: boolean
  }

  export interface WriterOptions {
    keyPair?: KeyPair
    keypair?: KeyPair // the original multifeed's spelling
  }

  export interface TransferStats {
    exchangeBytesSent: number
    exchangeBytesReceived: number
    feedsDownloaded: number
    blocksDownloaded: number
    bytesDownloaded: number
    blocksUploaded: number
    bytesUploaded: number
  }

  export interface ExchangeStats extends TransferStats {
    startedAt: number | null
    finishedAt: number | null
    inSync: boolean
  }

  export interface MultifeedStats extends TransferStats {
    connections: number
  }

  // The feed exchange on one connection (multi.connections, 'exchange' events). Its errors, and those of
  // 'exchange-close' and 'channel-error', are MultifeedErrors (test with instanceof to read `code`), unless
  // the storage or the stream below failed.
  export interface Exchange {
    readonly stats: ExchangeStats
    readonly mode: 'none' | 'in-sync' | 'list' | 'sketch' | 'sketch-fallback'
    readonly phase: 'opening' | 'summary' | 'list' | 'sketch' | 'live' | 'closed'
    readonly synced: boolean
    readonly settled: boolean // both sides said done: each has what the other advertised (protocol 2.1)
    readonly stalled: ReadonlySet<string> // hex keys of feeds given up on this connection (no progress)
    readonly inSync: boolean
    readonly closed: boolean
    readonly isInitiator: boolean
    readonly error: Error | null // a MultifeedError with its code, unless something below the exchange failed
    readonly stream: any
  }

  export type MultifeedErrorCode =
    | 'ERR_VERSION_MISMATCH' | 'ERR_CLIENT_MISMATCH' | 'ERR_KEY_MISMATCH' | 'ERR_BAD_MESSAGE'
    | 'ERR_TOO_MANY_FEEDS' | 'ERR_EXCHANGE_TIMEOUT' | 'ERR_INVALID_KEY' | 'ERR_INVALID_ARGUMENT'
    | 'ERR_CLOSED' | 'ERR_STORAGE_LOCKED' | 'ERR_STORAGE_CORRUPT' | 'ERR_FEED_NOT_FOUND'
    | 'ERR_WRITER_REMOVAL' | 'ERR_SWARM_DESTROYED' | 'ERR_QUEUE_FULL' | 'ERR_TOO_MANY_CONNECTIONS'
    | 'ERR_OWNER_MISMATCH' | 'ERR_NOT_ADMIN'

  // The facts an error may carry, by code.
  export interface MultifeedErrorFacts {
    usVersion?: string // ERR_VERSION_MISMATCH
    themVersion?: string // ERR_VERSION_MISMATCH
    usClient?: string // ERR_CLIENT_MISMATCH
    themClient?: string // ERR_CLIENT_MISMATCH
    discoveryKey?: Buffer // ERR_KEY_MISMATCH
    limit?: number // ERR_TOO_MANY_FEEDS, ERR_QUEUE_FULL, ERR_TOO_MANY_CONNECTIONS
    count?: number // ERR_TOO_MANY_FEEDS
    bytes?: number // ERR_QUEUE_FULL
    phase?: string // ERR_EXCHANGE_TIMEOUT
    timeout?: number // ERR_EXCHANGE_TIMEOUT
    value?: unknown // ERR_INVALID_KEY, ERR_INVALID_ARGUMENT: the rejected input
    storage?: unknown // ERR_INVALID_ARGUMENT: the rejected storage
    path?: string // ERR_STORAGE_LOCKED, ERR_STORAGE_CORRUPT
    cause?: unknown // ERR_STORAGE_LOCKED, ERR_STORAGE_CORRUPT: the underlying error
    entry?: string // ERR_STORAGE_CORRUPT: the unreadable index entry
    key?: Buffer // ERR_FEED_NOT_FOUND, ERR_WRITER_REMOVAL
    resource?: string // ERR_CLOSED, ERR_SWARM_DESTROYED: 'multifeed', 'networker' or 'hyperswarm'
    usOwner?: Buffer | null // ERR_OWNER_MISMATCH: our owner's key, null for an open multifeed
    themOwner?: Buffer | null // ERR_OWNER_MISMATCH: the remote's
    [fact: string]: unknown
  }

  // Every error the package makes: `err instanceof MultifeedError`, `err.name === 'MultifeedError'`, a
  // stable `code`, and the facts of that code (MultifeedErrorFacts: present only when it carries them).
  export interface MultifeedError extends MultifeedErrorFacts {}
  export class MultifeedError extends Error {
    constructor(code: string, message: string, facts?: MultifeedErrorFacts)
    code: MultifeedErrorCode | (string & {})
  }
}

export = Multifeed
