// Authorized multifeeds: the owner and admins sign which feeds belong; every peer enforces it.
const test = require('brittle')
const b4a = require('b4a')
const crypto = require('hypercore-crypto')
const { create, pipe, closed, bounded, until, Multifeed } = require('./helpers.js')

const hex = (b) => b4a.toString(b, 'hex')
const has = (m, key) => m.list().some((f) => b4a.equals(f.key, key))

async function connect (t, a, b) {
  const [s1, s2] = pipe(a, b)
  t.teardown(() => { s1.destroy(); s2.destroy() }, { order: 0 })
  await bounded(t, Promise.all([a.synced(), b.synced()]), 'both synced')
  return [s1, s2]
}

test('authorized: the owner\'s writers are authorized; a member\'s writer is refused until an admin authorizes it, then synced', async (t) => {
  const owner = await create(t, { owner: true, valueEncoding: 'utf-8' })
  t.is(owner.owner.byteLength, 32, 'multi.owner is the owner\'s public key')
  t.is(owner.joinKey, hex(owner.key) + hex(owner.owner), 'the join key carries both keys')
  const member = await create(t, { key: owner.joinKey, valueEncoding: 'utf-8' })
  t.alike(member.owner, owner.owner, 'joined under the owner')

  const ow = await owner.writer('w')
  await ow.append('from the owner')
  t.ok(owner.isAuthorized(ow.key), 'the owner\'s writer is authorized on creation')
  const mw = await member.writer('w')
  await mw.append('from a member')
  t.absent(member.isAuthorized(mw.key), 'a member\'s writer is not')

  await connect(t, owner, member)
  t.ok(has(member, ow.key), 'the member took the owner\'s feed')
  t.ok(member.isAuthorized(ow.key), 'and the record that authorizes it')
  t.absent(has(owner, mw.key), 'the owner did not record the member\'s unauthorized feed')

  const taken = until(owner, ['feed', 'authorized', 'synced'], () => owner.list().some((f) => b4a.equals(f.key, mw.key) && f.length === 1))
  await owner.authorize(mw.key)
  await bounded(t, taken, 'the owner to take the member\'s feed once authorized')
  await bounded(t, until(member, ['authorized'], () => member.isAuthorized(mw.key)), 'the member to learn its authorization')
  const info = owner.list().find((f) => b4a.equals(f.key, mw.key))
  t.is(info.authorized, true)
  t.alike(info.authorizedBy, owner.owner, 'list() says who authorized it')
})

test('authorized: a revocation reaches every peer, which removes the feed and never takes it again', async (t) => {
  const owner = await create(t, { owner: true })
  const a = await create(t, { key: owner.joinKey })
  const b = await create(t, { key: owner.joinKey })
  const aw = await a.writer('w')
  await aw.append('x')
  await owner.authorize(aw.key)
  await connect(t, owner, a)
  await connect(t, owner, b)
  await bounded(t, until(b, ['feed', 'authorized', 'synced'], () => b.list().some((f) => b4a.equals(f.key, aw.key) && f.length === 1)), 'b to hold a\'s feed through the owner')

  const removed = until(b, ['remove', 'revoked'], () => !has(b, aw.key))
  await owner.revoke(aw.key)
  await bounded(t, removed, 'b to remove the revoked feed')
  t.absent(b.isAuthorized(aw.key))
  t.absent(has(owner, aw.key), 'the owner removed it too')
  await connect(t, a, b)
  t.absent(has(b, aw.key), 'a direct connection to its writer does not bring it back')
  await t.exception(() => owner.authorize(aw.key).then(() => { if (!owner.isAuthorized(aw.key)) throw new Error('still revoked') }), /still revoked/, 'a revoked key is never authorized again')
})

test('authorized: an admin authorizes and revokes members; a member cannot; the owner revoking the admin takes back its authorizations', async (t) => {
  const owner = await create(t, { owner: true })
  const admin = await create(t, { key: owner.joinKey })
  const member = await create(t, { key: owner.joinKey })
  const adw = await admin.writer('w')
  await owner.authorize(adw.key, { admin: true })
  const mw = await member.writer('w')
  await mw.append('m')
  await connect(t, owner, admin)
  await bounded(t, until(admin, ['authorized'], () => admin.isAuthorized(adw.key)), 'the admin to learn it is one')
  await admin.authorize(mw.key)
  t.ok(admin.isAuthorized(mw.key), 'the admin authorized the member')
  await bounded(t, until(owner, ['authorized'], () => owner.isAuthorized(mw.key)), 'the owner to learn it')
  const other = await member.writer('other')
  await t.exception(() => member.authorize(other.key), /ERR_NOT_ADMIN/, 'a member cannot authorize')

  await owner.revoke(adw.key)
  t.absent(owner.isAuthorized(mw.key), 'what only the admin authorized is no longer authorized')
  await bounded(t, until(admin, ['revoked'], () => !admin.isAuthorized(adw.key)), 'the admin to learn its revocation')
  await t.exception(() => admin.authorize(other.key), /ERR_NOT_ADMIN/, 'a revoked admin cannot sign')
})

test('authorized: an open multifeed and an authorized one with the same key, or two owners, never mix', async (t) => {
  const owner = await create(t, { owner: true })
  const open = await create(t, { key: owner.key })
  const [s1, s2] = pipe(owner, open)
  await Promise.all([closed(s1), closed(s2)])
  t.is(s1.errors[0]?.code, 'ERR_OWNER_MISMATCH')
  t.is(s2.errors[0]?.code, 'ERR_OWNER_MISMATCH')
  const e = s1.errors[0]
  t.alike([e.usOwner, e.themOwner].sort((x, y) => (x === null) - (y === null)), [owner.owner, null], 'the error names the owner and the open side (null)')

  const stranger = await create(t, { key: owner.key, owner: crypto.keyPair().publicKey })
  const [s3, s4] = pipe(owner, stranger)
  await Promise.all([closed(s3), closed(s4)])
  t.is(s3.errors[0]?.code, 'ERR_OWNER_MISMATCH')
  const owners = [s3.errors[0].usOwner, s3.errors[0].themOwner].map(hex).sort()
  t.alike(owners, [hex(owner.owner), hex(stranger.owner)].sort(), 'the error names both owners')
})

test('authorized: a member flooding fresh keys makes an honest peer record nothing', async (t) => {
  const owner = await create(t, { owner: true })
  const flooder = await create(t, { key: owner.joinKey })
  for (let i = 0; i < 50; i++) await (await flooder.writer('f' + i)).append('spam')
  const [s1] = await connect(t, owner, flooder)
  t.is(owner.size, 0, 'none of the 50 unauthorized feeds was recorded')
  t.is(owner.connections[0].stats.feedsDownloaded, 0)
  s1.destroy()
})

test('authorized: records are durable and the owner key survives a reopen; bad owner options are refused', async (t) => {
  const dir = await t.tmp()
  const m = new Multifeed(dir, { owner: true })
  await m.ready()
  const w = await m.writer('w')
  const member = crypto.keyPair().publicKey
  await m.authorize(member, { admin: true })
  const ownerKey = m.owner
  await m.close()
  const again = new Multifeed(dir)
  await again.ready()
  t.teardown(() => again.close())
  t.alike(again.owner, ownerKey)
  t.ok(again.isAuthorized(w.key))
  t.ok(again.list().find((f) => b4a.equals(f.key, w.key)).authorized)
  t.ok(again.isAuthorized(member))
  await again.revoke(member) // still the owner: it holds the owner's secret key
  t.absent(again.isAuthorized(member))
  await again.close()

  await t.exception(() => new Multifeed(dir, { owner: crypto.keyPair().publicKey }).ready(), /ERR_INVALID_ARGUMENT/)
  const open = await create(t)
  await (await open.writer('w')).append('x')
  const dir2 = await t.tmp()
  const joined = new Multifeed(dir2, { key: open.key, owner: ownerKey })
  await joined.ready()
  await joined.close()
  t.exception(() => new Multifeed(dir2, { owner: 'nope' }), /ERR_INVALID_KEY/)
  t.exception(() => new Multifeed(dir2, { owner: 5 }), /ERR_INVALID_ARGUMENT/)
  await t.exception(() => open.authorize(member), /ERR_INVALID_ARGUMENT/, 'an open multifeed has no membership')
  t.absent(open.isAuthorized(member))
  t.is(open.owner, null)
  t.is(open.joinKey, null)
})

// The same rules end to end: 10 multifeeds; during partitions the owner and two admins authorize and
// revoke members' writers and only peers in the same partition connect; then all connect in a ring and
// sync: every peer must end with the same authorized set, admins and revocations, and hold exactly the
// authorized feeds.
test('authorized, end to end: 10 peers, random authorizations and revocations during partitions, then healing: one state everywhere', { timeout: 120000 }, async (t) => {
  const owner = await create(t, { owner: true })
  const peers = [owner]
  for (let i = 1; i < 10; i++) peers.push(await create(t, { key: owner.joinKey }))
  const writers = []
  for (const p of peers) {
    const w = await p.writer('w')
    await w.append('hello')
    writers.push(w)
  }
  await owner.authorize(writers[1].key, { admin: true })
  await owner.authorize(writers[2].key, { admin: true })
  const rand = (n) => Math.floor(Math.random() * n)
  const connections = []
  const link = async (a, b) => {
    const [s1, s2] = pipe(a, b)
    connections.push(s1, s2)
    return [s1, s2]
  }
  // the admins learn their grant first
  for (const i of [1, 2]) {
    const [s1] = await link(owner, peers[i])
    await bounded(t, until(peers[i], ['authorized'], () => peers[i].isAuthorized(writers[i].key)), 'admin ' + i + ' to learn its grant')
    s1.destroy()
  }
  for (let round = 0; round < 3; round++) {
    const parts = peers.map(() => rand(2))
    const open = []
    for (let k = 0; k < 6; k++) {
      const a = rand(10)
      const b = rand(10)
      if (a !== b && parts[a] === parts[b]) open.push(await link(peers[a], peers[b]))
    }
    for (let k = 0; k < 4; k++) {
      const signer = [0, 1, 2][rand(3)]
      const target = writers[3 + rand(7)].key
      const act = Math.random() < 0.7 ? peers[signer].authorize(target) : peers[signer].revoke(target)
      await act.catch((err) => { if (err.code !== 'ERR_NOT_ADMIN') throw err })
    }
    for (const [s1] of open) s1.destroy()
  }
  for (let i = 0; i < 10; i++) await link(peers[i], peers[(i + 1) % 10])
  const view = (p) => JSON.stringify({
    authorized: writers.map((w) => p.isAuthorized(w.key)),
    admins: p.list().filter((f) => f.admin).map((f) => b4a.toString(f.key, 'hex')).sort()
  })
  const agreed = () => peers.every((p) => view(p) === view(peers[0]))
  // re-checked whenever any peer's membership or feeds change: first the same authorized set everywhere,
  // then every peer holding exactly the authorized feeds (plus its own writer: ours stays ours, unshared)
  const events = ['authorized', 'revoked', 'feed', 'remove', 'synced']
  const eventually = (fn, what) => bounded(t, new Promise((resolve) => {
    const check = () => {
      if (!fn()) return
      for (const p of peers) for (const e of events) p.off(e, check)
      resolve()
    }
    for (const p of peers) for (const e of events) p.on(e, check)
    check()
  }), what, 60000)
  await eventually(agreed, 'every peer to derive the same authorized set')
  const expected = writers.filter((w) => owner.isAuthorized(w.key)).map((w) => b4a.toString(w.key, 'hex')).sort()
  const holds = (p, i) => {
    const own = b4a.toString(writers[i].key, 'hex')
    const held = p.list().map((f) => b4a.toString(f.key, 'hex')).filter((k) => k !== own).sort()
    return JSON.stringify(held) === JSON.stringify(expected.filter((k) => k !== own))
  }
  await eventually(() => peers.every(holds), 'every peer to hold exactly the authorized feeds')
  for (const [i, p] of peers.entries()) t.ok(holds(p, i), `peer ${i} holds exactly the authorized feeds`)
  t.pass(`all 10 agree: ${expected.length} of 10 writers authorized`)
  for (const s of connections) s.destroy()
})

test('authorized: an in-sync reconnect compares records too and costs the summaries; d new records cost about d records', async (t) => {
  const owner = await create(t, { owner: true })
  const member = await create(t, { key: owner.joinKey })
  for (let i = 0; i < 60; i++) await (await owner.writer('w' + i)).append('x')
  const exchangeBytes = async () => {
    const [s1, s2] = pipe(owner, member)
    await bounded(t, Promise.all([owner.synced(), member.synced()]), 'synced')
    const ex = owner.connections[0]
    const out = { mode: ex.mode, bytes: ex.stats.exchangeBytesSent + ex.stats.exchangeBytesReceived }
    s1.destroy()
    await Promise.all([closed(s1), closed(s2)])
    return out
  }
  const first = await exchangeBytes()
  t.is(first.mode, 'list')
  t.is(member.size, 60)
  const again = await exchangeBytes()
  t.is(again.mode, 'in-sync')
  t.ok(again.bytes < 200, `in sync with 60 feeds and 60 records: ${again.bytes} B of exchange`)
  const fresh = Array.from({ length: 5 }, () => crypto.randomBytes(32))
  for (const key of fresh) await owner.authorize(key)
  const after = await exchangeBytes()
  t.is(after.mode, 'sketch')
  t.ok(after.bytes < 5 * 250 + 300, `5 new records: ${after.bytes} B of exchange (a record is 98 B on the wire)`)
  t.ok(fresh.every((key) => member.isAuthorized(key)), 'the member holds the 5 new records')
})
