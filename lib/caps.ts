// Secrets derived from the shared key and the Noise handshake, as hypercore's lib/caps.js does for cores.
import sodium from 'sodium-universal'
import crypto from 'hypercore-crypto'
import b4a from 'b4a'
import c from 'compact-encoding'

const [CAP_INITIATOR, CAP_RESPONDER, SALT, HELLO_INITIATOR, HELLO_RESPONDER] = crypto.namespace('hyper-multifeed', 5)

function hash(key: Buffer, parts: Buffer[], bytes = 32): Buffer {
  const out = b4a.allocUnsafe(bytes) as Buffer
  sodium.crypto_generichash_batch(out, parts, key)
  return out
}

// Proof that the sender knows the shared key, bound to this connection so it cannot be replayed.
export function capability(isInitiator: boolean, sharedKey: Buffer, handshakeHash: Buffer): Buffer {
  return hash(sharedKey, [isInitiator ? CAP_INITIATOR : CAP_RESPONDER, handshakeHash])
}

// The hello's proof of a set (3.1.0): that the sender knows the shared key, runs the same client and owner,
// and holds a set of `count` elements with this digest (salted per connection, so never replayable). Equal
// to the one the receiver computes for itself as the sender's side exactly when the summaries would match.
export function helloProof(isInitiator: boolean, sharedKey: Buffer, handshakeHash: Buffer, client: string, owner: Buffer | null, count: number, digest: Buffer): Buffer {
  const parts = [isInitiator ? HELLO_INITIATOR : HELLO_RESPONDER, handshakeHash, c.encode(c.string, client) as Buffer, owner ?? b4a.alloc(0) as Buffer, c.encode(c.uint, count) as Buffer, digest]
  return hash(sharedKey, parts, 16)
}

// Per-connection salt for set hashes: unknown to anyone without the shared key, new on every connection.
export function connectionSalt(sharedKey: Buffer, handshakeHash: Buffer): Buffer {
  return hash(sharedKey, [SALT, handshakeHash])
}

export const ELEMENT_BYTES = 14
export const KEY_HASH_BYTES = 8

// A reconciliation element: 8-byte salted hash of the feed key (and of its fork when that is not 0, so a
// feed at another fork is another element, never a shorter or longer one), then the length as 6 bytes
// little-endian.
export function element(salt: Buffer, key: Buffer, length: number, fork = 0): Buffer {
  const out = b4a.allocUnsafe(16) as Buffer // BLAKE2b gives at least 16 bytes: hash into 16, keep 8
  if (fork === 0) sodium.crypto_generichash(out, key, salt)
  else sodium.crypto_generichash_batch(out, [key, c.encode(c.uint, fork) as Buffer], salt)
  out.writeUIntLE(length, KEY_HASH_BYTES, 6)
  return out.subarray(0, ELEMENT_BYTES)
}

function view(el: Uint8Array): Buffer {
  return b4a.from(el.buffer, el.byteOffset, el.byteLength) as Buffer // b4a, like every other buffer here, not the Node global
}

export function elementKeyHash(el: Uint8Array): Buffer {
  return view(el).subarray(0, KEY_HASH_BYTES)
}

export function elementLength(el: Uint8Array): number {
  return view(el).readUIntLE(KEY_HASH_BYTES, 6)
}

// Order-free digest of a set of elements: XOR of their salted hashes. Adding and removing are the same XOR.
export class SetDigest {
  readonly digest: Buffer
  private readonly salt: Buffer
  private readonly scratch: Buffer

  constructor(salt: Buffer) {
    this.salt = salt
    this.digest = b4a.alloc(32) as Buffer
    this.scratch = b4a.allocUnsafe(32) as Buffer
  }

  toggle(el: Uint8Array): void {
    sodium.crypto_generichash(this.scratch, el, this.salt)
    for (let i = 0; i < 32; i++) this.digest[i] ^= this.scratch[i]
  }

  copy(): SetDigest {
    const d = new SetDigest(this.salt)
    this.digest.copy(d.digest)
    return d
  }
}
