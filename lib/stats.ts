// Counters for one connection's exchange and replication; a multifeed sums them over its connections.
export interface TransferStats {
  exchangeBytesSent: number // payload bytes of the multifeed channel's messages (not Hypercore's)
  exchangeBytesReceived: number
  feedsDownloaded: number // distinct feeds this connection brought at least one block of
  blocksDownloaded: number // blocks by which our copies grew from this connection
  bytesDownloaded: number // bytes of the downloaded blocks the multifeed's sessions saw arrive
  blocksUploaded: number // blocks this connection fetched from the multifeed's sessions
  bytesUploaded: number
}

export interface ExchangeStats extends TransferStats {
  startedAt: number | null // handshake verified (ms since the epoch)
  finishedAt: number | null // the feed exchange ended (live from then on)
  inSync: boolean // the summaries matched: the peers were already in sync
}

// A multifeed's totals: every connection it has had, closed ones included.
export interface MultifeedStats extends TransferStats {
  connections: number // connections whose exchange began, open or closed
}

export function newTransferStats(): TransferStats {
  return {
    exchangeBytesSent: 0,
    exchangeBytesReceived: 0,
    feedsDownloaded: 0,
    blocksDownloaded: 0,
    bytesDownloaded: 0,
    blocksUploaded: 0,
    bytesUploaded: 0
  }
}

export function newStats(): ExchangeStats {
  return { startedAt: null, finishedAt: null, inSync: false, ...newTransferStats() }
}

export function addTransferStats(total: TransferStats, stats: TransferStats): void {
  for (const k of Object.keys(newTransferStats()) as (keyof TransferStats)[]) total[k] += stats[k]
}
