'use strict'
const m = require('./lib/measure')
const hmf = require('./lib/hmf')
const crypto = require('hypercore-crypto')
const Multifeed = hmf.load()
const { writeUserData } = require('../dist/lib/internals.js')
;(async () => {
  const a = new Multifeed(m.tmpdir('zz-o-'))
  await a.ready()
  const store = a.store
  const idx = a.index.core
  const put = () => writeUserData(idx, [['feed/' + crypto.randomBytes(32).toString('hex'), Buffer.alloc(40)]])
  const create = async () => { const c = store.get({ key: crypto.keyPair().publicKey }); await c.ready(); return c }
  const now = () => Number(process.hrtime.bigint()) / 1e6
  const res = { put: [], create: [], both: [] }
  const open = []
  for (let r = 0; r < 300; r++) {
    let t = now(); await put(); res.put.push(now() - t)
    t = now(); open.push(await create()); res.create.push(now() - t)
    t = now(); const [, c] = await Promise.all([put(), create()]); open.push(c); res.both.push(now() - t)
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
  const med = (a) => a.sort((x, y) => x - y)[a.length >> 1].toFixed(3)
  console.log('median ms: put', med(res.put), 'create', med(res.create), 'both concurrently', med(res.both))
  process.exit(0)
})()
