// The whole suite, as README's test command runs it.
require('./basic.js')
require('./replicate.js')
require('./errors.js')
require('./riblt.js')
require('./reconcile.js')
require('./remove.js')
require('./networker.js')
