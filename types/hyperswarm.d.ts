// The slice of hyperswarm (4.x) that hyper-multifeed uses.
declare module 'hyperswarm' {
  import { EventEmitter } from 'events'
  import HyperDHT = require('hyperdht')
  namespace Hyperswarm {
    interface KeyPair { publicKey: Buffer, secretKey: Buffer }
    interface Options {
      keyPair?: KeyPair
      seed?: Buffer
      maxPeers?: number
      maxClientConnections?: number
      maxServerConnections?: number
      maxParallel?: number
      firewall?: (remotePublicKey: Buffer, payload: unknown) => boolean
      dht?: HyperDHT | unknown // a HyperDHT; the swarm's own when absent
      bootstrap?: HyperDHT.Options['bootstrap']
      port?: number
      backoffs?: number[]
      jitter?: number
      [option: string]: unknown
    }
    interface JoinOptions {
      server?: boolean
      client?: boolean
      limit?: number
      onerror?: (err: Error) => void
    }
    // An encrypted connection to one peer (a @hyperswarm/secret-stream NoiseSecretStream).
    interface Connection extends EventEmitter {
      readonly isInitiator: boolean
      readonly publicKey: Buffer
      readonly remotePublicKey: Buffer
      readonly handshakeHash: Buffer | null
      readonly destroyed: boolean
      readonly destroying: boolean
      readonly opened: Promise<boolean>
      readonly rawBytesRead: number
      readonly rawBytesWritten: number
      userData: any
      write(data: Buffer): boolean
      end(data?: Buffer): void
      destroy(err?: Error | null): void
      setKeepAlive(ms: number): void
      sendKeepAlive(): void
      pipe<T>(dest: T): T
    }
    interface PeerInfo {
      readonly publicKey: Buffer
      readonly relayAddresses: unknown[]
      readonly topics: Buffer[]
      readonly client: boolean
      readonly server: boolean
      readonly explicit: boolean
      readonly banned: boolean
      readonly attempts: number
      reconnect(val: boolean): void
      ban(val: boolean): void
    }
    interface PeerDiscoverySession {
      readonly topic: Buffer
      readonly isClient: boolean
      readonly isServer: boolean
      readonly destroyed: boolean
      refresh(opts?: JoinOptions): Promise<void>
      flushed(): Promise<boolean>
      destroy(): Promise<void>
    }
  }
  class Hyperswarm extends EventEmitter {
    constructor(opts?: Hyperswarm.Options)
    readonly dht: HyperDHT
    readonly keyPair: Hyperswarm.KeyPair
    readonly destroyed: boolean
    readonly suspended: boolean
    readonly connecting: number
    readonly connections: Set<Hyperswarm.Connection>
    readonly peers: Map<string, Hyperswarm.PeerInfo>
    readonly listening: Promise<void> | null
    join(topic: Buffer, opts?: Hyperswarm.JoinOptions): Hyperswarm.PeerDiscoverySession
    leave(topic: Buffer): Promise<void>
    joinPeer(publicKey: Buffer): void
    leavePeer(publicKey: Buffer): void
    status(topic: Buffer): unknown
    listen(): Promise<void>
    flush(): Promise<boolean>
    clear(): Promise<unknown>
    suspend(opts?: { log?: (...args: unknown[]) => void }): Promise<void>
    resume(opts?: { log?: (...args: unknown[]) => void }): Promise<void>
    destroy(opts?: { force?: boolean }): Promise<void>
    topics(): IterableIterator<unknown>
    on(event: 'connection', listener: (conn: Hyperswarm.Connection, info: Hyperswarm.PeerInfo) => void): this
    on(event: 'update', listener: () => void): this
    on(event: string | symbol, listener: (...args: any[]) => void): this
    off(event: 'connection', listener: (conn: Hyperswarm.Connection, info: Hyperswarm.PeerInfo) => void): this
    off(event: string | symbol, listener: (...args: any[]) => void): this
  }
  export = Hyperswarm
}
