// The state of transfers on one connection (a Link), and the download windows the connections share. The
// scheduler (lib/transfers.ts) decides what moves; these keep the counts and clocks it decides from.

// One connection's transfers (exchange.transfers).
export class Link {
  readonly downloads = new Map<string, number>() // feeds downloading now, inside the window -> when each last brought a block
  readonly queued = new Set<string>() // feeds waiting for a window slot, in arrival order
  readonly uploads = new Map<string, number>() // feeds the remote is behind on: blocks still to send
  readonly feeds = new Set<string>() // cores kept open for this connection
  readonly stalled = new Set<string>() // feeds given up on this connection (no progress)
  readonly uploading = new Map<string, number>() // cores opened for an upload -> when the remote last fetched
  readonly offered = new Map<string, number>() // uploads of cores already open -> last fetch (each takes an offer a place)
  readonly growing = new Set<string>() // downloads of live growth of a feed we had: they linger when done
  readonly lingering = new Map<string, ReturnType<typeof setTimeout>>() // done, kept open a while -> its timer
  readonly attaching = new Map<string, Promise<void>>() // cores being attached here: settled once the channel is open
  private readonly uploadWaiters: Array<() => void> = [] // remote opens waiting for an upload place

  // Does the feed download, linger or upload here?
  transfers(hex: string): boolean {
    return this.downloads.has(hex) || this.lingering.has(hex) || this.uploads.has(hex) || this.uploading.has(hex) || this.offered.has(hex)
  }

  // A block of the feed came, or its core just opened: its stall clock starts again.
  touchDownload(hex: string, now = Date.now()): void {
    if (this.downloads.has(hex)) this.downloads.set(hex, now)
  }

  // The remote fetched a block of an upload of ours (a core opened for it, or one offered).
  touchUpload(hex: string, now = Date.now()): void {
    if (this.uploading.has(hex)) this.uploading.set(hex, now)
    if (this.offered.has(hex)) this.offered.set(hex, now)
  }

  // Cores this connection may still keep open for uploads: those opened for the remote's opens and those
  // kept open while offered share the window (a remote slower than us would hold every core we offer).
  uploadPlaces(maxUploads: number): number {
    return maxUploads - this.uploading.size - this.offered.size
  }

  waitForUploadPlace(): Promise<void> {
    return new Promise<void>((resolve) => this.uploadWaiters.push(resolve))
  }

  private freeUploadPlace(hex: string): void {
    if (!this.uploading.delete(hex)) return
    const next = this.uploadWaiters.shift()
    if (next) next()
  }

  // The upload of the feed ends here; returns whether blocks were still owed for it.
  endUpload(hex: string): boolean {
    this.freeUploadPlace(hex)
    this.offered.delete(hex)
    return this.uploads.delete(hex)
  }

  // Keeps the core of a finished download open a while: `timer` ends that.
  linger(hex: string, timer: ReturnType<typeof setTimeout>): void {
    const current = this.lingering.get(hex)
    if (current !== undefined) clearTimeout(current)
    this.lingering.set(hex, timer)
  }

  unlinger(hex: string): void {
    const timer = this.lingering.get(hex)
    if (timer !== undefined) clearTimeout(timer)
    this.lingering.delete(hex)
    this.growing.delete(hex)
  }

  // The core is being attached here (settled once its channel is open, or it failed).
  trackAttaching(hex: string, attaching: Promise<void>): void {
    this.attaching.set(hex, attaching)
    attaching.then(() => { if (this.attaching.get(hex) === attaching) this.attaching.delete(hex) })
  }

  // The feed left the multifeed: nothing of it waits, lingers or is kept here (its download and upload
  // the scheduler ends itself: they free places).
  forget(hex: string): void {
    this.feeds.delete(hex)
    this.unlinger(hex)
    this.queued.delete(hex)
    this.stalled.delete(hex)
  }

  // The connection closed: its uploads, queue and lingering cores go (every remote open waiting for an
  // upload place resumes and finds the connection closed).
  clear(): void {
    this.uploads.clear()
    this.uploading.clear()
    for (const wake of this.uploadWaiters.splice(0)) wake()
    this.queued.clear()
    for (const timer of this.lingering.values()) clearTimeout(timer)
    this.lingering.clear()
  }
}

// The download windows: at most `perLink` feeds download on one connection at once, and at most `total`
// distinct feeds on all connections together (a feed several connections download takes one place).
export class DownloadWindows {
  private readonly downloading = new Map<string, number>() // feed -> connections downloading it now

  constructor(private readonly perLink: number, private readonly total: number) {}

  // A place in this connection's window, and in the window of all connections.
  hasSlot(hex: string, link: Link): boolean {
    if (this.linkFull(link)) return false
    return this.downloading.has(hex) || this.downloading.size < this.total
  }

  linkFull(link: Link): boolean {
    return link.downloads.size >= this.perLink
  }

  add(hex: string, link: Link): void {
    link.downloads.set(hex, Date.now())
    this.downloading.set(hex, (this.downloading.get(hex) ?? 0) + 1)
  }

  // Returns whether a place in the window of all connections freed up.
  drop(hex: string, link: Link): boolean {
    if (!link.downloads.delete(hex)) return false
    const n = (this.downloading.get(hex) ?? 1) - 1
    if (n > 0) {
      this.downloading.set(hex, n)
      return false
    }
    this.downloading.delete(hex)
    return true
  }
}
