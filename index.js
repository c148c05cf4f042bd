// The package entry: the Multifeed class, with the Networker beside it.
const Multifeed = require('./dist/lib/multifeed.js')
const { Networker } = require('./dist/networker/index.js')

module.exports = Multifeed
module.exports.Multifeed = Multifeed
module.exports.Networker = Networker
