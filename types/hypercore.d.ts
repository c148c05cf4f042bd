declare module 'hypercore' {
  import { EventEmitter } from 'events'
  import Protomux = require('protomux')
  namespace Hypercore {
    interface KeyPair { publicKey: Buffer, secretKey: Buffer }
    interface GetOptions { wait?: boolean, timeout?: number, valueEncoding?: any, raw?: boolean }
    interface Range { start?: number, end?: number, linear?: boolean, blocks?: number[] }
    interface Download { done(): Promise<void>, destroy(): void, downloaded(): Promise<void> }
    interface Peer { protomux: Protomux, remotePublicKey: Buffer, remoteLength: number, remoteFork: number, remoteContiguousLength: number, remoteDownloading: boolean, remoteSynced: boolean, stream: any }
    interface Storage {
      getInfos(discoveryKeys: Buffer[], opts?: { auth?: boolean, head?: boolean, hints?: boolean }): Promise<Array<StorageInfo | null>>
      hasCore(discoveryKey: Buffer): Promise<boolean>
      deleteCore?(ptr: any): Promise<void>
    }
    interface StorageInfo {
      discoveryKey: Buffer
      head: { fork: number, length: number } | null
      hints: { contiguousLength: number } | null
      auth: any
    }
    interface Replicator {
      attached(muxer: Protomux): boolean
      attachTo(muxer: Protomux): void
      detachFrom(muxer: Protomux): void
      downloading: boolean
      activeSessions: number
    }
    interface CoreState {
      storage: { createUserDataStream(opts?: { gte?: string, lt?: string }): AsyncIterable<{ key: string, value: Buffer }> }
    }
  }
  class Hypercore extends EventEmitter {
    static createProtocolStream(isInitiator: boolean | any, opts?: any): any
    static getProtocolMuxer(stream: any): Protomux
    static discoveryKey(key: Buffer): Buffer
    static key(manifest: Buffer | { version: number, signers: Array<{ publicKey: Buffer }> }): Buffer
    // null only on a core opened by name, until ready(); every core the multifeed hands out has them
    key: Buffer
    discoveryKey: Buffer
    id: string | null
    keyPair: Hypercore.KeyPair | null
    length: number
    contiguousLength: number
    byteLength: number
    fork: number
    writable: boolean
    readable: boolean
    opened: boolean
    closed: boolean
    closing: Promise<void> | null
    peers: Hypercore.Peer[]
    core: { replicator: Hypercore.Replicator } & any
    state: Hypercore.CoreState
    ready(): Promise<void>
    close(): Promise<void>
    append(block: any): Promise<{ length: number, byteLength: number }>
    get(index: number, opts?: Hypercore.GetOptions): Promise<any>
    has(start: number, end?: number): Promise<boolean>
    seek(byteOffset: number, opts?: { wait?: boolean, timeout?: number }): Promise<[number, number]>
    update(opts?: { wait?: boolean }): Promise<boolean>
    download(range?: Hypercore.Range): Hypercore.Download
    createReadStream(opts?: { start?: number, end?: number, live?: boolean }): any
    setUserData(key: string, value: Buffer | string | null): Promise<void>
    getUserData(key: string): Promise<Buffer | null>
    replicate(isInitiator: boolean | any, opts?: any): any
    session(opts?: any): Hypercore
    setActive(active: boolean): void
    clear(start: number, end?: number): Promise<void>
    purge(): Promise<void>
  }
  export = Hypercore
}
