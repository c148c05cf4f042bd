// Keeps the next open short: RocksDB replays at open whatever its write-ahead log holds beyond the last
// flush of the memtable. A background flush every FLUSH_EVERY changes, and one of the rest at close,
// keep that replay small without putting a whole session's flush into close().
import type Corestore from 'corestore'
import safetyCatch from 'safety-catch'
import { flushStorage } from './internals'

const FLUSH_EVERY = 4096 // changes (index entries written, blocks appended or downloaded) between background flushes

export class StorageFlusher {
  private readonly store: Corestore
  private pending = 0
  private flushing: Promise<void> | null = null

  constructor(store: Corestore) {
    this.store = store
  }

  wrote(changes: number): void {
    this.pending += changes
    if (this.pending >= FLUSH_EVERY && this.flushing === null) this.flush().catch(safetyCatch)
  }

  async flush(): Promise<void> {
    if (this.flushing !== null) await this.flushing
    if (this.pending === 0) return
    this.pending = 0
    this.flushing = flushStorage(this.store).finally(() => { this.flushing = null })
    await this.flushing
  }
}
