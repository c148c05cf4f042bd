// What every command declares, and what it gets to run with.
import { OptionSpec, OptionValue } from './args'
import { Output } from './progress'

export interface Context {
  readonly command: string
  readonly dir: string
  readonly options: Record<string, OptionValue>
  readonly positionals: string[]
  readonly out: Output
  // resolves with the signal's name on SIGINT/SIGTERM; long-running commands race their work against it
  readonly stopped: Promise<string>
  // cleanup run in reverse order once the command ends, whether it succeeded or not
  defer(fn: () => unknown): void
}

export interface Command {
  name: string
  summary: string
  usage: string // after "multifeed <name> "
  description: string
  options: OptionSpec[]
  positionals: { min: number, max: number }
  needsDir: boolean // --dir applies
  run(ctx: Context): Promise<number | void>
}

export function str(ctx: Context, name: string): string | undefined {
  const v = ctx.options[name]
  return typeof v === 'string' ? v : undefined
}

export function num(ctx: Context, name: string): number | undefined {
  const v = ctx.options[name]
  return typeof v === 'number' ? v : undefined
}

export function flag(ctx: Context, name: string): boolean {
  return ctx.options[name] === true
}

export function list(ctx: Context, name: string): string[] {
  const v = ctx.options[name]
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : []
}
