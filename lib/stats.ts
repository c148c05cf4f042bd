// Counters for one connection's exchange and replication; a multifeed sums them.
export interface ExchangeStats {
  startedAt: number | null // handshake verified
  finishedAt: number | null // the feed exchange ended (live from then on)
  inSync: boolean // the summaries matched: the peers were already in sync
  exchangeBytesSent: number
  exchangeBytesReceived: number
  feedsDownloaded: number // feeds this connection began downloading
  blocksDownloaded: number
  bytesDownloaded: number
  blocksUploaded: number
  bytesUploaded: number
}

export function newStats(): ExchangeStats {
  return {
    startedAt: null,
    finishedAt: null,
    inSync: false,
    exchangeBytesSent: 0,
    exchangeBytesReceived: 0,
    feedsDownloaded: 0,
    blocksDownloaded: 0,
    bytesDownloaded: 0,
    blocksUploaded: 0,
    bytesUploaded: 0
  }
}
