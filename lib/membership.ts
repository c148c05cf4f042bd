// The membership of an authorized multifeed: records signed by the owner or by admins, and the state
// every peer derives from the records it holds. The state is a function of the set of records alone, so
// peers that hold the same records agree, whatever order the records arrived in and through whichever
// peers: no consensus is needed. The rules (PROTOCOL.md, "Authorized multifeeds"):
// - the owner's records always count. An admin is a feed authorized with `admin` by the owner or by an
//   admin, and not revoked by the owner; an admin's records count while it is an admin. A record is
//   stored only if it counts when it arrives (others wait, bounded, in case their signer's grant comes
//   next); a stored record whose signer stops being an admin stops counting and is no longer advertised
//   (it counts again, everywhere, if the signer becomes an admin again);
// - a revocation signed by the owner revokes any feed; one signed by an admin revokes a feed that is no
//   admin (only the owner revokes admins: an admin's revocation of a feed that is or becomes an admin
//   does not count). A feed a counting revocation names is not authorized;
// - a feed is authorized when a record that counts authorizes it and it is not revoked. Revoking an admin
//   takes back what only that admin authorized, and its revocations.
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

// Whose record authorizes a feed: the owner's first, then the admin feed first in key order (the same
// answer everywhere, whatever order the records came in).
function pickBy(was: Authorization | undefined, by: Buffer | null): Buffer | null {
  if (was === undefined) return by
  if (was.by === null || by === null) return null
  return b4a.compare(by, was.by) < 0 ? by : was.by
}

interface Held {
  id: string
  record: MemberRecord
}

// Well-signed records whose signer is no admin yet (the grant may come in a later message or from
// another peer) wait here, at most this many; the oldest go first.
const MAX_PENDING = 4096

export const NOT_COUNTING = 'not signed by the owner or an admin'
export const REVOKED_SIGNER = 'signed by a revoked admin'

export interface MembershipChange {
  added: Array<[string, MemberRecord]> // [id, record]
  refused: Array<{ record: MemberRecord, reason: string }>
  gained: string[] // feeds (hex) authorized now and not before
  lost: string[] // feeds (hex) authorized before and not now
}

export class Membership {
  readonly group: Buffer
  readonly owner: Buffer
  private readonly held = new Map<string, Held>() // record id (hex) -> every record that ever counted here
  private readonly pending = new Map<string, Held>() // well signed, not counting yet
  private counting = new Set<string>() // ids of the held records that count now
  private depth = new Map<string, number>() // admin feed -> how far from the owner (owner's records: 0)
  authorized = new Map<string, Authorization>()
  admins = new Set<string>()
  revoked = new Set<string>()

  constructor(group: Buffer, owner: Buffer) {
    this.group = group
    this.owner = owner
  }

  get size(): number {
    return this.counting.size
  }

  // The records that count now, [id, record], in no particular order.
  records(): Array<[string, MemberRecord]> {
    const out: Array<[string, MemberRecord]> = []
    for (const id of this.counting) out.push([id, this.held.get(id)!.record])
    return out
  }

  // Nearest the owner first, so a receiver meets each grant before its use.
  sortForSending(records: Array<[string, MemberRecord]>): Array<[string, MemberRecord]> {
    return records.sort((a, b) => this.rank(a[1]) - this.rank(b[1]))
  }

  private rank(r: MemberRecord): number {
    return r.by === null ? 0 : (this.depth.get(toHex(r.by)) ?? 0) + 1
  }

  get(id: string): MemberRecord | undefined {
    return this.counting.has(id) ? this.held.get(id)!.record : undefined
  }

  isAdmin(feedHex: string): boolean {
    return this.admins.has(feedHex)
  }

  // Records read back from our own storage (checked when they were stored, ids from their index keys):
  // held as they are, whether they count now or not, and the state computed once.
  load(stored: Array<[string, MemberRecord]>): void {
    for (const [id, record] of stored) this.held.set(id, { id, record })
    this.compute()
  }

  // Adds the records correctly signed by the owner or an admin (an admin granted in the same batch, or
  // waiting as pending, counts for the records after it, in any order) and updates the state. Returns
  // what was added and refused (with why), and the feeds that became or stopped being authorized.
  add(incoming: MemberRecord[]): MembershipChange {
    const refused: Array<{ record: MemberRecord, reason: string }> = []
    const waiting = new Map<string, Held>()
    for (const record of incoming) {
      const id = toHex(recordId(record))
      // held already (counting, or kept from a signer that stopped being an admin): nothing new
      if (waiting.has(id) || this.held.has(id)) continue
      const bad = checkSignature(this.group, this.owner, record)
      if (bad !== null) refused.push({ record, reason: bad })
      else waiting.set(id, { id, record })
    }
    const fresh = new Set(waiting.keys())
    let before: Set<string> | null = null // the authorized feeds before this call, taken at the first recompute
    const added: Array<[string, MemberRecord]> = []
    const gained: string[] = []
    let structural = false // a revocation or an admin grant: the whole state is recomputed
    for (let progress = true; progress && waiting.size > 0;) {
      progress = false
      let recompute = false
      for (const [id, w] of waiting) {
        if (!this.countsNow(w.record)) continue
        waiting.delete(id)
        this.pending.delete(id)
        this.held.set(id, w)
        added.push([id, w.record])
        progress = true
        if (w.record.type === RECORD_AUTHORIZE && !w.record.admin) {
          const hex = this.addPlain(w) // the common case, one authorization: no recompute
          if (hex !== null) gained.push(hex)
        } else {
          recompute = true
        }
      }
      if (!recompute) continue
      if (before === null) {
        before = new Set(this.authorized.keys())
        for (const hex of gained) before.delete(hex) // authorized in place earlier in this call
      }
      // admins may have changed: records waiting from earlier batches may count now
      if (!structural) for (const [id, h] of this.pending) if (!waiting.has(id)) waiting.set(id, h)
      structural = true
      this.compute()
    }
    for (const [id, w] of waiting) {
      if (!fresh.has(id)) continue
      refused.push({ record: w.record, reason: w.record.by !== null && this.revoked.has(toHex(w.record.by)) ? REVOKED_SIGNER : NOT_COUNTING })
      this.pending.set(id, w)
    }
    for (const id of this.pending.keys()) {
      if (this.pending.size <= MAX_PENDING) break
      this.pending.delete(id)
    }
    if (before === null) return { added, refused, gained, lost: [] }
    // a recompute: compare the whole authorized set
    const was = before
    const after = this.authorized
    return {
      added,
      refused,
      gained: [...after.keys()].filter((hex) => !was.has(hex)),
      lost: [...was].filter((hex) => !after.has(hex))
    }
  }

  // A counting authorization without admin changes no admin, depth or revocation: only this feed. Returns
  // the feed's hex key if it was not authorized before.
  private addPlain(h: Held): string | null {
    this.counting.add(h.id)
    const feed = toHex(h.record.feed)
    if (this.revoked.has(feed)) return null
    const was = this.authorized.get(feed)
    this.authorized.set(feed, { by: pickBy(was, h.record.by), admin: this.admins.has(feed) })
    return was === undefined ? feed : null
  }

  private countsNow(r: MemberRecord): boolean {
    return r.by === null || this.admins.has(toHex(r.by))
  }

  // The state from the records held: admins as the least fixpoint from the owner's records, then
  // revocations and authorizations from the records that count (the owner's, and the admins').
  private compute(): void {
    const all = [...this.held.values()]
    const ownerRevoked = new Set<string>()
    for (const { record: r } of all) if (r.type === RECORD_REVOKE && r.by === null) ownerRevoked.add(toHex(r.feed))
    const admins = new Set<string>()
    const depth = new Map<string, number>()
    for (let level = 0, grew = true; grew; level++) {
      grew = false
      for (const { record: r } of all) {
        if (r.type !== RECORD_AUTHORIZE || !r.admin) continue
        const feed = toHex(r.feed)
        if (admins.has(feed) || ownerRevoked.has(feed)) continue
        const signer = r.by === null ? null : toHex(r.by)
        if (signer === null || (admins.has(signer) && depth.get(signer)! < level)) {
          admins.add(feed)
          depth.set(feed, level)
          grew = true
        }
      }
    }
    const counting = new Set<string>()
    const kept: Held[] = []
    for (const h of all) {
      if (h.record.by === null || admins.has(toHex(h.record.by))) {
        counting.add(h.id)
        kept.push(h)
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
      authorized.set(feed, { by: pickBy(authorized.get(feed), r.by), admin: admins.has(feed) })
    }
    this.admins = admins
    this.depth = depth
    this.counting = counting
    this.revoked = revoked
    this.authorized = authorized
  }
}
