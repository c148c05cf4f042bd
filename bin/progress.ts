// Output for long work: lines go to stdout as they happen; on a terminal a status line (feeds and blocks
// received, rate) is redrawn below them. When stdout is piped the status line is never drawn.

export class Output {
  readonly tty: boolean
  private readonly stream: NodeJS.WriteStream
  private status: (() => string) | null = null
  private shown = false
  private timer: NodeJS.Timeout | null = null
  private lastDraw = 0

  constructor(stream: NodeJS.WriteStream = process.stdout, tty = !!stream.isTTY) {
    this.stream = stream
    this.tty = tty
  }

  // A line of output (results, events). Clears the status line first and redraws it after.
  line(text: string): void {
    this.clear()
    this.stream.write(text + '\n')
    this.draw()
  }

  // Sets the status line's renderer (TTY only) and redraws at most every `interval` ms.
  setStatus(render: (() => string) | null): void {
    this.status = render
    if (!this.tty) return
    if (render === null) {
      this.clear()
      return
    }
    this.draw()
  }

  // Something changed: redraw the status line soon (throttled).
  update(): void {
    if (!this.tty || this.status === null || this.timer !== null) return
    const wait = Math.max(0, 100 - (Date.now() - this.lastDraw))
    this.timer = setTimeout(() => {
      this.timer = null
      this.clear()
      this.draw()
    }, wait)
  }

  // Redraws a whole block (a table) in place on a terminal; prints it once more otherwise.
  private blockLines = 0
  redraw(lines: string[]): void {
    if (!this.tty) {
      for (const l of lines) this.stream.write(l + '\n')
      return
    }
    this.clear()
    if (this.blockLines > 0) this.stream.write(`\x1b[${this.blockLines}A\x1b[J`)
    for (const l of lines) this.stream.write(l + '\n')
    this.blockLines = lines.length
    this.draw()
  }

  // Forget the redrawn block: the next redraw starts below it.
  keep(): void {
    this.blockLines = 0
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    this.clear()
    this.status = null
  }

  private clear(): void {
    if (!this.shown) return
    this.stream.write('\r\x1b[K')
    this.shown = false
  }

  private draw(): void {
    if (!this.tty || this.status === null) return
    const cols = this.stream.columns || 80
    let text = this.status()
    if (text.length > cols - 1) text = text.slice(0, cols - 1)
    this.stream.write(text)
    this.shown = true
    this.lastDraw = Date.now()
  }
}

// Counts what arrives and how fast, for the status line and the final summary.
export class Meter {
  readonly startedAt = Date.now()
  feeds = 0
  blocks = 0
  bytes = 0

  block(bytes: number): void {
    this.blocks++
    this.bytes += bytes
  }

  get seconds(): number {
    return (Date.now() - this.startedAt) / 1000
  }

  rate(): string {
    const s = Math.max(this.seconds, 0.001)
    return `${formatBytes(this.bytes / s)}/s, ${Math.round(this.blocks / s)} blocks/s`
  }

  status(prefix = ''): string {
    return `${prefix}${this.feeds} feed${this.feeds === 1 ? '' : 's'}, ${this.blocks} block${this.blocks === 1 ? '' : 's'} received (${formatBytes(this.bytes)}, ${this.rate()})`
  }
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${Math.round(n)} B`
  const units = ['KB', 'MB', 'GB', 'TB']
  let v = n
  let i = -1
  do {
    v /= 1024
    i++
  } while (v >= 1024 && i < units.length - 1)
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`
  const m = Math.floor(ms / 60_000)
  return `${m} min ${Math.round((ms - m * 60_000) / 1000)} s`
}

// Columns padded to the widest cell; `align` has an 'r' for each right-aligned (numeric) column.
export function table(header: string[], rows: string[][], align = ''): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
  const fmt = (r: string[]): string => r.map((c, i) => align[i] === 'r' ? c.padStart(widths[i]) : c.padEnd(widths[i])).join('  ').trimEnd()
  return [fmt(header), ...rows.map(fmt)]
}
