// What a peer holds of a feed, as peers compare it: the core's fork first (a writer that truncates its
// feed starts a new fork, which replaces the old one on every peer that meets it), then the contiguous
// length in that fork.
export interface Position {
  length: number
  fork: number
}

// Does a peer at `have` hold everything a peer at `want` does? A later fork holds more whatever its
// length: an earlier fork's blocks past the truncation are no longer the feed's.
export function covers(have: Position, want: Position): boolean {
  return have.fork > want.fork || (have.fork === want.fork && have.length >= want.length)
}

// Positions by hex key, as compact as lengths alone: the fork is kept only where it is not 0.
export class PositionMap {
  private readonly lengths = new Map<string, number>()
  private readonly forks = new Map<string, number>()

  get size(): number {
    return this.lengths.size
  }

  has(hex: string): boolean {
    return this.lengths.has(hex)
  }

  get(hex: string): Position | undefined {
    const length = this.lengths.get(hex)
    return length === undefined ? undefined : { length, fork: this.forks.get(hex) ?? 0 }
  }

  set(hex: string, position: Position): void {
    this.lengths.set(hex, position.length)
    if (position.fork !== 0) this.forks.set(hex, position.fork)
    else this.forks.delete(hex)
  }

  delete(hex: string): void {
    this.lengths.delete(hex)
    this.forks.delete(hex)
  }
}
