// The slice of hyperdht (6.x) that hyper-multifeed uses: enough to build a DHT for a Hyperswarm.
declare module 'hyperdht' {
  import { EventEmitter } from 'events'
  namespace HyperDHT {
    interface KeyPair { publicKey: Buffer, secretKey: Buffer }
    interface Node { host: string, port: number }
    interface Options {
      bootstrap?: Array<string | Node>
      keyPair?: KeyPair
      port?: number
      host?: string
      ephemeral?: boolean
      firewalled?: boolean
      nodes?: Node[]
      connectionKeepAlive?: number | false
      [option: string]: unknown
    }
  }
  class HyperDHT extends EventEmitter {
    constructor(opts?: HyperDHT.Options)
    static keyPair(seed?: Buffer): HyperDHT.KeyPair
    readonly defaultKeyPair: HyperDHT.KeyPair
    readonly destroyed: boolean
    readonly bootstrapNodes: HyperDHT.Node[]
    ready(): Promise<void>
    fullyBootstrapped(): Promise<void>
    address(): { host: string, port: number }
    destroy(opts?: { force?: boolean }): Promise<void>
  }
  export = HyperDHT
}
