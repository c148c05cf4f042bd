// The live announcements of one connection (PROTOCOL.md "The exchange", step 6): growth of our feeds,
// batched per turn of the event loop, skipped when the remote holds it already, and held back while the
// feed's Hypercore channel shows the remote fetching it (3.1.0): hypercore brings it the block as it does
// between two plain peers, and the announcement goes only if the remote's copy does not hold it in time.
// "Fetching" is the remote downloading the core and having fetched a block of it from us lately: an active
// session alone asks for no new block (lib/exchange-set.ts).
import type { LocalEntry } from './exchange'
import type { Position } from './position'
import { toHex } from './keys'

// How long growth the remote fetches over its Hypercore channel is held back before it is announced.
const ANNOUNCE_GRACE = 250
const GRACE_BUCKET = 25 // held growth of one feed within this many ms is checked at the first one's deadline
// Held announcements are looked at this often: the remote's copy may hold them already, or the remote may
// have stopped downloading (its session closed as we appended: then they go at once, not at the deadline).
const HOLD_POLL = 5

// What the announcer needs from its exchange (lib/exchange.ts).
export interface AnnouncerHost {
  live(): boolean // announcements can go out now
  readonly finite: boolean // a snapshot: growth after the exchange waits for the next replication
  localPosition(hex: string): Position
  remoteHas(hex: string, position: Position): boolean // told us, or its Hypercore channel shows it
  remoteFetches(hex: string, position: Position): boolean // its Hypercore downloads the feed here, and fetches
  send(entries: LocalEntry[]): void // announce these now
}

interface Held {
  key: Buffer
  position: Position
  at: number // the deadline
}

export class LiveAnnouncer {
  private readonly host: AnnouncerHost
  private readonly queue = new Map<string, LocalEntry>()
  private readonly held = new Map<string, Held[]>() // per feed, the positions to check and when, oldest first
  private timer: NodeJS.Timeout | null = null
  private scheduled = false

  constructor(host: AnnouncerHost) {
    this.host = host
  }

  // A local feed appeared or grew: queued unless the remote has that much; sent once the exchange is live.
  add(entry: LocalEntry): void {
    const hex = toHex(entry.key)
    if (this.host.remoteHas(hex, { length: entry.length, fork: entry.fork ?? 0 })) return
    this.queue.set(hex, entry)
    if (!this.host.live() || this.scheduled) return
    this.scheduled = true
    setImmediate(() => this.flush())
  }

  // Everything queued, at the feed's position now: skipped, held back, or sent.
  flush(): void {
    this.scheduled = false
    if (this.host.finite) this.queue.clear()
    if (!this.host.live() || this.queue.size === 0) return
    const entries: LocalEntry[] = []
    const now = Date.now()
    for (const [hex, e] of this.queue) {
      const position = this.host.localPosition(hex)
      if (this.host.remoteHas(hex, position)) continue
      if (this.host.remoteFetches(hex, position)) {
        this.hold(hex, e.key, position, now)
        continue
      }
      this.held.delete(hex)
      entries.push({ key: e.key, length: position.length, fork: position.fork })
    }
    this.queue.clear()
    this.host.send(entries)
  }

  // What was held back is dropped (a full exchange carries it, or the connection ended).
  clear(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    this.held.clear()
  }

  private hold(hex: string, key: Buffer, position: Position, now: number): void {
    let list = this.held.get(hex)
    if (!list) this.held.set(hex, list = [])
    const last = list[list.length - 1]
    // growth close after the last held one is checked with it: the later length, at the earlier deadline
    if (last !== undefined && now - (last.at - ANNOUNCE_GRACE) < GRACE_BUCKET && last.position.fork === position.fork) last.position = position
    else list.push({ key, position, at: now + ANNOUNCE_GRACE })
    if (this.timer === null) this.arm()
  }

  private arm(): void {
    if (this.held.size === 0) return
    // not unref'd: a held announcement is work still to do (at most ANNOUNCE_GRACE), and nothing else may
    // keep the process up meanwhile (streams piped in one process)
    this.timer = setTimeout(() => this.check(), HOLD_POLL)
  }

  // Held growth the remote's copy holds is dropped; the rest is announced (all we have) once its grace is
  // over, or at once if the remote no longer downloads the feed.
  private check(): void {
    this.timer = null
    if (!this.host.live()) return
    const now = Date.now()
    const entries: LocalEntry[] = []
    for (const [hex, list] of [...this.held]) {
      while (list.length > 0 && this.host.remoteHas(hex, list[0].position)) list.shift()
      if (list.length === 0) {
        this.held.delete(hex)
        continue
      }
      const position = this.host.localPosition(hex)
      if (list[0].at > now && this.host.remoteFetches(hex, position)) continue
      this.held.delete(hex)
      if (!this.host.remoteHas(hex, position)) entries.push({ key: list[0].key, length: position.length, fork: position.fork })
    }
    this.host.send(entries)
    this.arm()
  }
}
