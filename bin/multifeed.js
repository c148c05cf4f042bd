#!/usr/bin/env node
// The `multifeed` command; the sources are bin/*.ts, compiled to dist/bin by `npm run build`.
require('../dist/bin/cli.js').run()
