// The `multifeed` command line, run as a real process. Synchronisation is on the children's output lines
// and exits, never on sleeps. Needs `npm run build` (the binary runs dist/bin/cli.js).
const test = require('brittle')
const path = require('path')
const { spawn } = require('child_process')
const createTestnet = require('@hyperswarm/testnet')

const BIN = path.join(__dirname, '..', 'bin', 'multifeed.js')
const COMMANDS = ['create', 'join', 'append', 'feeds', 'cat', 'sync', 'swarm', 'demo']

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
  t.ok(/^[0-9a-f]{64}$/.test(key), 'prints the key in hex')

  t.is((await run(['append', 'hello world', '--dir', dir])).code, 0)
  const piped = await run(['append', '-', '--writer', 'lines', '--dir', dir], { input: 'one\ntwo\nthree\n' })
  t.is(piped.code, 0, piped.stderr)
  t.ok(/3 blocks/.test(piped.stdout), 'one block per line')

  const table = await run(['feeds', '--dir', dir])
  t.is(table.code, 0)
  t.ok(table.stdout.includes(key), 'names the multifeed')
  t.ok(/KEY\s+NAME\s+SOURCE\s+LENGTH/.test(table.stdout), 'a table with a header')
  t.ok(/[0-9a-f]{64}\s+main\s+local\s+1\b/.test(table.stdout), 'main: local, length 1')
  t.ok(/[0-9a-f]{64}\s+lines\s+local\s+3\b/.test(table.stdout), 'lines: local, length 3')

  const json = await feedsOf(dir)
  t.is(json.length, 2)
  t.alike(json.map((f) => [f.name, f.local, f.length]).sort(), [['lines', true, 3], ['main', true, 1]])

  const all = await run(['cat', '--dir', dir])
  t.is(all.code, 0)
  t.alike(all.stdout.trim().split('\n').sort(), ['hello world', 'one', 'three', 'two'])

  const lines = json.find((f) => f.name === 'lines')
  const one = await run(['cat', '--feed', lines.key, '--dir', dir])
  t.is(one.stdout, 'one\ntwo\nthree\n', 'one feed, in order')
  const byPrefix = await run(['cat', '--feed', lines.key.slice(0, 10), '--long', '--dir', dir])
  t.ok(byPrefix.stdout.startsWith(lines.key.slice(0, 8) + ' lines 0 one\n'), '--long prefixes key, name, index')

  const other = await run(['cat', '--feed', 'f'.repeat(64), '--dir', dir])
  t.is(other.code, 1, 'a feed that is not there: runtime error')
  t.ok(/no feed/.test(other.stderr))
})

test('usage errors exit 2 with one line on stderr', async (t) => {
  const dir = await t.tmp()
  const badKey = await run(['join', 'not-a-key', '--dir', dir])
  t.is(badKey.code, 2)
  t.ok(/invalid key/.test(badKey.stderr), badKey.stderr)
  t.is(badKey.stderr.trim().split('\n').length, 1, 'one line')
  t.is(badKey.stdout, '')

  const short = await run(['join', 'abcd', '--dir', dir])
  t.is(short.code, 2, 'a short hex key')

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
  const joined = await run(['join', key, '--dir', dir])
  t.is(joined.code, 0)
  t.is(joined.stdout.trim(), key)
  t.is((await run(['append', 'mine', '--dir', dir])).code, 0)
  const table = await run(['feeds', '--dir', dir])
  t.ok(table.stdout.startsWith('multifeed ' + key), 'the joined key, not a new one')
  t.is((await run(['join', key, '--dir', dir])).code, 0, 'joining the same key again is fine')
  const other = await run(['join', 'cd'.repeat(32), '--dir', dir])
  t.is(other.code, 1, 'another key in the same directory is refused')
  t.ok(/already holds another multifeed/.test(other.stderr))
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
  t.is(await follow.exited, 0, 'cat --follow stops cleanly on SIGTERM')
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

test('sync with a peer of another multifeed fails with exit 1', async (t) => {
  const a = await t.tmp()
  const b = await t.tmp()
  await run(['create', '--dir', a])
  await run(['create', '--dir', b])
  const listener = stop(t, start(['sync', '--listen', '127.0.0.1:0', '--dir', a]))
  const [, port] = await listener.line(/^listening on 127\.0\.0\.1:(\d+)$/)
  const r = await run(['sync', '--connect', '127.0.0.1:' + port, '--dir', b])
  t.is(r.code, 1)
  t.ok(/did not finish/.test(r.stderr), r.stderr.trim())
  t.is(await listener.exited, 1)
})

test('swarm on a private DHT: feeds and blocks arrive, --until-synced exits', async (t) => {
  const testnet = await createTestnet(3, { host: '127.0.0.1', teardown: t.teardown })
  const bootstrap = testnet.bootstrap[0].host + ':' + testnet.bootstrap[0].port
  const { a, b } = await pair(t)
  const first = stop(t, start(['swarm', '--bootstrap', bootstrap, '--dir', a]))
  await first.line(/^swarming multifeed /)
  const second = await run(['swarm', '--bootstrap', bootstrap, '--until-synced', '--dir', b])
  t.is(second.code, 0, second.stderr)
  t.ok(/^new feed [0-9a-f]{64}$/m.test(second.stdout), 'prints the new feed')
  t.ok(/^[0-9a-f]{8} 0 from a$/m.test(second.stdout), 'prints the block as it arrives')
  await first.line(/^[0-9a-f]{8} 0 from b$/)
  first.proc.kill('SIGINT')
  t.is(await first.exited, 0)
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
