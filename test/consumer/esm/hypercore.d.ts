// The app's own declarations of hypercore, with members our package never declares.
declare module 'hypercore' {
  class Hypercore {
    constructor (storage: string, key?: Buffer)
    readonly key: Buffer
    readonly length: number
    ready (): Promise<void>
    truncate (newLength: number): Promise<void>
    snapshot (): Hypercore
    close (): Promise<void>
  }
  export default Hypercore
}
