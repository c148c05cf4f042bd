// The networker's errors, in the style of lib/errors.ts: a stable `code` and the facts a caller needs.
import { INVALID_ARGUMENT, CLOSED, MultifeedError } from '../lib/errors'

export { INVALID_ARGUMENT, MultifeedError }

function make(code: string, message: string, facts: Record<string, unknown> = {}): MultifeedError {
  return new MultifeedError(code, message, facts)
}

// The networker was destroyed: same code as a closed multifeed, told apart by `resource`.
export function NETWORKER_CLOSED(): MultifeedError {
  return make('ERR_CLOSED', 'the networker is destroyed', { resource: 'networker' })
}

export function MULTIFEED_CLOSED(): MultifeedError {
  const err = CLOSED()
  err.resource = 'multifeed'
  return err
}

export function SWARM_DESTROYED(): MultifeedError {
  return make('ERR_SWARM_DESTROYED', 'the hyperswarm is destroyed', { resource: 'hyperswarm' })
}
