// Run by test/consumer.js: require() of both entries from an app's node_modules.
const Multifeed = require('hyper-multifeed')
const Networker = require('hyper-multifeed/networker')
const { MultifeedError } = require('hyper-multifeed')
const pkg = require('hyper-multifeed/package.json')

let thrown = null
try {
  new Multifeed(42) // eslint-disable-line no-new
} catch (err) {
  thrown = err
}

console.log(JSON.stringify({
  multifeed: typeof Multifeed === 'function' && Multifeed.Multifeed === Multifeed,
  networker: typeof Networker === 'function' && Networker.Networker === Networker && Multifeed.Networker === Networker,
  error: thrown instanceof MultifeedError && thrown instanceof Error && thrown.name === 'MultifeedError' && thrown.code === 'ERR_INVALID_ARGUMENT',
  name: pkg.name
}))
