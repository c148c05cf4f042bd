'use strict'
// CPU profile of just the measured phase of a scenario (node --cpu-prof
// would include the setup too). Scenarios take `--profile FILE`:
//
//   node --expose-gc bench/scenario-hmf-sync.js --profile /tmp/sync.cpuprofile
//   node bench/lib/profile.js /tmp/sync.cpuprofile [--top 25]   # self time by function, and by package
//
// The .cpuprofile also opens in Chrome DevTools (Performance tab) or
// speedscope. Profiling slows the phase down (~5-15 %), so never profile a
// run whose figures go into BENCHMARKS.md.

const fs = require('fs')
const path = require('path')

function profiler (file) {
  if (!file) return { start: async () => {}, stop: async () => {} }
  const inspector = require('inspector')
  const session = new inspector.Session()
  const post = (method, params) => new Promise((resolve, reject) => session.post(method, params || {}, (err, res) => err ? reject(err) : resolve(res)))
  return {
    async start () {
      session.connect()
      await post('Profiler.enable')
      await post('Profiler.setSamplingInterval', { interval: 200 })
      await post('Profiler.start')
    },
    async stop () {
      const { profile } = await post('Profiler.stop')
      session.disconnect()
      fs.writeFileSync(file, JSON.stringify(profile))
    }
  }
}

// Self time per function and per package (node_modules/<name>, dist/lib/<file>, node internals).
function summarize (file, top = 25) {
  const p = JSON.parse(fs.readFileSync(file, 'utf8'))
  const dt = new Map()
  for (let i = 0; i < p.samples.length; i++) {
    const id = p.samples[i]
    dt.set(id, (dt.get(id) || 0) + (p.timeDeltas[i] || 0))
  }
  const total = [...dt.values()].reduce((a, b) => a + b, 0)
  const byFn = new Map()
  const byPkg = new Map()
  for (const node of p.nodes) {
    const t = dt.get(node.id) || 0
    if (!t) continue
    const cf = node.callFrame
    const url = cf.url || ''
    const pkg = url.includes('node_modules/')
      ? url.split('node_modules/').pop().split('/').slice(0, url.split('node_modules/').pop().startsWith('@') ? 2 : 1).join('/')
      : url.includes('/dist/') ? 'hyper-multifeed ' + path.basename(url) : url.startsWith('node:') ? 'node:' + url.slice(5).split('/')[0] : (cf.functionName || url || '(native)')
    const fn = (cf.functionName || '(anonymous)') + ' ' + (url ? path.basename(url) + ':' + (cf.lineNumber + 1) : '')
    byFn.set(fn, (byFn.get(fn) || 0) + t)
    byPkg.set(pkg, (byPkg.get(pkg) || 0) + t)
  }
  const show = (m, n) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => (v / 1000).toFixed(1).padStart(9) + ' ms ' + (100 * v / total).toFixed(1).padStart(5) + ' %  ' + k).join('\n')
  return 'total sampled ' + (total / 1000).toFixed(1) + ' ms\n\nby package/file (self time):\n' + show(byPkg, 20) + '\n\nby function (self time):\n' + show(byFn, top)
}

module.exports = { profiler, summarize }

if (require.main === module) {
  const file = process.argv[2]
  const i = process.argv.indexOf('--top')
  if (!file) { console.error('usage: node bench/lib/profile.js FILE.cpuprofile [--top N]'); process.exit(1) }
  console.log(summarize(file, i !== -1 ? Number(process.argv[i + 1]) : 25))
}
