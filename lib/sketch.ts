// Sketch mode of the exchange (PROTOCOL.md "The exchange", step 5): the initiator's rateless IBLT encoder,
// the responder's decoder, and the diff that ends their rounds. One per exchange that chose sketch mode;
// the exchange keeps the phases, the channel and what the remote told it (lib/exchange.ts).
import c from 'compact-encoding'
import b4a from 'b4a'
import * as m from './messages'
import { elementKeyHash, elementLength, SetDigest, ELEMENT_BYTES } from './caps'
import { Encoder, Decoder, codedSymbolCodec, CodedSymbol } from './riblt'
import { BAD_MESSAGE } from './errors'
import { toHex } from './keys'
import type { LocalEntry } from './exchange'

// The constants of PROTOCOL.md, by the names it gives them.
const SYMBOL_BYTES = 20 // a coded symbol on the wire: 14-byte sum, 4-byte checksum, count
export const ENTRY_BYTES = 34 // a feed entry in a list at fork 0 before 3.0 (32-byte key, length): a constant of the formulas
const MODE_BYTES_PER_DIFFERENCE = 64 // sketch if |a - b| * 64 < (a + b) * 34: ~3.2 symbols per differing feed
const FIRST_BATCH_PER_DIFFERENCE = 3 // the first batch: max(8, ceil(3 * |a - b|)) symbols
const NEXT_BATCH_FRACTION = 0.25 // each `more`: max(8, ceil(0.25 * produced so far)) symbols
const MIN_SYMBOL_BATCH = 8
const MAX_SYMBOLS_LIST_RATIO = 2 // the initiator stops when its symbols exceed twice the lists' size
const DIFF_ITEMS_SLACK = 4096 // `short` + `want` items in total: twice the initiator's set + 4096

// Both sides run this on the two summaries and reach the same answer.
export function chooseMode(a: number, b: number): 'list' | 'sketch' {
  if (a === 0 || b === 0) return 'list'
  return Math.abs(a - b) * MODE_BYTES_PER_DIFFERENCE < (a + b) * ENTRY_BYTES ? 'sketch' : 'list'
}

// What a sketch needs from its exchange.
export interface SketchHost {
  send(type: number, buf: Buffer): void
  offer(keys: Buffer[]): void // the remote lacks these feeds or has less of them
  receive(entries: m.FeedEntry[]): Promise<void> // the remote has these feeds at these positions
  sendEntries(entries: LocalEntry[]): void // whole entries, the final batch marked last
  lists(): void // fall back to plain lists
}

// Our side of the comparison: the advertised set, its elements (in the same order) and its digest.
export interface SketchSet {
  local: LocalEntry[]
  elements: Buffer[]
  salt: Buffer
  digest: SetDigest
}

export class Sketch {
  private readonly host: SketchHost
  private readonly isInitiator: boolean
  private readonly set: SketchSet
  private readonly remote: m.Summary
  private readonly byKeyHash = new Map<string, LocalEntry>()
  private readonly symbolCodec = codedSymbolCodec(ELEMENT_BYTES)
  private encoder: Encoder | null = null
  private decoder: Decoder | null = null
  private diffShort: m.ShortEntry[] = []
  private diffWant: Buffer[] = []

  constructor(host: SketchHost, isInitiator: boolean, set: SketchSet, remote: m.Summary) {
    this.host = host
    this.isInitiator = isInitiator
    this.set = set
    this.remote = remote
    for (let i = 0; i < set.local.length; i++) this.byKeyHash.set(toHex(elementKeyHash(set.elements[i])), set.local[i])
  }

  // The initiator sends its first batch of symbols; the responder gets ready to decode.
  start(): void {
    if (this.isInitiator) {
      this.encoder = new Encoder({ salt: this.set.salt })
      for (const el of this.set.elements) this.encoder.add(el)
      const guess = Math.ceil(FIRST_BATCH_PER_DIFFERENCE * Math.abs(this.set.local.length - this.remote.count))
      this.sendSymbols(Math.max(MIN_SYMBOL_BATCH, guess))
    } else {
      this.decoder = new Decoder({ salt: this.set.salt })
      for (const el of this.set.elements) this.decoder.add(el)
    }
  }

  // Changes whenever a round moved the reconciliation on (the exchange's timeout counts progress).
  get progress(): string {
    return `${this.decoder?.received ?? 0}/${this.encoder?.produced ?? 0}/${this.diffShort.length + this.diffWant.length}`
  }

  close(): void {
    this.encoder = null
    this.decoder = null
  }

  private get listBytes(): number {
    return (this.set.local.length + this.remote.count) * ENTRY_BYTES
  }

  // One batch is one message, so every message the responder cannot decode earns exactly one `more`.
  private sendSymbols(n: number): void {
    const batch = this.encoder!.produce(Math.min(n, m.LIMITS.maxSymbolsPerMessage))
    this.host.send(2, encodeSymbols(this.symbolCodec, batch))
  }

  async onsymbols(buf: Buffer): Promise<void> {
    if (this.isInitiator || this.decoder === null) throw BAD_MESSAGE('symbols sent to the initiator')
    const symbols = decodeSymbols(this.symbolCodec, buf)
    if (!this.decoder.addSymbols(symbols)) {
      if (this.decoder.failed() || this.decoder.received * SYMBOL_BYTES > this.listBytes) return this.fallback()
      this.host.send(3, m.encode(m.more, { fallback: false }))
      return
    }
    if (!this.verifyDecoded()) return this.fallback()
    await this.sendDiff()
  }

  // The decoded difference must turn our digest into the remote's; otherwise a symbol lied.
  private verifyDecoded(): boolean {
    const d = this.set.digest.copy()
    const remoteOnly = this.decoder!.remoteOnly()
    const localOnly = this.decoder!.localOnly()
    for (const el of localOnly) d.toggle(el)
    for (const el of remoteOnly) d.toggle(el)
    const count = this.set.local.length - localOnly.length + remoteOnly.length
    return count === this.remote.count && b4a.equals(d.digest, this.remote.digest)
  }

  private fallback(): void {
    this.host.send(3, m.encode(m.more, { fallback: true }))
    this.decoder = null
    this.host.lists()
  }

  private async sendDiff(): Promise<void> {
    const remoteOnly = this.decoder!.remoteOnly()
    const localOnly = this.decoder!.localOnly()
    this.decoder = null
    const remoteHashes = new Set<string>()
    const learned: m.FeedEntry[] = []
    const want: Buffer[] = []
    for (const el of remoteOnly) {
      const hash = toHex(elementKeyHash(el))
      remoteHashes.add(hash)
      const mine = this.byKeyHash.get(hash)
      if (mine) learned.push({ key: mine.key, length: elementLength(el), fork: mine.fork ?? 0 }) // a key hash names a fork too
      else want.push(b4a.from(elementKeyHash(el)) as Buffer)
    }
    const short: m.ShortEntry[] = []
    const full: m.FeedEntry[] = []
    for (const el of localOnly) {
      const hash = toHex(elementKeyHash(el))
      if (remoteHashes.has(hash)) short.push({ hash: b4a.from(elementKeyHash(el)) as Buffer, length: elementLength(el) })
      else full.push(this.byKeyHash.get(hash)!)
    }
    this.host.offer(full.map((e) => e.key))
    const max = m.LIMITS.maxEntriesPerMessage
    const rounds = Math.max(1, Math.ceil(Math.max(short.length, full.length, want.length) / max))
    for (let r = 0; r < rounds; r++) {
      const at = r * max
      this.host.send(4, m.encode(m.diff, {
        last: r === rounds - 1,
        short: short.slice(at, at + max),
        full: full.slice(at, at + max),
        want: want.slice(at, at + max)
      }))
    }
    await this.host.receive(learned)
  }

  async onmore(more: m.More): Promise<void> {
    if (!this.isInitiator || this.encoder === null) throw BAD_MESSAGE('more sent to the responder')
    if (more.fallback) {
      this.encoder = null
      this.host.lists()
      return
    }
    if (this.encoder.produced * SYMBOL_BYTES > this.listBytes * MAX_SYMBOLS_LIST_RATIO) {
      throw BAD_MESSAGE('the responder keeps asking for symbols')
    }
    this.sendSymbols(Math.max(MIN_SYMBOL_BATCH, Math.ceil(this.encoder.produced * NEXT_BATCH_FRACTION)))
  }

  // Returns true once the diff's last message is answered: the exchange is over for the initiator.
  async ondiff(d: m.Diff): Promise<boolean> {
    if (!this.isInitiator || this.encoder === null) throw BAD_MESSAGE('diff sent to the responder')
    for (const s of d.short) this.diffShort.push(s)
    for (const w of d.want) this.diffWant.push(w)
    if (this.diffShort.length + this.diffWant.length > this.set.local.length * 2 + DIFF_ITEMS_SLACK) throw BAD_MESSAGE('diff larger than our set')
    await this.host.receive(d.full)
    if (!d.last) return false
    this.encoder = null
    const learned: m.FeedEntry[] = []
    for (const s of this.diffShort) {
      const mine = this.byKeyHash.get(toHex(s.hash))
      if (mine) learned.push({ key: mine.key, length: s.length, fork: mine.fork ?? 0 })
    }
    const answer: LocalEntry[] = []
    for (const w of this.diffWant) {
      const mine = this.byKeyHash.get(toHex(w))
      if (mine) answer.push(mine)
    }
    this.diffShort = []
    this.diffWant = []
    this.host.offer(answer.map((e) => e.key))
    this.host.sendEntries(answer)
    await this.host.receive(learned)
    return true
  }
}

function encodeSymbols(codec: c.Encoder<CodedSymbol>, symbols: CodedSymbol[]): Buffer {
  return c.encode(c.array(codec), symbols) as Buffer
}

function decodeSymbols(codec: c.Encoder<CodedSymbol>, buf: Buffer): CodedSymbol[] {
  const n = m.peekUint(buf, 0)
  if (n > m.LIMITS.maxSymbolsPerMessage) throw BAD_MESSAGE(`${n} symbols in one message, the limit is ${m.LIMITS.maxSymbolsPerMessage}`)
  return m.decode(c.array(codec), buf, 'symbols')
}
