// Transfer scheduling: which feeds each connection downloads and uploads, and every limit on that work.
// The multifeed keeps the records and the app's API, the exchange keeps the wire; this module decides
// when a core opens for a connection, waits for a window slot, has stalled, or may close again.
//
// Limits, each in one place here:
// - the download window: at most `maxDownloads` feeds download on one connection at once, and at most
//   `maxTotalDownloads` distinct feeds on all connections together (so many connections cannot open many
//   windows of cores); the rest queue, and a slot freed anywhere lets every connection's queue move;
// - the stall watchdog: a feed that brings no block from a connection for `stallTimeout` ms is given up
//   on that connection (its slot frees, its channel there closes so hypercore asks other peers, and
//   synced() stops waiting for it there); a later, greater advertisement tries it again;
// - no core joins a connection by itself (the multifeed's Corestore is passive): a feed gets a channel
//   on a connection for a download, an upload, or a block the app waits for that the remote has;
// - uploads: a core opens for an upload only when the remote opens its channel, at most `maxUploads` at
//   once per connection (further opens wait for a place; a core open already is kept open for a remote
//   it is offered to only while places remain), and closes once the remote has what it lacked
//   (judged by the remote's state, not only by our own upload count) or fetched nothing for
//   `stallTimeout` ms (a peer that opens channels and never asks cannot hold cores).
import type Hypercore from 'hypercore'
import safetyCatch from 'safety-catch'
import type { FeedExchange } from './exchange'
import { FeedRecord, downloadLive } from './feed-record'
import { attach, detach, closeChannel, corkForTurn, isAttached, hasChannel, channelOwner, heldCore, peerOn, inflightOn, settledWith, soleActiveSession, fetchWithProof, syncEarly, HYPERCORE_PROTOCOL } from './internals'
import { ChannelRouter } from './router'
import { Position, covers } from './position'
import { CoreBridges } from './core-bridges'
import type { StoreWatch } from './store-watch'
import type Corestore from 'corestore'
import { Link, DownloadWindows } from './link'

export interface TransferHost {
  readonly closing: Promise<void> | null
  recordOf(hex: string): FeedRecord | undefined
  openCore(record: FeedRecord): Hypercore // the record's session, opened if needed
  closeCore(record: FeedRecord): void // no connection needs it: close it unless the app holds it
  onstalled(record: FeedRecord, exchange: FeedExchange): void
}

export interface TransferLimits {
  maxDownloads: number
  maxUploads: number
  maxTotalDownloads: number
  stallTimeout: number
}

// A download of live growth keeps its core open this long after it settled, and again after each block
// that lands meanwhile: the feed is growing, so the next block comes over the open channel (the writer
// sees us downloading and needs no announcement) instead of a channel opened and closed per block. At
// most a window of such cores per connection.
export const GROWTH_LINGER = 2000

export class TransferScheduler {
  private readonly host: TransferHost
  private readonly limits: TransferLimits
  private readonly links = new Map<FeedExchange, Link>()
  private readonly lastSource = new Map<string, FeedExchange>() // feed -> connection its last block came from
  private readonly windows: DownloadWindows
  private timer: ReturnType<typeof setInterval> | null = null
  // our copies bridged to another Corestore's on a shared connection (lib/core-bridges.ts)
  readonly bridges: CoreBridges<FeedExchange>
  private readonly storeWatch: StoreWatch

  constructor(host: TransferHost, limits: TransferLimits, store: Corestore, storeWatch: StoreWatch) {
    // a bridge carries a transfer of its connection while the feed downloads, lingers or uploads there
    this.bridges = new CoreBridges(store, limits.maxDownloads + limits.maxUploads, (hex, exchange) => this.links.get(exchange)?.transfers(hex) ?? false)
    this.windows = new DownloadWindows(limits.maxDownloads, limits.maxTotalDownloads)
    this.storeWatch = storeWatch
    this.host = host
    this.limits = limits
  }

  connect(exchange: FeedExchange): Link {
    const link = new Link()
    this.links.set(exchange, link)
    exchange.transfers = link
    return link
  }

  // The connection closed: forget its uploads and queue, and let go of the cores it kept open.
  disconnect(exchange: FeedExchange): void {
    const link = this.links.get(exchange)
    if (!link) return
    this.links.delete(exchange)
    for (const hex of [...link.uploads.keys()]) {
      const record = this.host.recordOf(hex)
      if (record) this.unserve(record, exchange, link)
    }
    link.clear()
    let freed = false
    for (const hex of [...link.downloads.keys()]) freed = this.windows.drop(hex, link) || freed
    for (const hex of link.feeds) {
      const record = this.host.recordOf(hex)
      if (record) this.closeIfUnused(record)
    }
    link.feeds.clear()
    this.bridges.closeAll(exchange)
    for (const [hex, ex] of this.lastSource) if (ex === exchange) this.lastSource.delete(hex)
    if (this.links.size === 0) this.stopTimer()
    else if (freed) this.advanceAll()
  }

  close(): void {
    this.stopTimer()
    this.bridges.closeAll()
  }

  // Does any connection keep this feed's core open?
  inUse(record: FeedRecord): boolean {
    for (const link of this.links.values()) if (link.feeds.has(record.hex)) return true
    return false
  }

  // The remote advertised more of a feed than we have: download it (or queue it behind the window).
  want(exchange: FeedExchange, record: FeedRecord, target: Position): Hypercore | null {
    const link = this.links.get(exchange)
    if (!link) return null
    // another multifeed on this connection writes this feed: one Hypercore channel per feed and connection,
    // and it is that writer's (a member of our group advertising another group's key cannot take it)
    if (ChannelRouter.sharedWithOthers(exchange.muxer, record, exchange, true)) return null
    // one fork at a time: an earlier fork is superseded by a later one another connection offers (hypercore
    // takes the later fork wherever it meets it, and fetching two forks at once can make it trade want
    // and bitfield messages between the two peers without end)
    if (this.laterForkElsewhere(record.hex, target.fork, exchange)) return null
    this.supersede(record, target.fork, exchange)
    exchange.pending.set(record.hex, target)
    link.stalled.delete(record.hex) // a new advertisement earns a new try
    return this.startDownload(record, exchange, link)
  }

  private laterForkElsewhere(hex: string, fork: number, except: FeedExchange): boolean {
    for (const ex of this.links.keys()) {
      if (ex !== except && (ex.pending.get(hex)?.fork ?? -1) > fork) return true
    }
    return false
  }

  // Downloads of an earlier fork of this feed stop on every other connection: their channel closes there
  // and synced() no longer waits for them (the remote there meets the later fork in turn).
  private supersede(record: FeedRecord, fork: number, except: FeedExchange): void {
    let freed = false
    for (const [ex, link] of this.links) {
      const pending = ex.pending.get(record.hex)
      if (ex === except || pending === undefined || pending.fork >= fork) continue
      link.queued.delete(record.hex)
      freed = this.windows.drop(record.hex, link) || freed
      if (record.core !== null) this.closeChannel(record, record.core, ex)
      ex.giveUp(record.hex)
      this.settle(record, ex)
    }
    if (freed) queueMicrotask(() => this.advanceAll())
  }

  // The remote is behind on this feed: keep the core open until it has been sent what it lacks. A core
  // not open yet opens when the remote opens its channel for it (protomux prefers a pairing by id over
  // corestore's catch-all), so an uploader holds only what the remote is fetching.
  // `announced`: we just announced the position to the remote (live), not answered its list.
  serve(exchange: FeedExchange, record: FeedRecord, announced = false): void {
    const link = this.links.get(exchange)
    if (!link) return
    const theirs = exchange.remotePosition(record.hex)
    if (theirs !== undefined && covers(theirs, record)) return
    if (record.length === 0 && record.fork === 0) return // nothing to send yet (a new writer): its first block is announced again
    // already owed: the count is going down as blocks go out (growth adds to it in grown())
    if (link.uploads.has(record.hex)) return
    link.uploads.set(record.hex, owed(record, theirs))
    if (link.feeds.has(record.hex)) return
    // The feed's channel is open here already (ours, or another copy's: the remote's open went to it), or
    // another Corestore's copy is attached to get it (its app replicates that store on this connection, and
    // corestore attached the copy the app holds): no open of the remote's will come for ours, so ours
    // attaches now, to its channel or bridged to the copy that holds it (attach).
    if (channelOwner(exchange.muxer, record.discoveryKey) !== null || ChannelRouter.otherCopy(exchange.muxer, record.discoveryKeyHex, this.storeWatch) !== null) {
      link.offered.set(record.hex, Date.now())
      this.use(record, exchange, link)
      return
    }
    if (record.core !== null) {
      // already open: given up like any upload the remote fetches nothing from (it may have declined the
      // feed). Toward a 3.2 peer, growth we announce opens its channel with the announcement: the remote
      // answers that open once it processed the announcement and downloads the feed (one round trip less
      // than waiting for its open), and rejects it otherwise. Toward an older peer, and for the lists of
      // an exchange, the remote opens the channel of a feed it downloads (within its own window) and our
      // router answers it (remoteOpened): an open of ours would only be rejected (it has not recorded the
      // feed yet).
      if (announced && exchange.answersEarlyOpens && record.length > 0 && link.uploadPlaces(this.limits.maxUploads) > 0) {
        link.offered.set(record.hex, Date.now())
        const core = this.use(record, exchange, link)
        link.attaching.get(record.hex)?.then(() => syncEarly(core, exchange.muxer))
      } else if (link.uploadPlaces(this.limits.maxUploads) > 0) {
        link.offered.set(record.hex, Date.now())
        link.feeds.add(record.hex) // kept open for the remote's open while offered
        this.armTimer()
      }
      // else past the upload window: not kept open; the remote's open opens it again (remoteOpened), in turn
      return
    }
    const id = record.discoveryKey
    // protomux rejects the remote's open unless our channel exists when this resolves
    exchange.muxer.pair({ protocol: HYPERCORE_PROTOCOL, id }, async () => {
      exchange.muxer.unpair({ protocol: HYPERCORE_PROTOCOL, id })
      await this.openForRemote(record, exchange, link)
    })
  }

  // The remote opened the feed's Hypercore channel unasked (it reads a block it lacks, or it is a plain
  // Hypercore peer that knows the key): served like an upload, in the same window, and given up when
  // the remote fetches nothing for stallTimeout.
  async remoteOpened(exchange: FeedExchange, record: FeedRecord): Promise<void> {
    const link = this.links.get(exchange)
    if (!link || exchange.closed || this.host.closing) return
    // we download the feed here: the channel our download is opening answers the remote's (an uploader
    // opens its channel with its announcement, 3.2); one queued for a window place is rejected for now
    // (ours opens when its turn comes, and the remote's core answers it)
    const attaching = link.attaching.get(record.hex)
    if (attaching !== undefined) return attaching
    if (link.queued.has(record.hex)) return
    if (!link.uploads.has(record.hex)) link.uploads.set(record.hex, Math.max(1, owed(record, exchange.remotePosition(record.hex))))
    if (record.core !== null) link.offered.set(record.hex, Date.now()) // open already: outside the window
    await this.openForRemote(record, exchange, link)
  }

  // The remote's open waits (protomux holds it) until a place in the upload window frees; protomux
  // rejects it unless our channel exists when this resolves.
  private async openForRemote(record: FeedRecord, exchange: FeedExchange, link: Link): Promise<void> {
    const wanted = (): boolean => !exchange.closed && !this.host.closing && link.uploads.has(record.hex) && this.host.recordOf(record.hex) === record
    if (!wanted()) return
    while (link.uploading.size >= this.limits.maxUploads && record.core === null) {
      await link.waitForUploadPlace()
      if (!wanted()) return
    }
    if (record.core === null) link.uploading.set(record.hex, Date.now())
    await this.attach(record, this.use(record, exchange, link), exchange, true).catch(safetyCatch)
  }

  // The app waits for a block we lack (a cleared or sparse block, or one not downloaded yet): open the
  // feed's channel on the connections whose remote may have it: it advertised more than `index`, or it
  // advertised nothing different from ours (in sync) and the block is below our length. A live read
  // waiting at our length asks for nothing, so in-sync peers open no channel for it.
  // Only on connections past the capability check, and without keeping the core for the connection: the
  // app holds it (it is waiting on it), and its channel goes when the app closes it.
  fetchBlock(record: FeedRecord, index: number): void {
    const core = record.core
    if (core === null) return
    for (const [exchange, link] of this.links) {
      if (exchange.phase === 'opening' || exchange.phase === 'closed') continue
      const theirs = exchange.remotePosition(record.hex) ?? record
      // a remote on an earlier fork cannot supply our fork's blocks (it follows ours once it meets it)
      if (theirs.fork < record.fork || theirs.length <= index || link.feeds.has(record.hex)) continue
      if (ChannelRouter.sharedWithOthers(exchange.muxer, record, exchange, true)) continue
      this.attach(record, core, exchange).catch(safetyCatch)
    }
  }

  // The remote says it has at least our length now (it caught up elsewhere).
  caughtUp(exchange: FeedExchange, record: FeedRecord): void {
    const link = this.links.get(exchange)
    if (link && link.uploads.has(record.hex)) this.finishUpload(record, exchange, link)
  }

  // The feed left the multifeed: no connection moves it any more.
  removed(record: FeedRecord): void {
    for (const [ex, link] of this.links) {
      link.forget(record.hex)
      this.windows.drop(record.hex, link)
      this.unserve(record, ex, link)
      ex.onremoved(record.hex)
      ex.emitRemoteFeeds(this.advance(ex, link))
    }
    this.lastSource.delete(record.hex)
    this.bridges.close(record)
    this.advanceAll()
  }

  // Closes the feed's channel on every connection (hypercore then asks other peers for what it had asked).
  closeChannels(record: FeedRecord, core: Hypercore): void {
    for (const ex of this.links.keys()) this.closeChannel(record, core, ex)
  }

  // Our session of the core is about to close (no connection needs it). A remote whose app holds an active
  // session of the feed (its writer) keeps the feed's channel open, and the channel keeps our core in the
  // Corestore until the connection ends: after syncing 10,000 feeds from a writer, every one of them. So
  // channels to remotes that hold all we hold and have nothing more close first, while our session still
  // shows us downloading (hypercore there reopens a closed channel only for a remote that said it stopped
  // downloading). Later growth is announced over the exchange, which opens the channel again.
  closeSettledChannels(record: FeedRecord, core: Hypercore): void {
    if (!core.opened || core.closing || core.contiguousLength < core.length || !soleActiveSession(core)) return
    for (const ex of this.links.keys()) {
      // only toward a multifeed that has the feed (it advertised it): growth is announced to it. A plain
      // Hypercore peer, or a multifeed that declined the feed, would hear of no growth on a closed channel
      if (ex.phase !== 'live' || ex.finite || ex.remotePosition(record.hex) === undefined) continue
      if (settledWith(core, ex.muxer)) this.closeChannel(record, core, ex)
    }
  }

  // One Hypercore channel per feed and connection serves every multifeed there that has the feed: it is
  // not ours alone to close while another multifeed on the connection has the feed too.
  private closeChannel(record: FeedRecord, core: Hypercore, exchange: FeedExchange): void {
    if (!ChannelRouter.sharedWithOthers(exchange.muxer, record, exchange)) closeChannel(core, exchange.muxer)
  }

  // --- events of an open core (the multifeed forwards them) ---

  // Our contiguous copy grew by `blocks` (or moved to another fork) and is now at the record's position.
  grown(record: FeedRecord, blocks: number): void {
    if (!record.writable) this.countDownloaded(record, blocks)
    for (const [ex, link] of this.links) {
      if (link.lingering.has(record.hex)) this.linger(record, ex, link) // still growing: longer
      const left = link.uploads.get(record.hex)
      if (left !== undefined) link.uploads.set(record.hex, left + blocks) // the remote will want these too
      ex.onposition(record.hex, record)
      // the remote fetches the growth over the feed's channel there: if another Corestore's copy holds it,
      // only a bridge to that copy carries the growth (a held writer opens no channel for an upload)
      this.bridgeIfForeign(record, ex)
      // done on this connection; after the tick, so the other blocks of the batch that completed the feed
      // still report their download
      if (link.downloads.has(record.hex) && !ex.pending.has(record.hex)) setImmediate(() => this.settle(record, ex, true))
    }
  }

  downloaded(record: FeedRecord, exchange: FeedExchange, bytes: number): void {
    exchange.stats.bytesDownloaded += bytes
    this.lastSource.set(record.hex, exchange)
    this.links.get(exchange)?.touchDownload(record.hex)
  }

  uploaded(record: FeedRecord, exchange: FeedExchange, bytes: number): void {
    exchange.stats.blocksUploaded++
    exchange.stats.bytesUploaded += bytes
    const link = this.links.get(exchange)
    link?.touchUpload(record.hex)
    const left = link?.uploads.get(record.hex)
    if (link === undefined || left === undefined) return
    if (left > 1 && !this.remoteHas(record, exchange)) link.uploads.set(record.hex, left - 1)
    else this.finishUpload(record, exchange, link)
  }

  // A block went over a bridge to the copy that holds the feed's channel (lib/core-bridges.ts): not to the
  // remote yet, so nothing is counted; the upload there is alive, so its clock restarts.
  bridgeUploaded(record: FeedRecord, muxer: unknown): void {
    const exchange = this.bridges.exchangeOf(muxer, record.hex)
    if (exchange !== null) this.links.get(exchange)?.touchUpload(record.hex)
  }

  // The remote closed its channel for this feed: it fetches nothing more from us.
  channelClosed(record: FeedRecord, exchange: FeedExchange): void {
    const link = this.links.get(exchange)
    if (link && link.uploads.has(record.hex)) this.finishUpload(record, exchange, link)
  }

  // --- downloads ---

  private startDownload(record: FeedRecord, exchange: FeedExchange, link: Link): Hypercore | null {
    if (link.downloads.has(record.hex) || link.queued.has(record.hex)) return null
    if (!this.windows.hasSlot(record.hex, link)) {
      link.queued.add(record.hex)
      return null
    }
    this.windows.add(record.hex, link)
    this.armTimer()
    if (record.length > 0 && exchange.phase === 'live') link.growing.add(record.hex)
    const core = this.use(record, exchange, link)
    downloadLive(record)
    this.fetchNext(record, exchange.pending.get(record.hex))
    return core
  }

  // Asks for the first block we lack of what the remote advertised: hypercore requests a block past our
  // length together with the proof of the remote's length (one round trip), where the live range alone
  // first fetches the proof and then the blocks (two). A new feed of one block then arrives in one round
  // trip after its channel opens, and the rest of a longer one follows in order (no gap before it).
  // That request is the download's own: it opens no channel elsewhere (fetchBlock), as an app's wait would.
  private fetchNext(record: FeedRecord, target: Position | undefined): void {
    const core = record.core
    if (core === null || target === undefined || target.fork !== record.fork || target.length <= record.length) return
    fetchWithProof(core, record.length).catch(safetyCatch)
  }

  // Queued downloads that fit in the windows now; returns the cores that began.
  private advance(exchange: FeedExchange, link: Link): Hypercore[] {
    const began: Hypercore[] = []
    for (const hex of link.queued) {
      if (this.windows.linkFull(link) || exchange.closed) break
      const next = this.host.recordOf(hex)
      if (!next || !exchange.pending.has(hex)) {
        link.queued.delete(hex)
        continue
      }
      if (!this.windows.hasSlot(hex, link)) break // the window of all connections is full
      link.queued.delete(hex)
      const core = this.startDownload(next, exchange, link)
      if (core) began.push(core)
    }
    return began
  }

  // A place in the window of all connections freed up: every connection's queue may move, in turn.
  private advanceAll(): void {
    for (const [ex, link] of this.links) {
      if (link.queued.size > 0) ex.emitRemoteFeeds(this.advance(ex, link))
    }
  }

  // Nothing left to download from or upload to this connection: the core closes when idle, and the
  // next queued download takes its place.
  // `downloaded`: its download here just completed (what we now hold, another peer may lack)
  private settle(record: FeedRecord, exchange: FeedExchange, downloaded = false): void {
    const link = this.links.get(exchange)
    if (!link || exchange.pending.has(record.hex) || link.uploads.has(record.hex)) return
    const freed = this.windows.drop(record.hex, link)
    if (link.feeds.has(record.hex) && link.growing.has(record.hex)) this.linger(record, exchange, link)
    else if (link.feeds.delete(record.hex)) {
      // closing the session tells the remote we stopped downloading (a sync): one frame for all the
      // feeds that finish in this turn, not one each
      corkForTurn(exchange.muxer)
      // another peer lacks what we just downloaded: close after this turn's announcements went out (they
      // offer it, which keeps it open), so it is served from this core rather than one opened again
      if (downloaded && this.lackedElsewhere(record, exchange)) setImmediate(() => this.closeIfUnused(record))
      else this.closeIfUnused(record)
    }
    exchange.emitRemoteFeeds(this.advance(exchange, link))
    if (freed) this.advanceAll()
  }

  private lackedElsewhere(record: FeedRecord, except: FeedExchange): boolean {
    for (const ex of this.links.keys()) {
      if (ex !== except && ex.phase === 'live' && !ex.finite && !ex.remoteCovers(record.hex, record)) return true
    }
    return false
  }

  private linger(record: FeedRecord, exchange: FeedExchange, link: Link): void {
    if (!link.lingering.has(record.hex) && link.lingering.size >= this.limits.maxDownloads) {
      const [oldest] = link.lingering.keys()
      const r = this.host.recordOf(oldest)
      if (r) this.unlinger(r, exchange, link)
      else link.unlinger(oldest)
    }
    const timer = setTimeout(() => this.unlinger(record, exchange, link), GROWTH_LINGER)
    timer.unref?.()
    link.linger(record.hex, timer)
  }

  private unlinger(record: FeedRecord, exchange: FeedExchange, link: Link): void {
    const hex = record.hex
    link.unlinger(hex)
    if (this.links.get(exchange) !== link || link.downloads.has(hex) || link.uploads.has(hex)) return
    if (link.feeds.delete(hex)) this.closeIfUnused(record)
  }

  // No block of this feed came from this connection for stallTimeout: give it up here.
  private stall(record: FeedRecord, exchange: FeedExchange, link: Link): void {
    link.stalled.add(record.hex)
    if (this.windows.drop(record.hex, link)) queueMicrotask(() => this.advanceAll())
    // its channel there closes, so hypercore asks the other peers for the blocks it had asked this one
    if (record.core !== null) this.closeChannel(record, record.core, exchange)
    exchange.giveUp(record.hex)
    this.host.onstalled(record, exchange)
    this.settle(record, exchange)
  }

  // Blocks downloaded are the growth of our contiguous copy: hypercore's download events miss blocks
  // that land while a session of ours is being replaced. The growth goes to the connection the last
  // block came from, or else to one that is downloading the feed.
  private countDownloaded(record: FeedRecord, blocks: number): void {
    let source = this.lastSource.get(record.hex) ?? null
    if (source !== null && !this.isDownloading(source, record)) source = null
    if (source === null) {
      for (const ex of this.links.keys()) {
        if (this.isDownloading(ex, record)) {
          source = ex
          break
        }
      }
    }
    if (source === null) return
    source.stats.blocksDownloaded += blocks
    source.countFeedDownloaded(record.hex)
    this.links.get(source)?.touchDownload(record.hex)
  }

  private isDownloading(exchange: FeedExchange, record: FeedRecord): boolean {
    const link = this.links.get(exchange)
    return !!link && (link.downloads.has(record.hex) || exchange.pending.has(record.hex))
  }

  // --- uploads ---

  // Forget the upload, and our pairing that would open the core for it. Once the core is open, the
  // pairing for its id is the core's own (or ours was consumed): leave it.
  private unserve(record: FeedRecord, exchange: FeedExchange, link: Link): void {
    if (link.endUpload(record.hex) && record.core === null) exchange.muxer.unpair({ protocol: HYPERCORE_PROTOCOL, id: record.discoveryKey })
  }

  // Does the remote have all we have? Its announced length, or its contiguous length as hypercore
  // reports it: in a mesh it also gets blocks from other peers, so counting our own uploads is not enough.
  private remoteHas(record: FeedRecord, exchange: FeedExchange): boolean {
    if (exchange.remoteCovers(record.hex, record)) return true
    const peer = record.core === null ? null : peerOn(record.core, exchange.muxer)
    return peer !== null && peer.remoteFork === record.fork && peer.remoteContiguousLength >= record.length
  }

  private finishUpload(record: FeedRecord, exchange: FeedExchange, link: Link): void {
    if (link.endUpload(record.hex)) this.settle(record, exchange)
  }

  // --- cores ---

  // A connection needs the core to replicate it.
  private use(record: FeedRecord, exchange: FeedExchange, link: Link): Hypercore {
    link.feeds.add(record.hex)
    if (link.uploads.has(record.hex)) this.armTimer()
    const core = this.host.openCore(record)
    const opening = !core.opened
    const hex = record.hex
    const attaching = this.attach(record, core, exchange).then(() => { if (opening) this.restartClock(hex, link) }, safetyCatch)
    link.trackAttaching(hex, attaching)
    return core
  }

  // The core just opened: only now can the remote be asked or fetch, so the stall clocks start now
  // (opening took seconds when thousands of new cores of one Corestore open together).
  private restartClock(hex: string, link: Link): void {
    const now = Date.now()
    link.touchDownload(hex, now)
    if (link.uploading.has(hex)) link.uploading.set(hex, now)
  }

  // corestore attaches a core to every stream only when it starts downloading; one reopened while
  // corestore still held it (closed moments ago, not yet collected) would never meet this connection.
  // `repair`: our pairing for its channel id replaced the core's own, so pair the core again.
  private async attach(record: FeedRecord, core: Hypercore, exchange: FeedExchange, repair = false): Promise<void> {
    await core.ready()
    if (core.closing || exchange.closed) return
    if (isAttached(core, exchange.muxer)) {
      // attached, but the remote closed the channel (a stall or a superseded fork there): hypercore only
      // answers the remote's next open then, so open a new one ourselves
      if (!repair && hasChannel(core, exchange.muxer)) return this.bridgeIfForeign(record, exchange)
      detach(core, exchange.muxer)
    }
    attach(core, exchange.muxer)
    await exchange.muxer.stream.opened // attachTo opens the channel once the stream is open
    if (core.closing || exchange.closed) return
    this.bridgeIfForeign(record, exchange)
    ChannelRouter.copyAttached(exchange.muxer, record, this.storeWatch)
  }

  // Another Corestore's copy of the feed is on this connection: ours has no channel of its own there (one
  // per feed and connection), so it reaches the remote through that copy.
  private bridgeIfForeign(record: FeedRecord, exchange: FeedExchange): void {
    if (exchange.closed || this.bridges.serves(record, exchange)) return
    // first: with one Corestore on the connection (the common case, and every block's growth asks) it ends here
    const store = ChannelRouter.otherCopy(exchange.muxer, record.discoveryKeyHex, this.storeWatch)
    if (store === null) return
    if (record.core !== null && peerOn(record.core, exchange.muxer) !== null) return // the channel is ours
    this.bridges.open(record, store, exchange)
  }

  // Another Corestore's copy of the feed came onto this connection (a multifeed of it attached it there).
  bridge(exchange: FeedExchange, record: FeedRecord, store: Corestore): void {
    if (!this.links.has(exchange) || exchange.closed || this.host.closing) return
    // our copy holds the channel here: the other copy bridges itself to ours (bridgeIfForeign)
    const owner = channelOwner(exchange.muxer, record.discoveryKey)
    if (owner !== null && owner === heldCore(this.storeWatch.corestore, record.discoveryKeyHex)) return
    this.bridges.open(record, store, exchange)
  }

  private closeIfUnused(record: FeedRecord): void {
    if (!this.inUse(record)) this.host.closeCore(record)
  }

  // --- the watchdog: stalled downloads, and uploads a remote finished with blocks from other peers ---

  private armTimer(): void {
    if (this.timer !== null || this.host.closing) return
    const every = Math.max(50, Math.min(1000, Math.floor(this.limits.stallTimeout / 3)))
    this.timer = setInterval(() => this.sweep(), every)
    this.timer.unref?.()
  }

  private stopTimer(): void {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
  }

  private sweep(): void {
    const now = Date.now()
    // downloads that brought nothing for stallTimeout, by feed: one feed on several connections is given
    // up only where hypercore's requests sit unanswered (it asks one peer at a time); the others get a
    // fresh stallTimeout once those requests move to them
    const idle = new Map<string, Array<[FeedExchange, Link]>>()
    for (const [ex, link] of this.links) {
      for (const [hex, at] of link.downloads) {
        if (now - at < this.limits.stallTimeout) continue
        // the core is still opening here (new cores of one Corestore are created one at a time: thousands
        // take seconds): nothing was asked yet, so the connection has not stalled; use() starts its clock
        // once the core is open
        if (this.opening(hex)) continue
        let list = idle.get(hex)
        if (!list) idle.set(hex, list = [])
        list.push([ex, link])
      }
    }
    for (const [hex, list] of idle) {
      const record = this.host.recordOf(hex)
      if (!record) continue
      const asked = record.core === null ? [] : list.filter(([ex]) => inflightOn(record.core!, ex.muxer) > 0)
      const give = asked.length > 0 ? asked : list
      for (const [ex, link] of give) this.stall(record, ex, link)
      for (const link of this.links.values()) link.touchDownload(hex, now)
    }
    for (const [ex, link] of [...this.links]) {
      for (const hex of [...link.uploads.keys()]) {
        const record = this.host.recordOf(hex)
        if (record && record.core !== null && this.remoteHas(record, ex)) this.finishUpload(record, ex, link)
      }
      // an upload the remote opened and fetches nothing from gives its place up
      for (const [hex, at] of [...link.uploading]) {
        const record = this.host.recordOf(hex)
        if (!record || now - at < this.limits.stallTimeout) continue
        if (this.opening(hex)) continue // the remote cannot fetch before our core is open
        if (record.core !== null) this.closeChannel(record, record.core, ex)
        this.finishUpload(record, ex, link)
      }
      // an open core offered to a remote that fetches nothing (it declined the feed) stops being kept for it
      for (const [hex, at] of [...link.offered]) {
        const record = this.host.recordOf(hex)
        if (record !== undefined && now - at < this.limits.stallTimeout) continue
        link.offered.delete(hex)
        if (record !== undefined) this.finishUpload(record, ex, link)
      }
    }
    // counted after the round: stalls free slots, and the downloads that take them need watching too
    if (!this.hasWork()) this.stopTimer()
  }

  // Is the feed's core still opening (its channel not attached yet)?
  private opening(hex: string): boolean {
    const core = this.host.recordOf(hex)?.core ?? null
    return core !== null && !core.opened && !core.closing
  }

  private hasWork(): boolean {
    for (const link of this.links.values()) {
      if (link.downloads.size > 0 || link.uploading.size > 0 || link.offered.size > 0) return true
      for (const hex of link.uploads.keys()) if (this.host.recordOf(hex)?.core) return true
    }
    return false
  }
}

// Blocks of ours the remote may still need: those past its length in our fork (a remote on another fork
// may need every one: it keeps only what the forks share).
function owed(record: FeedRecord, theirs: Position | undefined): number {
  return record.length - (theirs !== undefined && theirs.fork === record.fork ? theirs.length : 0)
}
