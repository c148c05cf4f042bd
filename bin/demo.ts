// `multifeed demo`: a whole swarm on loopback. A local DHT testnet, N peers with their own storage in a
// temporary folder sharing one multifeed key, each writing M messages (half before joining, half while
// connected), swarming through the Networker; the screen follows the feeds converging and the run ends
// with each peer's statistics once every peer holds every feed at full length.
import fs from 'fs'
import os from 'os'
import path from 'path'
import type Hypercore from 'hypercore'
import { Multifeed } from '../lib/multifeed'
import type { FeedExchange } from '../lib/exchange'
import { Command, num } from './command'
import { UsageError, CliError } from './errors'
import { table, formatBytes, formatDuration } from './progress'
import { createNetworker, createTestnet, Networker } from './modules'
import { keyId } from './keys'

const TIMEOUT = 60_000

interface Totals {
  blocksDownloaded: number
  bytesDownloaded: number
  blocksUploaded: number
  bytesUploaded: number
}

interface DemoPeer {
  name: string
  m: Multifeed
  networker: Networker | null
  writer: Hypercore
  closed: Totals // statistics of connections that already closed (m.stats() covers open ones)
  convergedAt: number | null
  connections: number
  received: Set<string> // distinct blocks received (the library counts a block delivered twice twice)
}

export const demo: Command = {
  name: 'demo',
  summary: 'run a local swarm of peers and watch their feeds converge',
  usage: '[options]',
  description: [
    'Starts a DHT testnet on loopback and --peers peers, each with its own storage in a temporary folder.',
    'Each writes --messages messages to its own feed; they find each other through the DHT and replicate',
    'until every peer holds every feed at full length, then the statistics are printed and everything is',
    'removed. Needs no network beyond 127.0.0.1.'
  ].join('\n'),
  options: [
    { name: 'peers', alias: 'p', type: 'number', value: 'N', default: 3, help: 'how many peers' },
    { name: 'messages', alias: 'm', type: 'number', value: 'M', default: 10, help: 'messages each peer writes' }
  ],
  positionals: { min: 0, max: 0 },
  needsDir: false,
  async run(ctx) {
    const n = num(ctx, 'peers')!
    const msgs = num(ctx, 'messages')!
    if (!Number.isInteger(n) || n < 2 || n > 50) throw new UsageError('--peers must be a whole number from 2 to 50', 'demo')
    if (!Number.isInteger(msgs) || msgs < 1 || msgs > 100_000) throw new UsageError('--messages must be a whole number from 1 to 100000', 'demo')
    const out = ctx.out
    const started = Date.now()

    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'multifeed-demo-'))
    ctx.defer(() => fs.promises.rm(root, { recursive: true, force: true }))
    const testnet = await createTestnet(3, { host: '127.0.0.1' })
    ctx.defer(() => testnet.destroy())
    out.line(`multifeed demo: ${n} peers, ${msgs} messages each, DHT testnet at ${testnet.bootstrap.map((b) => `${b.host}:${b.port}`).join(', ')}`)

    const peers: DemoPeer[] = []
    ctx.defer(async () => {
      // networkers first (they hold connections to the multifeeds), then the storages
      await Promise.allSettled(peers.map((p) => p.networker ? p.networker.destroy() : null))
      await Promise.allSettled(peers.map((p) => p.m.close()))
    })
    let key: Buffer | undefined
    for (let i = 0; i < n; i++) {
      const m = new Multifeed(path.join(root, `peer-${i + 1}`), key ? { key } : {})
      const peer: DemoPeer = { name: `peer-${i + 1}`, m, networker: null, writer: null as unknown as Hypercore, closed: zero(), convergedAt: null, connections: 0, received: new Set() }
      peers.push(peer)
      await m.ready()
      key = m.key!
      peer.writer = await m.writer(peer.name)
    }
    out.line(`multifeed key ${keyId(key!)}`)

    const wanted = n * msgs
    const view = (p: DemoPeer): { feeds: number, blocks: number, full: number } => {
      let blocks = 0
      let full = 0
      for (const f of p.m.list()) {
        blocks += Math.min(f.length, msgs)
        if (f.length >= msgs) full++
      }
      return { feeds: p.m.size, blocks, full }
    }

    let converged: () => void = () => {}
    const allConverged = new Promise<void>((resolve) => { converged = resolve })
    const last = new Map<DemoPeer, string>()
    let scheduled = false
    const render = (): void => {
      scheduled = false
      const now = Date.now()
      for (const p of peers) {
        const v = view(p)
        if (p.convergedAt === null && v.full === n) p.convergedAt = now
      }
      if (out.tty) {
        const rows = peers.map((p) => {
          const v = view(p)
          return [p.name, `${v.feeds}/${n}`, `${v.blocks}/${wanted}`, bar(v.blocks / wanted, 20), String(p.connections),
            p.convergedAt !== null ? `complete after ${formatDuration(p.convergedAt - started)}` : '']
        })
        out.redraw(table(['PEER', 'FEEDS', 'BLOCKS', '', 'CONNS', ''], rows, 'lrrlrl'))
      } else {
        for (const p of peers) {
          const v = view(p)
          const line = `${p.name}: ${v.feeds}/${n} feeds, ${v.blocks}/${wanted} blocks${p.convergedAt !== null ? ' - complete' : ''}`
          if (last.get(p) !== line) {
            last.set(p, line)
            out.line(line)
          }
        }
      }
      if (peers.every((p) => p.convergedAt !== null)) converged()
    }
    const update = (): void => {
      if (scheduled) return
      scheduled = true
      setTimeout(render, out.tty ? 50 : 0)
    }

    // follow every peer's feeds: new feeds, appends and downloads all move the picture
    for (const p of peers) {
      const watch = (core: Hypercore): void => {
        core.on('append', update)
        core.on('download', (index: number) => {
          p.received.add(core.key!.toString('hex') + ':' + index)
          update()
        })
      }
      p.m.on('feed', (core: Hypercore) => {
        watch(core)
        update()
      })
      for (const core of p.m.feeds()) watch(core)
      p.m.on('exchange', (ex: FeedExchange) => {
        if (ex.phase === 'live' && ex.stats.finishedAt !== null && !seenExchange.has(ex)) {
          seenExchange.add(ex)
          p.connections++
          update()
        }
      })
      p.m.on('exchange-close', (ex: FeedExchange) => {
        // m.stats() sums the open connections only: keep what closed ones did
        for (const k of Object.keys(p.closed) as (keyof Totals)[]) p.closed[k] += ex.stats[k]
        if (seenExchange.delete(ex)) p.connections--
        update()
      })
    }
    const seenExchange = new Set<FeedExchange>()

    // half the messages before anyone connects, the rest while connected
    const before = Math.ceil(msgs / 2)
    for (const p of peers) await p.writer.append(messages(p.name, 0, before))
    scheduled = true
    render()

    // one after the other: a DHT lookup only finds peers whose announce finished before it, so peers
    // joining at the same instant can miss each other until the swarm's next refresh (minutes away)
    for (const p of peers) {
      p.networker = createNetworker(testnet.bootstrap)
      await p.networker.swarm(p.m)
    }

    const writing = (async () => {
      for (let i = before; i < msgs; i += Math.max(1, Math.ceil(msgs / 20))) {
        const end = Math.min(msgs, i + Math.max(1, Math.ceil(msgs / 20)))
        for (const p of peers) await p.writer.append(messages(p.name, i, end))
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    })()

    let timer: NodeJS.Timeout | null = null
    const timeout = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), TIMEOUT) })
    const result = await Promise.race([allConverged.then(() => 'done' as const), ctx.stopped.then(() => 'stopped' as const), timeout])
    if (timer) clearTimeout(timer)
    await writing
    render()
    out.keep()
    if (result === 'stopped') throw new CliError('demo interrupted')
    if (result === 'timeout') throw new CliError(`the peers did not converge within ${TIMEOUT / 1000} s`)

    out.line('')
    out.line(`all ${n} peers hold all ${n} feeds at full length (${wanted} blocks) after ${formatDuration(Date.now() - started)}`)
    out.line('')
    const rows = peers.map((p) => {
      const s = p.m.stats()
      const down = p.closed.blocksDownloaded + s.blocksDownloaded
      const downBytes = p.closed.bytesDownloaded + s.bytesDownloaded
      const up = p.closed.blocksUploaded + s.blocksUploaded
      const upBytes = p.closed.bytesUploaded + s.bytesUploaded
      return [p.name, String(p.m.size), String(down), String(p.received.size), formatBytes(downBytes), String(up), formatBytes(upBytes), formatDuration((p.convergedAt ?? Date.now()) - started)]
    })
    for (const l of table(['PEER', 'FEEDS', 'BLOCKS DOWN', 'DISTINCT', 'BYTES DOWN', 'BLOCKS UP', 'BYTES UP', 'TIME'], rows, 'lrrrrrrr')) out.line(l)
    return 0
  }
}

function zero(): Totals {
  return { blocksDownloaded: 0, bytesDownloaded: 0, blocksUploaded: 0, bytesUploaded: 0 }
}

function messages(name: string, from: number, to: number): Buffer[] {
  const out: Buffer[] = []
  for (let i = from; i < to; i++) out.push(Buffer.from(`${name} message ${i + 1}`))
  return out
}

function bar(fraction: number, width: number): string {
  const full = Math.round(Math.max(0, Math.min(1, fraction)) * width)
  return '#'.repeat(full) + '.'.repeat(width - full)
}
