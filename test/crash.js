// Crash safety, short: a child process writes (writers, appends, remote feeds) and is SIGKILLed at random
// moments; after each kill the storage reopens with every promised feed and acknowledged block.
// The long version: node test/crash/soak.js --runs 100
const test = require('brittle')
const { soak } = require('./crash/soak.js')

test('SIGKILL at random moments loses no promised feed and no acknowledged block', { timeout: 60000 }, async (t) => {
  const r = await soak({ runs: 5, seed: Number(process.env.MF_CRASH_SEED) || (Date.now() % 1e9) })
  t.comment(`seed ${r.seed}: ${r.runs} runs, ${r.kills} SIGKILLs, ${r.promisedFeeds} feeds promised (${r.promisedWriters} writers, ${r.promisedRemote} remote), ${r.promisedBlocks} blocks acknowledged, ${r.records} records, reopen <= ${r.maxReopenMs} ms, ${r.ms} ms`)
  for (const f of r.failures) t.fail(`run ${f.run} (killed ${f.killedAt}): ${f.errors.join(' / ')}`)
  t.is(r.kills, r.runs, 'every run ended by SIGKILL')
  t.ok(r.promisedFeeds > 0, 'the writer promised feeds')
  t.is(r.lostFeeds, 0, 'no promised feed lost')
  t.is(r.lostBlocks, 0, 'no acknowledged block lost')
})
