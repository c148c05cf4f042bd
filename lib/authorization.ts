// An authorized multifeed's membership in effect: authorize() and revoke() sign records, the records
// peers send are applied, and each change reaches the feeds: those that lose their authorization go,
// those that gain it are announced and fetched from the peers that advertised them. The rules live in
// lib/membership.ts; the owner key, the stored records and signing in lib/authority.ts.
import type Hypercore from 'hypercore'
import b4a from 'b4a'
import safetyCatch from 'safety-catch'
import { Authority, AuthorityHost } from './authority'
import type { FeedIndex } from './feed-index'
import type { FeedSet } from './feed-set'
import type { FeedRecord } from './feed-record'
import type { ExchangeSet } from './exchange-set'
import type { FeedExchange } from './exchange'
import type { Removal } from './removal'
import { NOT_COUNTING, REVOKED_SIGNER } from './membership'
import type { Signer } from './membership'
import { FeedEntry, MemberRecord, LIMITS, RECORD_LENGTH } from './messages'
import { toKey, toHex } from './keys'
import * as errors from './errors'

export interface AuthorizeOptions {
  admin?: boolean // the feed's writer may authorize and revoke members
}

export interface AuthorizationHost {
  readonly opened: boolean
  readonly closing: Promise<void> | null
  emit(event: string, ...args: unknown[]): boolean
  storedCore(record: FeedRecord): Hypercore // a session of the feed's core that replicates nothing
  checkSynced(): void
}

export class Authorization implements AuthorityHost {
  private readonly host: AuthorizationHost
  private readonly records: FeedSet
  private readonly exchanges: ExchangeSet
  private readonly removal: Removal
  private current: Authority | null = null
  private applyingRecords = 0 // membership records being stored and applied: not synced meanwhile

  constructor(host: AuthorizationHost, records: FeedSet, exchanges: ExchangeSet, removal: Removal) {
    this.host = host
    this.records = records
    this.exchanges = exchanges
    this.removal = removal
  }

  // The rules and records of an authorized multifeed; null in an open one (and before open()).
  get authority(): Authority | null {
    return this.current
  }

  get applying(): boolean {
    return this.applyingRecords > 0
  }

  // At ready(): the membership stored in `index`, or the one `wanted` (the `owner` option) makes.
  // `records`: the feeds just loaded from the index.
  async open(index: FeedIndex, group: Buffer, wanted: true | Buffer | undefined, records: FeedRecord[]): Promise<void> {
    const authority = this.current = await Authority.open(this, index, group, wanted, records.length > 0)
    // a crash between storing a revocation and removing its feed: the feed goes now
    if (authority !== null) await this.removal.dropUnauthorized(records.filter((r) => !r.writable && !authority.isAuthorized(r.hex)))
  }

  async authorize(key: Buffer | string, opts: AuthorizeOptions = {}): Promise<void> {
    const buf = toKey(key, 'feed key')
    const authority = this.authorityReady()
    await this.applyingMembership(() => authority.authorize(buf, opts.admin === true))
  }

  async revoke(key: Buffer | string): Promise<void> {
    const buf = toKey(key, 'feed key')
    const authority = this.authorityReady()
    await this.applyingMembership(() => authority.revoke(buf))
  }

  // Until records are stored and their effects begun (downloads of feeds they authorize), not synced.
  private async applyingMembership<T>(fn: () => Promise<T>): Promise<T> {
    this.applyingRecords++
    try {
      return await fn()
    } finally {
      this.applyingRecords--
      this.host.checkSynced()
    }
  }

  isAuthorized(key: Buffer | string): boolean {
    return this.current !== null && this.current.isAuthorized(toHex(toKey(key, 'feed key')))
  }

  private authorityReady(): Authority {
    if (this.host.closing) throw errors.CLOSED()
    if (!this.host.opened) throw errors.INVALID_ARGUMENT('the multifeed is not ready yet')
    if (this.current === null) throw errors.INVALID_ARGUMENT('an open multifeed has no membership: create it with { owner }')
    return this.current
  }

  // --- AuthorityHost ---

  async adminSigner(): Promise<{ feed: Buffer, signer: Signer } | null> {
    for (const record of this.records.values()) {
      if (!record.writable || !this.current?.membership.isAdmin(record.hex)) continue
      // the open core's key pair, or a session of our own for it, closed again
      const core = record.core ?? this.host.storedCore(record)
      try {
        await core.ready()
        const pair = core.keyPair
        if (pair && pair.secretKey) return { feed: record.key, signer: { publicKey: pair.publicKey, secretKey: pair.secretKey } }
      } finally {
        if (core !== record.core) await core.close()
      }
    }
    return null
  }

  async membershipChanged(gained: string[], lost: string[]): Promise<void> {
    const dropping: FeedRecord[] = []
    for (const hex of lost) {
      const record = this.records.get(hex)
      if (this.current!.membership.revoked.has(hex)) this.host.emit('revoked', b4a.from(hex, 'hex'))
      if (record !== undefined && !record.writable) dropping.push(record) // our own writer stays ours, unshared
    }
    await this.removal.dropUnauthorized(dropping)
    // peers that advertised a feed before it was authorized: take it from them now, one batch each
    const fetch = new Map<FeedExchange, FeedEntry[]>()
    for (const hex of gained) {
      this.host.emit('authorized', b4a.from(hex, 'hex'), this.current!.authorization(hex))
      const record = this.records.get(hex)
      if (record !== undefined) this.exchanges.announce(record)
      for (const ex of this.exchanges.values()) {
        const theirs = ex.remotePosition(hex)
        if (theirs === undefined || theirs.length === RECORD_LENGTH || ex.closed) continue
        let entries = fetch.get(ex)
        if (!entries) fetch.set(ex, entries = [])
        entries.push({ key: b4a.from(hex, 'hex') as Buffer, length: theirs.length, fork: theirs.fork })
      }
    }
    await Promise.all([...fetch].map(([ex, entries]) => this.exchanges.receiveEntries(ex, entries).then((began) => ex.emitRemoteFeeds(began), safetyCatch)))
  }

  broadcastRecords(records: Array<[string, MemberRecord]>, from: unknown): void {
    for (const ex of this.exchanges.values()) if (ex !== from) ex.announceRecords(records)
  }

  // Records a connection sent (its `records` message).
  async receiveRecords(exchange: FeedExchange, records: MemberRecord[]): Promise<void> {
    const authority = this.current
    if (authority === null) return
    const refused = await this.applyingMembership(() => authority.receive(records, exchange))
    if (refused.length === 0) return
    this.host.emit('records-refused', refused, exchange)
    // an honest peer sends only records it checked: a bad one is a lie; records that do not count (yet)
    // happen in honest races, but not thousands
    const lie = refused.find((r) => r.reason !== NOT_COUNTING && r.reason !== REVOKED_SIGNER)
    if (lie) throw errors.BAD_MESSAGE('a membership record that does not verify: ' + lie.reason)
    exchange.refusedRecords += refused.length
    if (exchange.refusedRecords > LIMITS.maxEntriesPerMessage) throw errors.BAD_MESSAGE(`${exchange.refusedRecords} membership records whose signer is no admin`)
  }
}
