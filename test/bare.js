// The library under the Bare runtime, the runtime of Pear apps: test/bare/sync.js writes through the
// promise and the callback API, replicates two multifeeds over piped streams and prints what synced.
const test = require('brittle')
const path = require('path')
const { execFile } = require('child_process')

test('bare: two multifeeds write (promises and callbacks), replicate and sync under the Bare runtime', async (t) => {
  const bare = bareBinary()
  if (bare === null) {
    t.comment(`no Bare runtime for ${process.platform}-${process.arch} (bare-runtime-${process.platform}-${process.arch} is not installed): the Bare smoke test did not run`)
    return
  }
  const dir = await t.tmp()
  const { code, stdout, stderr } = await run(bare, [path.join(__dirname, 'bare', 'sync.js'), path.join(dir, 'a'), path.join(dir, 'b')])
  t.is(code, 0, 'exits 0' + (code === 0 ? '' : ': ' + stderr))
  t.is(stdout.trim(), 'synced "from a" "from b" 2 2', 'each side reads the other\'s block; both list both feeds')
})

// The Bare binary for this platform: the devDependency bare-runtime-linux-x64, or any other platform's
// bare-runtime-* package installed by hand. (Not the `bare` CLI package: it pulls every platform's runtime
// as optional dependencies, which this project's registry does not all have, and then `npm ci` fails.)
function bareBinary () {
  try {
    return require(`bare-runtime-${process.platform}-${process.arch}`).bare
  } catch {
    return null
  }
}

function run (cmd, args) {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr })
    })
  })
}
