declare module 'sodium-universal' {
  export const crypto_generichash_KEYBYTES: number
  export function crypto_generichash(out: Uint8Array, input: Uint8Array, key?: Uint8Array): void
  export function crypto_generichash_batch(out: Uint8Array, inputs: Uint8Array[], key?: Uint8Array): void
  export function randombytes_buf(buf: Uint8Array): void
  export function sodium_memcmp(a: Uint8Array, b: Uint8Array): boolean
}
