// One readable object stream of every block of every feed, `{ key, seq, value }`, without holding the
// feeds' cores: a feed's core opens (a passive session) for one turn of at most `batch` blocks and closes
// after it, and at most `window` turns run at once. Blocks of one feed come in order; feeds take turns
// in the order they became readable, so a long feed cannot starve the others.
//
// Progress is the number of blocks of each feed handed to the consumer. A block counts as handed over
// once the consumer took it from the stream's buffer, so checkpoint() says exactly what the app has seen.
import { Readable } from 'streamx'
import type Hypercore from 'hypercore'
import safetyCatch from 'safety-catch'
import type { FeedInfo, FeedRecord } from './feed-record'
import { infoOf } from './feed-record'
import { toKey, toHex } from './keys'
import { INVALID_ARGUMENT } from './errors'

export const CHECKPOINT_VERSION = 1

interface Sent {
  hex: string
  seq: number
  generation: number // how many truncations of its feed the reader had met when it was read
}
const DEFAULT_WINDOW = 64
const DEFAULT_BATCH = 32
const HIGH_WATER_MARK = 64 // blocks buffered ahead of the consumer
type StreamCallback = (err: Error | null) => void
const CURSOR_SAVE_INTERVAL = 1000 // ms between saves of a named cursor's progress

// Blocks of each feed handed to the consumer, by hex key (feeds at 0 are left out).
export interface Checkpoint {
  v: number
  at: Record<string, number>
}

export interface Block {
  key: Buffer
  seq: number
  value: unknown
  error?: Error // the block does not decode with the valueEncoding: `value` is undefined
}

export interface ReadStreamOptions {
  live?: boolean
  since?: Checkpoint
  cursor?: string
  feeds?: Array<Buffer | string> | ((info: FeedInfo) => boolean)
  origin?: 'local' | 'remote'
  window?: number
  batch?: number
}

export interface ReaderHost {
  readonly closing: Promise<void> | null
  ready(): Promise<void>
  recordOf(hex: string): FeedRecord | undefined
  allRecords(): Iterable<FeedRecord>
  readSession(record: FeedRecord): Hypercore // passive and raw: blocks as stored
  decode(block: Buffer): unknown // with the multifeed's valueEncoding; throws on a block it cannot decode
  closeReadSession(session: Hypercore, keep: number): Promise<void> // and close corestore's idle cores past `keep`
  loadCursor(name: string): Promise<Map<string, number>>
  saveCursor(name: string, progress: Map<string, number>): Promise<void>
  readerClosed(reader: FeedReader): void
}

// `for await` yields blocks (streamx declares its iteration as unknown)
export interface FeedReader {
  [Symbol.asyncIterator](): AsyncIterator<Block>
}

export class FeedReader extends Readable {
  readonly live: boolean
  readonly cursor: string | null
  private readonly host: ReaderHost
  private readonly window: number
  private readonly batch: number
  private readonly select: (record: FeedRecord) => boolean
  private readonly positions = new Map<string, number>() // next block to read of each feed
  private readonly handed = new Map<string, number>() // blocks of each feed the consumer took
  // each feed's fork when last looked at, how many truncations the reader has met in it, and the length
  // the last one left
  private readonly forks = new Map<string, { fork: number, truncations: number, length: number }>()
  private readonly turns = new Set<string>() // feeds with blocks to read, in turn order
  private readonly reading = new Set<string>() // feeds in a turn now
  private readonly missing = new Map<string, number>() // feed -> the block it waits for (not stored here)
  private readonly touched = new Set<string>() // feeds that changed while their turn ran
  private readonly sent: Sent[] = [] // each block pushed and not yet counted as handed
  private sentHead = 0
  private pushedCount = 0
  private handedCount = 0
  private targets: Map<string, number> | null = null // without live: the lengths stored at the start
  private since: Map<string, number> | null
  private demand = false
  private started = false // start() has taken every feed in: changes before that are already in it
  private ended = false
  private readonly dirty = new Set<string>() // a named cursor's feeds whose progress is not saved yet
  private saveTimer: ReturnType<typeof setTimeout> | null = null
  private saving: Promise<void> = Promise.resolve()

  constructor(host: ReaderHost, opts: ReadStreamOptions = {}) {
    super({ highWaterMark: HIGH_WATER_MARK, byteLength: () => 1 })
    this.host = host
    this.live = opts.live === true
    this.window = positiveInteger(opts.window ?? DEFAULT_WINDOW, 'window')
    this.batch = positiveInteger(opts.batch ?? DEFAULT_BATCH, 'batch')
    this.select = selector(opts)
    if (opts.cursor !== undefined && (typeof opts.cursor !== 'string' || opts.cursor.length === 0 || opts.cursor.length > 256)) {
      throw INVALID_ARGUMENT('cursor must be a name of 1 to 256 characters', { value: opts.cursor })
    }
    if (opts.cursor !== undefined && opts.since !== undefined) throw INVALID_ARGUMENT('give since or cursor, not both')
    this.cursor = opts.cursor ?? null
    this.since = opts.since === undefined ? null : parseCheckpoint(opts.since)
  }

  // Everything handed to the consumer so far: resume after it with `since`.
  checkpoint(): Checkpoint {
    this.countHanded()
    const at: Record<string, number> = {}
    for (const [hex, n] of this.handed) if (n > 0) at[hex] = n
    return { v: CHECKPOINT_VERSION, at }
  }

  // A named cursor's progress, saved now (it is also saved every second while blocks are taken and when
  // the stream closes). Resolves once it is durable.
  async save(): Promise<void> {
    if (this.cursor === null) return
    this.countHanded()
    const name = this.cursor
    const changed = new Map<string, number>()
    for (const hex of this.dirty) changed.set(hex, this.handed.get(hex) ?? 0)
    this.dirty.clear()
    const previous = this.saving
    this.saving = (async () => {
      await previous.catch(safetyCatch)
      if (changed.size > 0) await this.host.saveCursor(name, changed)
    })()
    await this.saving
  }

  _open(cb: StreamCallback): void {
    this.start().then(() => cb(null), (err) => cb(err))
  }

  private async start(): Promise<void> {
    await this.host.ready()
    if (this.cursor !== null) this.since = await this.host.loadCursor(this.cursor)
    // feeds outside the filter, or not here now, keep their place in every checkpoint
    if (this.since !== null) for (const [hex, n] of this.since) this.handed.set(hex, n)
    if (!this.live) this.targets = new Map()
    for (const record of this.host.allRecords()) {
      if (this.targets !== null) this.targets.set(record.hex, record.length)
      this.consider(record)
    }
    this.started = true
    this.maybeEnd()
  }

  _read(cb: StreamCallback): void {
    this.demand = true
    this.pump()
    cb(null)
  }

  _destroy(cb: StreamCallback): void {
    if (this.saveTimer !== null) clearTimeout(this.saveTimer)
    this.saveTimer = null
    this.host.readerClosed(this)
    this.save().then(() => cb(null), () => cb(null))
  }

  // --- what the multifeed tells the reader ---

  // A feed appeared, grew, or got blocks (perhaps the one its turn stopped at).
  changed(record: FeedRecord): void {
    if (!this.started || this.ended || this.destroying) return
    if (this.reading.has(record.hex)) this.touched.add(record.hex) // endTurn looks again
    this.missing.delete(record.hex)
    this.truncated(record)
    this.consider(record)
  }

  // Its writer truncated the feed (we met the new fork): blocks past the new length were replaced, so
  // reading goes on from there and the blocks that replace them come as they arrive.
  private truncated(record: FeedRecord): void {
    const seen = this.forks.get(record.hex)
    if (seen === undefined || seen.fork === record.fork) return
    this.countHanded() // blocks taken before now count as of the old fork
    this.forks.set(record.hex, { fork: record.fork, truncations: seen.truncations + 1, length: record.length })
    if (this.positions.get(record.hex)! > record.length) this.positions.set(record.hex, record.length)
    if (this.handed.get(record.hex)! > record.length) {
      this.handed.set(record.hex, record.length)
      if (this.cursor !== null) this.dirty.add(record.hex)
    }
    if (this.targets !== null) this.targets.set(record.hex, Math.min(this.targets.get(record.hex) ?? 0, record.length))
  }

  private generationOf(hex: string): number {
    return this.forks.get(hex)?.truncations ?? 0
  }

  // The feed left the multifeed. Its place stays: if it comes back (downloaded again, authorized again),
  // reading goes on after what was read, never twice.
  removed(hex: string): void {
    if (!this.started) return
    this.turns.delete(hex)
    this.missing.delete(hex)
    this.targets?.delete(hex)
    this.maybeEnd()
  }

  // --- turns ---

  private consider(record: FeedRecord): void {
    if (!this.positions.has(record.hex)) {
      if (!this.select(record)) return
      const from = this.since?.get(record.hex) ?? 0
      this.positions.set(record.hex, from)
      this.forks.set(record.hex, { fork: record.fork, truncations: 0, length: record.length })
      if (!this.handed.has(record.hex)) this.handed.set(record.hex, from)
    }
    if (this.reading.has(record.hex) || this.missing.has(record.hex)) return
    if (this.positions.get(record.hex)! < this.available(record)) {
      this.turns.add(record.hex)
      this.pump()
    }
  }

  private available(record: FeedRecord): number {
    if (this.targets === null) return record.length
    return Math.min(record.length, this.targets.get(record.hex) ?? 0)
  }

  private pump(): void {
    while (this.demand && this.reading.size < this.window && this.turns.size > 0 && !this.destroying) {
      const hex: string = this.turns.values().next().value!
      this.turns.delete(hex)
      this.reading.add(hex)
      this.turn(hex).catch((err) => this.destroy(err))
    }
  }

  private async turn(hex: string): Promise<void> {
    const record = this.host.recordOf(hex)
    const start = this.positions.get(hex)
    if (record === undefined || start === undefined || this.host.closing) return this.endTurn(hex, null)
    const end = Math.min(start + this.batch, this.available(record))
    const generation = this.generationOf(hex)
    const session = this.host.readSession(record)
    const blocks: Block[] = []
    try {
      for (let seq = start; seq < end; seq++) {
        const raw = await session.get(seq, { wait: false }) as Buffer | null
        if (raw === null) break // not stored here
        // decoded here, so a block that does not decode reaches the app as such instead of ending the stream
        let block: Block
        try {
          block = { key: record.key, seq, value: this.host.decode(raw) }
        } catch (err) {
          block = { key: record.key, seq, value: undefined, error: err as Error }
        }
        blocks.push(block)
      }
    } finally {
      await this.host.closeReadSession(session, this.window).catch(safetyCatch)
    }
    // the feed left, moved to another fork (what was read may be the old one's), or the stream ended, while
    // the turn ran
    if (this.destroying || this.positions.get(hex) !== start || this.host.recordOf(hex) !== record || this.generationOf(hex) !== generation) return this.endTurn(hex, null)
    for (let i = 0; i < blocks.length; i++) {
      if (!this.push(blocks[i])) this.demand = false
      this.sent.push({ hex, seq: blocks[i].seq, generation })
      this.pushedCount++
    }
    this.positions.set(hex, start + blocks.length)
    this.endTurn(hex, start + blocks.length < end ? start + blocks.length : null)
    if (blocks.length > 0 && this.cursor !== null) this.scheduleSave()
  }

  // `missingAt`: the block the turn stopped at, not stored here: the feed waits until it changes.
  private endTurn(hex: string, missingAt: number | null): void {
    this.reading.delete(hex)
    const record = this.host.recordOf(hex)
    // a block that arrived while the turn read may be the one it stopped at: try again, do not park
    if (this.touched.delete(hex)) missingAt = null
    if (missingAt !== null) this.missing.set(hex, missingAt)
    else if (record !== undefined && this.positions.has(hex) && this.positions.get(hex)! < this.available(record)) this.turns.add(hex)
    this.pump()
    this.maybeEnd()
  }

  // Without live: done once no feed has a stored block left to read (a missing block ends its feed).
  private maybeEnd(): void {
    if (this.live || this.targets === null || this.ended || this.turns.size > 0 || this.reading.size > 0) return
    this.ended = true
    this.push(null)
  }

  // Blocks taken from the buffer since the last count become handed over.
  private countHanded(): void {
    const buffered = (this as unknown as { _readableState: { buffered: number } })._readableState.buffered
    const taken = this.pushedCount - buffered
    while (this.handedCount < taken) {
      const { hex, seq, generation } = this.sent[this.sentHead++]
      this.handedCount++
      // a block of an older fork, taken after we met the new one, counts only up to where the forks agree
      const seen = this.forks.get(hex)
      const upTo = seen === undefined || seen.truncations === generation ? seq + 1 : Math.min(seq + 1, seen.length)
      if (upTo > (this.handed.get(hex) ?? 0)) this.handed.set(hex, upTo)
      if (this.cursor !== null) this.dirty.add(hex)
    }
    if (this.sentHead > 4096 && this.sentHead * 2 > this.sent.length) {
      this.sent.splice(0, this.sentHead)
      this.sentHead = 0
    }
  }

  private scheduleSave(): void {
    if (this.saveTimer !== null) return
    this.saveTimer = setTimeout(() => {
      this.saveTimer = null
      this.save().catch((err) => this.destroy(err))
    }, CURSOR_SAVE_INTERVAL)
  }
}

function positiveInteger(value: unknown, name: string): number {
  if (!Number.isSafeInteger(value) || (value as number) < 1) throw INVALID_ARGUMENT(`${name} must be a positive integer`, { value })
  return value as number
}

function selector(opts: ReadStreamOptions): (record: FeedRecord) => boolean {
  const { feeds, origin } = opts
  if (origin !== undefined && origin !== 'local' && origin !== 'remote') throw INVALID_ARGUMENT('origin must be \'local\' or \'remote\'', { value: origin })
  const byOrigin = origin === undefined ? () => true : (r: FeedRecord) => r.writable === (origin === 'local')
  if (feeds === undefined) return byOrigin
  if (typeof feeds === 'function') return (r) => byOrigin(r) && !!feeds(infoOf(r))
  if (!Array.isArray(feeds)) throw INVALID_ARGUMENT('feeds must be an array of keys or a function', { value: feeds })
  const wanted = new Set(feeds.map((k) => toHex(toKey(k, 'feeds entry'))))
  return (r) => byOrigin(r) && wanted.has(r.hex)
}

// A checkpoint from the app (perhaps read back from a file): checked field by field.
export function parseCheckpoint(value: unknown): Map<string, number> {
  const bad = (why: string): Error => INVALID_ARGUMENT(`since is not a checkpoint of createReadStream: ${why}`, { value })
  if (value === null || typeof value !== 'object') throw bad('not an object')
  const { v, at } = value as { v?: unknown, at?: unknown }
  if (v !== CHECKPOINT_VERSION) throw bad(`version ${String(v)}, expected ${CHECKPOINT_VERSION}`)
  if (at === null || typeof at !== 'object' || Array.isArray(at)) throw bad('`at` is not an object')
  const out = new Map<string, number>()
  for (const [hex, n] of Object.entries(at)) {
    if (!/^[0-9a-f]{64}$/.test(hex)) throw bad(`"${hex.slice(0, 80)}" is not a feed key in hex`)
    if (!Number.isSafeInteger(n) || (n as number) < 0) throw bad(`the position of ${hex} is not a non-negative integer`)
    out.set(hex, n as number)
  }
  return out
}
