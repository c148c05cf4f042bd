// The membership of an authorized multifeed: records signed by the owner or by admins, and the state
// every peer derives from the records it holds. The state is a function of the set of records alone, so
// peers that hold the same records agree, whatever order the records arrived in and through whichever
// peers: no consensus is needed. The rules (PROTOCOL.md, "Authorized multifeeds"):
// - the owner's records always count. An admin is a feed authorized with `admin` by the owner or by an
//   admin, and not revoked by the owner; an admin's records count while it is an admin. The records of a
//   signer that is no admin (never was, or no longer is) are not kept;
// - a revocation signed by the owner revokes any feed; one signed by an admin revokes a feed that is no
//   admin (only the owner revokes admins). A revoked feed is never authorized again;
// - a feed is authorized when a record that counts authorizes it and it is not revoked. Revoking an admin
//   takes back what only that admin authorized (and its revocations).
import Hypercore from 'hypercore'
import crypto from 'hypercore-crypto'
import sodium from 'sodium-universal'
import b4a from 'b4a'
import c from 'compact-encoding'
import { MemberRecord, memberRecord, RECORD_AUTHORIZE, RECORD_REVOKE, encode } from './messages'
import { toHex } from './keys'

const [SIGNED_RECORD] = crypto.namespace('hyper-multifeed/membership', 1)

export interface Signer {
  publicKey: Buffer
  secretKey: Buffer
}

// What a record says, before it is signed.
export interface RecordBody {
  type: number
  admin: boolean
  feed: Buffer
  by: Buffer | null
}

export interface Authorization {
  by: Buffer | null // the admin feed whose record authorizes it (the first in key order); null: the owner
  admin: boolean
}

// The bytes a signature covers: the record's fields, bound to one multifeed (its discovery key) and owner.
interface Signed { group: Buffer, owner: Buffer, body: RecordBody }
const signed: c.Encoder<Signed> = {
  preencode(state, m) {
    state.end += 32 * 4 + (m.body.by !== null ? 32 : 0) // namespace, group, owner, feed, by
    c.uint.preencode(state, m.body.type)
    c.uint.preencode(state, 3)
  },
  encode(state, m) {
    c.fixed32.encode(state, SIGNED_RECORD)
    c.fixed32.encode(state, m.group)
    c.fixed32.encode(state, m.owner)
    c.uint.encode(state, m.body.type)
    c.uint.encode(state, (m.body.admin ? 1 : 0) | (m.body.by !== null ? 2 : 0))
    c.fixed32.encode(state, m.body.feed)
    if (m.body.by !== null) c.fixed32.encode(state, m.body.by)
  },
  decode() { throw new Error('not decoded') }
}

function signable(group: Buffer, owner: Buffer, body: RecordBody): Buffer {
  return c.encode(signed, { group, owner, body }) as Buffer
}

export function recordId(r: MemberRecord): Buffer {
  const out = b4a.allocUnsafe(32) as Buffer
  sodium.crypto_generichash(out, encode(memberRecord, r))
  return out
}

// Whether `feed` is the feed a writer with this public key writes: a core made from a key pair is keyed
// by the pair's public key (hyper-multifeed's `writer({ keyPair })`) or by the hash of its default
// manifest (corestore's named cores).
export function writesFeed(publicKey: Buffer, feed: Buffer): boolean {
  if (b4a.equals(publicKey, feed)) return true
  return b4a.equals(Hypercore.key({ version: 1, signers: [{ publicKey }] }) as Buffer, feed)
}

export function signRecord(group: Buffer, owner: Buffer, body: RecordBody, signer: Signer): MemberRecord {
  const signature = crypto.sign(signable(group, owner, body), signer.secretKey)
  return { ...body, signer: body.by === null ? null : signer.publicKey, signature }
}

// Null when the record is well formed and correctly signed by the owner or by the writer of `by`.
export function checkSignature(group: Buffer, owner: Buffer, r: MemberRecord): string | null {
  if (r.type !== RECORD_AUTHORIZE && r.type !== RECORD_REVOKE) return 'unknown record type'
  if (r.type === RECORD_REVOKE && r.admin) return 'a revocation cannot carry admin'
  if (r.by === null && r.signer !== null) return 'an owner\'s record names no signer'
  if (r.by !== null && (r.signer === null || !writesFeed(r.signer, r.by))) return 'the signer does not write the admin feed it names'
  if (!crypto.verify(signable(group, owner, r), r.signature, r.signer ?? owner)) return 'bad signature'
  return null
}

interface Held {
  id: string
  record: MemberRecord
}

export class Membership {
  readonly group: Buffer
  readonly owner: Buffer
  private readonly held = new Map<string, Held>() // record id (hex) -> record: the records that count
  authorized = new Map<string, Authorization>()
  admins = new Set<string>()
  revoked = new Set<string>()

  constructor(group: Buffer, owner: Buffer) {
    this.group = group
    this.owner = owner
  }

  get size(): number {
    return this.held.size
  }

  records(): Iterable<[string, MemberRecord]> {
    return [...this.held.values()].map((h) => [h.id, h.record] as [string, MemberRecord])
  }

  get(id: string): MemberRecord | undefined {
    return this.held.get(id)?.record
  }

  has(id: string): boolean {
    return this.held.has(id)
  }

  isAdmin(feedHex: string): boolean {
    return this.admins.has(feedHex)
  }

  // Adds the records that are correctly signed by the owner or an admin (an admin granted in the same
  // batch counts for the records after it, in any order), recomputes the state, and drops the records
  // of signers that are no admin any more. Returns what was added, refused (with why) and dropped.
  add(incoming: MemberRecord[]): { added: Array<[string, MemberRecord]>, refused: Array<{ record: MemberRecord, reason: string }>, dropped: string[] } {
    const refused: Array<{ record: MemberRecord, reason: string }> = []
    let waiting: Held[] = []
    for (const record of incoming) {
      const id = toHex(recordId(record))
      if (this.held.has(id) || waiting.some((w) => w.id === id)) continue
      const bad = checkSignature(this.group, this.owner, record)
      if (bad !== null) refused.push({ record, reason: bad })
      else waiting.push({ id, record })
    }
    const added: Array<[string, MemberRecord]> = []
    let dropped: string[] = []
    for (let progress = true; progress && waiting.length > 0;) {
      progress = false
      const next: Held[] = []
      for (const w of waiting) {
        if (this.counts(w.record)) {
          this.held.set(w.id, w)
          added.push([w.id, w.record])
          progress = true
        } else {
          next.push(w)
        }
      }
      waiting = next
      if (progress) dropped = dropped.concat(this.compute())
    }
    for (const w of waiting) refused.push({ record: w.record, reason: w.record.by !== null && this.revoked.has(toHex(w.record.by)) ? 'signed by a revoked admin' : 'not signed by the owner or an admin' })
    const gone = new Set(dropped)
    return { added: added.filter(([id]) => !gone.has(id)), refused, dropped: dropped.filter((id) => !added.some(([a]) => a === id)) }
  }

  private counts(r: MemberRecord): boolean {
    return r.by === null || this.admins.has(toHex(r.by))
  }

  // The state from the records held: admins as the least fixpoint from the owner's records, then
  // revocations and authorizations. Records whose signer is no admin are dropped; their ids are returned.
  private compute(): string[] {
    const all = [...this.held.values()]
    const ownerRevoked = new Set<string>()
    for (const { record: r } of all) if (r.type === RECORD_REVOKE && r.by === null) ownerRevoked.add(toHex(r.feed))
    const admins = new Set<string>()
    for (let grew = true; grew;) {
      grew = false
      for (const { record: r } of all) {
        if (r.type !== RECORD_AUTHORIZE || !r.admin) continue
        const feed = toHex(r.feed)
        if (admins.has(feed) || ownerRevoked.has(feed)) continue
        if (r.by === null || admins.has(toHex(r.by))) {
          admins.add(feed)
          grew = true
        }
      }
    }
    const dropped: string[] = []
    const kept: Held[] = []
    for (const h of all) {
      if (h.record.by === null || admins.has(toHex(h.record.by))) kept.push(h)
      else {
        this.held.delete(h.id)
        dropped.push(h.id)
      }
    }
    const revoked = new Set<string>()
    for (const { record: r } of kept) {
      if (r.type !== RECORD_REVOKE) continue
      const feed = toHex(r.feed)
      if (r.by === null || !admins.has(feed)) revoked.add(feed)
    }
    const authorized = new Map<string, Authorization>()
    for (const { record: r } of kept) {
      if (r.type !== RECORD_AUTHORIZE) continue
      const feed = toHex(r.feed)
      if (revoked.has(feed)) continue
      const was = authorized.get(feed)
      // the owner's record first, then the admin feed first in key order: the same answer everywhere
      const by = was === undefined ? r.by : was.by === null || r.by === null ? null : b4a.compare(r.by, was.by) < 0 ? r.by : was.by
      authorized.set(feed, { by, admin: admins.has(feed) })
    }
    this.admins = admins
    this.revoked = revoked
    this.authorized = authorized
    return dropped
  }
}
