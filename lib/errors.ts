// Errors carry a stable `code` and the facts a caller needs, like hypercore-errors. One class for all of
// them, exported by the package: `err instanceof MultifeedError`, `err.name === 'MultifeedError'`.

// The facts an error may carry; which ones each code carries is listed at its factory below.
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
  usOwner?: Buffer | null // ERR_OWNER_MISMATCH: null for an open multifeed
  themOwner?: Buffer | null // ERR_OWNER_MISMATCH
  [fact: string]: unknown
}

// Properties of Error itself that a fact must not replace.
const RESERVED = new Set(['name', 'message', 'stack'])

// The facts are declared once, in MultifeedErrorFacts: an error has an own property only for the facts it
// carries.
export interface MultifeedError extends MultifeedErrorFacts {}

export class MultifeedError extends Error {
  code: string

  constructor(code: string, message: string, facts: MultifeedErrorFacts = {}) {
    super(code + ': ' + message)
    this.code = code
    for (const [fact, value] of Object.entries(facts)) {
      if (!RESERVED.has(fact)) this[fact] = value
    }
  }
}

// On the prototype, like Error's own: not an enumerable own property, and no fact can replace it.
Object.defineProperty(MultifeedError.prototype, 'name', { value: 'MultifeedError', writable: true, enumerable: false, configurable: true })

function make(code: string, message: string, facts: MultifeedErrorFacts = {}): MultifeedError {
  return new MultifeedError(code, message, facts)
}

export function VERSION_MISMATCH(usVersion: string, themVersion: string): MultifeedError {
  return make('ERR_VERSION_MISMATCH', `protocol version ${themVersion} of the remote is incompatible with ${usVersion}`, { usVersion, themVersion })
}

export function CLIENT_MISMATCH(usClient: string, themClient: string): MultifeedError {
  return make('ERR_CLIENT_MISMATCH', `remote client "${themClient}" is not "${usClient}"`, { usClient, themClient })
}

export function KEY_MISMATCH(reason: string, discoveryKey: Buffer): MultifeedError {
  return make('ERR_KEY_MISMATCH', reason, { discoveryKey })
}

export function BAD_MESSAGE(reason: string): MultifeedError {
  return make('ERR_BAD_MESSAGE', reason)
}

export function TOO_MANY_FEEDS(limit: number, count: number): MultifeedError {
  return make('ERR_TOO_MANY_FEEDS', `remote advertised ${count} feeds, the limit is ${limit}`, { limit, count })
}

export function EXCHANGE_TIMEOUT(phase: string, timeout: number): MultifeedError {
  return make('ERR_EXCHANGE_TIMEOUT', `the remote went silent for ${timeout} ms during the feed exchange (${phase})`, { phase, timeout })
}

export function TOO_MANY_CONNECTIONS(limit: number): MultifeedError {
  return make('ERR_TOO_MANY_CONNECTIONS', `this multifeed already exchanges on ${limit} connections (maxConnections)`, { limit })
}

export function QUEUE_FULL(bytes: number, limit: number): MultifeedError {
  return make('ERR_QUEUE_FULL', `the remote sent ${bytes} bytes faster than they could be processed, the limit is ${limit}`, { bytes, limit })
}

export function INVALID_KEY(reason: string, value?: unknown): MultifeedError {
  return make('ERR_INVALID_KEY', reason, { value })
}

export function INVALID_ARGUMENT(reason: string, facts: Record<string, unknown> = {}): MultifeedError {
  return make('ERR_INVALID_ARGUMENT', reason, facts)
}

export function CLOSED(): MultifeedError {
  return make('ERR_CLOSED', 'the multifeed is closed')
}

export function STORAGE_LOCKED(path: string, cause: unknown): MultifeedError {
  return make('ERR_STORAGE_LOCKED', `storage ${path} is in use by another corestore (or another process)`, { path, cause })
}

export function STORAGE_CORRUPT(reason: string, facts: Record<string, unknown> = {}): MultifeedError {
  return make('ERR_STORAGE_CORRUPT', reason, facts)
}

export function FEED_NOT_FOUND(key: Buffer): MultifeedError {
  return make('ERR_FEED_NOT_FOUND', `no feed ${key.toString('hex')} in this multifeed`, { key })
}

export function NOT_ADMIN(reason: string): MultifeedError {
  return make('ERR_NOT_ADMIN', `cannot sign a membership record: ${reason}`)
}

export function OWNER_MISMATCH(usOwner: Buffer | null, themOwner: Buffer | null): MultifeedError {
  const show = (o: Buffer | null): string => o === null ? 'none (an open multifeed)' : o.toString('hex')
  return make('ERR_OWNER_MISMATCH', `the remote's owner is ${show(themOwner)}, ours is ${show(usOwner)}`, { usOwner, themOwner })
}

export function WRITER_REMOVAL(key: Buffer): MultifeedError {
  return make('ERR_WRITER_REMOVAL', `feed ${key.toString('hex')} is a local writer; pass { allowWriter: true } to remove it`, { key })
}
