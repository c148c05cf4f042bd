// Feeds leaving the multifeed: remove() one, purge() many, and those a revocation takes away. A feed
// leaves memory and every connection at once and the index durably; its blocks are freed last.
import type Hypercore from 'hypercore'
import safetyCatch from 'safety-catch'
import type { FeedIndex } from './feed-index'
import type { FeedSet } from './feed-set'
import type { FeedRecord } from './feed-record'
import type { FeedExchange } from './exchange'
import type { ExchangeSet } from './exchange-set'
import type { TransferScheduler } from './transfers'
import { settleWrites } from './internals'
import { toKey, toHex } from './keys'
import * as errors from './errors'

export interface RemoveOptions {
  block?: boolean // never accept this feed again, from any peer
  allowWriter?: boolean // our own writer goes too; writer(name) then makes a writer with a new key
}

export interface PurgeOptions {
  empty?: boolean // remote feeds of which we hold no block
  introducedBy?: FeedExchange // remote feeds this connection made us record (this session)
  block?: boolean // and refuse them for good
}

export interface RemovalHost {
  readonly opened: boolean
  readonly closing: Promise<void> | null
  readonly index: FeedIndex | null
  ready(): Promise<void>
  storedCore(record: FeedRecord): Hypercore // a session of the feed's core that replicates nothing
  forgotten(records: FeedRecord[]): void // the feeds left the set and every connection: readers skip them
  emit(event: string, ...args: unknown[]): boolean
  checkSynced(): void
}

export class Removal {
  private readonly host: RemovalHost
  private readonly records: FeedSet
  private readonly transfers: TransferScheduler
  private readonly exchanges: ExchangeSet
  private freeing: Promise<void> = Promise.resolve() // blocks of feeds that lost their authorization

  constructor(host: RemovalHost, records: FeedSet, transfers: TransferScheduler, exchanges: ExchangeSet) {
    this.host = host
    this.records = records
    this.transfers = transfers
    this.exchanges = exchanges
  }

  // The blocks being freed in the background (close() waits for them).
  get freed(): Promise<void> {
    return this.freeing
  }

  // Stops replicating a feed, drops it from the index and frees its blocks. With `block`, the refusal is
  // persisted so no peer can bring it back.
  async remove(key: Buffer | string, opts: RemoveOptions): Promise<void> {
    const buf = toKey(key, 'feed key')
    const hex = toHex(buf)
    if (!this.host.opened) await this.host.ready()
    if (this.host.closing) throw errors.CLOSED()
    if (!this.records.has(hex) && !opts.block) throw errors.FEED_NOT_FOUND(buf)
    if (this.records.get(hex)?.writable && !opts.allowWriter) throw errors.WRITER_REMOVAL(buf)
    const index = this.host.index!
    // the refusal is stored before the feed goes: a crash in between leaves it blocked, never back
    if (opts.block) {
      this.records.block(hex) // from now on no advertisement records it
      await index.block(buf)
    }
    // a peer's advertisement of it being recorded right now lands first, then goes
    await this.records.beingRecorded(hex)?.catch(noop)
    const record = this.records.get(hex)
    if (!record) {
      if (opts.block) await index.delete(buf) // a record that was being written when it was blocked
      return
    }
    if (this.host.closing) return
    if (record.writable && !opts.allowWriter) throw errors.WRITER_REMOVAL(buf)
    await index.delete(buf)
    await this.drop(record)
    this.host.checkSynced()
  }

  // Removes remote feeds in one call: those that never delivered a block (`empty`), and/or those one
  // connection made us record this session (`introducedBy`); `block` refuses them for good. Writers are
  // never purged. Resolves to how many were removed.
  async purge(opts: PurgeOptions): Promise<number> {
    if (!opts || (opts.empty !== true && opts.introducedBy === undefined)) throw errors.INVALID_ARGUMENT('purge needs empty: true or introducedBy: exchange')
    if (!this.host.opened) await this.host.ready()
    if (this.host.closing) throw errors.CLOSED()
    const from = opts.introducedBy === undefined ? null : this.exchanges.introducedFeeds(opts.introducedBy)
    const doomed: FeedRecord[] = []
    for (const record of from === null ? this.records.values() : [...from].map((hex) => this.records.get(hex))) {
      if (!record || record.writable) continue
      if (opts.empty === true && record.length > 0) continue
      doomed.push(record)
    }
    if (doomed.length === 0) return 0
    const keys = doomed.map((r) => r.key)
    const index = this.host.index!
    if (opts.block) {
      for (const record of doomed) this.records.block(record.hex)
      await index.blockMany(keys)
    }
    await index.deleteMany(keys) // durable first: a crash then cannot bring them back
    // all of them leave every connection before any core is touched: a freed download slot must not
    // open the next feed of the same purge
    this.forget(doomed)
    for (const record of doomed) await this.free(record)
    this.host.checkSynced()
    return doomed.length
  }

  async unblock(key: Buffer | string): Promise<void> {
    const buf = toKey(key, 'feed key')
    if (!this.host.opened) await this.host.ready()
    await this.host.index!.unblock(buf)
    this.records.unblock(toHex(buf))
  }

  // Remote feeds that are not (or no longer) authorized: gone from the multifeed at once, from the index
  // in one write; their blocks are freed one feed at a time in the background (close() waits for it), so
  // revoking many feeds opens no burst of cores.
  async dropUnauthorized(records: FeedRecord[]): Promise<void> {
    if (records.length === 0) return
    this.forget(records)
    await this.host.index!.deleteMany(records.map((r) => r.key))
    for (const record of records) this.freeing = this.freeing.then(() => this.free(record)).catch(safetyCatch)
  }

  private async drop(record: FeedRecord): Promise<void> {
    this.forget([record])
    await this.free(record)
  }

  // The records go from memory, then from every connection (whose queues skip what is gone).
  private forget(records: FeedRecord[]): void {
    for (const record of records) {
      this.records.delete(record)
      this.exchanges.forget(record.hex)
    }
    for (const record of records) this.transfers.removed(record)
    this.host.forgotten(records)
  }

  // Its blocks are freed (and 'remove' told).
  private async free(record: FeedRecord): Promise<void> {
    // the session with the live download goes first (its requests with it), so no block lands after clear
    const live = record.core
    record.core = null
    if (live !== null) {
      this.transfers.closeChannels(record, live)
      await live.close().catch(safetyCatch)
    }
    if (live !== null || record.length > 0) {
      const core = this.host.storedCore(record)
      try {
        await core.ready()
        this.transfers.closeChannels(record, core)
        await clearAll(core)
      } finally {
        await core.close()
      }
    }
    this.host.emit('remove', record.key)
  }
}

function noop(): void {}

// Frees every block. Blocks that arrived before the channels closed may still be queued for writing
// (and the upgrade that gives the core its length with them): let those writes through, clear again.
// A writer's head stays, so its key is never written again (writer(name) moves on to a new key).
async function clearAll(core: Hypercore): Promise<void> {
  for (let pass = 0; pass < 3; pass++) {
    await settleWrites(core)
    if (core.length > 0) await core.clear(0, core.length)
    if (pass > 0 && core.contiguousLength === 0) return
  }
}
