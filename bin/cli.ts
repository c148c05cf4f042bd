// The `multifeed` command line (Node only): global options, dispatch to a command, one-line errors, exit
// codes (0 ok, 1 runtime error, 2 usage error, 130/143 after SIGINT/SIGTERM) and orderly cleanup on exit or Ctrl-C.
import { parse, optionsHelp, OptionSpec } from './args'
import { Command, Context } from './command'
import { UsageError, describe } from './errors'
import { Output } from './progress'
import { DEFAULT_DIR } from './storage'
import { create, join, append, feeds, cat, authorize, revoke } from './local'
import { sync } from './sync'
import { swarm } from './swarm'
import { demo } from './demo'

const COMMANDS: Command[] = [create, join, append, feeds, cat, authorize, revoke, sync, swarm, demo]

const DIR: OptionSpec = { name: 'dir', alias: 'd', type: 'string', value: 'DIR', default: DEFAULT_DIR, help: 'the storage directory' }
const HELP: OptionSpec = { name: 'help', alias: 'h', type: 'boolean', help: 'show this help' }
const VERSION: OptionSpec = { name: 'version', type: 'boolean', help: 'print the version' }

function topHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length))
  return [
    'Usage: multifeed [--dir DIR] <command> [options]',
    '',
    'Many writers\' append-only logs under one shared key, replicated peer to peer.',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width + 2)}${c.summary}`),
    '',
    'Options:',
    optionsHelp([DIR, HELP, VERSION]),
    '',
    'Run `multifeed <command> --help` for a command\'s options.',
    'Keys are shown in z-base-32 (52 characters) and read in z-base-32 or hex (64 characters).',
    'Exit codes: 0 ok, 1 runtime error, 2 usage error, 130 after Ctrl-C (SIGINT), 143 after SIGTERM.'
  ].join('\n')
}

function commandHelp(c: Command): string {
  const specs = [...c.options, ...(c.needsDir ? [DIR] : []), HELP]
  return [
    `Usage: multifeed ${c.name} ${c.usage}`,
    '',
    c.description,
    '',
    'Options:',
    optionsHelp(specs)
  ].join('\n')
}

function version(): string {
  // dist/bin/cli.js -> package.json two levels up
  return (require('../../package.json') as { version: string }).version
}

// Exit codes after a signal, as shells report a process killed by it: 128 + the signal's number.
export const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 }
const STOP_GRACE = 5000 // ms a command may take to stop after Ctrl-C before it is cut short

export async function main(argv: string[]): Promise<number> {
  const out = new Output()
  let dir = DEFAULT_DIR
  let globalDir: string | undefined
  let cleanups: Array<() => unknown> = []
  let signal: ((name: string) => void) | null = null
  const stopped = new Promise<string>((resolve) => { signal = resolve })
  let signalled: NodeJS.Signals | null = null
  let watched = false // the command waits on ctx.stopped (cat --follow, sync, swarm, demo)
  const cleanup = async (): Promise<void> => {
    const todo = cleanups.reverse()
    cleanups = []
    for (const fn of todo) {
      try {
        await fn()
      } catch (err) {
        if (process.env.MULTIFEED_DEBUG) process.stderr.write(`cleanup failed: ${(err as Error).stack}\n`)
      }
    }
  }
  // Ctrl-C (or SIGTERM) stops the command in order: it finishes its output, the storage is closed, and the
  // process exits 130 (143). A second signal, or a command still running after STOP_GRACE, exits at once.
  const onsignal = (name: NodeJS.Signals): void => {
    const code = SIGNAL_EXIT[name] ?? 1
    if (signalled !== null) process.exit(code)
    signalled = name
    signal!(name)
    setTimeout(() => process.exit(code), STOP_GRACE).unref()
    if (watched) return
    // anything else is interrupted: release the storage and leave
    out.close()
    process.stderr.write('multifeed: interrupted\n')
    cleanup().finally(() => exit(code))
  }
  process.on('SIGINT', onsignal)
  process.on('SIGTERM', onsignal)
  const exitCode = (code: number): number => signalled !== null ? SIGNAL_EXIT[signalled] ?? code : code

  try {
    // global options come before the command
    let i = 0
    for (; i < argv.length; i++) {
      const a = argv[i]
      if (a === '-h' || a === '--help') {
        out.line(topHelp())
        return 0
      }
      if (a === '--version') {
        out.line(version())
        return 0
      }
      if (a === '-d' || a === '--dir') {
        if (i + 1 >= argv.length) throw new UsageError('option --dir needs a value (DIR)')
        globalDir = argv[++i]
        continue
      }
      if (a.startsWith('--dir=')) {
        globalDir = a.slice(6)
        continue
      }
      if (a.startsWith('-')) throw new UsageError(`unknown option ${a.split('=')[0]} (options go after the command)`)
      break
    }
    if (i >= argv.length) {
      process.stderr.write(topHelp() + '\n')
      return 2
    }
    let name = argv[i]
    let rest = argv.slice(i + 1)
    if (name === 'help') {
      if (rest.length === 0) {
        out.line(topHelp())
        return 0
      }
      name = rest[0]
      rest = ['--help']
    }
    const command = COMMANDS.find((c) => c.name === name)
    if (!command) throw new UsageError(`unknown command "${name}"; commands: ${COMMANDS.map((c) => c.name).join(', ')}`)

    const specs = [...command.options, ...(command.needsDir ? [{ ...DIR, default: globalDir ?? DEFAULT_DIR }] : []), HELP]
    const parsed = parse(rest, specs, command.name)
    if (parsed.options.help === true) {
      out.line(commandHelp(command))
      return 0
    }
    const n = parsed.positionals.length
    if (n < command.positionals.min) throw new UsageError(`missing argument: ${command.usage.replace('[options]', '').trim()}`, command.name)
    if (n > command.positionals.max) throw new UsageError(`unexpected argument "${parsed.positionals[command.positionals.max]}"`, command.name)
    dir = typeof parsed.options.dir === 'string' ? parsed.options.dir : DEFAULT_DIR
    if (dir === '') throw new UsageError('--dir must not be empty', command.name)

    const ctx: Context = {
      command: command.name,
      dir,
      options: parsed.options,
      positionals: parsed.positionals,
      out,
      get stopped() {
        watched = true
        return stopped
      },
      defer: (fn) => { cleanups.push(fn) }
    }
    // nothing else may hold the event loop while a command waits for Ctrl-C (cat --follow, sync --live)
    const keepAlive = setInterval(() => {}, 1 << 30)
    cleanups.push(() => clearInterval(keepAlive))
    const code = await command.run(ctx)
    return exitCode(typeof code === 'number' ? code : 0)
  } catch (err) {
    out.close()
    const described = describe(err, dir)
    process.stderr.write(described.message + '\n')
    if (process.env.MULTIFEED_DEBUG && err instanceof Error) process.stderr.write((err.stack ?? '') + '\n')
    return exitCode(described.exitCode)
  } finally {
    out.close()
    await cleanup()
  }
}

// Exits once stdout and stderr have flushed (pipes may still hold output).
export function run(argv = process.argv.slice(2)): void {
  // `multifeed cat | head`: the reader went away, which is no error
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0)
    throw err
  })
  main(argv).then((code) => exit(code), (err) => {
    process.stderr.write(`multifeed: internal error: ${(err as Error)?.stack ?? err}\n`)
    exit(1)
  })
}

function exit(code: number): void {
  let pending = 2
  const done = (): void => {
    if (--pending === 0) process.exit(code)
  }
  process.stdout.write('', done)
  process.stderr.write('', done)
}

if (require.main === module) run()
