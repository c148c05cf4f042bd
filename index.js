// The package entry: the Multifeed class, with Multifeed, Networker and MultifeedError beside it.
const Multifeed = require('./dist/lib/multifeed.js')
const Networker = require('./networker.js')
const { MultifeedError } = require('./dist/lib/errors.js')

module.exports = Multifeed
module.exports.Multifeed = Multifeed
module.exports.Networker = Networker
module.exports.MultifeedError = MultifeedError
