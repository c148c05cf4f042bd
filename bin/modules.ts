// The swarm side: the Networker over a Hyperswarm, on the public DHT or a private one, and the local
// DHT testnet for the demo (@hyperswarm/testnet ships no types: the slice used here is declared below).
import HyperDHT from 'hyperdht'
import { Networker } from '../networker'

export { Networker }

export interface HostPort { host: string, port: number }

export interface Testnet {
  bootstrap: HostPort[]
  destroy(): Promise<void>
}

export function createTestnet(size: number, opts: { host: string }): Promise<Testnet> {
  const create = require('@hyperswarm/testnet') as (size: number, opts: unknown) => Promise<Testnet>
  return create(size, opts)
}

// A networker on the public DHT, or on the private DHT reached through `bootstrap`.
export function createNetworker(bootstrap: HostPort[] = []): Networker {
  if (bootstrap.length === 0) return new Networker()
  // A DHT on loopback: bind there too, and say we are not firewalled. Every peer is on this host and
  // reachable, and the holepunch path between two processes on 127.0.0.1 loses about half the
  // connections (the client sees it open, the server never does, until a retry some 15 s later).
  const loopback = bootstrap.every((b) => isLoopback(b.host))
  return new Networker({ dht: new HyperDHT({ bootstrap, ...(loopback ? { host: '127.0.0.1', firewalled: false } : {}) }) })
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host)
}
