// The local-only membership index: one user-data entry per feed on a core that is never written to,
// never advertised and opened inactive, so corestore never attaches it to a replication stream.
// User data lives in RocksDB beside the cores and each put is one atomic write.
import type Hypercore from 'hypercore'
import b4a from 'b4a'
import c from 'compact-encoding'
import { indexRecord, memberRecord, encode, decode, IndexRecord, MemberRecord } from './messages'
import { STORAGE_CORRUPT } from './errors'
import { userDataRange, writeUserData } from './internals'

const FEED = 'feed/'
const BLOCKED = 'blocked/'
// An authorized multifeed: its owner's public key, the owner's secret key on the owner's device only,
// and one entry per membership record: 'member/' + record id (hex) -> the encoded record
const OWNER = 'owner'
const OWNER_SECRET = 'owner-secret'
const MEMBER = 'member/'
// A named cursor's progress: 'cursor/' + name + '/' + feed hex -> blocks handed to the app (uint)
const CURSOR = 'cursor/'
// Present only between a clean close and the next open: then every record's length is current and
// ready() need not read each core's state (the costly part of opening many feeds).
const CLEAN = 'clean'

export interface StoredFeed extends IndexRecord {
  key: Buffer
}

function feedEntry(feed: StoredFeed): [string, Buffer] {
  return [FEED + b4a.toString(feed.key, 'hex'), encode(indexRecord, feed)]
}

export class FeedIndex {
  readonly core: Hypercore

  // `onwrite(n)`: told of every write of n entries (the storage flusher counts them)
  private readonly onwrite: (entries: number) => void

  constructor(core: Hypercore, onwrite: (entries: number) => void = () => {}) {
    this.core = core
    this.onwrite = onwrite
  }

  async ready(): Promise<void> {
    await this.core.ready()
  }

  async load(): Promise<{ feeds: StoredFeed[], blocked: Buffer[], clean: boolean }> {
    const feeds: StoredFeed[] = []
    for await (const { key, value } of this.range(FEED)) {
      const hex = key.slice(FEED.length)
      if (!/^[0-9a-f]{64}$/.test(hex)) throw STORAGE_CORRUPT(`index entry "${key}" is not a feed key`, { entry: key })
      let rec: IndexRecord
      try {
        rec = decode(indexRecord, value, 'index record')
      } catch (err) {
        throw STORAGE_CORRUPT(`index entry for feed ${hex} is unreadable: ${(err as Error).message}`, { entry: key })
      }
      feeds.push({ key: b4a.from(hex, 'hex') as Buffer, ...rec })
    }
    const blocked: Buffer[] = []
    for await (const { key } of this.range(BLOCKED)) blocked.push(b4a.from(key.slice(BLOCKED.length), 'hex') as Buffer)
    const clean = (await this.core.getUserData(CLEAN)) !== null
    return { feeds, blocked, clean }
  }

  private range(prefix: string): AsyncIterable<{ key: string, value: Buffer }> {
    // '0' sorts right after '/', so [prefix, prefix with '/' -> '0') is exactly the prefix
    return userDataRange(this.core, prefix, prefix.slice(0, -1) + '0')
  }

  // One or many records in one atomic write: a batch of remote feeds costs one flush, not one each.
  async put(feeds: StoredFeed[]): Promise<void> {
    await this.write(feeds.map(feedEntry))
  }

  // From now on the stored lengths may fall behind: a crash before saveLengths() must not be trusted.
  async markOpen(): Promise<void> {
    await this.write([[CLEAN, null]])
  }

  // The lengths that changed since they were last stored, and the clean mark, in one atomic write.
  async saveLengths(feeds: StoredFeed[]): Promise<void> {
    const entries: Array<[string, Buffer | null]> = feeds.map(feedEntry)
    entries.push([CLEAN, b4a.alloc(1) as Buffer])
    await this.write(entries)
  }

  // Every write of the index goes through here: one atomic batch.
  private async write(entries: Array<[string, Buffer | null]>): Promise<void> {
    this.onwrite(entries.length)
    await writeUserData(this.core, entries)
  }

  async delete(key: Buffer): Promise<void> {
    await this.deleteMany([key])
  }

  async deleteMany(keys: Buffer[]): Promise<void> {
    await this.write(keys.map((key) => [FEED + b4a.toString(key, 'hex'), null]))
  }

  async blockMany(keys: Buffer[]): Promise<void> {
    await this.write(keys.map((key) => [BLOCKED + b4a.toString(key, 'hex'), b4a.alloc(1) as Buffer]))
  }

  async block(key: Buffer): Promise<void> {
    await this.blockMany([key])
  }

  async unblock(key: Buffer): Promise<void> {
    await this.write([[BLOCKED + b4a.toString(key, 'hex'), null]])
  }

  async loadCursor(name: string): Promise<Map<string, number>> {
    const prefix = CURSOR + name + '/'
    const out = new Map<string, number>()
    for await (const { key, value } of this.range(prefix)) {
      const hex = key.slice(prefix.length)
      // a longer name that starts with this one and a '/' sorts in here too: its entries are not feed keys
      if (!/^[0-9a-f]{64}$/.test(hex)) continue
      try {
        out.set(hex, decode(c.uint, value, 'cursor position'))
      } catch (err) {
        throw STORAGE_CORRUPT(`cursor ${JSON.stringify(name)} has an unreadable position for feed ${hex}`, { entry: key })
      }
    }
    return out
  }

  async saveCursor(name: string, progress: Map<string, number>): Promise<void> {
    const prefix = CURSOR + name + '/'
    await this.write([...progress].map(([hex, n]) => [prefix + hex, encode(c.uint, n)]))
  }

  async getOwner(): Promise<Buffer | null> {
    return await this.core.getUserData(OWNER)
  }

  async getOwnerSecret(): Promise<Buffer | null> {
    return await this.core.getUserData(OWNER_SECRET)
  }

  async setOwner(owner: Buffer, secret: Buffer | null): Promise<void> {
    await this.write([[OWNER, owner], [OWNER_SECRET, secret]])
  }

  // [id, record]: the id is the entry's key
  async loadRecords(): Promise<Array<[string, MemberRecord]>> {
    const out: Array<[string, MemberRecord]> = []
    for await (const { key, value } of this.range(MEMBER)) {
      try {
        out.push([key.slice(MEMBER.length), decode(memberRecord, value, 'membership record')])
      } catch (err) {
        throw STORAGE_CORRUPT(`index entry ${key} is not a membership record: ${(err as Error).message}`, { entry: key })
      }
    }
    return out
  }

  // Records added, in one atomic write (never deleted: a record that stops counting is kept).
  async putRecords(added: Array<[string, MemberRecord]>): Promise<void> {
    await this.write(added.map(([id, r]) => [MEMBER + id, encode(memberRecord, r)]))
  }

  async getKey(): Promise<Buffer | null> {
    return await this.core.getUserData('key')
  }

  async setKey(key: Buffer | null): Promise<void> {
    await this.write([['key', key]])
  }

  async close(): Promise<void> {
    await this.core.close()
  }
}
