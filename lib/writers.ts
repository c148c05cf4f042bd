// Our writers: writer(name) makes one the first time and finds it after; writer() makes a new one each
// call; a key pair restores a writer made on another device. A writer is recorded durably before anyone
// sees it, so a writer that writer() returned survives a crash.
import type Hypercore from 'hypercore'
import crypto from 'hypercore-crypto'
import b4a from 'b4a'
import safetyCatch from 'safety-catch'
import type { FeedIndex } from './feed-index'
import type { FeedSet } from './feed-set'
import type { ExchangeSet } from './exchange-set'
import type { Authorization } from './authorization'
import { FeedRecord, newRecord, downloadLive } from './feed-record'
import { toHex } from './keys'
import * as errors from './errors'

export interface WriterOptions {
  keyPair?: { publicKey: Buffer, secretKey: Buffer }
  keypair?: { publicKey: Buffer, secretKey: Buffer } // the original multifeed's spelling
}

export interface WritersHost {
  readonly opened: boolean
  readonly closing: Promise<void> | null
  readonly index: FeedIndex | null
  ready(): Promise<void>
  session(opts: { key?: Buffer, name?: string, keyPair?: Hypercore.KeyPair }): Hypercore // a feed session of ours
  adopt(record: FeedRecord, core: Hypercore): void // `core` becomes the record's session
  hand(record: FeedRecord): Hypercore // the record's session, for the app
  emitFeed(record: FeedRecord): void // the app's 'feed' event
}

export class Writers {
  private readonly host: WritersHost
  private readonly records: FeedSet
  private readonly exchanges: ExchangeSet
  private readonly members: Authorization
  private readonly creating = new Map<string, Promise<FeedRecord>>() // by writer name

  constructor(host: WritersHost, records: FeedSet, exchanges: ExchangeSet, members: Authorization) {
    this.host = host
    this.records = records
    this.exchanges = exchanges
    this.members = members
  }

  // The writable core for `name`, created if missing; no name: a new writer.
  async get(name: string | undefined, opts: WriterOptions = {}): Promise<Hypercore> {
    if (name !== undefined && name !== null && typeof name !== 'string') {
      throw errors.INVALID_ARGUMENT('writer name must be a string', { value: name })
    }
    const keyPair = opts.keyPair ?? opts.keypair
    if (keyPair !== undefined) validateKeyPair(keyPair)
    if (!this.host.opened) await this.host.ready()
    if (this.host.closing) throw errors.CLOSED()
    if (typeof name === 'string') {
      const existing = this.records.writer(name)
      if (existing) return this.openReady(existing)
      // two calls for the same new name must not race into two records
      let creating = this.creating.get(name)
      if (!creating) {
        creating = this.create(name, keyPair)
        this.creating.set(name, creating)
        const done = (): void => { this.creating.delete(name) }
        creating.then(done, done)
      }
      return this.openReady(await creating)
    }
    return this.openReady(await this.create(null, keyPair))
  }

  private async openReady(record: FeedRecord): Promise<Hypercore> {
    const core = this.host.hand(record)
    await core.ready()
    return core
  }

  private async create(name: string | null, keyPair: Hypercore.KeyPair | undefined): Promise<FeedRecord> {
    const core = await this.openCore(name, keyPair)
    const hex = toHex(core.key!)
    const known = this.records.get(hex)
    if (known) {
      if (known.writable || !keyPair) {
        await core.close()
        return known
      }
      await this.makeWritable(known, name, core)
      return known
    }
    const record = newRecord(core.key!, name, true, core.contiguousLength, core.fork)
    // durable before anyone sees it: a crash after this line cannot lose a writer that writer() returned
    await this.putOrClose(record, core)
    this.records.add(record)
    this.host.adopt(record, core)
    // the owner's and an admin's own writers are authorized as they are made
    const authority = this.members.authority
    if (authority !== null) await authority.authorize(record.key, false).catch((err) => { if (err.code !== 'ERR_NOT_ADMIN') throw err })
    this.host.emitFeed(record)
    this.exchanges.announce(record)
    return record
  }

  // A peer advertised this key before we made a writer of it (a writer restored from its key pair on a
  // new device): the record becomes our writer, durably, and its session the writable one.
  private async makeWritable(record: FeedRecord, name: string | null, core: Hypercore): Promise<void> {
    await this.putOrClose({ ...record, name, writable: true }, core)
    this.records.makeWriter(record, name)
    const previous = record.core
    const downloading = record.downloading
    this.host.adopt(record, core)
    if (downloading) downloadLive(record)
    if (previous !== null && !record.held) previous.close().catch(safetyCatch)
  }

  // The writer's record, durably; if that fails, the session opened for it goes too.
  private async putOrClose(record: FeedRecord, core: Hypercore): Promise<void> {
    try {
      await this.host.index!.put([record])
    } catch (err) {
      await core.close().catch(safetyCatch)
      throw err
    }
  }

  // A named writer's key derives from its name. A removed writer leaves its blocks cleared and its head
  // stored, so that key can never be written contiguously again: the name moves on to a next key.
  private async openCore(name: string | null, keyPair: Hypercore.KeyPair | undefined): Promise<Hypercore> {
    if (keyPair || name === null) {
      const pair = keyPair ?? crypto.keyPair()
      const core = this.host.session({ key: pair.publicKey, keyPair: pair })
      await core.ready()
      return core
    }
    for (let generation = 0; ; generation++) {
      const core = this.host.session({ name: writerCoreName(name, generation) })
      await core.ready()
      if (core.length === 0 || this.records.has(toHex(core.key!))) return core
      await core.close()
    }
  }
}

function writerCoreName(name: string, generation: number): string {
  return generation === 0 ? 'writer/' + name : `writer/${name}#${generation}`
}

function validateKeyPair(kp: unknown): void {
  const k = kp as { publicKey?: unknown, secretKey?: unknown }
  if (!k || !b4a.isBuffer(k.publicKey) || (k.publicKey as Buffer).byteLength !== 32 ||
      !b4a.isBuffer(k.secretKey) || (k.secretKey as Buffer).byteLength !== 64) {
    throw errors.INVALID_ARGUMENT('keyPair must have a 32-byte publicKey and a 64-byte secretKey')
  }
}
