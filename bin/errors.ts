// The command line's two kinds of failure: a usage error (exit 2, the user typed something wrong) and a
// runtime error (exit 1, the command could not do its work). Both print one line on stderr.

export class UsageError extends Error {
  readonly exitCode = 2
  readonly where: string // the command, for the "see ... --help" hint
  constructor(message: string, where = '') {
    super(message)
    this.where = where
  }
}

export class CliError extends Error {
  readonly exitCode = 1
}

// Network failures in words (Node gives codes): "address already in use", not "EADDRINUSE".
const NET_ERRORS: Record<string, string> = {
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'address not available on this machine',
  EACCES: 'permission denied',
  ECONNREFUSED: 'connection refused (is the other side listening?)',
  ECONNRESET: 'connection reset by the peer',
  ETIMEDOUT: 'timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed (temporary)'
}

export function netError(err: unknown): string {
  const e = err as { code?: string, message?: string }
  if (e.code && NET_ERRORS[e.code]) return NET_ERRORS[e.code]
  return stripCode(e.message ?? String(err), e.code)
}

// A library error as one line a user can act on.
export function describe(err: unknown, dir: string): { message: string, exitCode: number } {
  if (err instanceof UsageError) {
    const cmd = err.where ? 'multifeed ' + err.where : 'multifeed'
    return { message: `${cmd}: ${err.message} (see '${cmd} --help')`, exitCode: 2 }
  }
  if (err instanceof CliError) return { message: 'multifeed: ' + err.message, exitCode: 1 }
  const e = err as { code?: string, message?: string }
  const detail = stripCode(e.message ?? String(err), e.code)
  switch (e.code) {
    case 'ERR_STORAGE_LOCKED':
      return { message: `multifeed: storage ${dir} is locked: another process (a running cat --follow, sync or swarm?) is using it`, exitCode: 1 }
    case 'ERR_STORAGE_CORRUPT':
      return { message: `multifeed: storage ${dir} is corrupt or not a multifeed: ${detail}`, exitCode: 1 }
    case 'ERR_INVALID_KEY':
      return { message: `multifeed: invalid key: ${detail}`, exitCode: 2 }
    case 'ERR_KEY_MISMATCH':
      return { message: `multifeed: the peer does not share this multifeed: ${detail}`, exitCode: 1 }
    case 'ERR_CLOSED':
      return { message: 'multifeed: the multifeed was closed', exitCode: 1 }
  }
  if (e.code && NET_ERRORS[e.code]) {
    // a socket's error names its address; a file's (EACCES on --dir) keeps Node's message, which names the path
    const where = addressOf(err)
    return { message: 'multifeed: ' + (where ? NET_ERRORS[e.code] + where : detail), exitCode: 1 }
  }
  return { message: 'multifeed: ' + (e.code ? `${detail} (${e.code})` : detail), exitCode: 1 }
}

function addressOf(err: unknown): string {
  const e = err as { address?: string, port?: number, hostname?: string }
  const host = e.address ?? e.hostname
  if (!host) return ''
  return ' (' + (e.port !== undefined ? (host.includes(':') ? `[${host}]` : host) + ':' + e.port : host) + ')'
}

function stripCode(message: string, code: string | undefined): string {
  const first = message.split('\n')[0]
  return code && first.startsWith(code + ': ') ? first.slice(code.length + 2) : first
}
