// The hello (protocol 3.1.0): one channel per connection that greets every multifeed on it at once. Each
// side lists its multifeeds as (8-byte tag, 16-byte proof of its set); a multifeed whose proof matches
// the one the other side expects is in sync and opens no channel of its own until one side has news. Any
// other opens its exchange channel as before. 24 bytes per multifeed each way, against ~200 for a channel
// open, summary and `done`: what makes a reconnect of hundreds of groups in sync cheap. See PROTOCOL.md.
// A peer without the hello (3.0) rejects its channel: every multifeed then opens its own, as 3.0 does.
import c from 'compact-encoding'
import b4a from 'b4a'
import safetyCatch from 'safety-catch'
import type Protomux from 'protomux'
import * as m from './messages'

// What the hello needs from an exchange that waits on it (lib/exchange.ts).
export interface Greeter {
  readonly tag: Buffer // the first 8 bytes of the multifeed's discovery key
  readonly offering: boolean // may name this multifeed before the remote does (openFirst)
  // our proof, and the one we expect from the remote; null: the exchange is gone or no longer waits
  proofs(): Promise<{ ours: Buffer, theirs: Buffer } | null>
  // in-sync: the sets match; differ: open the exchange channel; fallback: no hello here, go on as 3.0
  greeted(result: 'in-sync' | 'differ' | 'fallback'): void
  // after 'in-sync': the remote greeted this multifeed again (its side started over): exchange in full
  regreeted(): void
  // after 'in-sync': the remote's side of this multifeed left the connection
  farewell(): void
  // after 'fallback' while it waits for the remote's channel: the remote greeted it on a hello opened
  // later (it had none when ours was rejected): open the exchange channel
  remoteGreeted(): void
}

// Tags the remote may name on one connection: past this it is flooding, and the hello ends (every
// multifeed opens its own channel, which has its own bounds).
export const MAX_REMOTE_GROUPS = 16384

export class GroupHello {
  private readonly muxer: Protomux
  private channel: Protomux.Channel | null = null
  private state: 'idle' | 'opening' | 'open' | 'failed' = 'idle'
  // our open was rejected before it paired: the remote had no multifeed here yet, or speaks 3.0. A hello
  // it opens later is answered; a 3.0 peer never opens one
  private rejected = false
  private readonly parked = new Map<string, Greeter>() // fell back on a rejection, waiting for the remote's channel
  private readonly waiting = new Map<string, Greeter>() // ours, undecided, by tag
  private readonly resting = new Map<string, Greeter>() // ours, found in sync: no channel of their own
  private readonly offered = new Set<Greeter>() // named to the remote (or being)
  private readonly proofs = new Map<Greeter, { ours: Buffer, theirs: Buffer }>()
  private readonly remote = new Map<string, string>() // tag -> proof the remote named (hex), until a decision uses it
  private readonly watchers = new Map<string, () => void>() // tag -> who makes a multifeed for it (the networker)
  private outbox: m.Greeting[] = []
  private flushing = false

  constructor(muxer: Protomux) {
    this.muxer = muxer
    muxer.pair({ protocol: m.HELLO_PROTOCOL }, () => this.answer())
  }

  get failed(): boolean {
    return this.state === 'failed'
  }

  register(g: Greeter): void {
    const tag = b4a.toString(g.tag, 'hex')
    // no hello on this connection, or (one in 2^64) two of our multifeeds share a tag: the 3.0 way
    if (this.state === 'failed' || this.waiting.has(tag)) {
      g.greeted('fallback')
      if (this.rejected && !g.offering) this.parked.set(tag, g) // after: greeted() unregisters it
      return
    }
    this.waiting.set(tag, g)
    this.open()
    if (g.offering || this.remote.has(tag)) this.offer(g)
  }

  // The exchange opens its own channel now (it had news, or the remote opened one): that tells the remote.
  unregister(g: Greeter): void {
    const tag = b4a.toString(g.tag, 'hex')
    if (this.waiting.get(tag) === g) this.waiting.delete(tag)
    if (this.resting.get(tag) === g) this.resting.delete(tag)
    if (this.parked.get(tag) === g) this.parked.delete(tag)
    this.offered.delete(g)
    this.proofs.delete(g)
  }

  // The exchange is gone from this connection: a remote that was greeted (or resting with it) is told.
  leave(g: Greeter): void {
    const tag = b4a.toString(g.tag, 'hex')
    // a greeting still queued is withdrawn, not contradicted: a farewell sent now would overtake it
    const queued = this.outbox.length
    this.outbox = this.outbox.filter((x) => !b4a.equals(x.tag, g.tag))
    const told = (this.offered.has(g) && this.outbox.length === queued) || this.resting.get(tag) === g
    this.unregister(g)
    if (told && this.state === 'open' && this.channel !== null) this.channel.messages[1].send(m.encode(m.farewells, [g.tag]))
  }

  // `fn` makes a multifeed for `tag` on this connection when the remote greets one we do not replicate here
  // (the networker: a peer that swarmed again after either side left).
  watch(tag: Buffer, fn: () => void): void {
    this.watchers.set(b4a.toString(tag.subarray(0, m.HELLO_TAG_BYTES), 'hex'), fn)
  }

  unwatch(tag: Buffer): void {
    this.watchers.delete(b4a.toString(tag.subarray(0, m.HELLO_TAG_BYTES), 'hex'))
  }

  // Name this multifeed to the remote (it may have been waiting for the remote to name it first).
  offer(g: Greeter): void {
    const tag = b4a.toString(g.tag, 'hex')
    if (this.waiting.get(tag) !== g || this.offered.has(g)) return
    this.offered.add(g)
    g.proofs().then((p) => {
      if (p === null || this.waiting.get(tag) !== g) return
      this.proofs.set(g, p)
      this.outbox.push({ tag: g.tag, proof: p.ours })
      this.scheduleFlush()
      this.decide(tag, g)
    }, (err) => {
      safetyCatch(err)
      this.unregister(g)
      g.greeted('fallback')
    })
  }

  private decide(tag: string, g: Greeter): void {
    const ours = this.proofs.get(g)
    const theirs = this.remote.get(tag)
    if (ours === undefined || theirs === undefined) return
    this.unregister(g)
    this.remote.delete(tag) // one greeting, one decision: a later exchange here waits for a new one
    const inSync = theirs === b4a.toString(ours.theirs, 'hex')
    if (inSync) this.resting.set(tag, g)
    g.greeted(inSync ? 'in-sync' : 'differ')
  }

  // The remote opened the hello: answer it, even after it rejected ours (it had no multifeed here then).
  private answer(): void {
    if (this.state === 'failed' && this.rejected) {
      this.state = 'idle'
      this.rejected = false
    }
    this.open()
  }

  private open(): void {
    if (this.state !== 'idle') return
    const channel = this.muxer.createChannel({
      protocol: m.HELLO_PROTOCOL,
      handshake: c.raw,
      messages: [
        { encoding: c.raw, onmessage: (buf: Buffer) => this.ongreetings(buf) },
        { encoding: c.raw, onmessage: (buf: Buffer) => this.onfarewells(buf) }
      ],
      onopen: (hs: Buffer) => this.onopen(hs),
      onclose: (isRemote: boolean) => this.fail(isRemote && this.state === 'opening')
    })
    if (channel === null) return this.fail()
    this.channel = channel
    this.state = 'opening'
    channel.open(m.encode(m.helloHandshake, m.VERSION))
  }

  private onopen(raw: Buffer): void {
    let version: string
    try {
      version = m.decode(m.helloHandshake, raw, 'hello handshake')
    } catch (err) {
      safetyCatch(err)
      return this.fail()
    }
    // another major version: the exchange channels say so (ERR_VERSION_MISMATCH)
    if (version.split('.')[0] !== m.VERSION.split('.')[0]) return this.fail()
    this.state = 'open'
    this.scheduleFlush()
  }

  private ongreetings(buf: Buffer): void {
    const list = this.decode(m.greetings, buf, 'greetings')
    if (list === null) return
    for (const { tag, proof } of list) {
      const hex = b4a.toString(tag, 'hex')
      const resting = this.resting.get(hex)
      if (resting !== undefined) {
        this.resting.delete(hex)
        resting.regreeted()
        continue
      }
      if (!this.remote.has(hex) && this.remote.size >= MAX_REMOTE_GROUPS) return this.fail()
      this.remote.set(hex, b4a.toString(proof, 'hex')) // the newest greeting counts (as a string: not a view that holds its whole message)
      const g = this.waiting.get(hex)
      const parked = this.parked.get(hex)
      if (g === undefined && parked !== undefined) {
        this.parked.delete(hex)
        parked.remoteGreeted()
      } else if (g === undefined) this.watchers.get(hex)?.()
      else if (this.offered.has(g)) this.decide(hex, g)
      else this.offer(g) // the remote named it first: now we may too
    }
  }

  private onfarewells(buf: Buffer): void {
    const list = this.decode(m.farewells, buf, 'farewells')
    if (list === null) return
    for (const tag of list) {
      const hex = b4a.toString(tag, 'hex')
      this.remote.delete(hex)
      const resting = this.resting.get(hex)
      if (resting === undefined) continue
      this.resting.delete(hex)
      resting.farewell()
    }
  }

  // A message we cannot read ends the hello (null): the exchange channels have their own checks.
  private decode<T>(codec: c.Encoder<T>, buf: Buffer, name: string): T | null {
    if (this.state !== 'open') return null
    try {
      return m.decode(codec, buf, name)
    } catch (err) {
      safetyCatch(err)
      this.fail()
      return null
    }
  }

  // Our greetings of one turn of the event loop go out together.
  private scheduleFlush(): void {
    if (this.flushing || this.outbox.length === 0) return
    this.flushing = true
    setImmediate(() => this.flush())
  }

  private flush(): void {
    this.flushing = false
    if (this.state !== 'open' || this.channel === null) return
    const max = m.LIMITS.maxEntriesPerMessage
    const out = this.outbox
    this.outbox = []
    for (let i = 0; i < out.length; i += max) this.channel.messages[0].send(m.encode(m.greetings, out.slice(i, i + max)))
  }

  // The remote has no hello (it rejected the channel), closed it, or broke it: every multifeed still
  // waiting goes on as 3.0 does, and later ones at once.
  private fail(rejected = false): void {
    if (this.state === 'failed') return
    this.state = 'failed'
    this.rejected = rejected
    if (!rejected) this.parked.clear()
    const channel = this.channel
    this.channel = null
    if (channel !== null) channel.close()
    const waiting = [...this.waiting.values()]
    this.waiting.clear()
    this.resting.clear() // in sync already; their news opens their own channels
    this.offered.clear()
    this.proofs.clear()
    this.remote.clear()
    this.outbox = []
    for (const g of waiting) {
      g.greeted('fallback')
      if (rejected && !g.offering) this.parked.set(b4a.toString(g.tag, 'hex'), g) // after: greeted() unregisters it
    }
  }
}
