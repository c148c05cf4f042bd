// The package as an app gets it: what `npm pack` ships, installed into an app's node_modules, resolved
// through package.json's `exports`, compiled by strict TypeScript apps (test/consumer/) and run by Node.
const test = require('brittle')
const fs = require('fs')
const os = require('os')
const path = require('path')
const { execFile } = require('child_process')
const ts = require('typescript')

const ROOT = path.join(__dirname, '..')
const FIXTURES = path.join(__dirname, 'consumer')
const PKG = require('../package.json')

test('package: npm pack ships the entries, the built code, README and LICENSE; no sources, no build-only types', async (t) => {
  const files = await packed()
  for (const f of ['package.json', 'LICENSE', 'README.md', 'index.js', 'index.d.ts', 'networker.js', 'api/networker.d.ts', 'bin/multifeed.js', 'dist/lib/multifeed.js', 'dist/networker/index.js', 'dist/bin/cli.js']) {
    t.ok(files.includes(f), 'ships ' + f)
  }
  t.alike(files.filter((f) => /\.ts$/.test(f) && !/\.d\.ts$/.test(f)), [], 'no TypeScript sources (bin/*.ts, lib/*.ts)')
  t.alike(files.filter((f) => /\.d\.ts$/.test(f)).sort(), ['api/networker.d.ts', 'index.d.ts'], 'only the public declarations: no dist/**/*.d.ts')
  t.alike(files.filter((f) => f.startsWith('types/') || f.startsWith('test/') || f.startsWith('bench/')), [], 'no types/ (ambient declarations of other packages), tests or benchmarks')
  for (const target of entryPoints()) t.ok(files.includes(target), 'package.json points at a shipped file: ' + target)
  t.absent(PKG.scripts.prepare, 'nothing builds at install time (prepare)')
  t.ok(PKG.scripts.prepack, 'npm pack and publish build first (prepack)')
})

test('types: the shipped declarations import no other package', async (t) => {
  for (const file of ['index.d.ts', 'api/networker.d.ts']) {
    const text = fs.readFileSync(path.join(ROOT, file), 'utf8').replace(/\/\/.*$/gm, '') // without comments
    t.absent(/\/\/\/\s*<reference/.test(text), file + ': no /// <reference>')
    t.absent(/declare\s+module\s+['"]/.test(text), file + ': no ambient module declarations')
    const specifiers = [...text.matchAll(/(?:from|require\()\s*['"]([^'"]+)['"]/g)].map((m) => m[1])
    t.alike(specifiers.filter((s) => s !== 'events' && !s.startsWith('.')), [], file + ': imports only Node\'s events and its own files')
  }
})

test('types: strict apps compile against the installed package (node10, node16, nodenext, bundler), skipLibCheck off', async (t) => {
  const app = await installedApp(t)
  const configs = ['cjs/tsconfig.json', 'cjs/tsconfig.node16.json', 'esm/tsconfig.json', 'esm/tsconfig.bundler.json']
  for (const config of configs) {
    const { errors, checked } = typecheck(path.join(app, config), { ours: (f) => !isThirdParty(f) })
    t.ok(checked.some((f) => f.endsWith('hyper-multifeed/index.d.ts')) && checked.some((f) => f.endsWith('hyper-multifeed/api/networker.d.ts')), config + ': the package\'s declarations, reached through node_modules')
    t.alike(errors, [], config + ': no errors')
  }
})

test('types: the declarations match the implementation', async (t) => {
  const { errors } = typecheck(path.join(FIXTURES, 'conformance', 'tsconfig.json'), { ours: (f) => f.endsWith('conformance.ts') })
  t.alike(errors, [], 'every declared member exists with a compatible type, every public member is declared')
})

test('runtime: require() and import of both entries from an app\'s node_modules', async (t) => {
  const app = await installedApp(t)
  const cjs = JSON.parse(await run(process.execPath, [path.join(app, 'cjs', 'run.cjs')], app))
  t.alike(cjs, { multifeed: true, networker: true, error: true, name: 'hyper-multifeed' }, 'require: the classes, Networker beside Multifeed, MultifeedError')
  const esm = JSON.parse(await run(process.execPath, [path.join(app, 'esm', 'run.mjs')], app))
  t.alike(esm, { got: 'hello', feeds: [2, 2], networker: true, error: true }, 'import: default and named exports of both entries; two multifeeds sync')
})

// --- helpers ---

let packList = null

function packed () {
  if (packList === null) {
    packList = run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], ROOT).then((out) => JSON.parse(out)[0].files.map((f) => f.path))
  }
  return packList
}

// Every file package.json names: main, types, bin, exports, typesVersions.
function entryPoints () {
  const out = [PKG.main, PKG.types, ...Object.values(PKG.bin)]
  const walk = (v) => {
    if (typeof v === 'string') out.push(v)
    else if (v && typeof v === 'object') Object.values(v).forEach(walk)
  }
  walk(PKG.exports)
  walk(PKG.typesVersions)
  return [...new Set(out.map((f) => path.posix.normalize(f)))]
}

// An app directory: the fixtures, and a node_modules holding what `npm pack` ships of this package (as
// npm install lays it out), its dependencies and @types/node (links to ours).
async function installedApp (t) {
  const files = await packed()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hmf-app-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const modules = path.join(dir, 'node_modules')
  for (const f of files) {
    fs.mkdirSync(path.dirname(path.join(modules, 'hyper-multifeed', f)), { recursive: true })
    fs.copyFileSync(path.join(ROOT, f), path.join(modules, 'hyper-multifeed', f))
  }
  for (const dep of [...Object.keys(PKG.dependencies), '@types/node']) {
    fs.mkdirSync(path.dirname(path.join(modules, dep)), { recursive: true })
    fs.symlinkSync(path.join(ROOT, 'node_modules', dep), path.join(modules, dep), 'dir')
  }
  fs.cpSync(path.join(FIXTURES, 'cjs'), path.join(dir, 'cjs'), { recursive: true })
  fs.cpSync(path.join(FIXTURES, 'esm'), path.join(dir, 'esm'), { recursive: true })
  return dir
}

function isThirdParty (file) {
  return /[\\/]node_modules[\\/](typescript|@types|undici-types)[\\/]/.test(file)
}

// tsc --noEmit -p config, in this process: every option of the config (strict, skipLibCheck: false), and
// the diagnostics tsc would print for the files `ours` selects: the app's and this package's (under
// skipLibCheck: false tsc also checks every .d.ts of @types/node and TypeScript's lib, seconds of work
// per config that prove nothing about this package). Parsed library files are shared between configs.
const parsedFiles = new Map()

function typecheck (configPath, { ours }) {
  const config = ts.getParsedCommandLineOfConfigFile(configPath, {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(format(d)) }
  })
  const host = ts.createCompilerHost(config.options)
  const read = host.getSourceFile
  host.getSourceFile = (fileName, languageVersion, ...rest) => {
    if (!isThirdParty(fileName)) return read.call(host, fileName, languageVersion, ...rest)
    const v = typeof languageVersion === 'object' ? [languageVersion.languageVersion, languageVersion.impliedNodeFormat] : [languageVersion]
    const key = fileName + '|' + v.join('|')
    if (!parsedFiles.has(key)) parsedFiles.set(key, read.call(host, fileName, languageVersion, ...rest))
    return parsedFiles.get(key)
  }
  const program = ts.createProgram({ rootNames: config.fileNames, options: config.options, host, configFileParsingDiagnostics: config.errors })
  const diagnostics = [...program.getConfigFileParsingDiagnostics(), ...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics()]
  const checked = []
  for (const file of program.getSourceFiles()) {
    diagnostics.push(...program.getSyntacticDiagnostics(file))
    if (!ours(file.fileName)) continue
    checked.push(file.fileName)
    diagnostics.push(...program.getSemanticDiagnostics(file))
  }
  return { errors: diagnostics.map(format), checked }
}

function format (d) {
  const text = ts.flattenDiagnosticMessageText(d.messageText, '\n')
  if (!d.file) return 'TS' + d.code + ': ' + text
  const { line, character } = d.file.getLineAndCharacterOfPosition(d.start)
  return `${d.file.fileName}(${line + 1},${character + 1}): TS${d.code}: ${text}`
}

function run (cmd, args, cwd) {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stderr}`))
      else resolve(stdout)
    })
  })
}
