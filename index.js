module.exports = require('./dist/lib/multifeed.js')
