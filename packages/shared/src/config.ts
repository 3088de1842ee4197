import { type TObject, type Static } from 'typebox'
import { Value } from 'typebox/value'

export class ConfigError extends Error {
  override name = 'ConfigError'
}

/**
 * Validates environment variables against a TypeBox schema whose keys are the
 * variable names. Pure: takes the env, returns the typed config or throws one
 * ConfigError whose message names the first bad variable.
 */
export function parseEnv<T extends TObject> (schema: T, env: Record<string, string | undefined>): Static<T> {
  const input: Record<string, unknown> = {}
  for (const key of Object.keys(schema.properties)) {
    const raw = env[key]
    if (raw !== undefined && raw !== '') input[key] = raw
  }
  const withDefaults = Value.Default(schema, input)
  const converted = Value.Convert(schema, withDefaults)
  const first = Value.Errors(schema, converted)[0]
  if (first !== undefined) {
    const name = first.instancePath.replace(/^\//, '') || missingName(first.params)
    const shown = env[name] === undefined
      ? 'missing'
      : `invalid value ${JSON.stringify(redactIfSecret(name, env[name] ?? ''))}`
    throw new ConfigError(`config: ${name} is ${shown}: ${first.message}`)
  }
  return converted as Static<T>
}

function missingName (params: unknown): string {
  const p = params as { requiredProperties?: string[] } | undefined
  return p?.requiredProperties?.[0] ?? 'unknown variable'
}

function redactIfSecret (name: string, value: string): string {
  return /SECRET|PASSWORD|KEY|TOKEN/i.test(name) ? '[redacted]' : value
}

/** Refuses settings that are unsafe outside development. */
export function assertProductionSafe (nodeEnv: string, checks: Array<[unsafe: boolean, message: string]>): void {
  if (nodeEnv !== 'production') return
  for (const [unsafe, message] of checks) {
    if (unsafe) throw new ConfigError(`config: refusing to start in production: ${message}`)
  }
}
