'use strict'
// Smoke test: two multifeed@6 instances in one process, RAM storage,
// each with one writer; replicate; both sides see both feeds with data.
// Run: node bench/multifeed6/smoke.js   (exit code 0 = ok)
const multifeed = require('multifeed')
const ram = require('random-access-memory')
const crypto = require('crypto')

// NB: pass the shared key as `encryptionKey`, not the legacy `key` option:
// multifeed 6 forwards its opts to hypercore 9, which reads opts.key as the
// feed's own public key, so every writer would be a read-only copy of the
// shared key ("This feed is not writable").
const encryptionKey = crypto.randomBytes(32)
const a = multifeed(ram, { encryptionKey, valueEncoding: 'utf-8' })
const b = multifeed(ram, { encryptionKey, valueEncoding: 'utf-8' })

const t = setTimeout(() => { console.error('smoke: timeout'); process.exit(1) }, 10000)

let writerA, writerB
a.writer('a', (err, wa) => {
  if (err) throw err
  writerA = wa
  b.writer('b', (err, wb) => {
    if (err) throw err
    writerB = wb
    wa.append('hello from a', (err) => {
      if (err) throw err
      wb.append('hello from b', (err) => {
        if (err) throw err
        const s1 = a.replicate(true)
        const s2 = b.replicate(false)
        s1.pipe(s2).pipe(s1)
        s1.once('error', fail); s2.once('error', fail)
        s1.once('end', check)
      })
    })
  })
})

function fail (err) { console.error('smoke: stream error', err); process.exit(1) }

function check () {
  const fa = b.feed(writerA.key) // A's writer as replicated to B
  const fb = a.feed(writerB.key)
  if (!fa || !fb) return fail(new Error('feeds not exchanged: a=' + a.feeds().length + ' b=' + b.feeds().length))
  fa.get(0, (err, va) => {
    if (err) return fail(err)
    fb.get(0, (err, vb) => {
      if (err) return fail(err)
      if (va !== 'hello from a' || vb !== 'hello from b') return fail(new Error('bad data ' + va + ' / ' + vb))
      console.log(JSON.stringify({ ok: true, aFeeds: a.feeds().length, bFeeds: b.feeds().length, va, vb }))
      clearTimeout(t)
      a.close(() => b.close(() => {}))
    })
  })
}
