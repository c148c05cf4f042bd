// Errors carry a stable `code` and the facts a caller needs, like hypercore-errors.
export interface MultifeedError extends Error {
  code: string
  [fact: string]: unknown
}

function make(code: string, message: string, facts: Record<string, unknown> = {}): MultifeedError {
  const err = new Error(code + ': ' + message) as MultifeedError
  err.code = code
  Object.assign(err, facts)
  return err
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

export function WRITER_REMOVAL(key: Buffer): MultifeedError {
  return make('ERR_WRITER_REMOVAL', `feed ${key.toString('hex')} is a local writer; pass { allowWriter: true } to remove it`, { key })
}
