// A small local server speaking GitHub's OAuth and API endpoints: a STAND-IN for github.com, which this machine
// cannot reach. It checks what GitHub checks (client secret, redirect_uri, single-use codes, the PKCE verifier) and
// answers errors as GitHub does (HTTP 200 with an `error` field).
import { createHash, randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Test } from 'tap'

export interface GhAccount {
  id: number
  login: string
  name: string | null
  emails: Array<{ email: string, primary: boolean, verified: boolean }>
  /** GitHub's `avatar_url`; null by default. */
  avatarUrl?: string
}

export const CLIENT_ID = 'gh-client'
export const CLIENT_SECRET = 'gh-secret'

export async function githubStandIn (t: Test): Promise<{ url: string, as: (a: GhAccount) => void, failApi: (on: boolean) => void }> {
  let current: GhAccount | null = null
  let apiDown = false
  const codes = new Map<string, { account: GhAccount, challenge: string, redirectUri: string }>()
  const tokens = new Map<string, GhAccount>()
  const json = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body))
  }
  const read = async (req: IncomingMessage): Promise<string> => {
    let s = ''
    for await (const c of req) s += String(c)
    return s
  }
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1')
      if (req.method === 'GET' && url.pathname === '/login/oauth/authorize') {
        // The user is signed in at GitHub and approves at once.
        const q = url.searchParams
        if (q.get('client_id') !== CLIENT_ID || current === null || q.get('code_challenge_method') !== 'S256') {
          res.writeHead(400).end('bad authorize request'); return
        }
        const code = randomBytes(10).toString('hex')
        codes.set(code, { account: current, challenge: q.get('code_challenge') ?? '', redirectUri: q.get('redirect_uri') ?? '' })
        const back = new URL(q.get('redirect_uri') ?? '')
        back.searchParams.set('code', code)
        back.searchParams.set('state', q.get('state') ?? '')
        res.writeHead(302, { location: back.href }).end()
        return
      }
      if (req.method === 'POST' && url.pathname === '/login/oauth/access_token') {
        const form = new URLSearchParams(await read(req))
        if (form.get('client_id') !== CLIENT_ID || form.get('client_secret') !== CLIENT_SECRET) {
          json(res, 200, { error: 'incorrect_client_credentials' }); return
        }
        const grant = codes.get(form.get('code') ?? '')
        codes.delete(form.get('code') ?? '')
        const verifier = form.get('code_verifier') ?? ''
        if (grant === undefined || grant.redirectUri !== form.get('redirect_uri') ||
          createHash('sha256').update(verifier).digest('base64url') !== grant.challenge) {
          json(res, 200, { error: 'bad_verification_code', error_description: 'The code passed is incorrect or expired.' })
          return
        }
        const token = `gho_${randomBytes(16).toString('hex')}`
        tokens.set(token, grant.account)
        json(res, 200, { access_token: token, token_type: 'bearer', scope: 'read:user,user:email' })
        return
      }
      const account = tokens.get((req.headers.authorization ?? '').replace(/^(Bearer|token) /i, ''))
      if (account === undefined) { json(res, 401, { message: 'Bad credentials' }); return }
      if (apiDown) { json(res, 503, { message: 'unavailable' }); return }
      if (url.pathname === '/user') {
        json(res, 200, { id: account.id, login: account.login, name: account.name, avatar_url: account.avatarUrl ?? null, email: null }); return
      }
      if (url.pathname === '/user/emails') { json(res, 200, account.emails.map((e) => ({ ...e, visibility: null }))); return }
      json(res, 404, { message: 'Not Found' })
    })()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    as: (a) => { current = a },
    failApi: (on) => { apiDown = on }
  }
}
