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
