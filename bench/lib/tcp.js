'use strict'
// TCP variant: two child processes, one listening on 127.0.0.1 port 0 and
// printing the port, the other connecting; the replication stream is piped
// over the socket (optionally through counting taps, see counter.js).
//
// Protocol between the orchestrating parent and its two children (all JSON
// lines): the server child prints {"port": N, ...extra} once it listens; the
// client child is started with --port N, does its work and prints its result
// line; then the parent sends {"done": true} to the server on stdin, and the
// server prints its own result line (e.g. its peak memory) and exits.
//
//   // parent (scenario script without --role):
//   const r = await runTcpPair(__filename, ['--feeds', 1000])
//   // -> { server: {...}, client: {...} }
//
//   // server child (--role server):
//   const { socket, port } = await listenOnce(async (port) => announce({ port }))
//   ...pipe replication over socket...; await waitParentDone(); emit(result)
//
//   // client child (--role client --port N):
//   const socket = await connect(port)

const net = require('net')
const { spawnNode, parentMessages } = require('./child')

// Listens on 127.0.0.1:0. onListening(port) is called (and awaited) before
// the first connection is accepted. Resolves with the first socket.
function listenOnce (onListening) {
  return new Promise((resolve, reject) => {
    const server = net.createServer({ noDelay: true })
    server.once('error', reject)
    server.once('connection', (socket) => {
      socket.setNoDelay(true)
      server.close() // accept no further connections
      resolve({ socket, server })
    })
    server.listen(0, '127.0.0.1', () => {
      Promise.resolve(onListening(server.address().port)).catch(reject)
    })
  })
}

function connect (port, host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host, noDelay: true })
    socket.once('connect', () => { socket.removeListener('error', reject); resolve(socket) })
    socket.once('error', reject)
  })
}

function announce (obj) {
  process.stdout.write(JSON.stringify(obj) + '\n')
}

let messages = null
// In the server child: resolves when the parent says {"done": true} (or stdin ends).
async function waitParentDone () {
  if (!messages) messages = parentMessages()
  while (true) {
    const m = await messages.next()
    if (m.done || m.eof) { messages.close(); return }
  }
}

// In the parent: runs `node script --role server ...args`, waits for its
// {port} line, runs `node script --role client --port N ...args (+ extra
// fields from the server's line as --key value)`, collects both results.
async function runTcpPair (script, args = [], { timeoutMs = 10 * 60 * 1000, nodeArgs = [] } = {}) {
  const server = spawnNode(script, ['--role', 'server', ...args], { nodeArgs })
  let client = null
  const timer = setTimeout(() => { server.kill(); if (client) client.kill() }, timeoutMs)
  try {
    const hello = await server.next()
    if (hello.error) throw new Error('server: ' + hello.error)
    const extra = []
    for (const [k, v] of Object.entries(hello)) extra.push('--' + k, v)
    client = spawnNode(script, ['--role', 'client', ...args, ...extra], { nodeArgs })
    const clientResult = await client.next()
    server.send({ done: true })
    const serverResult = await server.next()
    await Promise.all([client.exited, server.exited])
    return { server: serverResult, client: clientResult }
  } finally {
    clearTimeout(timer)
    server.kill()
    if (client) client.kill()
  }
}

// A first-sync scenario as two processes, reported from the downloader's side in the shape every sync
// scenario shares; `extra(server, client)` adds the scenario's own fields.
async function runTcpSync (script, scenario, args, extra = () => ({})) {
  const { server, client } = await runTcpPair(script, args)
  if (server.error) throw new Error('server: ' + server.error)
  if (client.error) throw new Error('client: ' + client.error)
  return {
    scenario,
    transport: 'tcp',
    timeMs: client.timeMs,
    peakRssMB: client.peakRssMB, // downloader (B) process, sync phase
    serverPeakRssMB: server.peakRssMB, // uploader (A) process, sync phase
    bytes: client.bytesSent + client.bytesReceived,
    setupMs: server.setupMs,
    ...extra(server, client)
  }
}

module.exports = { listenOnce, connect, announce, waitParentDone, runTcpPair, runTcpSync }
