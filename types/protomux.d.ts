declare module 'protomux' {
  import { Duplex } from 'stream'
  namespace Protomux {
    interface Encoding<T = any> {
      preencode(state: any, v: T): void
      encode(state: any, v: T): void
      decode(state: any): T
    }
    interface Message<T = any> {
      type: number
      send(m: T): boolean
      onmessage: ((m: T, channel: Channel) => void) | null
    }
    interface MessageOptions<T = any> {
      encoding?: Encoding<T>
      onmessage?: (m: T, channel: Channel) => void
    }
    interface ChannelOptions<H = any> {
      userData?: any
      protocol: string
      aliases?: string[]
      id?: Buffer | null
      unique?: boolean
      handshake?: Encoding<H>
      messages?: MessageOptions[]
      onopen?: (handshake: H, channel: Channel) => void | Promise<void>
      onclose?: (isRemote: boolean, channel: Channel) => void
      ondestroy?: (channel: Channel) => void
      ondrain?: (channel: Channel) => void
    }
    interface Channel {
      userData: any
      protocol: string
      id: Buffer | null
      opened: boolean
      closed: boolean
      destroyed: boolean
      messages: Message[]
      fullyOpened(): Promise<boolean>
      open(handshake?: any): void
      addMessage<T>(opts: MessageOptions<T>): Message<T>
      cork(): void
      uncork(): void
      close(): void
    }
  }
  class Protomux {
    static from(stream: any, opts?: any): Protomux
    static isProtomux(m: any): boolean
    stream: any
    isIdle(): boolean
    cork(): void
    uncork(): void
    pair(opts: { protocol: string, id?: Buffer | null }, notify: (id: Buffer) => void | Promise<void>): void
    unpair(opts: { protocol: string, id?: Buffer | null }): void
    opened(opts: { protocol: string, id?: Buffer | null }): boolean
    getLastChannel(opts: { protocol: string, id?: Buffer | null }): Protomux.Channel | null
    createChannel(opts: Protomux.ChannelOptions): Protomux.Channel | null
    destroy(err?: Error): void
  }
  export = Protomux
}
