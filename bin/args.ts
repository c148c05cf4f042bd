// Argument parsing with no dependency: a command's options are declared once and drive both the
// parser and the --help text. Anything the parser rejects is a UsageError (exit code 2).
import { UsageError } from './errors'

export interface OptionSpec {
  name: string // long name, without the dashes
  alias?: string // one letter
  type: 'boolean' | 'string' | 'number'
  multiple?: boolean // may be given more than once (collected into an array)
  value?: string // placeholder in the help text
  default?: string | number | boolean
  help: string
}

export type OptionValue = string | number | boolean | string[] | undefined

export interface Parsed {
  options: Record<string, OptionValue>
  positionals: string[]
}

// Splits argv into options and positionals. `-` alone is a positional; `--` ends the options.
export function parse(argv: string[], specs: OptionSpec[], where: string): Parsed {
  const options: Record<string, OptionValue> = {}
  const positionals: string[] = []
  const byLong = new Map(specs.map((s) => [s.name, s]))
  const byShort = new Map(specs.filter((s) => s.alias).map((s) => [s.alias!, s]))

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1))
      break
    }
    if (arg === '-' || !arg.startsWith('-')) {
      positionals.push(arg)
      continue
    }
    let spec: OptionSpec | undefined
    let inline: string | undefined
    let label: string
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=')
      const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq)
      if (eq !== -1) inline = arg.slice(eq + 1)
      label = '--' + name
      spec = byLong.get(name)
      if (!spec && name.startsWith('no-')) {
        const negated = byLong.get(name.slice(3))
        if (negated && negated.type === 'boolean' && inline === undefined) {
          options[negated.name] = false
          continue
        }
      }
    } else {
      label = arg.slice(0, 2)
      spec = byShort.get(arg.slice(1, 2))
      if (arg.length > 2) {
        // -wNAME, or a bundle of boolean flags like -fl
        if (spec && spec.type !== 'boolean') inline = arg.slice(2)
        else if (spec) {
          for (const ch of arg.slice(1)) {
            const s = byShort.get(ch)
            if (!s || s.type !== 'boolean') throw new UsageError(`unknown option -${ch}`, where)
            options[s.name] = true
          }
          continue
        }
      }
    }
    if (!spec) throw new UsageError(`unknown option ${label}`, where)
    if (spec.type === 'boolean') {
      if (inline !== undefined) throw new UsageError(`option ${label} takes no value`, where)
      options[spec.name] = true
      continue
    }
    let value = inline
    if (value === undefined) {
      if (i + 1 >= argv.length || (argv[i + 1].startsWith('-') && argv[i + 1] !== '-' && !/^-\d/.test(argv[i + 1]))) {
        throw new UsageError(`option ${label} needs a value${spec.value ? ' (' + spec.value + ')' : ''}`, where)
      }
      value = argv[++i]
    }
    if (spec.type === 'number') {
      const n = Number(value)
      if (value.trim() === '' || !Number.isFinite(n)) throw new UsageError(`option ${label} needs a number, got "${value}"`, where)
      options[spec.name] = n
    } else if (spec.multiple) {
      const list = (options[spec.name] as string[] | undefined) ?? []
      list.push(value)
      options[spec.name] = list
    } else {
      options[spec.name] = value
    }
  }
  for (const spec of specs) {
    if (options[spec.name] === undefined && spec.default !== undefined) options[spec.name] = spec.default
  }
  return { options, positionals }
}

export function optionsHelp(specs: OptionSpec[]): string {
  const rows = specs.map((s) => {
    const flag = (s.alias ? `-${s.alias}, ` : '    ') + `--${s.name}` + (s.type === 'boolean' ? '' : ` ${s.value ?? s.name.toUpperCase()}`)
    const def = s.default !== undefined && s.type !== 'boolean' ? ` (default: ${s.default})` : ''
    return [flag, s.help + def]
  })
  const width = Math.max(...rows.map((r) => r[0].length))
  return rows.map(([a, b]) => '  ' + a.padEnd(width + 2) + b).join('\n')
}

// HOST:PORT, [v6]:PORT or a bare PORT (host defaults to `defaultHost`).
export function parseHostPort(value: string, what: string, where: string, defaultHost = '127.0.0.1'): { host: string, port: number } {
  let host = defaultHost
  let portText = value
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(value)
  if (v6) {
    host = v6[1]
    portText = v6[2]
  } else if (value.includes(':')) {
    const at = value.lastIndexOf(':')
    host = value.slice(0, at) || defaultHost
    portText = value.slice(at + 1)
  }
  const port = Number(portText)
  if (!/^\d+$/.test(portText) || port > 65535) throw new UsageError(`${what} must be HOST:PORT, got "${value}"`, where)
  return { host, port }
}
