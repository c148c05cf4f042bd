// The shipped declarations (index.d.ts, api/networker.d.ts) are written by hand, so that they import no
// other package's types. This file ties them to the implementation (lib/, networker/, typed with the
// build-only declarations in types/): test/consumer.js type-checks it.
import Public = require('../../../index')
import PublicNetworker = require('../../../api/networker')
import { Multifeed } from '../../../lib/multifeed'
import { Networker } from '../../../networker/index'
import { MultifeedError } from '../../../lib/errors'
import type { FeedExchange } from '../../../lib/exchange'
import type Hypercore from 'hypercore'

// 1. Everything the declarations promise exists in the implementation, with a compatible type.
declare const multi: Multifeed
export const declaredMultifeed: Public.Multifeed = multi
declare const networker: Networker
export const declaredNetworker: PublicNetworker = networker
declare const error: MultifeedError
export const declaredError: Public.MultifeedError = error
declare const exchange: FeedExchange
export const declaredExchange: Public.Exchange = exchange
declare const core: Hypercore
export const declaredFeed: Public.Feed = core

type Args<C> = C extends new (...args: infer A) => unknown ? A : never
export const multifeedOptions: Args<typeof Multifeed>[1] = null as unknown as Args<typeof Public>[1]
export const networkerOptions: Args<typeof Networker>[0] = null as unknown as Exclude<Args<typeof PublicNetworker>[0], Public.HyperswarmLike>
export const errorArgs: Args<typeof MultifeedError> = null as unknown as Args<typeof Public.MultifeedError>

// 2. Every public member of the implementation is declared, or named here as internal (used by the
// modules of lib/, the networker, the CLI or the tests, not documented for apps).
type NotForApps = 'store' | 'index' | 'members' | 'sharedEntries' | 'checkSynced' | 'hand' | 'session' | 'adopt' | 'recordOf' | 'openCore' | 'closeCore' | 'onstalled' | 'allRecords' | 'readSession' | 'closeReadSession' | 'loadCursor' | 'saveCursor' | 'readerClosed' | 'decode' | 'emitFeed' | 'storedCore' | 'forgotten' | 'followedCore' | 'lastFetch'
type Undeclared<Impl, Declared, Internal = never> = Exclude<keyof Impl, keyof Declared | Internal>
type MustBeNone<T extends never> = T
export type MultifeedMembers = MustBeNone<Undeclared<Multifeed, Public.Multifeed, NotForApps>>
export type NetworkerMembers = MustBeNone<Undeclared<Networker, PublicNetworker>>
export type ErrorMembers = MustBeNone<Undeclared<MultifeedError, Public.MultifeedError>>
