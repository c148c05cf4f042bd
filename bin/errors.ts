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
    case 'ECONNREFUSED':
    case 'ECONNRESET':
    case 'EADDRINUSE':
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EACCES':
      return { message: 'multifeed: ' + detail, exitCode: 1 }
  }
  return { message: 'multifeed: ' + (e.code ? `${detail} (${e.code})` : detail), exitCode: 1 }
}

function stripCode(message: string, code: string | undefined): string {
  const first = message.split('\n')[0]
  return code && first.startsWith(code + ': ') ? first.slice(code.length + 2) : first
}
