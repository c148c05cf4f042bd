'use strict'
// Child-process helpers: run a scenario script in a fresh `node` process and
// collect the JSON line(s) it prints on stdout.

const { spawn } = require('child_process')
const readline = require('readline')

// Spawns `node [nodeArgs] script ...args`. Returns { child, lines } where
// lines is an async line iterator over parsed JSON objects printed on stdout
// (non-JSON lines are passed through to our stderr).
function spawnNode (script, args = [], { nodeArgs = [], cwd, env } = {}) {
  const child = spawn(process.execPath, [...nodeArgs, script, ...args.map(String)], {
    cwd,
    env: env || process.env,
    stdio: ['pipe', 'pipe', 'pipe']
  })
  let stderr = ''
  child.stderr.on('data', (d) => {
    stderr += d
    if (stderr.length > 64 * 1024) stderr = stderr.slice(-32 * 1024)
  })
  const rl = readline.createInterface({ input: child.stdout })
  const queue = []
  const waiters = []
  let ended = false
  rl.on('line', (line) => {
    let obj
    try { obj = JSON.parse(line) } catch { process.stderr.write('[' + script + '] ' + line + '\n'); return }
    if (waiters.length) waiters.shift().resolve(obj)
    else queue.push(obj)
  })
  const exited = new Promise((resolve) => child.on('close', (code, signal) => {
    ended = true
    for (const w of waiters.splice(0)) w.reject(new Error(script + ' exited (code ' + code + ', signal ' + signal + ') before printing a JSON line\n' + stderr.slice(-4000)))
    resolve({ code, signal })
  }))
  return {
    child,
    exited,
    get stderr () { return stderr },
    // next JSON line printed by the child
    next () {
      if (queue.length) return Promise.resolve(queue.shift())
      if (ended) return Promise.reject(new Error(script + ' exited before printing a JSON line\n' + stderr.slice(-4000)))
      return new Promise((resolve, reject) => waiters.push({ resolve, reject }))
    },
    send (obj) {
      child.stdin.write(JSON.stringify(obj) + '\n')
    },
    kill () {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    }
  }
}

// Runs a scenario to completion and returns the last JSON line it printed.
async function runScenario (script, args = [], { timeoutMs = 10 * 60 * 1000, nodeArgs = [] } = {}) {
  const p = spawnNode(script, args, { nodeArgs })
  const results = []
  let timer
  const timeout = new Promise((resolve) => {
    timer = setTimeout(() => { p.kill(); resolve({ timeout: true }) }, timeoutMs)
  })
  const drain = (async () => {
    while (true) {
      try { results.push(await p.next()) } catch { break }
    }
    return p.exited
  })()
  const r = await Promise.race([drain, timeout])
  clearTimeout(timer)
  if (r && r.timeout) return { error: 'timeout after ' + timeoutMs + ' ms', script, args }
  const last = results[results.length - 1]
  if (!last) return { error: 'no JSON output (exit ' + r.code + ')\n' + p.stderr.slice(-4000), script, args }
  if (r.code !== 0 && !last.error) last.error = 'exit code ' + r.code + '\n' + p.stderr.slice(-4000)
  return last
}

// In a child: reads JSON lines sent by the parent on stdin.
function parentMessages () {
  const rl = readline.createInterface({ input: process.stdin })
  const queue = []
  const waiters = []
  rl.on('line', (line) => {
    let obj
    try { obj = JSON.parse(line) } catch { return }
    if (waiters.length) waiters.shift()(obj)
    else queue.push(obj)
  })
  rl.on('close', () => { for (const w of waiters.splice(0)) w({ eof: true }) })
  return {
    next () {
      if (queue.length) return Promise.resolve(queue.shift())
      return new Promise((resolve) => waiters.push(resolve))
    },
    close () { rl.close() }
  }
}

module.exports = { spawnNode, runScenario, parentMessages }
