// The networker: one Hyperswarm, many multifeeds. Each multifeed's discovery key is a topic (the DHT never
// sees the key). A server-side connection does not say which topic brought it, so every connection is
// offered every swarmed multifeed; a multifeed the remote lacks costs one rejected channel and no error.
import ReadyResource from 'ready-resource'
import Hyperswarm from 'hyperswarm'
import Hypercore from 'hypercore'
import safetyCatch from 'safety-catch'
import b4a from 'b4a'
import type Protomux from 'protomux'
import type { Multifeed } from '../lib/multifeed'
import type { FeedExchange } from '../lib/exchange'
import { PROTOCOL } from '../lib/messages'
import { ChannelRouter } from '../lib/router'
import * as errors from './errors'

export type Connection = Hyperswarm.Connection
export type PeerInfo = Hyperswarm.PeerInfo
export type HyperswarmOptions = Hyperswarm.Options

export interface SwarmOptions {
  server?: boolean // announce the topic and accept connections (default true)
  client?: boolean // look the topic up and connect to its peers (default true)
}

interface Swarmed {
  readonly multi: Multifeed
  topic: Buffer | null // null until the multifeed is ready and the topic joined
  session: Hyperswarm.PeerDiscoverySession | null
  server: boolean
  client: boolean
  joined: Promise<void>
  readonly conns: Set<Connection> // connections this multifeed is replicated on
  readonly onclose: () => void
}

interface Tracked {
  readonly onerror: (err: Error) => void
  readonly onclose: () => void
  readonly info: PeerInfo | null // what Hyperswarm told us of the peer: which topics we found it under
  readonly ontopic: (topic: Buffer) => void
}

export class Networker extends ReadyResource {
  readonly hyperswarm: Hyperswarm
  private readonly ownsSwarm: boolean
  private readonly swarmed = new Map<Multifeed, Swarmed>()
  private readonly tracked = new Map<Connection, Tracked>()
  private readonly onconnection: (conn: Connection, info: PeerInfo) => void

  constructor(swarmOrOptions?: Hyperswarm | HyperswarmOptions | null) {
    super()
    if (isSwarm(swarmOrOptions)) {
      if (swarmOrOptions.destroyed) throw errors.SWARM_DESTROYED()
      this.hyperswarm = swarmOrOptions
      this.ownsSwarm = false
    } else if (swarmOrOptions === undefined || swarmOrOptions === null || typeof swarmOrOptions === 'object') {
      this.hyperswarm = new Hyperswarm(swarmOrOptions ?? {})
      this.ownsSwarm = true
    } else {
      throw errors.INVALID_ARGUMENT('expected a Hyperswarm or Hyperswarm options', { value: swarmOrOptions })
    }
    this.onconnection = (conn, info) => this.addConnection(conn, info)
    this.hyperswarm.on('connection', this.onconnection)
    // an app's swarm may be connected already: those peers are offered our multifeeds too
    for (const conn of this.hyperswarm.connections) this.track(conn)
    this.ready().catch(safetyCatch)
  }

  // The multifeeds swarmed now (including ones still opening).
  get multifeeds(): Multifeed[] {
    return [...this.swarmed.keys()]
  }

  // Open connections the networker serves.
  get connections(): number {
    return this.tracked.size
  }

  // Join the multifeed's topic and replicate it on every current and future connection. Resolves once
  // the topic is announced (server) and looked up (client). Calling it again changes server/client.
  async swarm(multi: Multifeed, opts: SwarmOptions = {}): Promise<void> {
    validateMultifeed(multi)
    if (opts === null || typeof opts !== 'object') throw errors.INVALID_ARGUMENT('swarm options must be an object')
    const server = opts.server ?? true
    const client = opts.client ?? true
    if (typeof server !== 'boolean' || typeof client !== 'boolean') throw errors.INVALID_ARGUMENT('server and client must be booleans')
    if (!server && !client) throw errors.INVALID_ARGUMENT('server and client cannot both be false')
    if (this.closing) throw errors.NETWORKER_CLOSED()
    if (multi.closing) throw errors.MULTIFEED_CLOSED()

    let state = this.swarmed.get(multi)
    if (state === undefined) {
      const s: Swarmed = {
        multi,
        topic: null,
        session: null,
        server,
        client,
        joined: Promise.resolve(),
        conns: new Set(),
        onclose: () => this.forget(s)
      }
      state = s
      this.swarmed.set(multi, s)
      s.joined = this.join(s)
      await s.joined
    } else {
      await state.joined
      if (this.swarmed.get(multi) !== state || state.session === null) return // unswarmed meanwhile
      if (state.server !== server || state.client !== client) {
        state.server = server
        state.client = client
        await state.session.refresh({ server, client })
      }
    }
    if (state.session !== null && !state.session.destroyed) await state.session.flushed()
  }

  private async join(state: Swarmed): Promise<void> {
    const { multi } = state
    try {
      await multi.ready()
    } catch (err) {
      this.drop(state)
      throw err
    }
    if (this.swarmed.get(multi) !== state) return // unswarmed while opening
    if (multi.closing || !multi.discoveryKey) {
      this.drop(state)
      throw errors.MULTIFEED_CLOSED()
    }
    if (this.closing) {
      this.drop(state)
      throw errors.NETWORKER_CLOSED()
    }
    if (this.hyperswarm.destroyed) {
      this.drop(state)
      throw errors.SWARM_DESTROYED()
    }
    state.topic = multi.discoveryKey
    multi.on('close', state.onclose)
    state.session = this.hyperswarm.join(state.topic, {
      server: state.server,
      client: state.client,
      onerror: (err) => this.fail(err)
    })
    for (const conn of this.tracked.keys()) this.offer(state, conn)
  }

  // Leave the topic and stop replicating the multifeed; the connections stay up for the others.
  async unswarm(multi: Multifeed): Promise<void> {
    const state = this.swarmed.get(multi)
    if (state === undefined) return
    this.drop(state)
    await leave(state)
  }

  destroy(): Promise<void> {
    return this.close()
  }

  protected async _close(): Promise<void> {
    this.hyperswarm.off('connection', this.onconnection)
    const states = [...this.swarmed.values()]
    for (const state of states) this.drop(state)
    await Promise.all(states.map(leave))
    if (this.ownsSwarm) {
      for (const conn of this.tracked.keys()) conn.destroy()
      await this.hyperswarm.destroy()
      this.tracked.clear()
      return
    }
    // the app's swarm and its connections go on: leave them as we found them
    for (const [conn, t] of this.tracked) {
      conn.off('error', t.onerror)
      conn.off('close', t.onclose)
    }
    this.tracked.clear()
  }

  // --- connections ---

  private addConnection(conn: Connection, info: PeerInfo): void {
    if (this.closing) return
    this.track(conn, info)
    for (const state of [...this.swarmed.values()]) this.offer(state, conn)
    this.emit('connection', conn, info)
  }

  private track(conn: Connection, info: PeerInfo | null = null): void {
    if (this.tracked.has(conn) || isGone(conn)) return
    const t: Tracked = {
      onerror: noop, // the connection's close is what we act on; its error is the swarm's to judge
      onclose: () => this.untrack(conn),
      info,
      ontopic: (topic) => this.ontopic(conn, topic)
    }
    conn.on('error', t.onerror)
    conn.once('close', t.onclose)
    infoEvents(info)?.on('topic', t.ontopic)
    this.tracked.set(conn, t)
  }

  private untrack(conn: Connection): void {
    const t = this.tracked.get(conn)
    if (t) infoEvents(t.info)?.off('topic', t.ontopic)
    this.tracked.delete(conn) // the error listener stays: a closed stream may still report late
    for (const state of this.swarmed.values()) state.conns.delete(conn)
  }

  // Replicate one multifeed on one connection, once.
  private offer(state: Swarmed, conn: Connection): void {
    const { multi } = state
    if (state.topic === null || state.conns.has(conn) || isGone(conn)) return
    if (multi.closing) {
      this.forget(state)
      return
    }
    try {
      multi.replicate(conn, { openFirst: this.foundUnder(conn, state.topic) })
    } catch (err) {
      if ((err as errors.MultifeedError).code === 'ERR_CLOSED') this.forget(state)
      else this.fail(err as Error, conn)
      return
    }
    state.conns.add(conn)
    // Answer the remote's channel for this multifeed ourselves rather than through the multifeed's
    // router, which only knows live exchanges: once either side unswarmed, the exchange on this
    // connection is gone, and a later swarm on the remote must find a new one waiting here.
    const muxer = Hypercore.getProtocolMuxer(conn)
    muxer.pair({ protocol: PROTOCOL, id: state.topic }, () => this.onremoteopen(state, conn, muxer))
    // the same when the remote greets it on the hello instead (lib/hello.ts): answered with our channel,
    // whose capability check comes before any work on our set (a greeting proves nothing by itself)
    ChannelRouter.from(muxer).hello.watch(state.topic, () => this.onremoteopen(state, conn, muxer))
  }

  // A multifeed's channel (its discovery key) is offered first only on a connection we made to a peer we
  // found under its topic: that peer announced the topic, so it learns nothing. Everywhere else the
  // multifeed answers the remote's offer, so a peer that connected for one topic (or a DHT observer)
  // does not learn which other multifeeds we swarm.
  private foundUnder(conn: Connection, topic: Buffer): boolean {
    const info = this.tracked.get(conn)?.info
    if (!info) return true // a connection the app made: nothing says which topics it is for
    return info.topics.some((t) => b4a.equals(t, topic))
  }

  // We found this peer under one more topic: offer that multifeed's channel there now.
  private ontopic(conn: Connection, topic: Buffer): void {
    for (const state of this.swarmed.values()) {
      if (state.topic === null || !b4a.equals(state.topic, topic) || !state.conns.has(conn)) continue
      const muxer = Hypercore.getProtocolMuxer(conn)
      const ex = liveExchange(state.multi, muxer)
      if (ex !== null) ex.offerChannel()
      else if (!state.multi.closing) {
        try {
          state.multi.replicate(conn, { openFirst: true })
        } catch (err) {
          safetyCatch(err)
        }
      }
    }
  }

  private onremoteopen(state: Swarmed, conn: Connection, muxer: Protomux): void {
    const { multi } = state
    if (this.swarmed.get(multi) !== state || !state.conns.has(conn) || multi.closing || !multi.opened) return
    let ex = liveExchange(multi, muxer)
    if (ex === null) {
      try {
        multi.replicate(conn)
      } catch (err) {
        safetyCatch(err)
        return
      }
      ex = liveExchange(multi, muxer)
    }
    // opens our channel now, before protomux decides the remote's open went unanswered
    if (ex !== null) ex.onremoteopen()
  }

  // --- multifeeds ---

  // Stop replicating on every connection, synchronously; leaving the topic is left to the caller.
  private drop(state: Swarmed): void {
    const { multi } = state
    if (this.swarmed.get(multi) === state) this.swarmed.delete(multi)
    multi.off('close', state.onclose)
    for (const conn of state.conns) {
      const muxer = Hypercore.getProtocolMuxer(conn)
      if (state.topic !== null) {
        muxer.unpair({ protocol: PROTOCOL, id: state.topic })
        ChannelRouter.from(muxer).hello.unwatch(state.topic)
      }
      if (multi.closing) continue // its close tears its exchanges down itself
      try {
        multi.unreplicate(conn)
      } catch (err) {
        safetyCatch(err)
      }
    }
    state.conns.clear()
  }

  // A multifeed closed under us: drop it and leave its topic in the background.
  private forget(state: Swarmed): void {
    if (this.swarmed.get(state.multi) !== state) return
    this.drop(state)
    leave(state).catch(safetyCatch)
  }

  private fail(err: Error, conn?: Connection): void {
    if (this.listenerCount('error') > 0) this.emit('error', err, conn ?? null)
    else safetyCatch(err)
  }
}

async function leave(state: Swarmed): Promise<void> {
  const session = state.session
  state.session = null
  if (session === null) return
  try {
    await session.destroy()
  } catch (err) {
    safetyCatch(err) // tearing down: a network failure here changes nothing
  }
}

function infoEvents(info: PeerInfo | null): { on(e: 'topic', fn: (topic: Buffer) => void): void, off(e: 'topic', fn: (topic: Buffer) => void): void } | null {
  const events = info as unknown as { on?: unknown, off?: unknown } | null
  return events && typeof events.on === 'function' && typeof events.off === 'function' ? events as never : null
}

function liveExchange(multi: Multifeed, muxer: Protomux): FeedExchange | null {
  for (const ex of multi.connections) if (ex.muxer === muxer && ex.phase !== 'closed') return ex
  return null
}

function isSwarm(x: unknown): x is Hyperswarm {
  return typeof x === 'object' && x !== null && typeof (x as { join?: unknown }).join === 'function'
}

function isGone(conn: Connection): boolean {
  return conn.destroyed || conn.destroying
}

function validateMultifeed(multi: unknown): void {
  const m = multi as Partial<Multifeed> | null
  if (!m || typeof m !== 'object' || typeof m.replicate !== 'function' || typeof m.unreplicate !== 'function' || typeof m.ready !== 'function') {
    throw errors.INVALID_ARGUMENT('expected a Multifeed', { value: multi })
  }
}

function noop(): void {}

export default Networker
