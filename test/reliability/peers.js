// The parent's side of test/reliability/hostile.js: the victim process, hand-driven members and honest
// multifeeds, each reached by the victim over its own TCP connection (a loopback net socket piped to a
// replication stream).
'use strict'
const net = require('net')
const path = require('path')
const { fork } = require('child_process')
const { EventEmitter } = require('events')
const c = require('compact-encoding')
const b4a = require('b4a')
const crypto = require('hypercore-crypto')
const Hypercore = require('hypercore')
const hcMessages = require('hypercore/lib/messages')
const hcCaps = require('hypercore/lib/caps')
const messages = require('../../dist/lib/messages.js')
const caps = require('../../dist/lib/caps.js')

const noop = () => {}

// --- the victim, in a child process ---

async function spawnVictim () {
  const child = fork(path.join(__dirname, 'victim.js'), [], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const waiting = new Map()
  let next = 0
  child.on('message', (msg) => {
    if (msg.ready) return
    const w = waiting.get(msg.id)
    if (!w) return
    waiting.delete(msg.id)
    if (msg.error) {
      const err = new Error('victim: ' + msg.error.message)
      err.code = msg.error.code
      err.remoteStack = msg.error.stack
      w.reject(err)
    } else w.resolve(msg.result)
  })
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => {
    for (const w of waiting.values()) w.reject(new Error(`victim exited (code ${code}, signal ${signal})`))
    waiting.clear()
    resolve({ code, signal })
  }))
  await new Promise((resolve) => child.once('message', resolve))
  const call = (cmd, args) => new Promise((resolve, reject) => {
    const id = next++
    waiting.set(id, { resolve, reject })
    child.send({ id, cmd, args })
  })
  return {
    child,
    call,
    async close () {
      if (child.exitCode === null && child.signalCode === null) {
        await Promise.race([call('close').catch(noop), new Promise((resolve) => setTimeout(resolve, 10000))])
        if (child.exitCode === null) child.kill('SIGKILL')
      }
      await exited
    }
  }
}

// --- TCP ---

async function listen (onsocket) {
  const sockets = new Set()
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
    socket.setNoDelay(true)
    socket.on('error', noop)
    onsocket(socket)
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: server.address().port,
    close () {
      for (const s of sockets) s.destroy()
      return new Promise((resolve) => server.close(() => resolve()))
    }
  }
}

function pipeSocket (socket, stream) {
  stream.on('error', noop)
  socket.pipe(stream).pipe(socket)
  stream.once('close', () => socket.destroy())
  socket.once('close', () => stream.destroy())
}

// An honest multifeed of the parent, serving the victim's connection(s) over TCP.
async function honest (m) {
  const streams = []
  const server = await listen((socket) => {
    const s = m.replicate(false)
    streams.push(s)
    pipeSocket(socket, s)
  })
  return { port: server.port, streams, close: () => server.close() }
}

// --- a hand-driven member (test/hostile.js's `hostile`, over TCP) ---

// The multifeed channel driven by hand over protomux. With a `store`, corestore serves the cores it holds
// on the connection; without one the stream is bare and every Hypercore channel the victim opens is
// rejected (the member holds nothing). `advertise` sends a summary of its set and the whole set as plain
// lists (list mode whenever either set is empty); `feeds` sends one `feeds` message; `received` keeps
// what the victim sent.
async function member (key, { store = null } = {}) {
  const events = new EventEmitter()
  const peer = { key, store, events, received: [], stream: null, muxer: null, channel: null, hyperChannels: 0, hyperOpened: 0, hyperClosed: 0 }
  let onconnected
  peer.connected = new Promise((resolve) => { onconnected = resolve })
  const server = await listen((socket) => {
    if (peer.stream !== null) return socket.destroy() // one connection per member
    const stream = store ? store.replicate(false) : Hypercore.createProtocolStream(false)
    peer.stream = stream
    peer.socket = socket
    pipeSocket(socket, stream)
    setup(stream).then(onconnected, (err) => { events.emit('error', err) })
  })
  peer.port = server.port
  peer.close = async () => {
    if (peer.stream) peer.stream.destroy()
    await server.close()
  }

  async function setup (stream) {
    const muxer = Hypercore.getProtocolMuxer(stream)
    peer.muxer = muxer
    const noise = muxer.stream
    if (!noise.handshakeHash) await noise.opened
    const channel = muxer.createChannel({
      protocol: messages.PROTOCOL,
      id: crypto.discoveryKey(key),
      handshake: c.raw,
      messages: [0, 1, 2, 3, 4, 5].map((type) => ({ encoding: c.raw, onmessage: (buf) => { peer.received.push({ type, buf }); events.emit('message', type, buf) } })),
      onclose: () => events.emit('close')
    })
    peer.channel = channel
    channel.open(messages.encode(messages.handshake, { version: messages.VERSION, client: 'MULTIFEED', capability: caps.capability(noise.isInitiator, key, noise.handshakeHash) }))
    peer.salt = caps.connectionSalt(key, noise.handshakeHash)
    return peer
  }

  peer.send = (type, buf) => peer.channel.messages[type].send(buf)
  peer.summary = (entries, count = entries.length) => {
    const digest = new caps.SetDigest(peer.salt)
    for (const e of entries) digest.toggle(caps.element(peer.salt, e.key, e.length))
    peer.send(0, messages.encode(messages.summary, { count, digest: digest.digest }))
  }
  // a summary of a set too large to hash here: the digest is random (it never matches)
  peer.summaryOf = (count) => peer.send(0, messages.encode(messages.summary, { count, digest: crypto.randomBytes(32) }))
  peer.feeds = (entries, last = false) => {
    const buf = messages.encode(messages.feeds, { last, entries })
    peer.send(1, buf)
    return buf.byteLength
  }
  // the whole list, split as the protocol does (4,096 entries a message), the last one marked last
  peer.list = (entries, { live = false } = {}) => {
    const max = messages.LIMITS.maxEntriesPerMessage
    let bytes = 0
    for (let i = 0; i === 0 || i < entries.length; i += max) bytes += peer.feeds(entries.slice(i, i + max), !live && i + max >= entries.length)
    return bytes
  }
  peer.advertise = (entries) => {
    peer.summary(entries)
    return peer.list(entries)
  }
  // the feeds the victim listed to us (decoded `feeds` messages so far)
  peer.listed = () => {
    const out = []
    for (const { type, buf } of peer.received) {
      if (type !== 1) continue
      for (const e of messages.decode(messages.feeds, buf, 'feeds').entries) out.push(e)
    }
    return out
  }
  // Opens a Hypercore channel for `key` and never sends anything on it (no sync, no request): the
  // victim sees a peer that wants the feed.
  peer.openCoreChannel = (coreKey) => {
    const noise = peer.muxer.stream
    const ch = peer.muxer.createChannel({
      protocol: 'hypercore/alpha',
      id: crypto.discoveryKey(coreKey),
      handshake: hcMessages.wire.handshake,
      messages: Array.from({ length: 10 }, () => ({ encoding: c.raw, onmessage: noop })),
      onopen: () => { peer.hyperOpened++ },
      onclose: () => { peer.hyperClosed++ }
    })
    if (ch === null) return false
    peer.hyperChannels++
    ch.open({ seeks: false, capability: hcCaps.replicate(noise.isInitiator, coreKey, noise.handshakeHash) })
    return true
  }
  return peer
}

function fakeEntries (n, length) {
  const keys = crypto.randomBytes(32 * n)
  const out = new Array(n)
  for (let i = 0; i < n; i++) out[i] = { key: b4a.from(keys.subarray(i * 32, i * 32 + 32)), length }
  return out
}

module.exports = { spawnVictim, listen, pipeSocket, honest, member, fakeEntries }
