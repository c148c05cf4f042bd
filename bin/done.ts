// Knowing that both ends of a connection are caught up. A multifeed knows when *it* has downloaded all
// its peer advertised (its exchange is live with nothing pending), not when the peer has. So beside the
// multifeed's exchange, two `multifeed` processes open a small channel of their own on the connection:
// each sends `done` once its side is synced, and a connection is settled once `done` went both ways.
import c from 'compact-encoding'
import Hypercore from 'hypercore'
import type { Multifeed } from '../lib/multifeed'
import type { FeedExchange } from '../lib/exchange'

const PROTOCOL = 'hyper-multifeed-cli/done/1'

export class DoneChannel {
  readonly m: Multifeed
  readonly stream: any
  sentDone = false
  gotDone = false
  settled = false
  private channel: ReturnType<ReturnType<typeof Hypercore.getProtocolMuxer>['createChannel']> = null
  private readonly onsettled: (exchange: FeedExchange | null, last: boolean) => void
  private readonly check: () => void
  private closed = false

  // `onsettled` runs once, when both sides have said done. `last` is true when the peer's done was the final
  // message: the peer already has ours, so this side may end the connection. When our done was the final
  // message it may still sit in a corked muxer, so ending now could lose it: leave the closing to the peer.
  constructor(m: Multifeed, stream: any, onsettled: (exchange: FeedExchange | null, last: boolean) => void) {
    this.m = m
    this.stream = stream
    this.onsettled = onsettled
    this.check = () => this.update()
    const muxer = Hypercore.getProtocolMuxer(stream)
    const id = m.discoveryKey
    const open = (): void => {
      if (this.channel !== null || this.closed) return
      this.channel = muxer.createChannel({
        protocol: PROTOCOL,
        id,
        messages: [{
          encoding: c.uint,
          onmessage: () => {
            this.gotDone = true
            this.update()
          }
        }],
        onopen: () => this.update()
      })
      this.channel?.open()
    }
    // the peer's open may come first (a swarm connection is offered to us after it is up)
    muxer.pair({ protocol: PROTOCOL, id }, open)
    open()
    m.on('exchange', this.check)
    m.on('synced', this.check)
    stream.once('close', () => this.destroy())
    this.update()
  }

  // This connection's exchange, once the multifeed has one on it.
  get exchange(): FeedExchange | null {
    for (const ex of this.m.connections) if (ex.stream === this.stream && ex.phase !== 'closed') return ex
    return null
  }

  update(): void {
    if (this.closed || this.channel === null || !this.channel.opened) return
    const ex = this.exchange
    let sentNow = false
    if (!this.sentDone && ex !== null && ex.synced) {
      this.sentDone = true
      sentNow = true
      this.channel.messages[0].send(this.m.size)
    }
    if (!this.sentDone || !this.gotDone || this.settled) return
    this.settled = true
    this.onsettled(ex, !sentNow)
  }

  destroy(): void {
    if (this.closed) return
    this.closed = true
    this.m.off('exchange', this.check)
    this.m.off('synced', this.check)
    try {
      Hypercore.getProtocolMuxer(this.stream)?.unpair({ protocol: PROTOCOL, id: this.m.discoveryKey })
    } catch {}
  }
}
