declare module 'hypercore-crypto' {
  export interface KeyPair { publicKey: Buffer, secretKey: Buffer }
  export function keyPair(seed?: Buffer): KeyPair
  export function discoveryKey(key: Buffer): Buffer
  export function randomBytes(n: number): Buffer
  export function hash(data: Buffer | Buffer[], out?: Buffer): Buffer
  export function namespace(name: string | Buffer, count: number): Buffer[]
  export function sign(message: Buffer, secretKey: Buffer): Buffer
  export function verify(message: Buffer, signature: Buffer, publicKey: Buffer): boolean
}
