// `multifeed swarm`: find peers for the multifeed on a DHT (the public one, or a private one through
// --bootstrap) with the Networker, and print feeds and blocks as they arrive until Ctrl-C.
import type Hypercore from 'hypercore'
import { Command, flag, list } from './command'
import { UsageError } from './errors'
import { parseHostPort } from './args'
import { openExisting } from './storage'
import { keyId, shortId } from './keys'
import { Follower } from './follow'
import type { FeedExchange } from '../lib/exchange'
import { Meter } from './progress'
import { createNetworker, HostPort } from './modules'

const DONE_GRACE = 1000 // ms our final done may take to leave before --until-synced exits

export const swarm: Command = {
  name: 'swarm',
  summary: 'replicate with peers found on the DHT, printing feeds and blocks as they arrive',
  usage: '[options]',
  description: [
    'Announces and looks up the multifeed\'s discovery key on the DHT, replicates with every peer found, and',
    'prints new feeds and downloaded blocks as they arrive, until Ctrl-C. Uses the public DHT unless',
    '--bootstrap points at a private one (e.g. a local testnet).'
  ].join('\n'),
  options: [
    { name: 'bootstrap', alias: 'b', type: 'string', multiple: true, value: 'HOST:PORT', help: 'bootstrap node of a private DHT (repeatable)' },
    { name: 'pull', type: 'boolean', help: 'only download: advertise none of our feeds' },
    { name: 'until-synced', type: 'boolean', help: 'exit 0 once in sync with one peer (both sides hold what the other advertised)' },
    { name: 'quiet', alias: 'q', type: 'boolean', help: 'print feeds and peers, not every block' }
  ],
  positionals: { min: 0, max: 0 },
  needsDir: true,
  async run(ctx) {
    const bootstrap: HostPort[] = list(ctx, 'bootstrap').map((b) => parseHostPort(b, '--bootstrap', 'swarm'))
    if (bootstrap.some((b) => b.port === 0)) throw new UsageError('--bootstrap needs a port other than 0', 'swarm')
    const m = await openExisting(ctx.dir, flag(ctx, 'pull') ? { share: () => false } : {})
    ctx.defer(() => m.close())
    const out = ctx.out
    const meter = new Meter()
    const quiet = flag(ctx, 'quiet')

    let peers = 0
    let settle: (() => void) | null = null
    const settledOnce = new Promise<void>((resolve) => { settle = resolve })
    const seen = new Set<unknown>()
    m.on('exchange', (ex: unknown) => {
      if (seen.has(ex)) return
      seen.add(ex)
      peers++
      out.line(`peer connected (${peers} peer${peers === 1 ? '' : 's'})`)
    })
    m.on('exchange-close', (ex: unknown, err: Error | null) => {
      if (!seen.delete(ex)) return
      peers--
      const why = err ? `: ${(err.message || String(err)).split('\n')[0]}` : ''
      out.line(`peer left (${peers} peer${peers === 1 ? '' : 's'})${why}`)
    })

    const follower = new Follower((core: Hypercore, _name, seq, value) => {
      if (!core.writable) {
        meter.block(value.byteLength)
        out.update()
      }
      if (!quiet) out.line(`${shortId(core.key!)} ${seq} ${value.toString()}`)
    })
    ctx.defer(() => follower.close())
    ctx.defer(follower.followAll(m, {
      fromEnd: true,
      onfeed: (core, name) => {
        meter.feeds++
        out.line(`new feed ${keyId(core.key!)}${name ? ' (' + name + ')' : ''}`)
      }
    }))

    const networker = createNetworker(bootstrap)
    // without a reachable DHT, leaving the topic never finishes: give it a moment, then exit regardless
    ctx.defer(() => Promise.race([networker.destroy(), new Promise((resolve) => setTimeout(resolve, 2000).unref())]))
    networker.on('error', (err: Error) => out.line(`network error: ${(err.message || String(err)).split('\n')[0]}`))
    // the peer says `done` once it has all of ours (protocol 2.1): an exchange settled both ways is in sync
    const inSync = new WeakSet<FeedExchange>()
    m.on('exchange', (ex: FeedExchange) => {
      if (!ex.settled || inSync.has(ex)) return
      inSync.add(ex)
      out.line(`in sync with a peer: ${m.size} feed${m.size === 1 ? '' : 's'}`)
      // our done may have been the final message: give it until the connection closes (or a moment) to leave
      ex.stream.once('close', () => settle?.())
      setTimeout(() => settle?.(), DONE_GRACE).unref()
    })
    out.setStatus(() => meter.status(`${peers} peer${peers === 1 ? '' : 's'}, `))
    out.line(`swarming multifeed ${keyId(m.key!)} on ${bootstrap.length > 0 ? 'the DHT at ' + bootstrap.map((b) => `${b.host}:${b.port}`).join(', ') : 'the public DHT'} (${m.size} feed${m.size === 1 ? '' : 's'}; Ctrl-C to stop)`)
    // joining can take long (or forever without a network): it runs while we wait for peers or Ctrl-C
    const joined = networker.swarm(m).then(() => null, (err: Error) => err)
    const failed = joined.then((err) => err ?? new Promise<never>(() => {}))
    const until = flag(ctx, 'until-synced') ? settledOnce : new Promise<never>(() => {})
    const result = await Promise.race([until.then(() => null), ctx.stopped.then(() => null), failed])
    if (result instanceof Error) throw result
    await follower.settled()
    return 0
  }
}
