// A multifeed's options: what each means, its default, and its check. The constructor checks every option
// before the storage is touched, so bad input leaves nothing open or locked.
import b4a from 'b4a'
import { toKey, toHex } from './keys'
import * as errors from './errors'
import { LIMITS } from './messages'
import type { FeedInfo } from './feed-record'

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

const DEFAULT_MAX_FEEDS = 100_000
const DEFAULT_TIMEOUT = 20_000

// The options, checked, with their defaults.
export interface Settings {
  key: Buffer | null
  owner: true | Buffer | undefined
  client: string
  maxFeeds: number
  maxDownloads: number
  maxTotalDownloads: number
  maxConnections: number
  maxNewFeedsPerConnection: number
  stallTimeout: number
  timeout: number
  storeKey: boolean
  valueEncoding: unknown
  share: FeedFilter | null
  accept: FeedFilter | null
  namespace: string
}

export function checkOptions(opts: MultifeedOptions): Settings {
  let key = opts.key ?? opts.encryptionKey
  let owner = opts.owner
  // a join key: the shared key and the owner's key in one string (multi.joinKey)
  if (typeof key === 'string' && /^[0-9a-fA-F]{128}$/.test(key)) {
    if (owner !== undefined && owner !== true && toHex(toKey(owner, 'owner key')) !== key.slice(64).toLowerCase()) throw errors.INVALID_ARGUMENT('the join key names another owner than `owner`')
    owner = key.slice(64)
    key = key.slice(0, 64)
  }
  const sharedKey = key === undefined || key === null ? null : toKey(key, 'multifeed key')
  if (owner !== undefined && owner !== true && (typeof owner !== 'string' && !b4a.isBuffer(owner))) throw errors.INVALID_ARGUMENT('owner must be true or a key', { value: owner })
  const ownerKey = owner === undefined || owner === true ? owner : toKey(owner, 'owner key')
  const client = opts.client ?? 'MULTIFEED'
  if (typeof client !== 'string') throw errors.INVALID_ARGUMENT('client must be a string')
  if (client.length > LIMITS.maxStringLength) throw errors.INVALID_ARGUMENT(`client must be at most ${LIMITS.maxStringLength} characters`, { client })
  const maxFeeds = opts.maxFeeds ?? DEFAULT_MAX_FEEDS
  if (!Number.isSafeInteger(maxFeeds) || maxFeeds < 1) throw errors.INVALID_ARGUMENT('maxFeeds must be a positive integer')
  const maxDownloads = opts.maxDownloads ?? DEFAULT_MAX_DOWNLOADS
  if (!Number.isSafeInteger(maxDownloads) || maxDownloads < 1) throw errors.INVALID_ARGUMENT('maxDownloads must be a positive integer')
  const maxTotalDownloads = opts.maxTotalDownloads ?? Math.max(maxDownloads, DEFAULT_MAX_TOTAL_DOWNLOADS)
  if (!Number.isSafeInteger(maxTotalDownloads) || maxTotalDownloads < 1) throw errors.INVALID_ARGUMENT('maxTotalDownloads must be a positive integer')
  const maxConnections = opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS
  if (!Number.isSafeInteger(maxConnections) || maxConnections < 1) throw errors.INVALID_ARGUMENT('maxConnections must be a positive integer')
  const maxNewFeedsPerConnection = opts.maxNewFeedsPerConnection ?? DEFAULT_MAX_NEW_FEEDS_PER_CONNECTION
  if (!Number.isSafeInteger(maxNewFeedsPerConnection) || maxNewFeedsPerConnection < 0) throw errors.INVALID_ARGUMENT('maxNewFeedsPerConnection must be a whole number')
  const stallTimeout = opts.stallTimeout ?? DEFAULT_STALL_TIMEOUT
  if (!Number.isSafeInteger(stallTimeout) || stallTimeout < 1) throw errors.INVALID_ARGUMENT('stallTimeout must be a positive integer (ms)')
  const storeKey = opts.storeKey !== false
  if (!storeKey && sharedKey === null) throw errors.INVALID_ARGUMENT('storeKey: false needs the key: it cannot be found on disk')
  const share = opts.share ?? null
  const accept = opts.accept ?? null
  if (share !== null && typeof share !== 'function') throw errors.INVALID_ARGUMENT('share must be a function')
  if (accept !== null && typeof accept !== 'function') throw errors.INVALID_ARGUMENT('accept must be a function')
  return {
    key: sharedKey,
    owner: ownerKey,
    client,
    maxFeeds,
    maxDownloads,
    maxTotalDownloads,
    maxConnections,
    maxNewFeedsPerConnection,
    stallTimeout,
    timeout: opts.timeout ?? DEFAULT_TIMEOUT,
    storeKey,
    valueEncoding: opts.valueEncoding,
    share,
    accept,
    namespace: opts.namespace ?? 'hyper-multifeed'
  }
}
