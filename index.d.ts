/// <reference path="./types/corestore.d.ts" />
/// <reference path="./types/hypercore-crypto.d.ts" />
/// <reference path="./types/hypercore.d.ts" />
/// <reference path="./types/hyperdht.d.ts" />
/// <reference path="./types/hyperswarm.d.ts" />
/// <reference path="./types/protomux.d.ts" />
/// <reference path="./types/ready-resource.d.ts" />
/// <reference path="./types/safety-catch.d.ts" />
/// <reference path="./types/sodium-universal.d.ts" />
// Declarations for index.js: the Multifeed class is the export, with Multifeed and Networker beside it.
import { Multifeed as MultifeedClass } from './dist/lib/multifeed'
import { Networker as NetworkerClass } from './dist/networker/index'

declare class hyperMultifeed extends MultifeedClass {}
declare namespace hyperMultifeed {
  export const Multifeed: typeof MultifeedClass
  export const Networker: typeof NetworkerClass
  export type Multifeed = MultifeedClass
  export type Networker = NetworkerClass
  export type { FeedInfo, FeedFilter, MultifeedOptions, RemoveOptions, WriterOptions } from './dist/lib/multifeed'
  export type { MultifeedError } from './dist/lib/errors'
}
export = hyperMultifeed
