// The one place that reaches past hypercore's and corestore's public API: replicator attachment, the
// peer of a core on one connection, corestore's per-stream set-up, batched user data, and the Noise
// stream under a replication stream. An upstream change shows up here
// (and in the suite CI also runs against the newest hypercore 11), not across the library.
import Hypercore from 'hypercore'
import type Corestore from 'corestore'
import type Protomux from 'protomux'
import b4a from 'b4a'
import c from 'compact-encoding'

export const HYPERCORE_PROTOCOL = 'hypercore/alpha'

type Notify = (id: Buffer | null) => unknown

// The handler protomux calls for a remote open of `protocol` with an id nothing paired by itself (for
// Hypercore: corestore's, which opens any stored core the remote names).
export function catchAll(muxer: Protomux, protocol: string): Notify | null {
  const pairs = (muxer as unknown as { _notify?: Map<string, Notify> })._notify
  return pairs?.get(protocol + '##') ?? null
}

export function protocolMuxer(stream: unknown): Protomux {
  return Hypercore.getProtocolMuxer(stream)
}

function replicatorOf(core: Hypercore): Hypercore.Replicator | null {
  return core.core?.replicator ?? null
}

export function isAttached(core: Hypercore, muxer: Protomux): boolean {
  return replicatorOf(core)?.attached(muxer) ?? false
}

// protomux (3.12.1) ignores the remote's close of a channel whose open still waits for our pair()
// handler (`_onclosesession` skips a remote entry whose session is null). If the handler then opens our
// side (an upload that waited for its core to open), that channel pairs with an open the remote has
// forgotten: the remote id stays taken for good, the remote frees its id when our open arrives, and its next
// open that reuses the id throws 'Invalid open message', destroying the stream. Here such a close
// withdraws the pending open: the remote id frees, and the remote is sent a reject (which frees its id the
// way a reject always does). A handler that still opens a channel afterwards sends a fresh open.
const PENDING_CLOSE = Symbol('hyper-multifeed pending close')

interface MuxerInternals {
  [PENDING_CLOSE]?: true
  _remote?: Array<{ session: unknown } | null>
  _infos?: Map<string, { incoming: number[] }>
  _remoteBacklog?: number
  _onclosesession?: (state: { buffer: Buffer, start: number, end: number }) => void
  _rejectSession?: (info: unknown, remoteId: number) => void
}

export function withdrawClosedOpens(muxer: Protomux): void {
  const m = muxer as unknown as MuxerInternals
  const original = m._onclosesession
  if (m[PENDING_CLOSE] || typeof original !== 'function' || typeof m._rejectSession !== 'function' || !Array.isArray(m._remote) || !(m._infos instanceof Map)) return
  m[PENDING_CLOSE] = true
  m._onclosesession = function (this: MuxerInternals, state) {
    const remoteId = c.uint.decode({ buffer: state.buffer, start: state.start, end: state.end })
    const r = remoteId > 0 && remoteId <= this._remote!.length ? this._remote![remoteId - 1] : null
    if (r === null || r.session !== null) return original.call(this, state)
    for (const info of new Set(this._infos!.values())) { // aliases map to the same info
      const i = info.incoming.indexOf(remoteId)
      if (i === -1) continue
      info.incoming.splice(i, 1)
      this._remoteBacklog!--
      this._rejectSession!(info, remoteId)
      return
    }
  }
}

// Opens the core's Hypercore channel on this connection (once the stream is open). The muxer stays
// corked until the next turn of the event loop: channels that open in the same turn (a window of
// downloads starting, the answers to a batch of remote opens) and their first messages share one frame,
// and so do the replies to them, as when corestore attaches every core of a replicate() at once.
export function attach(core: Hypercore, muxer: Protomux): void {
  corkForTurn(muxer)
  replicatorOf(core)?.attachTo(muxer)
}

const CORKED = Symbol('hyper-multifeed corked for this turn')

export function corkForTurn(muxer: Protomux): void {
  const m = muxer as Protomux & { [CORKED]?: boolean }
  if (m[CORKED] || (muxer.stream as { destroyed?: boolean }).destroyed) return
  m[CORKED] = true
  muxer.cork()
  setImmediate(() => {
    m[CORKED] = false
    muxer.uncork()
  })
}

// Requests hypercore has sent that peer and not had answered yet.
export function inflightOn(core: Hypercore, muxer: Protomux): number {
  return (peerOn(core, muxer) as unknown as { inflight?: number } | null)?.inflight ?? 0
}

// Stops attaching the core to this connection (corestore will not open its channel there again).
export function detach(core: Hypercore, muxer: Protomux): void {
  replicatorOf(core)?.detachFrom(muxer)
}

// Detaches from this connection the core corestore holds for a discovery key, if it holds one: a core
// the multifeed has no session on (closed moments ago, or opened by corestore for a remote) stays
// attached and would reopen its channel there when it next downloads.
export function detachHeld(store: Corestore, discoveryKey: Buffer, muxer: Protomux): void {
  heldCore(store, discoveryKey)?.replicator?.detachFrom(muxer)
}

// The core object corestore holds for a discovery key (shared by every session on it), if any.
export function heldCore(store: Corestore, discoveryKey: Buffer | string): { replicator?: Hypercore.Replicator } | null {
  const tracker = (store as unknown as { cores?: { map?: Map<string, { replicator?: Hypercore.Replicator }> } }).cores
  return tracker?.map?.get(typeof discoveryKey === 'string' ? discoveryKey : b4a.toString(discoveryKey, 'hex')) ?? null
}

// Detaches the core and closes its open channel on this connection (protomux keeps one channel per
// protocol and id: the feed's discovery key): hypercore drops the requests it had sent that peer and asks
// other peers for those blocks.
export function closeChannel(core: Hypercore, muxer: Protomux): void {
  detach(core, muxer)
  if (!core.discoveryKey) return
  const channel = muxer.getLastChannel({ protocol: HYPERCORE_PROTOCOL, id: core.discoveryKey })
  if (channel !== null && !channel.closed) channel.close()
}

// hypercore upgrades a core as soon as a peer's sync shows it longer (`eagerUpgrade`), before the peer's
// range message that follows tells which blocks it has; a block past our length then waits for that
// upgrade to land: two round trips. With the eager upgrade off while the first peer's sync is read, the
// request for the block carries the upgrade: one round trip. Only for a core at length 0 (a new feed). The
// eager upgrade is back the turn after the first peer came (its sync read by then), or after a second at
// most; if no peer is as long as the block asked (the remote's core is shorter than it advertised), the
// upgrade hypercore skipped is made then, so what the remote holds still comes.
// The block is asked of the replicator directly, not through get(): get() first reads storage for a block
// the bitfield says we lack, and a peer whose sync came with its open (syncEarly) would be read before
// the request exists; nor does the app's onwait hear of it (the download's own fetch opens no channel
// elsewhere, lib/transfers.ts fetchBlock). The request is the session's: it ends when the session closes.
interface UpgradingReplicator {
  eagerUpgrade?: boolean
  peers: Array<{ remoteLength: number }>
  _addUpgradeMaybe?: () => unknown
  updateAll?: () => void
  addBlock?: (requests: unknown[], index: number, force: boolean) => { promise: Promise<unknown> }
}

interface RequestingSession {
  activeRequests?: unknown[]
  core: { bitfield?: { get(index: number): boolean } } | null
}

export function fetchWithProof(core: Hypercore, index: number): Promise<void> {
  if (!core.opened) return core.ready().then(() => fetchWithProof(core, index), noop)
  const replicator = replicatorOf(core) as unknown as UpgradingReplicator | null
  const session = core as unknown as RequestingSession
  if (replicator === null || core.closing || typeof replicator.addBlock !== 'function' || !Array.isArray(session.activeRequests) || session.core?.bitfield?.get(index) !== false) return Promise.resolve()
  const fetched = replicator.addBlock(session.activeRequests, index, false).promise.then(noop, noop)
  if (replicator.eagerUpgrade !== true || core.length > 0 || replicator.peers.length > 0) return fetched
  replicator.eagerUpgrade = false
  const restore = (): void => {
    clearTimeout(timer)
    core.off('peer-add', onpeer)
    replicator.eagerUpgrade = true
    if (replicator.peers.length > 0 && !replicator.peers.some((peer) => peer.remoteLength > index)) {
      replicator._addUpgradeMaybe?.()
      replicator.updateAll?.()
    }
  }
  const onpeer = (): void => { setImmediate(restore) }
  const timer = setTimeout(restore, 1000)
  timer.unref?.()
  core.on('peer-add', onpeer)
  return fetched
}

function noop(): void {}

// Is `core` (a session that is active) the only active session of its core: no app handle, no other
// multifeed of the store keeps the core downloading?
export function soleActiveSession(core: Hypercore): boolean {
  const replicator = replicatorOf(core)
  return replicator !== null && replicator.activeSessions === 1
}

// Has the remote, on this connection, every block of the core we hold, in our fork, and nothing more?
export function settledWith(core: Hypercore, muxer: Protomux): boolean {
  const peer = syncedPeer(core, muxer, core.fork)
  return peer !== null && peer.remoteLength <= core.length && peer.remoteContiguousLength >= core.length
}

// Does the core have a channel on this connection that is not closed (open, or opening)?
export function hasChannel(core: Hypercore, muxer: Protomux): boolean {
  if (!core.discoveryKey) return false
  const channel = muxer.getLastChannel({ protocol: HYPERCORE_PROTOCOL, id: core.discoveryKey })
  return channel !== null && !channel.closed
}

// The core object whose channel for this discovery key is open (or opening) on the connection, if any:
// another Corestore's copy of the feed when that one opened it first.
export function channelOwner(muxer: Protomux, discoveryKey: Buffer): unknown {
  const channel = muxer.getLastChannel({ protocol: HYPERCORE_PROTOCOL, id: discoveryKey })
  return channel !== null && !channel.closed ? channel.userData?.core ?? null : null
}

// Our channel of the core on this connection is open on our side and the remote has not answered yet:
// tell it now what we hold (hypercore does so only once the remote's open arrives). protomux keeps these
// messages until the remote's channel pairs with ours, so its hypercore knows our length and blocks at
// once and asks for a block in its answer: one round trip less. hypercore says it again on the answer.
interface EarlyPeer {
  remoteOpened: boolean
  sendSync(): void
  broadcastRange(start: number, length: number, drop: boolean): void
}

export function syncEarly(core: Hypercore, muxer: Protomux): void {
  const channel = muxer.getLastChannel({ protocol: HYPERCORE_PROTOCOL, id: core.discoveryKey })
  if (channel === null || channel.closed || channel.userData?.core !== core.core) return
  const peer = channel.userData as EarlyPeer
  if (peer.remoteOpened || typeof peer.sendSync !== 'function' || typeof peer.broadcastRange !== 'function') return
  peer.sendSync()
  if (core.contiguousLength > 0) peer.broadcastRange(0, core.contiguousLength, false)
}

// hypercore works out whether it can prove an upgrade to a peer's length (from the tree nodes it stores)
// when that peer syncs, and after data only for the peer the data came from. Blocks that arrive out of
// order (a download fetches the newest block first, lib/transfers.ts) can bring the nodes that proof
// needs after another peer synced: hypercore then never tells that peer it may upgrade from us (nor
// acknowledges its length), and the peer waits until the core grows again, which on a quiet feed is never.
// Called on each downloaded block: every other peer that is behind and not yet upgradeable is asked again
// (a read of a few tree nodes, only while a peer is in that state).
interface UpgradeCheckingPeer {
  _shouldUpdateCanUpgrade?: () => boolean
  _updateCanUpgradeAndSync?: () => Promise<void>
}

export function recheckUpgrades(core: Hypercore, from: unknown): void {
  for (const peer of core.peers as unknown as UpgradeCheckingPeer[]) {
    if (peer === from || typeof peer._shouldUpdateCanUpgrade !== 'function' || typeof peer._updateCanUpgradeAndSync !== 'function') continue
    if (peer._shouldUpdateCanUpgrade()) recheckUpgrade(peer)
  }
}

// One check per peer at a time: blocks that land meanwhile ask for one more once it is done (the nodes
// they bring may be those the running check read too early).
const rechecking = new WeakMap<UpgradeCheckingPeer, boolean>() // peer -> asked again while its check runs

function recheckUpgrade(peer: UpgradeCheckingPeer): void {
  if (rechecking.has(peer)) {
    rechecking.set(peer, true)
    return
  }
  rechecking.set(peer, false)
  peer._updateCanUpgradeAndSync!().catch(noop).finally(() => {
    const again = rechecking.get(peer) === true
    rechecking.delete(peer)
    if (again && peer._shouldUpdateCanUpgrade!()) recheckUpgrade(peer)
  })
}

// The remote's side of this core on one connection, or null when it has no channel for it there.
export function peerOn(core: Hypercore, muxer: Protomux): Hypercore.Peer | null {
  for (const peer of core.peers) if (peer.protomux === muxer) return peer
  return null
}

// Does the remote's copy of the core, as its Hypercore channel on this connection reports it, hold every
// block up to `length` in `fork`?
export function remoteHolds(core: Hypercore, muxer: Protomux, length: number, fork: number): boolean {
  const peer = syncedPeer(core, muxer, fork)
  return peer !== null && peer.remoteContiguousLength >= length
}

// The core's peer on this connection if the remote is downloading the core there, in our fork. That only
// says a session of its own is active: it fetches new blocks by itself only if that session has a live
// download range, which the remote does not tell.
export function downloadingPeer(core: Hypercore, muxer: Protomux, fork: number): Hypercore.Peer | null {
  const peer = syncedPeer(core, muxer, fork)
  return peer !== null && peer.remoteDownloading === true ? peer : null
}

// The core's peer on this connection, once its sync told us the remote's state, if it is on `fork`.
function syncedPeer(core: Hypercore, muxer: Protomux, fork: number): Hypercore.Peer | null {
  const peer = peerOn(core, muxer)
  return peer !== null && peer.remoteSynced && peer.remoteFork === fork ? peer : null
}

// corestore.replicate(stream) adds a stream record and a 'close' listener, replaces the catch-all
// pairing and walks every core it holds, each time it is called: do it once per store and connection,
// however many multifeeds of that store share the connection or how often one is replicated again.
const REPLICATED = Symbol('hyper-multifeed replicated stores')

export function replicateStore(store: Corestore, isInitiator: boolean | unknown, opts: Record<string, unknown>): unknown {
  const root = store.root ?? store
  const given = isInitiator as { noiseStream?: unknown, userData?: unknown } | null
  const noise = (given?.noiseStream ?? given) as { userData?: Protomux & { [REPLICATED]?: WeakSet<Corestore> } } | null
  const existing = typeof isInitiator === 'boolean' ? null : noise?.userData
  if (existing?.[REPLICATED]?.has(root)) return isInitiator
  const stream = store.replicate(isInitiator, opts)
  const muxer = protocolMuxer(stream) as Protomux & { [REPLICATED]?: WeakSet<Corestore> }
  if (!muxer[REPLICATED]) muxer[REPLICATED] = new WeakSet()
  muxer[REPLICATED].add(root)
  return stream
}

// Channels of the Hypercore protocol on a connection, with the core object each serves and its key.
export function* coreChannels(muxer: Protomux): Generator<{ channel: Protomux.Channel, key: Buffer | null, core: unknown }> {
  for (const channel of [...(muxer as unknown as Iterable<Protomux.Channel>)]) {
    if (channel.protocol !== HYPERCORE_PROTOCOL) continue
    yield { channel, key: channel.userData?.core?.key ?? null, core: channel.userData?.core ?? null }
  }
}

// Ends a replication stream the way a finished peer should: the Noise stream's end reaches the remote,
// which ends too, and both close without an error. Destroyed after `ms` if the remote never ends.
// Messages a corked muxer still holds go out first: ending under a cork would drop them.
export function endGracefully(stream: any, ms: number): Promise<void> {
  return new Promise((resolve) => {
    if (stream.destroyed) return resolve()
    const timer = setTimeout(() => stream.destroy(), ms)
    stream.once('close', () => {
      clearTimeout(timer)
      resolve()
    })
    const noise = stream.noiseStream ?? stream
    const muxer = noise.userData as { corked?: number } | null
    const end = (): void => {
      if (muxer && (muxer.corked ?? 0) > 0 && !stream.destroyed) setImmediate(end)
      else noise.end()
    }
    end()
  })
}

export function hasCoreChannels(muxer: Protomux): boolean {
  for (const { channel } of coreChannels(muxer)) if (!channel.closed) return true
  return false
}

// Hypercore#setUserData (lib/session-state.js) with several puts in one atomic write batch.
interface SessionState {
  mutex: { lock(): Promise<void> }
  createWriteBatch(): { putUserData(key: string, value: Buffer | null): void }
  flush(): Promise<boolean>
  _unlock(): void
}

// A null value deletes the entry.
export async function writeUserData(core: Hypercore, entries: Array<[string, Buffer | null]>): Promise<void> {
  const state = core.state as unknown as SessionState
  await state.mutex.lock()
  try {
    const tx = state.createWriteBatch()
    for (const [key, value] of entries) tx.putUserData(key, value)
    await state.flush()
  } finally {
    state._unlock()
  }
}

// Resolves once the writes queued on the core's state before this call are done (it takes and releases
// the same lock they take).
export async function settleWrites(core: Hypercore): Promise<void> {
  await writeUserData(core, [])
}

// User data entries with keys in [gte, lt), in key order.
export function userDataRange(core: Hypercore, gte: string, lt: string): AsyncIterable<{ key: string, value: Buffer }> {
  return core.state.storage.createUserDataStream({ gte, lt })
}

// What hypercore-storage holds for each core (null: not stored), without opening any: its head and
// hints (contiguous length).
export function storedInfos(store: Corestore, discoveryKeys: Buffer[]): Promise<Array<Hypercore.StorageInfo | null>> {
  return store.storage.getInfos(discoveryKeys, { auth: false, head: true, hints: true })
}

// corestore keeps an idle core (no session, no channel) for four rounds of its 2 s collector before it
// closes it: a cache for quick reopens. Past `keep` such cores the oldest close now, so a fast sync of
// many feeds holds about a window of closed cores in memory, not thousands.
interface IdleCore { close(): Promise<void> }
export function trimIdleCores(store: Corestore, keep: number): number {
  const tracker = (store as unknown as { cores?: { _gcing?: Set<IdleCore>, _gc?(core: IdleCore): void } }).cores
  const idle = tracker?._gcing
  if (!tracker || !idle || typeof tracker._gc !== 'function' || idle.size <= keep) return 0
  let closed = 0
  for (const core of idle) {
    if (idle.size <= keep) break
    idle.delete(core)
    const forget = (): void => tracker._gc!(core)
    core.close().then(forget, forget)
    closed++
  }
  return closed
}

// Writes the memtable of the store's RocksDB column family to disk. Until then recent writes live in the
// memtable and its write-ahead log, which the next open replays (about 0.5 s after a session that made
// 10,000 writers).
export async function flushStorage(store: Corestore): Promise<void> {
  const db = (store.storage as unknown as { db?: { flush?(): Promise<void> } }).db
  if (typeof db?.flush === 'function') await db.flush()
}
