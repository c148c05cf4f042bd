// The `multifeed` command line, run as a real process. Synchronisation is on the children's output lines
// and exits, never on sleeps. Needs `npm run build` (the binary runs dist/bin/cli.js).
const test = require('brittle')
const path = require('path')
const net = require('net')
const { spawn } = require('child_process')
const createTestnet = require('@hyperswarm/testnet')
const idEncoding = require('hypercore-id-encoding')

const BIN = path.join(__dirname, '..', 'bin', 'multifeed.js')
const COMMANDS = ['create', 'join', 'append', 'feeds', 'cat', 'authorize', 'revoke', 'sync', 'swarm', 'demo']
const Z32 = '[ybndrfg8ejkmcpqxot1uwisza345h769]' // z-base-32, how the stack prints keys
const ID = new RegExp(`^${Z32}{52}$`)

// Runs the binary to completion: { code, stdout, stderr }.
function run (args, { input = null } = {}) {
  const child = start(args, { input })
  return child.exited.then((code) => ({ code, stdout: child.stdout, stderr: child.stderr }))
}

// Starts the binary; `line(re)` resolves with the match once a line of stdout matches.
function start (args, { input = null } = {}) {
  const proc = spawn(process.execPath, [BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
  const child = { proc, stdout: '', stderr: '', waiting: [], lines: [] }
  let partial = ''
  proc.stdout.setEncoding('utf-8')
  proc.stderr.setEncoding('utf-8')
  proc.stdout.on('data', (chunk) => {
    child.stdout += chunk
    const parts = (partial + chunk).split('\n')
    partial = parts.pop()
    for (const l of parts) {
      child.lines.push(l)
      for (const w of child.waiting.slice()) check(child, w, l)
    }
  })
  proc.stderr.on('data', (chunk) => { child.stderr += chunk })
  child.exited = new Promise((resolve) => proc.on('close', (code) => {
    for (const w of child.waiting) w.reject(new Error(`exited (${code}) before printing ${w.re}; stdout: ${child.stdout} stderr: ${child.stderr}`))
    child.waiting = []
    resolve(code)
  }))
  child.line = (re) => new Promise((resolve, reject) => {
    for (const l of child.lines) {
      const m = re.exec(l)
      if (m) return resolve(m)
    }
    if (proc.exitCode !== null) return reject(new Error(`exited before printing ${re}`))
    child.waiting.push({ re, resolve, reject })
  })
  if (input !== null) proc.stdin.end(input)
  else proc.stdin.end()
  return child
}

function check (child, w, l) {
  const m = w.re.exec(l)
  if (!m) return
  child.waiting.splice(child.waiting.indexOf(w), 1)
  w.resolve(m)
}

function stop (t, child) {
  t.teardown(() => {
    if (child.proc.exitCode === null && child.proc.signalCode === null) child.proc.kill('SIGKILL')
    return child.exited
  })
  return child
}

async function feedsOf (dir) {
  const r = await run(['feeds', '--json', '--dir', dir])
  if (r.code !== 0) throw new Error('feeds failed: ' + r.stderr)
  return r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l))
}

// A multifeed in one directory and the same key joined in another, each with one block written.
async function pair (t) {
  const a = await t.tmp()
  const b = await t.tmp()
  const key = (await run(['create', '--dir', a])).stdout.trim()
  t.is((await run(['join', key, '--dir', b])).code, 0)
  t.is((await run(['append', 'from a', '--dir', a])).code, 0)
  t.is((await run(['append', 'from b', '--dir', b, '--writer', 'bee'])).code, 0)
  return { a, b, key }
}

test('create, append, feeds, cat: a round trip', async (t) => {
  const dir = await t.tmp()
  const created = await run(['create', '--dir', dir])
  t.is(created.code, 0)
  const key = created.stdout.trim()
  t.ok(ID.test(key), 'prints the key in z-base-32')

  t.is((await run(['append', 'hello world', '--dir', dir])).code, 0)
  const piped = await run(['append', '-', '--writer', 'lines', '--dir', dir], { input: 'one\ntwo\nthree\n' })
  t.is(piped.code, 0, piped.stderr)
  t.ok(/3 blocks/.test(piped.stdout), 'one block per line')

  const table = await run(['feeds', '--dir', dir])
  t.is(table.code, 0)
  t.ok(table.stdout.includes(key), 'names the multifeed')
  t.ok(/KEY\s+NAME\s+SOURCE\s+LENGTH/.test(table.stdout), 'a table with a header')
  t.ok(new RegExp(`${Z32}{52}\\s+main\\s+local\\s+1\\b`).test(table.stdout), 'main: local, length 1, z-base-32 key')
  t.ok(new RegExp(`${Z32}{52}\\s+lines\\s+local\\s+3\\b`).test(table.stdout), 'lines: local, length 3')

  const json = await feedsOf(dir)
  t.is(json.length, 2)
  t.alike(json.map((f) => [f.name, f.local, f.length]).sort(), [['lines', true, 3], ['main', true, 1]])
  for (const f of json) {
    t.ok(/^[0-9a-f]{64}$/.test(f.key), '--json: key stays hex')
    t.is(f.id, idEncoding.encode(Buffer.from(f.key, 'hex')), '--json: id is the same key in z-base-32')
    t.ok(table.stdout.includes(f.id), 'the table shows the id')
  }

  const all = await run(['cat', '--dir', dir])
  t.is(all.code, 0)
  t.alike(all.stdout.trim().split('\n').sort(), ['hello world', 'one', 'three', 'two'])

  const lines = json.find((f) => f.name === 'lines')
  for (const feed of [lines.key, lines.id, lines.key.toUpperCase(), lines.key.slice(0, 10), lines.id.slice(0, 10), 'lines']) {
    const one = await run(['cat', '--feed', feed, '--dir', dir])
    t.is(one.stdout, 'one\ntwo\nthree\n', `--feed ${feed}: one feed, in order`)
  }
  const long = await run(['cat', '--feed', lines.id.slice(0, 6), '--long', '--dir', dir])
  t.ok(long.stdout.startsWith(lines.id.slice(0, 8) + ' lines 0 one\n'), '--long prefixes short z-base-32 key, name, index')

  const bad = await run(['cat', '--feed', 'lvl0', '--dir', dir])
  t.is(bad.code, 2, '--feed that is no key (l, v: neither hex nor z-base-32) nor writer: usage error')
  t.ok(/invalid feed/.test(bad.stderr), bad.stderr.trim())
  const tooShort = await run(['cat', '--feed', lines.id.slice(0, 3), '--dir', dir])
  t.is(tooShort.code, 2, 'a prefix under 4 characters')

  const other = await run(['cat', '--feed', 'f'.repeat(64), '--dir', dir])
  t.is(other.code, 1, 'a feed that is not there: runtime error')
  t.ok(/no feed/.test(other.stderr))
})

test('usage errors exit 2 with one line on stderr', async (t) => {
  const dir = await t.tmp()
  const badKey = await run(['join', 'not-a-key', '--dir', dir])
  t.is(badKey.code, 2)
  t.ok(/invalid key "not-a-key": expected 52 z-base-32 or 64 hex characters/.test(badKey.stderr), badKey.stderr)
  t.is(badKey.stderr.trim().split('\n').length, 1, 'one line')
  t.is(badKey.stdout, '')

  const short = await run(['join', 'abcd', '--dir', dir])
  t.is(short.code, 2, 'a short hex key')
  const notHex = await run(['join', 'g'.repeat(64), '--dir', dir])
  t.is(notHex.code, 2, '64 characters that are not hex')
  t.ok(/not all hex/.test(notHex.stderr), notHex.stderr.trim())
  const notZ32 = await run(['join', 'l'.repeat(52), '--dir', dir])
  t.is(notZ32.code, 2, '52 characters that are not z-base-32')
  t.ok(/not all z-base-32/.test(notZ32.stderr), notZ32.stderr.trim())

  const unknown = await run(['frobnicate'])
  t.is(unknown.code, 2)
  t.ok(/unknown command "frobnicate"/.test(unknown.stderr))
  t.is(unknown.stderr.trim().split('\n').length, 1)

  const option = await run(['feeds', '--frob', '--dir', dir])
  t.is(option.code, 2)
  t.ok(/unknown option --frob/.test(option.stderr))

  const missing = await run(['append', '--dir', dir])
  t.is(missing.code, 2, 'a missing argument')
  const value = await run(['append', 'x', '--writer'])
  t.is(value.code, 2, 'an option without its value')
  const nothing = await run([])
  t.is(nothing.code, 2, 'no command')
  t.ok(/Usage: multifeed/.test(nothing.stderr))
  const sync = await run(['sync', '--dir', dir])
  t.is(sync.code, 2, 'sync needs --listen or --connect')
  const demo = await run(['demo', '--peers', 'many'])
  t.is(demo.code, 2, 'a number option that is no number')
})

test('--help at the top level and on every command', async (t) => {
  const top = await run(['--help'])
  t.is(top.code, 0)
  for (const name of COMMANDS) t.ok(top.stdout.includes(name), 'lists ' + name)
  const results = await Promise.all(COMMANDS.map((name) => run([name, '--help'])))
  for (const [i, name] of COMMANDS.entries()) {
    const r = results[i]
    t.is(r.code, 0, name + ' --help')
    t.ok(r.stdout.startsWith('Usage: multifeed ' + name), name + ' usage')
    t.ok(r.stdout.includes('--help'), name + ' lists its options')
  }
  const viaHelp = await run(['help', 'sync'])
  t.ok(viaHelp.stdout.includes('--listen'), 'multifeed help <command>')
})

test('commands that need data refuse a directory without a multifeed', async (t) => {
  const dir = path.join(await t.tmp(), 'nothing-here')
  for (const args of [['append', 'x'], ['feeds'], ['cat'], ['sync', '--connect', '127.0.0.1:1']]) {
    const r = await run([...args, '--dir', dir])
    t.is(r.code, 1, args[0])
    t.ok(/no multifeed at/.test(r.stderr), args[0] + ': ' + r.stderr.trim())
  }
  const created = await run(['create', '--dir', dir])
  t.is(created.code, 0, 'create makes the directory')
  const again = await run(['create', '--dir', dir])
  t.is(again.code, 1, 'create does not overwrite')
  t.ok(again.stderr.includes(created.stdout.trim()), 'and names the multifeed already there')
})

test('join records the key: later commands find it without being told', async (t) => {
  const dir = await t.tmp()
  const key = 'ab'.repeat(32)
  const id = idEncoding.encode(Buffer.from(key, 'hex'))
  const joined = await run(['join', key, '--dir', dir])
  t.is(joined.code, 0, joined.stderr)
  t.is(joined.stdout.trim(), id, 'a hex key is accepted and printed in z-base-32')
  t.is((await run(['append', 'mine', '--dir', dir])).code, 0)
  const table = await run(['feeds', '--dir', dir])
  t.ok(table.stdout.startsWith('multifeed ' + id), 'the joined key, not a new one')
  for (const same of [key, id, key.toUpperCase(), id.toUpperCase()]) {
    t.is((await run(['join', same, '--dir', dir])).code, 0, `joining the same key again (${same.slice(0, 6)}...) is fine`)
  }
  const asHex = await run(['join', id, '--hex', '--dir', dir])
  t.is(asHex.stdout.trim(), key, '--hex prints the key as hex')
  const other = await run(['join', 'cd'.repeat(32), '--dir', dir])
  t.is(other.code, 1, 'another key in the same directory is refused')
  t.ok(/already holds another multifeed/.test(other.stderr))
  t.ok(other.stderr.includes(id), 'naming the one it holds')

  const fromZ32 = await t.tmp()
  const created = (await run(['create', '--hex', '--dir', await t.tmp()])).stdout.trim()
  t.ok(/^[0-9a-f]{64}$/.test(created), 'create --hex prints hex')
  const z = idEncoding.encode(Buffer.from(created, 'hex'))
  const joinedZ = await run(['join', z, '--hex', '--dir', fromZ32])
  t.is(joinedZ.code, 0, 'a z-base-32 key is accepted')
  t.is(joinedZ.stdout.trim(), created, 'and is the same key')
})

test('a directory in use by another process: a clear error about the lock', async (t) => {
  const dir = await t.tmp()
  await run(['create', '--dir', dir])
  await run(['append', 'first', '--dir', dir])
  const follow = stop(t, start(['cat', '--follow', '--dir', dir]))
  await follow.line(/^first$/) // it holds the storage now

  const locked = await run(['append', 'second', '--dir', dir])
  t.is(locked.code, 1)
  t.ok(/lock/.test(locked.stderr), locked.stderr.trim())
  t.is(locked.stderr.trim().split('\n').length, 1, 'one line')

  follow.proc.kill('SIGTERM')
  t.is(await follow.exited, 143, 'cat --follow stops on SIGTERM: 128 + 15')
  t.is((await run(['append', 'second', '--dir', dir])).code, 0, 'and releases the lock')
})

test('sync over TCP: both sides end up with both feeds', async (t) => {
  const { a, b } = await pair(t)
  const listener = stop(t, start(['sync', '--listen', '127.0.0.1:0', '--dir', a]))
  const [, port] = await listener.line(/^listening on 127\.0\.0\.1:(\d+)$/)
  t.ok(Number(port) > 0, 'prints the actual port')

  const connector = await run(['sync', '--connect', '127.0.0.1:' + port, '--dir', b])
  t.is(connector.code, 0, connector.stderr)
  t.ok(/^synced with /m.test(connector.stdout))
  t.is(await listener.exited, 0, 'the listener exits once caught up too')

  for (const dir of [a, b]) {
    const feeds = await feedsOf(dir)
    t.is(feeds.length, 2, 'two feeds')
    t.ok(feeds.every((f) => f.length === 1), 'both at full length')
    t.is(feeds.filter((f) => f.local).length, 1, 'one local, one remote')
    const cat = await run(['cat', '--dir', dir])
    t.alike(cat.stdout.trim().split('\n').sort(), ['from a', 'from b'])
  }
})

test('sync --pull downloads everything and advertises nothing', async (t) => {
  const { a, b } = await pair(t)
  const listener = stop(t, start(['sync', '--listen', '127.0.0.1:0', '--dir', a]))
  const [, port] = await listener.line(/^listening on 127\.0\.0\.1:(\d+)$/)
  const puller = await run(['sync', '--connect', '127.0.0.1:' + port, '--pull', '--dir', b])
  t.is(puller.code, 0, puller.stderr)
  t.is(await listener.exited, 0)

  const pulled = await feedsOf(b)
  t.is(pulled.length, 2, 'the puller has both feeds')
  t.ok(pulled.every((f) => f.length === 1))
  const served = await feedsOf(a)
  t.is(served.length, 1, 'the other side learned nothing from the puller')
  t.ok(served[0].local)
})

test('sync with a peer of another multifeed: it fails with exit 1, the listener waits for the right one', async (t) => {
  const { a, b } = await pair(t)
  const stranger = await t.tmp()
  await run(['create', '--dir', stranger])
  const listener = stop(t, start(['sync', '--listen', '127.0.0.1:0', '--dir', a]))
  const [, port] = await listener.line(/^listening on 127\.0\.0\.1:(\d+)$/)
  const r = await run(['sync', '--connect', '127.0.0.1:' + port, '--dir', stranger])
  t.is(r.code, 1)
  t.ok(/did not finish: the peer does not have this multifeed/.test(r.stderr), r.stderr.trim())
  await listener.line(/^connection from 127\.0\.0\.1:\d+ closed before the handshake: the peer does not have this multifeed .*; still listening$/)

  const right = await run(['sync', '--connect', '127.0.0.1:' + port, '--dir', b])
  t.is(right.code, 0, right.stderr)
  t.is(await listener.exited, 0, 'the listener synced with the right peer')
  t.is((await feedsOf(b)).length, 2)
  t.is((await feedsOf(stranger)).length, 0, 'the stranger got nothing')
})

test('sync --listen: a connection that closes before the handshake does not end it', async (t) => {
  const { a, b } = await pair(t)
  const listener = stop(t, start(['sync', '--listen', '127.0.0.1:0', '--dir', a]))
  const [, port] = await listener.line(/^listening on 127\.0\.0\.1:(\d+)$/)

  // a port scanner or health check: open, close at once
  await new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), '127.0.0.1', () => socket.destroy())
    socket.on('error', reject)
    socket.on('close', resolve)
  })
  await listener.line(/^connection from 127\.0\.0\.1:\d+ closed before the handshake/)
  // something that is not a multifeed at all
  await new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), '127.0.0.1', () => socket.end('GET / HTTP/1.0\r\n\r\n'))
    socket.on('error', () => {})
    socket.on('close', resolve)
    socket.resume()
  })
  // and one that stays open and silent while the real peer syncs
  const silent = net.connect(Number(port), '127.0.0.1')
  silent.on('error', () => {})
  t.teardown(() => silent.destroy())

  const r = await run(['sync', '--connect', '127.0.0.1:' + port, '--dir', b])
  t.is(r.code, 0, r.stderr)
  t.ok(/^synced with /m.test(r.stdout))
  t.is(await listener.exited, 0, 'the listener synced with the real peer and exits 0')
  for (const dir of [a, b]) t.is((await feedsOf(dir)).length, 2, 'both feeds on both sides')
})

test('Ctrl-C (SIGINT) exits 130', async (t) => {
  const { a } = await pair(t)
  const listener = stop(t, start(['sync', '--listen', '127.0.0.1:0', '--dir', a]))
  await listener.line(/^listening on /)
  listener.proc.kill('SIGINT')
  t.is(await listener.exited, 130, 'sync --listen')
  t.ok(/^multifeed: interrupted before a peer connected$/m.test(listener.stderr), listener.stderr.trim())
  t.is((await run(['append', 'after', '--dir', a])).code, 0, 'the storage was released')

  const live = stop(t, start(['sync', '--listen', '127.0.0.1:0', '--live', '--dir', a]))
  await live.line(/^listening on /)
  live.proc.kill('SIGINT')
  t.is(await live.exited, 130, 'sync --live, which only ends this way')
  t.is(live.stderr, '', 'quietly')
})

test('sync --listen on an address in use: "address already in use" with the address', async (t) => {
  const { a, b } = await pair(t)
  const first = stop(t, start(['sync', '--listen', '127.0.0.1:0', '--dir', a]))
  const [, port] = await first.line(/^listening on 127\.0\.0\.1:(\d+)$/)
  const second = await run(['sync', '--listen', '127.0.0.1:' + port, '--dir', b])
  t.is(second.code, 1)
  t.is(second.stderr, `multifeed: cannot listen on 127.0.0.1:${port}: address already in use\n`)
  first.proc.kill('SIGINT')
  t.is(await first.exited, 130)
})

test('swarm on a private DHT: feeds and blocks arrive, --until-synced exits', async (t) => {
  const testnet = await createTestnet(3, { host: '127.0.0.1', teardown: t.teardown })
  const bootstrap = testnet.bootstrap[0].host + ':' + testnet.bootstrap[0].port
  const { a, b } = await pair(t)
  const first = stop(t, start(['swarm', '--bootstrap', bootstrap, '--dir', a]))
  await first.line(/^swarming multifeed /)
  const second = await run(['swarm', '--bootstrap', bootstrap, '--until-synced', '--dir', b])
  t.is(second.code, 0, second.stderr)
  t.ok(new RegExp(`^new feed ${Z32}{52}$`, 'm').test(second.stdout), 'prints the new feed')
  t.ok(new RegExp(`^${Z32}{8} 0 from a$`, 'm').test(second.stdout), 'prints the block as it arrives')
  await first.line(new RegExp(`^${Z32}{8} 0 from b$`))
  first.proc.kill('SIGINT')
  t.is(await first.exited, 130, 'Ctrl-C: 130')
  t.is((await feedsOf(a)).length, 2)
  t.is((await feedsOf(b)).length, 2)
})

test('demo: three peers converge and it exits 0', async (t) => {
  const r = await run(['demo', '--peers', '3', '--messages', '5'])
  t.is(r.code, 0, r.stderr)
  t.ok(/all 3 peers hold all 3 feeds at full length \(15 blocks\)/.test(r.stdout))
  t.ok(/^PEER\s+FEEDS\s+BLOCKS DOWN/m.test(r.stdout), 'prints the statistics')
  t.is(r.stdout.match(/^peer-\d\s+3\s+\d+/gm).length, 3, 'a row per peer')
})

test('an authorized multifeed: create --owner prints a join key; a member cannot authorize; the owner authorizes and revokes', async (t) => {
  const dir = await t.tmp()
  const owner = path.join(dir, 'owner')
  const member = path.join(dir, 'member')
  const created = await run(['--dir', owner, 'create', '--owner'])
  t.is(created.code, 0, created.stderr)
  const joinKey = created.stdout.trim()
  t.ok(/^[0-9a-f]{128}$/.test(joinKey), 'the join key: 128 hex characters')
  t.is((await run(['--dir', member, 'join', joinKey])).code, 0)
  t.is((await run(['--dir', member, 'append', 'hi'])).code, 0)
  const listed = JSON.parse((await run(['--dir', member, 'feeds', '--json'])).stdout.trim())
  t.is(listed.authorized, false, 'feeds --json says the member\'s writer is not authorized')
  const denied = await run(['--dir', member, 'authorize', listed.key])
  t.is(denied.code, 1)
  t.ok(/ERR_NOT_ADMIN/.test(denied.stderr), 'a member cannot authorize: ' + denied.stderr.trim())
  const ok = await run(['--dir', owner, 'authorize', listed.key, '--admin'])
  t.is(ok.code, 0, ok.stderr)
  t.ok(/^authorized .* \(admin\)$/.test(ok.stdout.trim()))
  const revoked = await run(['--dir', owner, 'revoke', listed.id])
  t.is(revoked.code, 0, revoked.stderr)
  const table = (await run(['--dir', owner, 'feeds'])).stdout
  t.ok(/\(authorized, owner /.test(table), 'feeds shows the multifeed is authorized')
  t.ok(/AUTHORIZED/.test(table))
})
