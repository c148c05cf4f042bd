// `multifeed sync`: replicate with one other process over TCP until both sides hold everything the other
// advertised, then exit. One-shot, the replication is finite (`live: false`): the library ends the
// stream once both sides said `done`, so neither leaves while the other is still downloading from it.
import net from 'net'
import type Hypercore from 'hypercore'
import type { Multifeed } from '../lib/multifeed'
import type { FeedExchange } from '../lib/exchange'
import { Command, Context, str, flag } from './command'
import { UsageError, CliError, netError } from './errors'
import { parseHostPort } from './args'
import { openExisting, hex } from './storage'
import { Meter, formatBytes, formatDuration } from './progress'

export const sync: Command = {
  name: 'sync',
  summary: 'replicate with another process over TCP (--listen or --connect)',
  usage: '(--listen HOST:PORT | --connect HOST:PORT) [options]',
  description: [
    'Replicates the multifeed with one peer over a TCP connection until both sides are caught up, then exits 0.',
    'One side listens, the other connects; both need the same multifeed key (create, then join on the other side).',
    'With --listen and port 0 the actual address is printed as "listening on HOST:PORT".',
    '--live keeps replicating (and, with --listen, accepting peers) until Ctrl-C.',
    '--pull downloads everything the peer advertises but advertises nothing itself (a one-way sync).'
  ].join('\n'),
  options: [
    { name: 'listen', type: 'string', value: 'HOST:PORT', help: 'accept a peer on this address (port 0: any free port)' },
    { name: 'connect', type: 'string', value: 'HOST:PORT', help: 'connect to a listening peer' },
    { name: 'live', type: 'boolean', help: 'keep replicating after catching up' },
    { name: 'pull', type: 'boolean', help: 'only download: advertise none of our feeds' }
  ],
  positionals: { min: 0, max: 0 },
  needsDir: true,
  async run(ctx) {
    const listen = str(ctx, 'listen')
    const connect = str(ctx, 'connect')
    if ((listen === undefined) === (connect === undefined)) throw new UsageError('give exactly one of --listen HOST:PORT or --connect HOST:PORT', 'sync')
    const addr = parseHostPort((listen ?? connect)!, listen !== undefined ? '--listen' : '--connect', 'sync')
    if (connect !== undefined && addr.port === 0) throw new UsageError('--connect needs a port other than 0', 'sync')
    const live = flag(ctx, 'live')
    const m = await openExisting(ctx.dir, flag(ctx, 'pull') ? { share: () => false } : {})
    ctx.defer(() => m.close())
    const session = new SyncSession(ctx, m, live)
    ctx.defer(() => session.destroy())
    if (listen !== undefined) return session.listen(addr.host, addr.port)
    return session.connect(addr.host, addr.port)
  }
}

interface Peer {
  label: string
  socket: net.Socket
  stream: any
  established: boolean // the multifeed exchange went live: the peer proved it holds the key
  synced: boolean // both sides said done
  error: Error | null
  startedAt: number
  // resolves true once established, false if the connection closed first (a stray connection, a port
  // scanner, a peer of another multifeed): a listener ignores those and keeps waiting
  handshake: Promise<boolean>
  closed: Promise<void>
}

class SyncSession {
  private readonly ctx: Context
  private readonly m: Multifeed
  private readonly live: boolean
  private readonly meter = new Meter()
  private readonly peers = new Set<Peer>()
  private server: net.Server | null = null

  constructor(ctx: Context, m: Multifeed, live: boolean) {
    this.ctx = ctx
    this.m = m
    this.live = live
    m.on('feed', () => {
      this.meter.feeds++
      ctx.out.update()
    })
    this.watchDownloads()
    ctx.out.setStatus(() => {
      const n = this.established().length
      return this.meter.status(`${n} peer${n === 1 ? '' : 's'}, `)
    })
  }

  private established(): Peer[] {
    return [...this.peers].filter((p) => p.established)
  }

  // Counts blocks as they arrive, on every feed (including ones added later).
  private watchDownloads(): void {
    const watched = new Set<string>()
    const watch = (core: Hypercore): void => {
      const id = hex(core.key!)
      if (watched.has(id)) return
      watched.add(id)
      core.on('download', (_index: number, bytes: number) => {
        this.meter.block(bytes)
        this.ctx.out.update()
      })
    }
    this.m.on('feed', (core: Hypercore) => watch(core))
    for (const core of this.m.feeds()) watch(core)
  }

  async listen(host: string, port: number): Promise<number> {
    const server = this.server = net.createServer()
    const shownHost = host.includes(':') ? `[${host}]` : host
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, host, () => {
        server.off('error', reject)
        resolve()
      })
    }).catch((err) => {
      throw new CliError(`cannot listen on ${shownHost}:${port}: ${netError(err)}`)
    })
    const bound = server.address() as net.AddressInfo
    const shown = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address
    this.ctx.out.line(`listening on ${shown}:${bound.port}`)
    // a one-shot sync serves the first connection whose handshake succeeds; until then every connection
    // gets its chance (a stray one that stays silent does not block the real peer)
    let chosen: Peer | null = null
    let first: ((peer: Peer) => void) | null = null
    const firstPeer = new Promise<Peer>((resolve) => { first = resolve })
    server.on('connection', (socket) => {
      if (chosen !== null) {
        socket.destroy() // a one-shot sync serves one peer
        return
      }
      const peer = this.attach(socket, false, `${socket.remoteAddress}:${socket.remotePort}`)
      peer.handshake.then((ok) => {
        if (!ok || this.live) return
        if (chosen !== null) {
          this.drop(peer)
          return
        }
        chosen = peer
        for (const other of this.peers) if (other !== peer) this.drop(other)
        server.close()
        first?.(peer)
      })
    })
    if (this.live) {
      await this.ctx.stopped
      return 0
    }
    const stop = this.ctx.stopped.then(() => null)
    const peer = await Promise.race([firstPeer, stop])
    server.close()
    if (peer === null) throw new CliError('interrupted before a peer connected')
    return this.finish(peer)
  }

  async connect(host: string, port: number): Promise<number> {
    const shownHost = host.includes(':') ? `[${host}]` : host
    const socket = net.connect({ host, port })
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => {
        socket.off('error', reject)
        resolve()
      })
      socket.once('error', reject)
    }).catch((err) => {
      socket.destroy()
      throw new CliError(`cannot connect to ${shownHost}:${port}: ${netError(err)}`)
    })
    const peer = this.attach(socket, true, `${shownHost}:${port}`)
    return this.finish(peer)
  }

  // Waits for the peer's connection to end (one-shot) or for Ctrl-C (live).
  private async finish(peer: Peer): Promise<number> {
    const stop = this.ctx.stopped.then(() => 'stopped' as const)
    const result = await Promise.race([peer.closed.then(() => 'closed' as const), stop])
    if (this.live) {
      if (result === 'closed' && peer.error) throw peer.error
      return 0
    }
    if (result === 'stopped') throw new CliError('interrupted before the sync finished')
    if (!peer.synced) {
      const why = peer.error ? describeError(peer.error) : 'the peer closed the connection'
      throw new CliError(`sync with ${peer.label} did not finish: ${why}`)
    }
    return 0
  }

  private drop(peer: Peer): void {
    peer.stream.destroy()
    peer.socket.destroy()
  }

  private attach(socket: net.Socket, isInitiator: boolean, label: string): Peer {
    const m = this.m
    const out = this.ctx.out
    socket.setNoDelay(true)
    const stream = m.replicate(isInitiator, { live: this.live })
    const exchange = m.connections.find((ex) => ex.stream === stream)
    let resolveClosed: () => void = () => {}
    let resolveHandshake: (ok: boolean) => void = () => {}
    const peer: Peer = {
      label,
      socket,
      stream,
      established: false,
      synced: false,
      error: null,
      startedAt: Date.now(),
      handshake: new Promise<boolean>((resolve) => { resolveHandshake = resolve }),
      closed: new Promise<void>((resolve) => { resolveClosed = resolve })
    }
    this.peers.add(peer)
    const onerror = (err: Error): void => {
      if (peer.error === null && !peer.synced) peer.error = err
    }
    socket.on('error', onerror)
    stream.on('error', onerror)
    const onexchange = (ex: FeedExchange): void => {
      if (ex !== exchange || ex.phase !== 'live' || peer.established) return
      peer.established = true
      m.off('exchange', onexchange)
      if (this.live) out.line(`peer connected: ${label}`)
      out.update()
      resolveHandshake(true)
    }
    m.on('exchange', onexchange)
    const onexchangeclose = (ex: FeedExchange, err: Error | null): void => {
      if (ex === exchange && err) onerror(err)
    }
    m.on('exchange-close', onexchangeclose)
    socket.pipe(stream).pipe(socket)

    const summary = (): string => {
      const st = exchange?.stats
      if (!st) return ''
      const plural = (k: number, what: string): string => `${k} ${what}${k === 1 ? '' : 's'}`
      return `downloaded ${plural(st.blocksDownloaded, 'block')} (${formatBytes(st.bytesDownloaded)}) of ${plural(st.feedsDownloaded, 'feed')}, uploaded ${plural(st.blocksUploaded, 'block')} (${formatBytes(st.bytesUploaded)}), ${plural(m.size, 'feed')} in all, in ${formatDuration(Date.now() - peer.startedAt)}`
    }
    const done = this.endWhenSynced(peer)
    let closedOnce = false
    const onclose = (): void => {
      if (closedOnce) return
      closedOnce = true
      this.peers.delete(peer)
      done.destroy()
      m.off('exchange', onexchange)
      m.off('exchange-close', onexchangeclose)
      socket.destroy()
      if (!peer.established) {
        // the connector reports this as its failure; a listener still waiting notes it and goes on
        if (this.server?.listening) out.line(`connection from ${label} closed before the handshake${peer.error ? ': ' + describeError(peer.error) : ''}; still listening`)
      } else if (this.live) {
        // the statistics once the connection is over, so every block it carried is counted
        out.line(`peer disconnected: ${label}${peer.error && !peer.synced ? ' (' + describeError(peer.error) + ')' : ''}: ${summary()}`)
      } else if (peer.synced) {
        out.line(`synced with ${label}: ${summary()}`)
      }
      out.update()
      resolveHandshake(false)
      resolveClosed()
    }
    stream.once('close', onclose)
    socket.once('close', () => {
      if (!stream.destroyed) stream.destroy()
      onclose()
    })
    return peer
  }

  // Marks the peer synced once both sides hold what the other advertised (the exchange is settled: `done`
  // went both ways). One-shot, the finite stream then ends by itself. Returns what to undo on close.
  private endWhenSynced(peer: Peer): { destroy(): void } {
    const m = this.m
    const check = (ex: FeedExchange): void => {
      if (ex.stream !== peer.stream || !ex.settled || peer.synced) return
      peer.synced = true
      if (this.live) this.ctx.out.line(`in sync with ${peer.label}: ${m.size} feed${m.size === 1 ? '' : 's'}`)
    }
    m.on('exchange', check)
    return { destroy: () => m.off('exchange', check) }
  }

  async destroy(): Promise<void> {
    this.ctx.out.close()
    if (this.server) this.server.close()
    for (const p of this.peers) this.drop(p)
  }
}

function describeError(err: Error): string {
  const e = err as Error & { code?: string }
  if (e.code === 'ERR_KEY_MISMATCH') return 'the peer does not have this multifeed (different key)'
  const msg = (e.message || String(e)).split('\n')[0]
  return e.code && msg.startsWith(e.code + ': ') ? msg.slice(e.code.length + 2) : msg
}


