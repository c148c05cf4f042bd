// What a remote sent on one exchange channel, processed one message at a time in arrival order (a feeds
// message may wait on storage while the next one arrives), after our own work queued before it (our
// summary, once the channel opens). What waits is bounded as it arrives, in entries and in bytes, so a
// flood is refused before it queues. (Pausing the Noise stream instead would not reach the socket under a
// replicate(bool) stream: its bridge keeps buffering, unbounded.)
import { TOO_MANY_FEEDS, QUEUE_FULL, MultifeedError } from './errors'

export interface InboundHost {
  stopped(): boolean // the exchange closed: what still waits is dropped
  done(): void // one message was processed
  failed(err: unknown): void // a message failed: the exchange fails with it
}

export class InboundQueue {
  private readonly host: InboundHost
  private tail: Promise<void> = Promise.resolve()
  private unprocessed = 0 // messages queued or being processed
  private entries = 0 // feed entries of the messages not processed yet
  private bytes = 0 // and their bytes
  private running = 0 // messages being processed now (0 or 1: one at a time)

  constructor(host: InboundHost) {
    this.host = host
  }

  // Counts a message of `entries` entries and `bytes` bytes in, unless it passes a bound: then the error
  // that refuses it (past twice the entries a whole set may hold, or past `maxBytes` waiting).
  admit(entries: number, bytes: number, maxEntries: number, maxBytes: number): MultifeedError | null {
    this.entries += entries
    if (this.entries > 2 * maxEntries) return TOO_MANY_FEEDS(maxEntries, this.entries)
    this.bytes += bytes
    if (this.bytes > maxBytes) return QUEUE_FULL(this.bytes, maxBytes)
    return null
  }

  // Runs `fn` after every message received before it; what admit() counted for it leaves the count as
  // it starts.
  push(fn: () => Promise<void> | void, entries = 0, bytes = 0): void {
    this.unprocessed++
    this.tail = this.tail.then(async () => {
      this.entries -= entries
      this.bytes -= bytes
      if (this.host.stopped()) return
      this.running++
      try {
        await fn()
      } finally {
        this.running--
      }
      this.host.done()
    }).catch((err) => this.host.failed(err)).finally(() => { this.unprocessed-- })
  }

  // Is a message being processed now (our own slow work, not the remote's silence)?
  get processing(): boolean {
    return this.running > 0
  }

  // Bytes of the messages received and not processed yet.
  get waitingBytes(): number {
    return this.bytes
  }

  // Settles once every message received so far is processed (null: none waits).
  pending(): Promise<void> | null {
    return this.unprocessed > 0 ? this.tail : null
  }
}
