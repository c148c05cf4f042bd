// hyper-multifeed/networker: the Networker class is the export, with Networker beside it, as
// require('multifeed/networker') users expect.
const { Networker } = require('./dist/networker/index.js')

module.exports = Networker
module.exports.Networker = Networker
