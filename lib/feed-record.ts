// A feed as the multifeed knows it: a record always, an open core only while something needs it.
import type Hypercore from 'hypercore'
import crypto from 'hypercore-crypto'
import { toHex } from './keys'

export interface FeedInfo {
  key: Buffer
  name: string | null
  writable: boolean
  length: number // contiguous length known locally
  // authorized multifeeds only (list()): whether a valid chain of records authorizes it, whether its
  // writer is an admin, and whose record authorizes it (the owner's key or an admin feed's key)
  authorized?: boolean
  admin?: boolean
  authorizedBy?: Buffer | null
}

export interface FeedRecord extends FeedInfo {
  hex: string
  discoveryKey: Buffer
  discoveryKeyHex: string // the id corestore and our store watch key the feed's core by
  core: Hypercore | null // open session, or null: a known feed costs a record, not a core
  held: boolean // the app was handed `core`: it stays open until close() or remove()
  downloading: boolean // `core` has its one live download range (it lives as long as the session)
  fork: number // the fork of the core `length` is in (a truncation by its writer starts the next one)
  storedLength: number // the length and fork in its index record; close() saves the records that moved
  storedFork: number
}

export function newRecord(key: Buffer, name: string | null, writable: boolean, length: number, fork = 0): FeedRecord {
  const discoveryKey = crypto.discoveryKey(key)
  return { key, hex: toHex(key), discoveryKey, discoveryKeyHex: toHex(discoveryKey), name, writable, length, fork, storedLength: length, storedFork: fork, core: null, held: false, downloading: false }
}

// One live download range per session serves every connection; it lives as long as the session.
export function downloadLive(record: FeedRecord): void {
  if (record.downloading || record.core === null) return
  record.downloading = true
  record.core.download({ start: 0, end: -1 })
}

export function infoOf(r: FeedRecord): FeedInfo {
  return { key: r.key, name: r.name, writable: r.writable, length: r.length }
}
