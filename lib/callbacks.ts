// Node-style callbacks beside promises, so code written for the original multifeed keeps working.
export type Callback<T> = (err: Error | null, value?: T) => void

export function maybeCallback<T>(promise: Promise<T>, cb?: Callback<T>): Promise<T> {
  if (typeof cb !== 'function') return promise
  // queueMicrotask, not process.nextTick: the callback runs outside the promise chain (a throw in it is an
  // uncaught exception, not a rejection) on Node and on Bare, which has no `process`
  promise.then((value) => queueMicrotask(() => cb(null, value)), (err) => queueMicrotask(() => cb(err)))
  // the caller chose the callback: the returned promise must not raise an unhandled rejection as well
  promise.catch(noop)
  return promise
}

// Splits (a?, b?, cb?) where any trailing argument may be the callback.
export function splitCallback<A extends unknown[], T>(args: unknown[]): [A, Callback<T> | undefined] {
  const last = args[args.length - 1]
  if (typeof last === 'function') return [args.slice(0, -1) as A, last as Callback<T>]
  return [args as A, undefined]
}

function noop(): void {}
