// The commands that work on the storage alone: create, join, append, feeds, cat.
import type Hypercore from 'hypercore'
import { Multifeed, FeedInfo } from '../lib/multifeed'
import { Command, str, flag } from './command'
import { UsageError, CliError } from './errors'
import { checkFreshDir, hasStorage, openExisting, openMultifeed, hex } from './storage'
import { parseKey, keyId, shortId, keyStartsWith, looksLikeKey } from './keys'
import type { OptionSpec } from './args'

const HEX_OPTION: OptionSpec = { name: 'hex', type: 'boolean', help: 'print the key as 64 hex characters instead of z-base-32' }
const printedKey = (key: Buffer, asHex: boolean): string => asHex ? hex(key) : keyId(key)
import { Follower } from './follow'
import { table } from './progress'

export const create: Command = {
  name: 'create',
  summary: 'make a new multifeed in --dir and print its key',
  usage: '[options]',
  description: 'Creates the storage directory and a multifeed with a new random key, and prints the key\n(z-base-32, or hex with --hex). Share the key with others; they run `multifeed join <key>`.\nWith --owner: an authorized multifeed owned by this device; prints its join key (the shared key and the\nowner\'s key, 128 hex characters) to share instead. Only feeds the owner or an admin authorizes are synced.',
  options: [HEX_OPTION, { name: 'owner', type: 'boolean', help: 'an authorized multifeed: this device is the owner' }],
  positionals: { min: 0, max: 0 },
  needsDir: true,
  async run(ctx) {
    if (hasStorage(ctx.dir)) {
      const m = await openExisting(ctx.dir)
      const key = keyId(m.key!)
      await m.close()
      throw new CliError(`${ctx.dir} already holds multifeed ${key}`)
    }
    checkFreshDir(ctx.dir)
    const owner = flag(ctx, 'owner')
    const m = await openMultifeed(ctx.dir, owner ? { owner: true } : {})
    ctx.defer(() => m.close())
    ctx.out.line(owner ? m.joinKey! : printedKey(m.key!, flag(ctx, 'hex')))
  }
}

export const join: Command = {
  name: 'join',
  summary: 'record an existing multifeed\'s key for --dir',
  usage: '[options] <key>',
  description: 'Records <key> (52 z-base-32 or 64 hex characters, or an authorized multifeed\'s join key of 128 hex\ncharacters) as the multifeed of --dir, so later commands (sync, swarm) fetch its feeds. Prints the key\n(z-base-32, or hex with --hex). Joining the key a directory already holds is a no-op.',
  options: [HEX_OPTION],
  positionals: { min: 1, max: 1 },
  needsDir: true,
  async run(ctx) {
    const given = ctx.positionals[0].trim().toLowerCase()
    const joinKey = /^[0-9a-f]{128}$/.test(given) ? given : null
    const key = joinKey !== null ? Buffer.from(joinKey.slice(0, 64), 'hex') : parseKey(ctx.positionals[0], 'key', 'join')
    if (hasStorage(ctx.dir)) {
      const existing = await openExisting(ctx.dir)
      const had = existing.key!
      await existing.close()
      if (!had.equals(key)) throw new CliError(`${ctx.dir} already holds another multifeed (${keyId(had)}); use another --dir`)
    } else {
      checkFreshDir(ctx.dir)
    }
    const m = await openMultifeed(ctx.dir, joinKey !== null ? { key: joinKey } : { key })
    ctx.defer(() => m.close())
    ctx.out.line(printedKey(m.key!, flag(ctx, 'hex')))
  }
}

export const append: Command = {
  name: 'append',
  summary: 'append a block to a local writer (- reads lines from stdin)',
  usage: '[options] <text|->',
  description: 'Appends <text> as one block to the local writer --writer (created on first use).\nWith -, reads stdin and appends one block per line.',
  options: [
    { name: 'writer', alias: 'w', type: 'string', value: 'NAME', default: 'main', help: 'the local writer to append to' }
  ],
  positionals: { min: 1, max: 1 },
  needsDir: true,
  async run(ctx) {
    const name = str(ctx, 'writer')!
    if (name === '') throw new UsageError('the writer name must not be empty', 'append')
    const text = ctx.positionals[0]
    const m = await openExisting(ctx.dir)
    ctx.defer(() => m.close())
    const w = await m.writer(name)
    let n = 0
    if (text === '-') {
      process.stdin.setEncoding('utf-8')
      ctx.out.setStatus(() => `appending to ${name}: ${n} blocks`)
      for await (const batch of lineBatches(process.stdin, 1000)) {
        await w.append(batch.map((l) => Buffer.from(l)))
        n += batch.length
        ctx.out.update()
      }
      ctx.out.setStatus(null)
    } else {
      await w.append(Buffer.from(text))
      n = 1
    }
    ctx.out.line(`appended ${n} block${n === 1 ? '' : 's'} to writer ${name} (${shortId(w.key!)}), length ${w.length}`)
  }
}

export const feeds: Command = {
  name: 'feeds',
  summary: 'list the feeds: key, name, local/remote, length',
  usage: '[options]',
  description: [
    'Prints a table of the multifeed\'s feeds: the feed key, the writer name (local writers only),',
    'whether it is local (ours, writable) or remote, and the length held locally.',
    'In an authorized multifeed also whether each feed is authorized (admin: may authorize others), and by whom.',
    'With --json, one object per line: {"key": hex, "id": z-base-32, "name", "local", "length"}',
    '(and "authorized", "admin", "authorizedBy" in an authorized multifeed).'
  ].join('\n'),
  options: [
    { name: 'json', type: 'boolean', help: 'print one JSON object per line instead of a table' }
  ],
  positionals: { min: 0, max: 0 },
  needsDir: true,
  async run(ctx) {
    const m = await openExisting(ctx.dir)
    ctx.defer(() => m.close())
    const list = sortFeeds(m.list())
    if (flag(ctx, 'json')) {
      // stable for scripts: `key` stays hex (what the library takes); `id` is the key as printed elsewhere
      for (const f of list) {
        const auth = m.owner === null ? {} : { authorized: f.authorized, admin: f.admin, authorizedBy: f.authorizedBy ? hex(f.authorizedBy) : null }
        ctx.out.line(JSON.stringify({ key: hex(f.key), id: keyId(f.key), name: f.name, local: f.writable, length: f.length, ...auth }))
      }
      return
    }
    ctx.out.line(`multifeed ${keyId(m.key!)}` + (m.owner === null ? '' : ` (authorized, owner ${shortId(m.owner)})`))
    if (m.owner !== null) {
      const who = (f: FeedInfo): string => !f.authorized ? 'no' : (f.admin ? 'admin' : 'yes') + ' by ' + (f.authorizedBy!.equals(m.owner!) ? 'owner' : shortId(f.authorizedBy!))
      const rows = list.map((f) => [keyId(f.key), f.name ?? '-', f.writable ? 'local' : 'remote', String(f.length), who(f)])
      for (const l of table(['KEY', 'NAME', 'SOURCE', 'LENGTH', 'AUTHORIZED'], rows, 'lllrl')) ctx.out.line(l)
    } else {
      const rows = list.map((f) => [keyId(f.key), f.name ?? '-', f.writable ? 'local' : 'remote', String(f.length)])
      for (const l of table(['KEY', 'NAME', 'SOURCE', 'LENGTH'], rows, 'lllr')) ctx.out.line(l)
    }
    if (list.length === 0) ctx.out.line('(no feeds yet: `multifeed append <text>` writes one)')
  }
}

export const cat: Command = {
  name: 'cat',
  summary: 'print the blocks of one feed or of all feeds',
  usage: '[options]',
  description: 'Prints every block held locally, one per line, feed after feed (local writers first).\n--follow keeps running and prints new blocks as they are appended (until Ctrl-C).',
  options: [
    { name: 'feed', type: 'string', value: 'KEY', help: 'only this feed: its key or a unique prefix of it (z-base-32 or hex), or a local writer name' },
    { name: 'follow', alias: 'f', type: 'boolean', help: 'keep printing new blocks' },
    { name: 'long', alias: 'l', type: 'boolean', help: 'prefix each block with its feed (short key, name) and index' }
  ],
  positionals: { min: 0, max: 0 },
  needsDir: true,
  async run(ctx) {
    const want = str(ctx, 'feed')
    if (want !== undefined && want === '') throw new UsageError('--feed needs a key', 'cat')
    const m = await openExisting(ctx.dir)
    ctx.defer(() => m.close())
    const long = flag(ctx, 'long')
    const print = (core: Hypercore, name: string | null, seq: number, value: Buffer): void => {
      const text = value.toString()
      ctx.out.line(long ? `${shortId(core.key!)} ${name ?? '-'} ${seq} ${text}` : text)
    }
    const chosen = want === undefined ? sortFeeds(m.list()) : [findFeed(m, want)]
    if (!flag(ctx, 'follow')) {
      for (const info of chosen) {
        const core = m.feed(info.key)!
        for (let i = 0; i < info.length; i++) {
          const value = await core.get(i, { wait: false }) as Buffer | null
          if (value === null) break
          print(core, info.name, i, value)
        }
      }
      return
    }
    const follower = new Follower(print)
    ctx.defer(() => follower.close())
    if (want === undefined) {
      // existing feeds in order first, then everything as it arrives
      for (const info of chosen) {
        follower.follow(m.feed(info.key)!, info.name, 0)
        await follower.settled()
      }
      ctx.defer(follower.followAll(m))
    } else {
      follower.follow(m.feed(chosen[0].key)!, chosen[0].name, 0)
    }
    await ctx.stopped
  }
}

// Local writers first (by name), then remote feeds (by key).
function sortFeeds(list: FeedInfo[]): FeedInfo[] {
  return list.slice().sort((a, b) => {
    if (a.writable !== b.writable) return a.writable ? -1 : 1
    if (a.writable) return (a.name ?? '').localeCompare(b.name ?? '')
    return keyId(a.key).localeCompare(keyId(b.key))
  })
}

// --feed: a local writer's name, or a feed key or unique prefix of one (at least 4 characters) in z-base-32
// or hex. A prefix is matched in both encodings; one that fits two feeds is ambiguous.
export function findFeed(m: Multifeed, want: string): FeedInfo {
  const list = m.list()
  const byName = list.filter((f) => f.writable && f.name === want)
  if (byName.length === 1) return byName[0]
  const prefix = want.trim().toLowerCase()
  if (!looksLikeKey(prefix)) {
    throw new UsageError(`invalid feed "${want}": give a feed key (52 z-base-32 or 64 hex characters), a unique prefix of one, or a local writer name`, 'cat')
  }
  if (prefix.length < 4) throw new UsageError(`feed prefix "${want}" is too short: give at least 4 characters`, 'cat')
  const found = list.filter((f) => keyStartsWith(f.key, prefix))
  if (found.length === 1) return found[0]
  if (found.length > 1) throw new CliError(`feed prefix ${want} is ambiguous: ${found.length} feeds match`)
  throw new CliError(`no feed ${want} in multifeed ${keyId(m.key!)}`)
}

// Lines of a stream in batches (the last line needs no newline; a trailing newline makes no empty block).
async function * lineBatches(input: NodeJS.ReadableStream, size: number): AsyncGenerator<string[]> {
  let rest = ''
  let batch: string[] = []
  for await (const chunk of input) {
    const text = rest + String(chunk)
    const lines = text.split('\n')
    rest = lines.pop()!
    for (const l of lines) {
      batch.push(l.endsWith('\r') ? l.slice(0, -1) : l)
      if (batch.length >= size) {
        yield batch
        batch = []
      }
    }
  }
  if (rest !== '') batch.push(rest)
  if (batch.length > 0) yield batch
}

export const authorize: Command = {
  name: 'authorize',
  summary: 'sign that a feed belongs to an authorized multifeed (owner or admin)',
  usage: '[options] <feed key>',
  description: 'Signs, as the owner or with one of this device\'s writers that is an admin, that <feed key> belongs to\nthe multifeed. Peers learn it when they next sync. --admin lets that feed\'s writer authorize and revoke too.',
  options: [{ name: 'admin', type: 'boolean', help: 'the feed\'s writer becomes an admin' }],
  positionals: { min: 1, max: 1 },
  needsDir: true,
  async run(ctx) {
    const key = parseKey(ctx.positionals[0], 'feed key', 'authorize')
    const m = await openExisting(ctx.dir)
    ctx.defer(() => m.close())
    await m.authorize(key, { admin: flag(ctx, 'admin') })
    ctx.out.line(`authorized ${keyId(key)}${flag(ctx, 'admin') ? ' (admin)' : ''}`)
  }
}

export const revoke: Command = {
  name: 'revoke',
  summary: 'sign that a feed is out of an authorized multifeed, for good (owner or admin)',
  usage: '[options] <feed key>',
  description: 'Signs that <feed key> is out of the multifeed: every peer that learns it removes the feed and never takes\nit again. Only the owner revokes an admin.',
  options: [],
  positionals: { min: 1, max: 1 },
  needsDir: true,
  async run(ctx) {
    const key = parseKey(ctx.positionals[0], 'feed key', 'revoke')
    const m = await openExisting(ctx.dir)
    ctx.defer(() => m.close())
    await m.revoke(key)
    ctx.out.line(`revoked ${keyId(key)}`)
  }
}
