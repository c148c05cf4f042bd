// Opening the multifeed in --dir. Commands that read or write existing data refuse a directory that
// holds no multifeed instead of silently creating a new random one.
import fs from 'fs'
import path from 'path'
import { Multifeed, MultifeedOptions } from '../lib/multifeed'
import { CliError } from './errors'

export const DEFAULT_DIR = './multifeed-data'

// A corestore leaves its marker and database behind; an empty or missing directory holds nothing.
export function hasStorage(dir: string): boolean {
  return fs.existsSync(path.join(dir, 'CORESTORE')) || fs.existsSync(path.join(dir, 'db'))
}

// The directory may not exist yet, or exist and be empty; anything else is somebody else's data.
export function checkFreshDir(dir: string): void {
  let entries: string[]
  try {
    const st = fs.statSync(dir)
    if (!st.isDirectory()) throw new CliError(`${dir} exists and is not a directory`)
    entries = fs.readdirSync(dir)
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return
    throw err
  }
  if (entries.length > 0 && !hasStorage(dir)) throw new CliError(`${dir} is not empty and holds no multifeed; choose another --dir`)
}

export async function openExisting(dir: string, opts: MultifeedOptions = {}): Promise<Multifeed> {
  if (!fs.existsSync(dir)) throw new CliError(`no multifeed at ${dir}: the directory does not exist (run 'multifeed create' or 'multifeed join <key>' first, or pass --dir)`)
  if (!hasStorage(dir)) throw new CliError(`no multifeed at ${dir}: the directory holds no multifeed storage (run 'multifeed create' or 'multifeed join <key>' first, or pass --dir)`)
  return openMultifeed(dir, opts)
}

export async function openMultifeed(dir: string, opts: MultifeedOptions = {}): Promise<Multifeed> {
  const m = new Multifeed(dir, opts)
  try {
    await m.ready()
  } catch (err) {
    await m.close().catch(() => {})
    throw err
  }
  return m
}

// For scripts and internal maps; what users read is z-base-32 (keys.ts).
export function hex(key: Buffer): string {
  return key.toString('hex')
}
