// Printing blocks as they become available locally, feed by feed, in order: a feed's next block is read
// without waiting (get with wait: false), and a read is retried whenever the core appends or downloads.
import type Hypercore from 'hypercore'
import type { Multifeed } from '../lib/multifeed'

export type BlockHandler = (feed: Hypercore, name: string | null, seq: number, value: Buffer) => void

interface Followed {
  core: Hypercore
  name: string | null
  next: number
  running: boolean
  again: boolean
  off: () => void
}

export class Follower {
  private readonly followed = new Map<string, Followed>()
  private readonly onblock: BlockHandler
  private closed = false
  private idle: Array<() => void> = []

  constructor(onblock: BlockHandler) {
    this.onblock = onblock
  }

  // Follows every feed of `m`, now and as they are added; existing feeds start at `fromEnd` ? their length : 0.
  followAll(m: Multifeed, opts: { fromEnd?: boolean, onfeed?: (feed: Hypercore, name: string | null) => void } = {}): () => void {
    const onfeed = (feed: Hypercore, name: string | null): void => {
      opts.onfeed?.(feed, name)
      this.follow(feed, name, 0)
    }
    m.on('feed', onfeed)
    for (const info of m.list()) {
      const core = m.feed(info.key)
      if (core) this.follow(core, info.name, opts.fromEnd ? info.length : 0)
    }
    return () => { m.off('feed', onfeed) }
  }

  follow(core: Hypercore, name: string | null, from = 0): void {
    const id = core.key ? core.key.toString('hex') : String(this.followed.size)
    if (this.closed || this.followed.has(id)) return
    const f: Followed = { core, name, next: from, running: false, again: false, off: () => {} }
    const kick = (): void => { this.drain(f) }
    core.on('append', kick)
    core.on('download', kick)
    f.off = () => {
      core.off('append', kick)
      core.off('download', kick)
    }
    this.followed.set(id, f)
    this.drain(f)
  }

  // Resolves once every followed feed has printed all it holds.
  settled(): Promise<void> {
    if (![...this.followed.values()].some((f) => f.running)) return Promise.resolve()
    return new Promise((resolve) => this.idle.push(resolve))
  }

  close(): void {
    this.closed = true
    for (const f of this.followed.values()) f.off()
    this.followed.clear()
  }

  private drain(f: Followed): void {
    if (f.running) {
      f.again = true
      return
    }
    f.running = true
    this.run(f).catch(() => {}).finally(() => {
      f.running = false
      if (f.again && !this.closed) {
        f.again = false
        this.drain(f)
        return
      }
      if (![...this.followed.values()].some((x) => x.running)) {
        const idle = this.idle
        this.idle = []
        for (const resolve of idle) resolve()
      }
    })
  }

  private async run(f: Followed): Promise<void> {
    do {
      f.again = false
      await f.core.ready()
      while (!this.closed && !f.core.closing) {
        const value = await f.core.get(f.next, { wait: false }) as Buffer | null
        if (value === null || value === undefined) break
        this.onblock(f.core, f.name, f.next, value)
        f.next++
      }
    } while (f.again && !this.closed)
  }
}
