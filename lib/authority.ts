// An authorized multifeed's side of membership: the owner key, the records kept durably in the index,
// signing with the owner key or an admin writer's key, and what changes when the records change. The
// rules themselves live in lib/membership.ts; the wire in lib/exchange.ts (`records`, type 6).
import crypto from 'hypercore-crypto'
import b4a from 'b4a'
import type { FeedIndex } from './feed-index'
import { Membership, Signer, signRecord, Authorization } from './membership'
import { MemberRecord, RECORD_LENGTH, RECORD_AUTHORIZE, RECORD_REVOKE } from './messages'
import { toHex } from './keys'
import * as errors from './errors'


export interface AuthorityHost {
  // one of our writers that is an admin, with its key pair; null if none
  adminSigner(): Promise<{ feed: Buffer, signer: Signer } | null>
  // the authorized set changed: `gained` feeds may now be recorded and fetched, `lost` ones must go
  membershipChanged(gained: string[], lost: string[]): Promise<void>
  // records new to us, to pass on to every connection but `from`
  broadcastRecords(records: Array<[string, MemberRecord]>, from: unknown): void
}

export class Authority {
  readonly owner: Buffer
  readonly membership: Membership
  private readonly ownerSecret: Buffer | null
  private readonly index: FeedIndex
  private readonly host: AuthorityHost

  private constructor(host: AuthorityHost, index: FeedIndex, group: Buffer, owner: Buffer, ownerSecret: Buffer | null) {
    this.host = host
    this.index = index
    this.owner = owner
    this.ownerSecret = ownerSecret
    this.membership = new Membership(group, owner)
  }

  // The authority of the multifeed in `index`, or null in open mode. `wanted`: the `owner` option (true:
  // be the owner, made here if new; a key: the owner to join under; undefined: whatever is stored).
  static async open(host: AuthorityHost, index: FeedIndex, group: Buffer, wanted: true | Buffer | undefined, hasFeeds: boolean): Promise<Authority | null> {
    let owner = await index.getOwner()
    let secret = owner === null ? null : await index.getOwnerSecret()
    if (wanted === true && owner !== null && secret === null) throw errors.INVALID_ARGUMENT('owner: true, but this multifeed was joined under another device\'s owner key')
    if (b4a.isBuffer(wanted) && owner !== null && !b4a.equals(wanted as Buffer, owner)) {
      throw errors.INVALID_ARGUMENT('this multifeed is stored under another owner', { value: wanted })
    }
    if (owner === null && wanted !== undefined) {
      if (hasFeeds) throw errors.INVALID_ARGUMENT('an open multifeed that already holds feeds cannot become authorized')
      if (wanted === true) {
        const pair = crypto.keyPair()
        owner = pair.publicKey
        secret = pair.secretKey
      } else {
        owner = wanted
      }
      await index.setOwner(owner, secret)
    }
    if (owner === null) return null
    const authority = new Authority(host, index, group, owner, secret)
    authority.membership.load(await index.loadRecords())
    return authority
  }

  isAuthorized(hex: string): boolean {
    return this.membership.authorized.has(hex)
  }

  authorization(hex: string): Authorization | null {
    return this.membership.authorized.get(hex) ?? null
  }

  // The records as entries of the exchange's sets.
  entries(): Array<{ key: Buffer, length: number }> {
    const out: Array<{ key: Buffer, length: number }> = []
    for (const [id] of this.membership.records()) out.push({ key: b4a.from(id, 'hex') as Buffer, length: RECORD_LENGTH })
    return out
  }

  // The records we have among `keys` (record ids), [id, record], nearest the owner first.
  recordsFor(keys: Buffer[]): Array<[string, MemberRecord]> {
    const out: Array<[string, MemberRecord]> = []
    for (const key of keys) {
      const id = toHex(key)
      const record = this.membership.get(id)
      if (record !== undefined) out.push([id, record])
    }
    return this.membership.sortForSending(out)
  }

  // Signs with the owner key, or with one of our writers that is an admin.
  async sign(type: number, feed: Buffer, admin: boolean): Promise<MemberRecord> {
    const body = { type, admin, feed }
    if (this.ownerSecret !== null) return signRecord(this.membership.group, this.owner, { ...body, by: null }, { publicKey: this.owner, secretKey: this.ownerSecret })
    if (type === RECORD_REVOKE && this.membership.isAdmin(toHex(feed))) throw errors.NOT_ADMIN('only the owner revokes an admin')
    const signing = await this.host.adminSigner()
    if (signing === null) throw errors.NOT_ADMIN('neither the owner nor an admin writes on this device')
    return signRecord(this.membership.group, this.owner, { ...body, by: signing.feed }, signing.signer)
  }

  async authorize(feed: Buffer, admin: boolean): Promise<void> {
    await this.receive([await this.sign(RECORD_AUTHORIZE, feed, admin)], null)
  }

  async revoke(feed: Buffer): Promise<void> {
    await this.receive([await this.sign(RECORD_REVOKE, feed, false)], null)
  }

  // Records from a peer (`from`) or signed here (null): the ones that count are stored, passed on, and
  // then take effect on feeds (removals, downloads). Returns the refused ones with why.
  async receive(records: MemberRecord[], from: unknown): Promise<Array<{ record: MemberRecord, reason: string }>> {
    const { added, refused, gained, lost } = this.membership.add(records)
    if (added.length === 0) return refused
    await this.index.putRecords(added)
    this.host.broadcastRecords(added, from)
    if (gained.length > 0 || lost.length > 0) await this.host.membershipChanged(gained, lost)
    return refused
  }
}
