// The feeds a multifeed knows, in memory: one record per feed by its hex key, the same records by
// discovery key (the key a remote opens a core's channel with) and our writers by name; the remote feeds
// being written to the index right now; and the keys refused for good. One place keeps the maps in step.
import type { FeedRecord } from './feed-record'
import { toHex } from './keys'

export class FeedSet {
  private readonly records = new Map<string, FeedRecord>()
  private readonly byDiscoveryKey = new Map<string, FeedRecord>() // the same records, by hex discovery key
  private readonly writersByName = new Map<string, FeedRecord>()
  private readonly pending = new Map<string, Promise<FeedRecord>>() // remote feeds being recorded, by hex key
  private readonly blocked = new Set<string>()
  private readonly onadd: (record: FeedRecord) => void
  private readonly onindex: (discoveryKeyHex: string, known: boolean) => void

  // `onadd`: a feed appeared (readers may have more to read); `onindex`: a discovery key became known, or
  // no longer is
  constructor(onadd: (record: FeedRecord) => void, onindex: (discoveryKeyHex: string, known: boolean) => void) {
    this.onadd = onadd
    this.onindex = onindex
  }

  get size(): number {
    return this.records.size
  }

  get(hex: string): FeedRecord | undefined {
    return this.records.get(hex)
  }

  has(hex: string): boolean {
    return this.records.has(hex)
  }

  values(): IterableIterator<FeedRecord> {
    return this.records.values()
  }

  withDiscoveryKey(discoveryKey: Buffer | string): FeedRecord | undefined {
    return this.byDiscoveryKey.get(typeof discoveryKey === 'string' ? discoveryKey : toHex(discoveryKey))
  }

  writer(name: string): FeedRecord | undefined {
    return this.writersByName.get(name)
  }

  add(record: FeedRecord): void {
    const replaced = this.records.get(record.hex)
    if (replaced !== undefined) this.forgetDiscoveryKey(replaced)
    this.records.set(record.hex, record)
    this.byDiscoveryKey.set(record.discoveryKeyHex, record)
    this.onindex(record.discoveryKeyHex, true)
    if (record.writable && record.name !== null) this.writersByName.set(record.name, record)
    this.onadd(record)
  }

  // A remote feed's record becomes our writer (restored from its key pair).
  makeWriter(record: FeedRecord, name: string | null): void {
    record.writable = true
    record.name = name
    if (name !== null) this.writersByName.set(name, record)
  }

  delete(record: FeedRecord): void {
    if (this.records.get(record.hex) === record) this.records.delete(record.hex)
    this.forgetDiscoveryKey(record)
    if (record.name !== null && this.writersByName.get(record.name) === record) this.writersByName.delete(record.name)
  }

  private forgetDiscoveryKey(record: FeedRecord): void {
    if (this.byDiscoveryKey.get(record.discoveryKeyHex) !== record) return
    this.byDiscoveryKey.delete(record.discoveryKeyHex)
    this.onindex(record.discoveryKeyHex, false)
  }

  // Remote feeds whose records `written` writes to the index: until the caller calls recorded() once it
  // settles, they are being recorded (beingRecorded(hex) waits for them), and not in the set yet.
  recording(records: FeedRecord[], written: Promise<void>): void {
    for (const record of records) {
      const created = written.then(() => record)
      created.catch(noop) // the failure reaches the caller through `written`
      this.pending.set(record.hex, created)
    }
  }

  recorded(records: FeedRecord[]): void {
    for (const record of records) this.pending.delete(record.hex)
  }

  // The feed's record once the write that records it settles; undefined if none is being recorded.
  beingRecorded(hex: string): Promise<FeedRecord> | undefined {
    return this.pending.get(hex)
  }

  // Recorded, being recorded, or refused: nothing for an advertisement to add.
  known(hex: string): boolean {
    return this.records.has(hex) || this.pending.has(hex) || this.blocked.has(hex)
  }

  block(hex: string): void {
    this.blocked.add(hex)
  }

  unblock(hex: string): void {
    this.blocked.delete(hex)
  }

  isBlocked(hex: string): boolean {
    return this.blocked.has(hex)
  }
}

function noop(): void {}
