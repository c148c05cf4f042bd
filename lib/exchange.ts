// The feed exchange with one peer over one protomux channel: handshake, summary, then a plain list or a
// rateless IBLT reconciliation (lib/sketch.ts), then live announcements. See PROTOCOL.md.
import c from 'compact-encoding'
import b4a from 'b4a'
import safetyCatch from 'safety-catch'
import type Protomux from 'protomux'
import type Corestore from 'corestore'
import type Hypercore from 'hypercore'
import * as m from './messages'
import { capability, connectionSalt, element, helloProof, SetDigest } from './caps'
import { Sketch, SketchHost, chooseMode, ENTRY_BYTES } from './sketch'
import { ChannelRouter, Routed } from './router'
import type { StoreWatch } from './store-watch'
import type { Greeter } from './hello'
import { LiveAnnouncer } from './announcer'
import { VERSION_MISMATCH, CLIENT_MISMATCH, OWNER_MISMATCH, KEY_MISMATCH, BAD_MESSAGE, TOO_MANY_FEEDS, EXCHANGE_TIMEOUT, MultifeedError } from './errors'
import { InboundQueue } from './inbound'
import { toHex } from './keys'
import { Position, PositionMap, covers } from './position'
import { endGracefully, hasCoreChannels } from './internals'
import type { Link } from './link'
import { ExchangeStats, newStats } from './stats'

export interface LocalEntry {
  key: Buffer
  length: number
  fork?: number // absent: 0 (membership records, feeds never truncated)
}

// What an exchange needs from its multifeed (its side of the exchanges: lib/exchange-set.ts).
export interface ExchangeHost {
  readonly key: Buffer | null
  readonly discoveryKey: Buffer | null
  readonly client: string
  readonly maxFeeds: number
  readonly closing: Promise<void> | null
  readonly opening: Promise<void> | null
  readonly owner: Buffer | null // an authorized multifeed's owner; null in open mode
  sharedEntries(): Promise<LocalEntry[]>
  // membership records from the remote (authorized mode)
  receiveRecords(exchange: FeedExchange, records: m.MemberRecord[]): Promise<void>
  // the remote has these feeds at these lengths: add the accepted ones, start downloads, return what began
  receiveEntries(exchange: FeedExchange, entries: m.FeedEntry[]): Promise<Hypercore[]>
  localPosition(hex: string): Position
  // the feed's Hypercore channel on this connection shows the remote's copy holds `position`
  remoteHolds(exchange: FeedExchange, hex: string, position: Position): boolean
  // ... or shows the remote downloading the feed in that fork: its hypercore fetches new blocks by itself
  remoteDownloads(exchange: FeedExchange, hex: string, position: Position): boolean
  hasFeed(hex: string, writer?: boolean, store?: unknown): boolean
  readonly storeWatch: StoreWatch // which multifeeds of our Corestore have which feed
  // the remote lacks these feeds or has less of them: be ready to upload
  offer(exchange: FeedExchange, keys: Buffer[], announced?: boolean): void // `announced`: live, by us
  // the remote opened the Hypercore channel of a core with this discovery key, and no channel of ours
  // waits for it: serve it if it is one of our feeds (null: it is not)
  remoteCoreOpened(exchange: FeedExchange, discoveryKey: Buffer): Promise<void> | null
  // another Corestore's copy of this feed is on the connection: bridge ours to it
  otherCopy(exchange: FeedExchange, hex: string, store: Corestore): void
  exchangeUpdated(exchange: FeedExchange): void
  exchangeClosed(exchange: FeedExchange, err: MultifeedError | null): void
}

type Phase = 'opening' | 'summary' | 'list' | 'sketch' | 'live' | 'closed'

// The largest valid message is a `diff` with three full arrays (4096 x 41 bytes each, about 500 KB).
const MAX_MESSAGE_BYTES = 1024 * 1024
// Received bytes waiting to be processed: past twice a full list of maxFeeds entries, plus this slack,
// the peer is flooding.
const QUEUE_SLACK_BYTES = 4 * 1024 * 1024


export class FeedExchange implements Routed, Greeter {
  readonly host: ExchangeHost
  readonly muxer: Protomux
  readonly stream: any
  readonly owned: boolean
  readonly finite: boolean // live: false: a snapshot of both sets, then the stream ends once both are done
  private openFirst: boolean
  readonly stats: ExchangeStats
  phase: Phase = 'opening' // where the exchange is now
  error: MultifeedError | null = null
  mode: 'none' | 'in-sync' | 'list' | 'sketch' | 'sketch-fallback' = 'none' // how the sets were compared
  // feeds we wait for on this connection: hex key -> what the remote advertised
  readonly pending = new Map<string, Position>()
  // what the remote told us it has: hex key -> position
  readonly remote = new PositionMap()
  // the transfers on this connection, owned by the multifeed's scheduler (lib/transfers.ts)
  transfers: Link | null = null

  private channel: Protomux.Channel | null = null
  private router: ChannelRouter
  private timer: NodeJS.Timeout | null = null
  private readonly timeout: number
  // the remote's messages, in order; the timeout bounds progress, not silence: only a message that moved
  // the exchange on (a new phase, feeds we did not know, symbols, a diff) re-arms it, so a drip of empty
  // messages cannot hold it open
  private readonly inbound = new InboundQueue({
    stopped: () => this.phase === 'closed',
    done: () => {
      const progress = this.progressMark()
      if (progress !== this.lastProgress && this.phase !== 'live') this.arm()
      this.lastProgress = progress
    },
    failed: (err) => this.fail(err as MultifeedError)
  })
  private salt: Buffer | null = null
  private local: LocalEntry[] = []
  private elements: Buffer[] = [] // this.local's elements, in the same order
  private localDigest: SetDigest | null = null
  private remoteSummary: m.Summary | null = null
  private sketch: Sketch | null = null // in sketch mode, until the exchange is over
  private began: Hypercore[] = []
  private readonly announcer: LiveAnnouncer
  private readonly sentRecords = new Set<string>() // membership record ids sent on this connection
  refusedRecords = 0 // records from the remote that did not count (the multifeed bounds them)
  private readonly recordQueue = new Map<string, m.MemberRecord>() // records to send once live
  private readonly downloadedFeeds = new Set<string>()
  private sentDone = false
  private lastProgress = ''
  private remoteRejected = false
  private receivedDone = false
  private readonly offStreamClose: () => void
  // On a shared connection the hello decides first (lib/hello.ts): `greeting` while it has not, `dormant`
  // once it found both sets equal (live, without a channel until one side has news), `helloStale` if our
  // set changed after our proof was made.
  private greeting = false
  private dormant = false
  private helloStale = false
  // the remote's multifeed follows every block its cores hold (3.1.0, lib/followers.ts): growth
  // its Hypercore channel shows it holds or fetches needs no announcement. A 3.0 peer may not see such
  // blocks, so it is told of all growth.
  private remoteFollows = false
  // its handshake says 3.2 or later: it answers the Hypercore channel of a feed we open with our
  // announcement of it (it processes what it received before an open before it answers the open)
  answersEarlyOpens = false

  // `openFirst: false`: offer our channel (and with it our discovery key) only when the remote offers its own
  constructor(host: ExchangeHost, muxer: Protomux, stream: any, owned: boolean, timeout: number, finite = false, openFirst = true) {
    this.host = host
    this.muxer = muxer
    this.stream = stream
    this.owned = owned
    this.finite = finite
    this.openFirst = openFirst
    this.stats = newStats()
    this.router = ChannelRouter.from(muxer)
    this.announcer = new LiveAnnouncer({
      live: () => this.phase === 'live',
      finite,
      localPosition: (hex) => this.host.localPosition(hex),
      remoteHas: (hex, position) => this.remoteHas(hex, position),
      remoteFetches: (hex, position) => this.remoteFetches(hex, position),
      send: (entries) => this.sendAnnouncements(entries)
    })
    this.router.join(this)
    if (host.opening) this.router.wait(host.opening)
    this.timeout = timeout
    this.offStreamClose = this.router.onStreamClose(stream, () => this.destroy(null))
    this.arm()
    this.start().catch((err) => this.fail(err))
  }

  // the summaries matched: nothing was exchanged
  get inSync(): boolean {
    return this.mode === 'in-sync'
  }

  hasFeed(hex: string, writer = false, store?: unknown): boolean {
    return this.host.hasFeed(hex, writer, store)
  }

  get storeWatch(): StoreWatch {
    return this.host.storeWatch
  }

  // both sides said `done`: each has everything the other advertised in the exchange (protocol 2.1)
  get settled(): boolean {
    return this.sentDone && this.receivedDone
  }

  get isInitiator(): boolean {
    return !!this.muxer.stream.isInitiator
  }

  get closed(): boolean {
    return this.phase === 'closed'
  }

  // nothing left to download; a connection where we wait for the remote to offer this multifeed (it may
  // not have it) has nothing to download yet
  get synced(): boolean {
    if (this.phase === 'opening') return this.channel === null && !this.openFirst
    return this.phase === 'live' && this.pending.size === 0
  }

  private async start(): Promise<void> {
    if (this.host.opening) await this.host.opening
    if (!this.muxer.stream.handshakeHash) await this.muxer.stream.opened
    if (this.phase === 'closed') return
    this.router.add(this.host.discoveryKey!, this)
    if (this.channel !== null) return // the remote opened (or greeted) first and we answered already
    if (!this.owned) {
      this.greeting = true
      this.router.hello.register(this)
    } else if (this.openFirst) this.open()
  }

  get tag(): Buffer {
    return this.host.discoveryKey!.subarray(0, m.HELLO_TAG_BYTES) as Buffer
  }

  get offering(): boolean {
    return this.openFirst
  }

  // Our hello proof and the one the remote's side of the same set would give.
  async proofs(): Promise<{ ours: Buffer, theirs: Buffer } | null> {
    // a snapshot of its own: the exchange may have left the hello meanwhile, its summary being computed
    const set = await this.snapshot()
    if (!this.greeting || this.phase !== 'opening') return null
    const proof = (initiator: boolean): Buffer => helloProof(initiator, this.host.key!, this.muxer.stream.handshakeHash, this.host.client, this.host.owner, set.local.length, set.digest.digest)
    return { ours: proof(this.isInitiator), theirs: proof(!this.isInitiator) }
  }

  greeted(result: 'in-sync' | 'differ' | 'fallback'): void {
    if (!this.greeting || this.phase !== 'opening') return
    this.greeting = false
    if (result === 'in-sync' && !this.helloStale) return this.rest()
    this.router.hello.unregister(this) // our set changed since our proof: our channel tells the remote
    if (result === 'fallback' && !this.openFirst) return // as 3.0: wait for the remote's channel
    this.open()
  }

  regreeted(): void {
    if (this.dormant) this.wake()
  }

  farewell(): void {
    if (this.dormant) this.destroy(null)
  }

  remoteGreeted(): void {
    if (this.phase === 'opening' && !this.greeting && this.channel === null) this.wake()
  }

  // In sync by the hello: live, with no channel until one side has news (then wake()).
  private rest(): void {
    this.dormant = true
    this.remoteFollows = true // it speaks the hello: 3.1
    this.mode = 'in-sync'
    this.phase = 'live'
    this.sentDone = true
    this.receivedDone = true
    this.localDigest = null
    this.arm()
    this.stats.startedAt = this.stats.finishedAt = Date.now()
    this.stats.inSync = true
    this.emitRemoteFeeds([], true)
    this.maybeEnd()
    this.host.exchangeUpdated(this)
  }

  // Leave the hello or the in-sync rest and open our exchange channel: a full exchange follows.
  private wake(): void {
    if (this.phase === 'closed' || !this.muxer.stream.handshakeHash || !this.host.discoveryKey) return
    if (this.greeting || this.dormant) this.router.hello.unregister(this)
    this.greeting = false
    if (this.dormant) {
      this.dormant = false
      this.announcer.clear() // the full exchange that follows carries what it held back
      this.phase = 'opening'
      this.mode = 'none'
      this.sentDone = false
      this.receivedDone = false
      this.arm()
    }
    this.open()
  }

  // Offer our channel now (the networker learned the remote looks this multifeed up).
  offerChannel(): void {
    this.openFirst = true
    if (this.greeting) this.router.hello.offer(this)
    else if (this.phase === 'opening') this.wake()
  }

  onremoteopen(): void {
    if (this.phase === 'opening' || this.dormant) this.wake()
  }

  onothercopy(hex: string, store: Corestore): void {
    if (this.phase !== 'closed') this.host.otherCopy(this, hex, store)
  }

  onremotecore(discoveryKey: Buffer): Promise<void> | null {
    if (this.phase === 'closed') return null
    return this.host.remoteCoreOpened(this, discoveryKey)
  }

  private open(): void {
    if (this.channel !== null || this.phase === 'closed') return
    const raw = { encoding: c.raw }
    const channel = this.muxer.createChannel({
      protocol: m.PROTOCOL,
      id: this.host.discoveryKey,
      handshake: c.raw,
      messages: [raw, raw, raw, raw, raw, raw, raw],
      onopen: (hs: Buffer) => this.onopen(hs),
      onclose: (isRemote: boolean) => this.onclose(isRemote)
    })
    if (channel === null) return // this multifeed already has a channel on this connection
    this.channel = channel
    channel.messages.forEach((msg, i) => {
      msg.onmessage = (buf: Buffer) => this.onmessage(i, buf)
    })
    const cap = capability(this.isInitiator, this.host.key!, this.muxer.stream.handshakeHash)
    channel.open(m.encode(m.handshake, { version: m.VERSION, client: this.host.client, capability: cap, owner: this.host.owner }))
  }

  // Until the exchange is live, the remote must say something every `timeout` ms: a silent peer must
  // not hold synced() forever.
  private arm(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    if (this.timeout <= 0 || this.phase === 'live' || this.phase === 'closed') return
    this.timer = setTimeout(() => this.ontimeout(), this.timeout) // ref'd: a pending exchange is work in progress
  }

  private ontimeout(): void {
    this.timer = null
    // our own work (a slow accept filter, a large batch to record) is not the remote's silence
    if (this.inbound.processing) return this.arm()
    if (this.phase !== 'opening') return this.fail(EXCHANGE_TIMEOUT(this.phase, this.timeout))
    // on a shared connection, a peer without this multifeed is normal: just stop waiting for it
    if (!this.owned) return this.destroy(null)
    // a plain Hypercore peer fetching feeds by key (a mirror, a seeder) keeps the stream: it is a reader
    if (!this.router.foreignOffered && hasCoreChannels(this.muxer)) return this.destroy(null)
    this.fail(KEY_MISMATCH(this.remoteRejected ? 'the remote has no multifeed with this key' : `the remote did not open a multifeed channel within ${this.timeout} ms`, this.host.discoveryKey || b4a.alloc(32) as Buffer))
  }

  private onopen(raw: Buffer): void {
    this.arm()
    let hs: m.Handshake
    try {
      hs = m.decode(m.handshake, raw, 'handshake')
    } catch (err) {
      return this.fail(err as MultifeedError)
    }
    const ours = m.VERSION.split('.')[0]
    if (hs.version.split('.')[0] !== ours) return this.fail(VERSION_MISMATCH(m.VERSION, hs.version))
    const minor = Number(hs.version.split('.')[1])
    this.remoteFollows = minor >= 1
    this.answersEarlyOpens = minor >= 2
    if (hs.client !== this.host.client) return this.fail(CLIENT_MISMATCH(this.host.client, hs.client))
    // an authorized and an open multifeed of the same key, or two owners, never mix
    const theirOwner = hs.owner ?? null
    const ourOwner = this.host.owner
    if (theirOwner === null ? ourOwner !== null : ourOwner === null || !b4a.equals(theirOwner, ourOwner)) return this.fail(OWNER_MISMATCH(ourOwner, theirOwner))
    const expected = capability(!this.isInitiator, this.host.key!, this.muxer.stream.handshakeHash)
    if (!b4a.equals(expected, hs.capability)) {
      return this.fail(KEY_MISMATCH('the remote failed the capability check: it does not know the shared key', this.host.discoveryKey!))
    }
    this.stats.startedAt = Date.now()
    this.phase = 'summary'
    this.inbound.push(() => this.sendSummary()) // before any message of the remote's is processed
  }

  private onclose(isRemote: boolean): void {
    if (this.phase === 'opening' && isRemote && this.owned) {
      // the remote rejected our channel. A multifeed with other keys (it offered us its own channel) is
      // the wrong peer; a plain Hypercore peer may still fetch feeds by key: the timeout decides
      this.channel = null
      this.remoteRejected = true
      if (this.router.foreignOffered) return this.onforeign()
      this.router.watchForeign(this)
      return
    }
    this.destroy(null)
  }

  onforeign(): void {
    if (this.phase === 'opening' && this.remoteRejected) this.fail(KEY_MISMATCH('the remote has no multifeed with this key', this.host.discoveryKey!))
  }

  private onmessage(type: number, buf: Buffer): void {
    if (this.phase === 'closed') return
    this.stats.exchangeBytesReceived += buf.byteLength
    // larger than any valid message: malformed, and dropped at once (in order, like any other failure)
    if (buf.byteLength > MAX_MESSAGE_BYTES) {
      const size = buf.byteLength
      return this.inbound.push(() => { throw BAD_MESSAGE(`a message of ${size} bytes, the largest valid one is under ${MAX_MESSAGE_BYTES}`) })
    }
    // a flood is refused as it arrives, before it queues: entries waiting to be processed (of `feeds`
    // and of `diff.full`) are bounded too
    let diff: m.Diff | null = null
    if (type === 4) {
      try {
        diff = m.decode(m.diff, buf, 'diff')
      } catch (err) {
        return this.inbound.push(() => { throw err }) // in order: what came before it is still processed
      }
    }
    // and so are their bytes: a peer that keeps sending past what any honest exchange needs is cut off
    const n = type === 1 ? m.peekUint(buf, 1) : diff !== null ? diff.full.length : 0
    const refused = this.inbound.admit(n, buf.byteLength, this.maxEntries, this.maxQueuedBytes)
    if (refused !== null) return this.fail(refused)
    this.inbound.push(() => {
      switch (type) {
        case 0: return this.onsummary(m.decode(m.summary, buf, 'summary'))
        case 1: return this.onfeeds(m.decode(m.feeds, buf, 'feeds'))
        case 2: return this.sketching().onsymbols(buf)
        case 3: return this.sketching().onmore(m.decode(m.more, buf, 'more'))
        case 4: return this.ondiff(diff!)
        case 5: return this.ondone(m.decode(m.done, buf, 'done'))
        case 6: return this.onrecords(m.decode(m.records, buf, 'records'))
        default: throw BAD_MESSAGE('unknown message type ' + type)
      }
    }, n, buf.byteLength)
  }

  // Bytes of the remote's messages received and not processed yet.
  get queuedBytes(): number {
    return this.inbound.waitingBytes
  }

  // Entries a remote's set may hold: its feeds, and in an authorized multifeed their membership records
  // too (every feed has at least one, an authorization; a revocation or an admin grant adds more).
  private get maxEntries(): number {
    return this.host.owner === null ? this.host.maxFeeds : 3 * this.host.maxFeeds
  }

  private get maxQueuedBytes(): number {
    return 2 * this.maxEntries * ENTRY_BYTES + QUEUE_SLACK_BYTES
  }

  // Settles once every message received so far is processed (null: none waits). The router holds a
  // remote's Hypercore open until then: an announcement that came before it decides how it is answered.
  // Only live: before, the remote's opens answer the lists we sent, not its own (a first sync's opens do
  // not wait for thousands of entries to be recorded).
  received(): Promise<void> | null {
    return this.phase === 'live' ? this.inbound.pending() : null
  }

  private progressMark(): string {
    return `${this.phase}/${this.remote.size}/${this.sketch?.progress ?? ''}`
  }

  private send(type: number, buf: Buffer): void {
    if (this.channel === null || this.phase === 'closed') return
    this.stats.exchangeBytesSent += buf.byteLength
    this.channel.messages[type].send(buf)
  }

  private async sendSummary(): Promise<void> {
    const set = await this.snapshot()
    this.local = set.local
    this.salt = set.salt
    this.elements = set.elements
    this.localDigest = set.digest
    if (this.phase === 'closed') return
    this.send(0, m.encode(m.summary, { count: set.local.length, digest: set.digest.digest }))
  }

  // Our set as of now: its entries, their elements and its digest.
  private async snapshot(): Promise<{ local: LocalEntry[], salt: Buffer, elements: Buffer[], digest: SetDigest }> {
    const local = await this.host.sharedEntries()
    const salt = connectionSalt(this.host.key!, this.muxer.stream.handshakeHash)
    const digest = new SetDigest(salt)
    const elements = local.map((entry) => element(salt, entry.key, entry.length, entry.fork ?? 0))
    for (const el of elements) digest.toggle(el)
    return { local, salt, elements, digest }
  }

  private expect(...phases: Phase[]): void {
    if (!phases.includes(this.phase)) throw BAD_MESSAGE(`unexpected message in phase ${this.phase}`)
  }

  private async onsummary(s: m.Summary): Promise<void> {
    this.expect('summary')
    if (this.remoteSummary !== null) throw BAD_MESSAGE('second summary')
    if (s.count > this.maxEntries) throw TOO_MANY_FEEDS(this.maxEntries, s.count)
    this.remoteSummary = s
    if (s.count === this.local.length && b4a.equals(s.digest, this.localDigest!.digest)) {
      this.mode = 'in-sync'
      return this.finish()
    }
    if (chooseMode(this.local.length, s.count) === 'list') return this.startList()
    this.phase = 'sketch'
    this.mode = 'sketch'
    this.sketch = new Sketch(this.sketchHost, this.isInitiator, { local: this.local, elements: this.elements, salt: this.salt!, digest: this.localDigest! }, s)
    this.sketch.start()
  }

  private readonly sketchHost: SketchHost = {
    send: (type, buf) => this.send(type, buf),
    offer: (keys) => this.host.offer(this, keys),
    receive: (entries) => this.receive(entries),
    sendEntries: (entries) => this.sendEntries(entries),
    lists: () => this.startList()
  }

  private startList(): void {
    this.mode = this.phase === 'sketch' ? 'sketch-fallback' : 'list'
    this.phase = 'list'
    // membership records before the feeds they authorize, so the remote can take those feeds at once
    this.host.offer(this, this.local.filter((e) => e.length === m.RECORD_LENGTH).map((e) => e.key))
    this.sendEntries(this.local)
  }

  // Membership records the remote lacks, each sent once per connection; before the exchange is live they
  // wait until it is.
  sendRecords(records: Array<[string, m.MemberRecord]>): void {
    const fresh: m.MemberRecord[] = []
    for (const [id, record] of records) {
      if (this.sentRecords.has(id)) continue
      this.sentRecords.add(id)
      fresh.push(record)
    }
    const max = m.LIMITS.maxEntriesPerMessage
    for (let i = 0; i < fresh.length; i += max) this.send(6, m.encode(m.records, { records: fresh.slice(i, i + max) }))
  }

  // Records new to us while the exchange runs: sent now if it is live, else once it is.
  announceRecords(records: Array<[string, m.MemberRecord]>): void {
    if (this.greeting) this.helloStale = true
    if (this.dormant && !this.finite) this.wake()
    if (this.phase === 'opening' || this.phase === 'closed') return // the summary will carry them
    if (this.phase === 'live') return this.sendRecords(records)
    for (const [id, record] of records) this.recordQueue.set(id, record)
  }

  private async onrecords(r: m.Records): Promise<void> {
    if (this.phase === 'opening') throw BAD_MESSAGE('records before the handshake')
    if (this.host.owner === null) throw BAD_MESSAGE('membership records sent to an open multifeed')
    await this.host.receiveRecords(this, r.records)
  }

  // A batch of whole entries, split to respect the per-message limit; the final one is marked last.
  private sendEntries(entries: LocalEntry[]): void {
    const max = m.LIMITS.maxEntriesPerMessage
    for (let i = 0; i === 0 || i < entries.length; i += max) {
      const chunk = entries.slice(i, i + max)
      this.send(1, m.encode(m.feeds, { last: i + max >= entries.length, entries: chunk }))
    }
  }

  private async onfeeds(f: m.Feeds): Promise<void> {
    if (this.phase === 'live') {
      if (f.last) throw BAD_MESSAGE('a live announcement marked last')
      if (this.finite) return // a snapshot: growth after the exchange is for a later replication
      await this.receive(f.entries)
      const began = this.began
      this.began = []
      this.emitRemoteFeeds(began)
      return
    }
    // in a sketch, the only batches are the initiator's answer to our want list
    if (this.phase === 'sketch' && this.isInitiator) throw BAD_MESSAGE('feeds sent to the initiator during a sketch')
    this.expect('list', 'sketch')
    await this.receive(f.entries)
    if (!f.last) return
    if (this.phase === 'list') {
      const behind: Buffer[] = []
      for (const e of this.local) {
        if (!this.remoteCovers(toHex(e.key), positionOf(e))) behind.push(e.key)
      }
      this.host.offer(this, behind)
    }
    // in list mode our own list went out when the mode was chosen, before any remote batch is processed
    await this.finish()
  }

  private async receive(entries: m.FeedEntry[]): Promise<void> {
    for (const e of entries) this.remote.set(toHex(e.key), { length: e.length, fork: e.fork ?? 0 })
    if (this.remote.size > this.maxEntries) throw TOO_MANY_FEEDS(this.maxEntries, this.remote.size)
    const began = await this.host.receiveEntries(this, entries)
    for (const core of began) this.began.push(core)
  }

  // The reconciliation a sketch message belongs to: there is one exactly while the phase is 'sketch'.
  private sketching(): Sketch {
    this.expect('sketch')
    return this.sketch!
  }

  private async ondiff(d: m.Diff): Promise<void> {
    if (await this.sketching().ondiff(d)) await this.finish()
  }

  private async finish(): Promise<void> {
    this.phase = 'live'
    this.arm()
    this.stats.finishedAt = Date.now()
    this.stats.inSync = this.inSync
    this.sketch?.close()
    this.sketch = null
    this.local = []
    this.elements = []
    const began = this.began
    this.began = []
    this.emitRemoteFeeds(began, true) // even empty: the caller can tell the exchange happened
    if (this.recordQueue.size > 0) {
      this.sendRecords([...this.recordQueue])
      this.recordQueue.clear()
    }
    this.announcer.flush()
    this.progressed()
  }

  // Called whenever a download on this connection may have finished.
  private progressed(): void {
    if (this.synced && !this.sentDone) {
      this.sentDone = true
      this.send(5, m.encode(m.done, { flags: 0 }))
    }
    this.maybeEnd()
    this.host.exchangeUpdated(this)
  }

  private async ondone(d: m.Done): Promise<void> {
    if (this.phase === 'opening' || this.phase === 'summary') throw BAD_MESSAGE('done before the exchange')
    if (this.receivedDone) throw BAD_MESSAGE('second done')
    this.receivedDone = true
    this.maybeEnd()
    this.host.exchangeUpdated(this)
  }

  // Finite replication ends when both sides have everything the other advertised.
  private maybeEnd(): void {
    if (!this.finite || !this.sentDone || !this.receivedDone || this.phase === 'closed') return
    endGracefully(this.stream, this.timeout).catch(safetyCatch)
  }

  // A local feed appeared or grew: tell the remote, batched per tick, unless it already has that much.
  announce(entry: LocalEntry): void {
    if (this.finite && this.phase === 'live') return
    if (this.greeting) this.helloStale = true
    this.announcer.add(entry)
  }

  // The remote has `position`: it told us, or its copy holds it by its Hypercore channel here. (A multifeed
  // follows every block its core holds while corestore keeps it: lib/followers.ts.)
  private remoteHas(hex: string, position: Position): boolean {
    return this.remoteCovers(hex, position) || (this.remoteFollows && this.host.remoteHolds(this, hex, position))
  }

  // ... or will have it soon without being told: its hypercore downloads the feed here
  private remoteFetches(hex: string, position: Position): boolean {
    return this.remoteFollows && this.host.remoteDownloads(this, hex, position)
  }

  private sendAnnouncements(entries: LocalEntry[]): void {
    if (entries.length === 0) return
    // in sync by the hello, without a channel: the exchange that follows carries the news
    if (this.dormant) return this.wake()
    const max = m.LIMITS.maxEntriesPerMessage
    for (let i = 0; i < entries.length; i += max) {
      this.send(1, m.encode(m.feeds, { last: false, entries: entries.slice(i, i + max) }))
    }
    // the remote lacks what we announced: serve it (no core of ours joins a connection by itself)
    this.host.offer(this, entries.map((e) => e.key), true)
  }

  // stats.feedsDownloaded counts distinct feeds this connection brought blocks of
  countFeedDownloaded(hex: string): void {
    if (this.downloadedFeeds.has(hex)) return
    this.downloadedFeeds.add(hex)
    this.stats.feedsDownloaded++
  }

  // Feeds that began to replicate on this connection (README: the stream's 'remote-feeds' event).
  emitRemoteFeeds(cores: Hypercore[], evenEmpty = false): void {
    if (cores.length > 0 || evenEmpty) this.stream.emit('remote-feeds', cores)
  }

  // feeds given up on this connection: no block of them came from it for `stallTimeout` ms
  get stalled(): ReadonlySet<string> {
    return this.transfers?.stalled ?? new Set()
  }

  // The scheduler gave up on this feed here (it stalled): stop waiting for it.
  giveUp(hex: string): void {
    if (this.pending.delete(hex) && this.pending.size === 0) this.progressed()
  }

  // The feed was removed here: stop waiting for it.
  onremoved(hex: string): void {
    this.remote.delete(hex)
    if (this.pending.delete(hex) && this.pending.size === 0) this.progressed()
  }

  // What the remote last told us it has of a feed, or undefined if it told us nothing.
  remotePosition(hex: string): Position | undefined {
    return this.remote.get(hex)
  }

  // Does the remote hold all of `position` (as far as it told us)?
  remoteCovers(hex: string, position: Position): boolean {
    const theirs = this.remotePosition(hex)
    return theirs !== undefined && covers(theirs, position)
  }

  // The multifeed's copy of a feed reached `position`. Growth the remote did not announce but its Hypercore
  // channel here shows it holds (the remote held the announcement back: we downloaded the feed from it)
  // is what it has now, and news of this connection ('exchange') as an announcement would have been.
  onposition(hex: string, position: Position): void {
    const theirs = this.remote.get(hex)
    if ((theirs === undefined || !covers(theirs, position)) && this.host.remoteHolds(this, hex, position)) {
      this.remote.set(hex, { length: position.length, fork: position.fork })
      if (!this.pending.has(hex)) this.host.exchangeUpdated(this)
    }
    const want = this.pending.get(hex)
    if (want === undefined || !covers(position, want)) return
    this.pending.delete(hex)
    if (this.pending.size === 0) this.progressed()
  }

  fail(err: MultifeedError): void {
    if (this.phase === 'closed') return
    this.error = err
    if (this.owned) this.stream.destroy(err)
    this.destroy(err)
  }

  destroy(err: MultifeedError | null): void {
    if (this.phase === 'closed') return
    this.phase = 'closed'
    this.offStreamClose()
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    this.announcer.clear()
    if (this.host.discoveryKey) this.router.delete(this.host.discoveryKey, this)
    this.router.hello.leave(this) // tells the remote if it was greeted; forgets a parked one
    this.router.leave(this)
    this.router.unwatchForeign(this)
    if (this.channel !== null) this.channel.close()
    this.sketch?.close()
    this.host.exchangeClosed(this, err)
  }
}

function positionOf(e: LocalEntry): Position {
  return { length: e.length, fork: e.fork ?? 0 }
}
