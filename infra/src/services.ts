import { fileURLToPath } from 'node:url'
import path from 'node:path'

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

export interface ServiceInfo {
  name: 'auth' | 'card' | 'file'
  port: number
  schema: string
  role: string
  dir: string
}

export const services: ServiceInfo[] = (['auth', 'card', 'file'] as const).map((name, i) => ({
  name,
  port: 3001 + i,
  schema: name,
  role: `holo_${name}`,
  dir: path.join(repoRoot, 'services', name)
}))

export function serviceInfo (name: ServiceInfo['name']): ServiceInfo {
  return services.find((s) => s.name === name) as ServiceInfo
}

/** Same server and database as `url`, another role. */
export function urlForRole (url: string, role: string, password?: string): string {
  const u = new URL(url)
  u.username = role
  u.password = password ?? ''
  return u.toString()
}

export function withDatabase (url: string, database: string): string {
  const u = new URL(url)
  u.pathname = `/${database}`
  return u.toString()
}
