import type autocannon from 'autocannon'
import { WORDS, multipart, type BenchUser } from './seed.js'

export type Target = 'direct' | 'gateway'
export type Baseline = 'nginx-static' | 'fastify-redis'

export interface BenchData {
  users: BenchUser[]
  /** Fresh refresh tokens, one chain per connection. */
  refreshTokens: string[]
  cardIds: string[]
  hotCardId: string
  fileIds: string[]
  uploads: Buffer[]
}

export interface Scenario {
  name: string
  /** Which service answers it directly (undefined: only the gateway has it). */
  service?: 'auth' | 'card' | 'file' | 'baseline'
  baseline: Baseline
  /** autocannon request options for one run. */
  requests: (d: BenchData) => { path?: string, requests?: autocannon.Request[] }
}

const json = { 'content-type': 'application/json' }
const bearer = (u: BenchUser): Record<string, string> => ({ authorization: `Bearer ${u.accessToken}` })
const pick = <T>(xs: T[], i: number): T => xs[i % xs.length] as T

function rotating<T> (xs: T[]): () => T {
  let i = 0
  return () => pick(xs, i++)
}

/** First pages of one- and two-word searches over the seed vocabulary; with users, each request signed in (likedByMe). */
function searches (users?: BenchData['users']): ReturnType<Scenario['requests']> {
  let i = 0
  return {
    requests: [{
      method: 'GET',
      setupRequest: (req) => {
        i++
        const path = `/api/v1/cards?q=${pick(WORDS, i)}${i % 2 === 0 ? `+${pick(WORDS, i * 7)}` : ''}&limit=20`
        return users === undefined ? { ...req, path } : { ...req, path, headers: bearer(pick(users, i)) }
      }
    }]
  }
}

export const scenarios: Scenario[] = [
  { name: 'baseline-nginx-static', baseline: 'nginx-static', requests: () => ({ path: '/bench/baseline/static' }) },
  { name: 'baseline-fastify-redis', service: 'baseline', baseline: 'fastify-redis', requests: () => ({ path: '/bench/baseline/redis' }) },
  { name: 'gateway-health', baseline: 'nginx-static', requests: () => ({ path: '/health' }) },
  {
    name: 'login',
    service: 'auth',
    baseline: 'fastify-redis',
    requests: (d) => {
      const next = rotating(d.users)
      return {
        requests: [{
          method: 'POST',
          setupRequest: (req) => {
            const u = next()
            return { ...req, path: '/api/v1/auth/login', headers: json, body: JSON.stringify({ email: u.email, password: u.password }) }
          }
        }]
      }
    }
  },
  {
    name: 'refresh',
    service: 'auth',
    baseline: 'fastify-redis',
    requests: (d) => {
      // autocannon resets its per-connection context every request cycle, so
      // the chains live in one queue: each token is sent once, and its
      // successor (every refresh rotates) goes back in the queue.
      const queue = [...d.refreshTokens]
      return {
        requests: [{
          method: 'POST',
          setupRequest: (req) => ({ ...req, path: '/api/v1/auth/refresh', headers: json, body: JSON.stringify({ refreshToken: queue.shift() }) }),
          onResponse: (status, body) => {
            if (status === 200) queue.push((JSON.parse(body) as { refreshToken: string }).refreshToken)
          }
        }]
      }
    }
  },
  { name: 'card-get-cached', service: 'card', baseline: 'fastify-redis', requests: (d) => ({ path: `/api/v1/cards/${d.hotCardId}` }) },
  {
    name: 'card-get-uncached',
    service: 'card',
    baseline: 'fastify-redis',
    requests: (d) => {
      const next = rotating(d.cardIds)
      return { requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: `/api/v1/cards/${next()}` }) }] }
    }
  },
  { name: 'card-search', service: 'card', baseline: 'fastify-redis', requests: () => searches() },
  { name: 'card-search-signed-in', service: 'card', baseline: 'fastify-redis', requests: (d) => searches(d.users) },
  {
    name: 'card-create',
    service: 'card',
    baseline: 'fastify-redis',
    requests: (d) => {
      const next = rotating(d.users)
      let i = 0
      return {
        requests: [{
          method: 'POST',
          setupRequest: (req) => ({
            ...req,
            path: '/api/v1/cards',
            headers: { ...json, ...bearer(next()) },
            body: JSON.stringify({ title: `Bench ${pick(WORDS, i)} ${i++}`, description: 'Made under load', rarity: 'rare', tags: ['bench'], holo: { effect: 'galaxy', intensity: 0.7 } })
          })
        }]
      }
    }
  },
  {
    name: 'like',
    service: 'card',
    baseline: 'fastify-redis',
    requests: (d) => {
      let i = 0
      return {
        requests: [{
          method: 'PUT',
          setupRequest: (req) => {
            i++
            return { ...req, path: `/api/v1/cards/${pick(d.cardIds, i * 31)}/like`, headers: bearer(pick(d.users, i)) }
          }
        }]
      }
    }
  },
  {
    name: 'file-upload-100k',
    service: 'file',
    baseline: 'fastify-redis',
    requests: (d) => {
      const bodies = d.uploads.map((img, i) => multipart(img, `bench-${i}.png`, 'image/png'))
      let i = 0
      return {
        requests: [{
          method: 'POST',
          setupRequest: (req) => {
            const b = pick(bodies, i)
            const u = pick(d.users, i++)
            return { ...req, path: '/api/v1/files', headers: { ...bearer(u), 'content-type': b.contentType }, body: b.body }
          }
        }]
      }
    }
  },
  {
    name: 'file-content-get',
    service: 'file',
    baseline: 'fastify-redis',
    requests: (d) => {
      const next = rotating(d.fileIds)
      return { requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: `/api/v1/files/${next()}/content` }) }] }
    }
  }
]
