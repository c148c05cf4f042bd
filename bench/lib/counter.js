'use strict'
// Byte counting on piped replication streams.
//
//   const { pipeCounted } = require('./counter')
//   const stats = pipeCounted(s1, s2)   // instead of s1.pipe(s2).pipe(s1)
//   ...
//   stats.summary() // { aToB, bToA, total, handshakeAToB, handshakeBToA, ... }
//
// The taps sit on the wire (the raw, encrypted bytes that would go over a
// socket), one per direction. With framing 'secret-stream' (default; what
// hypercore 11 / corestore 7 replicate() returns: @hyperswarm/secret-stream)
// the tap parses the uint24le length-prefixed frames and classifies every
// byte up to and including the stream-id header frame (payload 56 bytes, sent
// right after the Noise XX handshake) as handshake; everything after it is
// counted as payload ("bytes after the Noise handshake"). With framing 'none'
// (e.g. multifeed 6 / hypercore-protocol 8) all bytes count as payload.
//
// Works with both streamx (hypercore 11) and Node core streams (multifeed 6):
// the tap is a plain Node Transform.

const { Transform } = require('stream')

const SECRET_STREAM_HEADER_PAYLOAD = 56 // 32 byte stream id + 24 byte secretstream header

class Tap extends Transform {
  constructor (framing = 'secret-stream') {
    super()
    this.framing = framing
    this.total = 0
    this.handshake = 0
    this.frames = 0
    this.inHandshake = framing === 'secret-stream'
    // frame parser state (secret-stream only)
    this._hdr = Buffer.alloc(3)
    this._hdrLen = 0
    this._remaining = 0
    this._curLen = 0
    this.onfirstpayload = null
    this.firstPayloadAt = null
  }

  get payload () { return this.total - this.handshake }

  _transform (chunk, enc, cb) {
    if (typeof chunk === 'string') chunk = Buffer.from(chunk, enc)
    this.total += chunk.length
    if (this.inHandshake) this._parse(chunk)
    cb(null, chunk)
  }

  _parse (chunk) {
    let i = 0
    while (i < chunk.length && this.inHandshake) {
      if (this._remaining === 0) {
        // reading the 3-byte length prefix
        this._hdr[this._hdrLen++] = chunk[i++]
        this.handshake++
        if (this._hdrLen === 3) {
          this._curLen = this._hdr[0] | (this._hdr[1] << 8) | (this._hdr[2] << 16)
          this._remaining = this._curLen
          this._hdrLen = 0
          if (this._remaining === 0) this._endFrame()
        }
        continue
      }
      const n = Math.min(this._remaining, chunk.length - i)
      this._remaining -= n
      this.handshake += n
      i += n
      if (this._remaining === 0) this._endFrame()
    }
  }

  _endFrame () {
    this.frames++
    if (this._curLen === SECRET_STREAM_HEADER_PAYLOAD) {
      this.inHandshake = false
    }
  }
}

// Pipes a <-> b through two counting taps. Returns a stats object.
function pipeCounted (a, b, { framing = 'secret-stream' } = {}) {
  const ab = new Tap(framing)
  const ba = new Tap(framing)
  a.pipe(ab).pipe(b).pipe(ba).pipe(a)
  return stats(ab, ba)
}

// For a duplex raw stream (e.g. a TCP socket) and a replication stream:
//   tapSocket(socket, repl) pipes repl -> socket and socket -> repl, counting
//   out = bytes this process sent, in = bytes it received.
function pipeCountedSocket (socket, repl, { framing = 'secret-stream' } = {}) {
  const out = new Tap(framing)
  const inn = new Tap(framing)
  repl.pipe(out).pipe(socket).pipe(inn).pipe(repl)
  return stats(out, inn)
}

function stats (ab, ba) {
  return {
    ab,
    ba,
    snapshot () {
      return { ab: ab.payload, ba: ba.payload, total: ab.payload + ba.payload }
    },
    // payload bytes since a previous snapshot
    since (snap) {
      return { ab: ab.payload - snap.ab, ba: ba.payload - snap.ba, total: ab.payload + ba.payload - snap.total }
    },
    summary () {
      return {
        bytesAToB: ab.payload,
        bytesBToA: ba.payload,
        bytes: ab.payload + ba.payload,
        handshakeBytes: ab.handshake + ba.handshake,
        wireBytes: ab.total + ba.total,
        handshakeDone: !ab.inHandshake && !ba.inHandshake
      }
    }
  }
}

module.exports = { Tap, pipeCounted, pipeCountedSocket, SECRET_STREAM_HEADER_PAYLOAD }
