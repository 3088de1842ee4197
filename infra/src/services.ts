import { fileURLToPath } from 'node:url'
import path from 'node:path'

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

/** Every service, with its port (the plan's numbering). */
const PORTS = {
  auth: 3001, card: 3002, file: 3003, notification: 3004, analytics: 3005, audit: 3006, billing: 3007
} as const

export type ServiceName = keyof typeof PORTS

export interface ServiceInfo {
  name: ServiceName
  port: number
  schema: string
  role: string
  dir: string
}

export const services: ServiceInfo[] = (Object.keys(PORTS) as ServiceName[]).map((name) => ({
  name,
  port: PORTS[name],
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
