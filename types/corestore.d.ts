declare module 'corestore' {
  import ReadyResource = require('ready-resource')
  import Hypercore = require('hypercore')
  namespace Corestore {
    interface GetOptions {
      key?: Buffer | string
      name?: string
      keyPair?: Hypercore.KeyPair
      discoveryKey?: Buffer
      valueEncoding?: any
      active?: boolean
      createIfMissing?: boolean
      writable?: boolean
      wait?: boolean
      exclusive?: boolean
      notDownloadingLinger?: number
      onwait?: (index: number, core: Hypercore) => void
    }
  }
  class Corestore extends ReadyResource {
    constructor(storage: string | any, opts?: any)
    storage: Hypercore.Storage
    primaryKey: Buffer | null
    root: Corestore | null
    cores: { get(id: Buffer | string): any, size: number }
    get(opts: Corestore.GetOptions | Buffer | string): Hypercore
    namespace(name: string | Buffer, opts?: any): Corestore
    session(opts?: any): Corestore
    replicate(isInitiator: boolean | any, opts?: any): any
    createKeyPair(name: string): Promise<Hypercore.KeyPair>
  }
  export = Corestore
}
