// Declarations of hyper-multifeed/networker (../networker.js): the Networker class is the export, with
// Networker beside it. Self-contained like index.d.ts: hyperswarm's swarm, connections and peers are
// described by the structural interfaces below, nothing is imported from hyperswarm.
import { EventEmitter } from 'events'
import Multifeed = require('../index')

declare class Networker extends EventEmitter {
  // The app's Hyperswarm (anything with `join`), or options for one of the networker's own.
  constructor(swarmOrOptions?: Networker.HyperswarmLike | Networker.HyperswarmOptions | null)

  readonly hyperswarm: Networker.HyperswarmLike
  // the multifeeds swarmed now (including ones still opening)
  readonly multifeeds: Multifeed[]
  // open connections the networker serves
  readonly connections: number

  readonly opened: boolean
  readonly closed: boolean
  readonly opening: Promise<void> | null
  readonly closing: Promise<void> | null
  ready(): Promise<void>
  close(): Promise<void>

  // Join the multifeed's topic (its discovery key) and replicate it on every connection, current and
  // future. Resolves once the topic is announced and looked up.
  swarm(multi: Multifeed<any>, opts?: Networker.SwarmOptions): Promise<void>
  // Leave the topic and stop replicating the multifeed; connections other multifeeds use stay up.
  unswarm(multi: Multifeed<any>): Promise<void>
  // Unswarm everything; destroys the swarm only if the networker made it.
  destroy(): Promise<void>

  on(event: 'connection', listener: (conn: Networker.Connection, info: Networker.PeerInfo) => void): this
  on(event: 'error', listener: (err: Error, conn: Networker.Connection | null) => void): this
  on(event: 'ready' | 'close', listener: () => void): this
  on(event: string | symbol, listener: (...args: any[]) => void): this
  once(event: 'connection', listener: (conn: Networker.Connection, info: Networker.PeerInfo) => void): this
  once(event: 'error', listener: (err: Error, conn: Networker.Connection | null) => void): this
  once(event: 'ready' | 'close', listener: () => void): this
  once(event: string | symbol, listener: (...args: any[]) => void): this
}

type NetworkerInstance = Networker
declare const NetworkerValue: typeof Networker

declare namespace Networker {
  export const Networker: typeof NetworkerValue
  export type Networker = NetworkerInstance

  export interface SwarmOptions {
    server?: boolean // announce the topic and accept connections (default true)
    client?: boolean // look the topic up and connect to its peers (default true)
  }

  // A Hyperswarm (4.x), as far as the networker uses one.
  export interface HyperswarmLike extends EventEmitter {
    readonly destroyed: boolean
    readonly connections: Set<Connection>
    join(topic: Buffer, opts?: any): unknown
    leave(topic: Buffer): Promise<unknown>
    destroy(opts?: any): Promise<unknown>
  }

  // Options for the networker's own Hyperswarm (passed to `new Hyperswarm(options)`).
  export interface HyperswarmOptions {
    keyPair?: { publicKey: Buffer, secretKey: Buffer }
    seed?: Buffer
    maxPeers?: number
    firewall?: (remotePublicKey: Buffer, payload: unknown) => boolean
    dht?: unknown // a HyperDHT, e.g. new HyperDHT({ bootstrap }) for a private DHT
    bootstrap?: Array<string | { host: string, port: number }>
    [option: string]: unknown
  }

  // An encrypted connection to one peer (a @hyperswarm/secret-stream NoiseSecretStream).
  export interface Connection extends EventEmitter {
    readonly isInitiator: boolean
    readonly publicKey: Buffer
    readonly remotePublicKey: Buffer
    readonly handshakeHash: Buffer | null
    readonly destroyed: boolean
    pipe<D>(dest: D): D
    write(data: Buffer): boolean
    end(data?: Buffer): void
    destroy(err?: Error | null): void
  }

  export interface PeerInfo {
    readonly publicKey: Buffer
    readonly topics: Buffer[]
    readonly client: boolean
    readonly server: boolean
    ban(val: boolean): void
    reconnect(val: boolean): void
  }
}

export = Networker
