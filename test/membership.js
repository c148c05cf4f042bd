// Membership records of authorized multifeeds: signatures, the rules, and convergence without consensus.
const test = require('brittle')
const crypto = require('hypercore-crypto')
const Hypercore = require('hypercore')
const b4a = require('b4a')
const { Membership, signRecord, recordId } = require('../dist/lib/membership.js')
const messages = require('../dist/lib/messages.js')

const AUTHORIZE = messages.RECORD_AUTHORIZE
const REVOKE = messages.RECORD_REVOKE
const hex = (b) => b4a.toString(b, 'hex')

// A writer's key pair and the feed key corestore gives a named core made from it.
function writer () {
  const keyPair = crypto.keyPair()
  return { keyPair, feed: Hypercore.key({ version: 1, signers: [{ publicKey: keyPair.publicKey }] }) }
}

function group () {
  const owner = crypto.keyPair()
  const id = crypto.randomBytes(32)
  const sign = (type, feed, { admin = false, as = null } = {}) => signRecord(id, owner.publicKey, { type, admin, feed, by: as ? as.feed : null }, as ? as.keyPair : owner)
  return { owner, id, sign, membership: () => new Membership(id, owner.publicKey) }
}

test('membership: owner and admin chains authorize; only the owner revokes admins; revoking an admin takes back what only it authorized', async (t) => {
  const g = group()
  const m = g.membership()
  const admin = writer()
  const member = writer()
  const other = writer()
  const r = m.add([
    g.sign(AUTHORIZE, member.feed, { as: admin }), // before the grant, in the same batch: still counts
    g.sign(AUTHORIZE, admin.feed, { admin: true }),
    g.sign(AUTHORIZE, other.feed)
  ])
  t.is(r.added.length, 3)
  t.is(r.refused.length, 0)
  t.alike(r.gained.sort(), [hex(member.feed), hex(admin.feed), hex(other.feed)].sort(), 'the change names every feed authorized by it')
  t.ok(m.isAdmin(hex(admin.feed)))
  t.alike(m.authorized.get(hex(member.feed)), { by: admin.feed, admin: false }, 'authorized by the admin')
  t.alike(m.authorized.get(hex(other.feed)), { by: null, admin: false }, 'authorized by the owner')

  const second = writer()
  m.add([g.sign(AUTHORIZE, second.feed, { admin: true })])
  const r2 = m.add([g.sign(REVOKE, admin.feed, { as: second })])
  t.is(r2.added.length, 1, 'an admin\'s revocation of an admin is kept')
  t.ok(m.isAdmin(hex(admin.feed)), 'but does not count: only the owner revokes admins')

  const r3 = m.add([g.sign(REVOKE, admin.feed)])
  t.is(r3.added.length, 1)
  t.alike(r3.lost.sort(), [hex(admin.feed), hex(member.feed)].sort(), 'and every feed it took back')
  t.absent(m.isAdmin(hex(admin.feed)), 'the owner revoked the admin')
  t.ok(m.revoked.has(hex(admin.feed)))
  t.absent(m.authorized.has(hex(member.feed)), 'what only that admin authorized is no longer authorized')
  t.is(m.size, 5, 'the revoked admin\'s record is kept but no longer counts (nor is advertised)')
  const r4 = m.add([g.sign(AUTHORIZE, writer().feed, { as: admin })])
  t.is(r4.refused[0].reason, 'signed by a revoked admin')
  const r5 = m.add([g.sign(AUTHORIZE, admin.feed)])
  t.is(r5.added.length, 1)
  t.absent(m.authorized.has(hex(admin.feed)), 'a revoked feed is never authorized again')
})

test('membership: forged, foreign and members\' records are refused and nothing is kept', async (t) => {
  const g = group()
  const m = g.membership()
  const member = writer()
  m.add([g.sign(AUTHORIZE, member.feed)])
  const forged = g.sign(AUTHORIZE, writer().feed)
  forged.signature = b4a.from(forged.signature)
  forged.signature[0] ^= 1
  const foreign = group().sign(AUTHORIZE, writer().feed)
  const byMember = g.sign(AUTHORIZE, writer().feed, { as: member })
  const lying = g.sign(AUTHORIZE, writer().feed, { as: { feed: member.feed, keyPair: crypto.keyPair() } })
  const tampered = { ...g.sign(AUTHORIZE, writer().feed), admin: true }
  const r = m.add([forged, foreign, byMember, lying, tampered])
  t.is(r.added.length, 0)
  t.alike(r.refused.map((x) => x.reason).sort(), ['bad signature', 'bad signature', 'bad signature', 'not signed by the owner or an admin', 'the signer does not write the admin feed it names'])
  t.is(m.size, 1, 'only the owner\'s record is held')
  t.is(m.authorized.size, 1)
})

test('membership: records round-trip through their encoding; malformed bytes are refused', async (t) => {
  const g = group()
  const admin = writer()
  const rec = g.sign(REVOKE, writer().feed, { as: admin })
  const bytes = messages.encode(messages.memberRecord, rec)
  t.alike(messages.decode(messages.memberRecord, bytes, 'record'), rec)
  t.alike(recordId(messages.decode(messages.memberRecord, bytes, 'record')), recordId(rec))
  for (const bad of [bytes.subarray(0, bytes.length - 1), b4a.concat([bytes, b4a.alloc(1)]), b4a.from([3, 0]), b4a.from([2, 1])]) {
    t.exception(() => messages.decode(messages.memberRecord, bad, 'record'), /ERR_BAD_MESSAGE/)
  }
})

// 10 peers; the owner on peer 0 and admins on some others sign authorizations and revocations while the
// peers are split into random partitions that gossip only inside; then everyone gossips with everyone.
test('membership: 10 peers, random authorizations and revocations during partitions, then healing: one state everywhere', async (t) => {
  for (let run = 0; run < 20; run++) {
    const g = group()
    const peers = Array.from({ length: 10 }, () => g.membership())
    const feeds = Array.from({ length: 30 }, () => writer())
    const signers = [null, ...feeds.slice(0, 6)] // the owner, and feeds that may become admins
    const rand = (n) => Math.floor(Math.random() * n)
    const gossip = (from, to) => to.add([...from.records()].map(([, r]) => r))
    for (let round = 0; round < 8; round++) {
      const parts = peers.map(() => rand(3))
      for (let k = 0; k < 6; k++) {
        const at = rand(peers.length)
        const as = signers[rand(signers.length)]
        const target = feeds[rand(feeds.length)]
        const type = Math.random() < 0.7 ? AUTHORIZE : REVOKE
        // an admin signs only what it believes it may: it thinks it is an admin on its own peer
        if (as !== null && !peers[at].isAdmin(hex(as.feed)) && Math.random() < 0.8) continue
        peers[at].add([g.sign(type, target.feed, { admin: type === AUTHORIZE && Math.random() < 0.4, as })])
      }
      for (let k = 0; k < 20; k++) {
        const a = rand(peers.length)
        const b = rand(peers.length)
        if (parts[a] === parts[b]) gossip(peers[a], peers[b])
      }
    }
    for (let pass = 0; pass < 3; pass++) for (const a of peers) for (const b of peers) if (a !== b) gossip(a, b)
    const view = (p) => JSON.stringify({
      records: [...p.records()].map(([id]) => id).sort(),
      authorized: [...p.authorized].map(([k, v]) => k + (v.admin ? '+' : '') + (v.by ? hex(v.by) : '')).sort(),
      admins: [...p.admins].sort(),
      revoked: [...p.revoked].sort()
    })
    const first = view(peers[0])
    const same = peers.every((p) => view(p) === first)
    if (!same) return t.fail(`run ${run}: the peers disagree after healing`)
  }
  t.pass('20 runs: every peer holds the same records and derives the same authorized feeds, admins and revocations')
})

test('membership: a grant arriving after its use, in another batch, still lets the use count; a record of an admin revoked and granted again counts again', async (t) => {
  const g = group()
  const x = writer()
  const y = writer()
  const f = writer()
  const grantY = g.sign(AUTHORIZE, y.feed, { admin: true })
  const grantX = g.sign(AUTHORIZE, x.feed, { admin: true, as: y })
  const useX = g.sign(AUTHORIZE, f.feed, { as: x })
  const p = g.membership()
  const r1 = p.add([useX])
  t.is(r1.refused[0].reason, 'not signed by the owner or an admin', 'before the grants: waits, refused for now')
  p.add([grantX])
  p.add([grantY])
  t.ok(p.authorized.has(hex(f.feed)), 'the waiting record counted once its signer\'s grants came')

  const revokeY = g.sign(REVOKE, y.feed)
  const regrantX = g.sign(AUTHORIZE, x.feed, { admin: true })
  const q = g.membership()
  q.add([grantY, grantX, useX])
  q.add([revokeY])
  t.absent(q.authorized.has(hex(f.feed)), 'revoking y takes back x, and x\'s authorization of f')
  q.add([regrantX])
  p.add([revokeY, regrantX])
  t.ok(q.authorized.has(hex(f.feed)), 'x granted again by the owner: its record counts again (it was kept)')
  const ids = (m) => [...m.records()].map(([id]) => id).sort()
  t.alike(ids(q), ids(p), 'both hold and advertise the same records')
  t.alike([...q.authorized.keys()].sort(), [...p.authorized.keys()].sort())
})
