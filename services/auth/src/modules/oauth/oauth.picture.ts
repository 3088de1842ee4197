// Fetching a picture URL that a sign-in provider handed us, which anyone who controls a provider profile (or a
// provider) can point anywhere: SSRF is the risk. Every address a connection would use is checked after DNS and
// before connecting (request-filtering-agent: no private, loopback, link-local, CGNAT, multicast, reserved or
// unspecified address), only https (http for loopback, and loopback itself, only when the setting allows it:
// development and tests), each redirect is checked again (at most MAX_REDIRECTS), the body is streamed and cut
// off past the size cap, and one deadline covers it all.
import http from 'node:http'
import https from 'node:https'
import { isIPv4 } from 'node:net'
import { RequestFilteringHttpAgent, RequestFilteringHttpsAgent } from 'request-filtering-agent'

/** Why a picture was not fetched. */
export type PictureFailure = 'refused' | 'too_large' | 'not_image' | 'timeout' | 'failed'

export class PictureError extends Error {
  override name = 'PictureError'
  constructor (readonly reason: PictureFailure, message: string) { super(message) }
}

/** The image types the file service accepts (it checks the bytes again). */
export const PICTURE_TYPES: ReadonlyMap<string, string> = new Map([
  ['image/png', 'png'],
  ['image/jpeg', 'jpg'],
  ['image/webp', 'webp'],
  ['image/gif', 'gif'],
  ['image/avif', 'avif']
])

export const MAX_REDIRECTS = 3

export interface PicturePolicy {
  maxBytes: number
  /** One deadline for the whole fetch: every redirect and the body. */
  timeoutMs: number
  /** http and loopback addresses (127.0.0.0/8, ::1): development and tests only. */
  allowLoopback: boolean
}

export interface Picture { bytes: Buffer, contentType: string }

const LOOPBACK_RANGES = ['127.0.0.0/8', '::1/128']

const isLoopbackHost = (hostname: string): boolean =>
  hostname === 'localhost' || hostname === '[::1]' || (isIPv4(hostname) && hostname.startsWith('127.'))

/** Fetches provider pictures under one policy; its agents keep no connections alive. */
export class PictureFetcher {
  private readonly httpsAgent: https.Agent
  private readonly httpAgent: http.Agent

  constructor (private readonly policy: PicturePolicy) {
    const filter = {
      allowPrivateIPAddress: false,
      allowMetaIPAddress: false,
      allowIPAddressList: policy.allowLoopback ? LOOPBACK_RANGES : []
    }
    this.httpsAgent = new RequestFilteringHttpsAgent({ ...filter, keepAlive: false })
    this.httpAgent = new RequestFilteringHttpAgent({ ...filter, keepAlive: false })
  }

  /** The URL when it may be fetched at all (before any connection); a PictureError 'refused' otherwise. */
  check (raw: string): URL {
    let url: URL
    try { url = new URL(raw) } catch { throw new PictureError('refused', 'not a URL') }
    if (url.username !== '' || url.password !== '') throw new PictureError('refused', 'credentials in the URL')
    if (url.protocol === 'https:') return url
    if (url.protocol === 'http:' && this.policy.allowLoopback && isLoopbackHost(url.hostname)) return url
    throw new PictureError('refused', `scheme ${url.protocol} not allowed`)
  }

  /** The picture's bytes and type, or a PictureError naming why not. */
  async fetch (raw: string): Promise<Picture> {
    const signal = AbortSignal.timeout(this.policy.timeoutMs)
    let url = this.check(raw)
    for (let redirects = 0; ; redirects++) {
      const res = await this.get(url, signal)
      const status = res.statusCode ?? 0
      if (status >= 300 && status < 400) {
        res.destroy()
        const location = res.headers.location
        if (location === undefined) throw new PictureError('failed', `answered ${status} without Location`)
        if (redirects >= MAX_REDIRECTS) throw new PictureError('refused', 'too many redirects')
        let next: string
        try { next = new URL(location, url).href } catch { throw new PictureError('refused', 'bad redirect') }
        url = this.check(next)
        continue
      }
      if (status !== 200) {
        res.destroy()
        throw new PictureError('failed', `answered ${status}`)
      }
      const contentType = (res.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? ''
      if (!PICTURE_TYPES.has(contentType)) {
        res.destroy()
        throw new PictureError('not_image', `content type ${contentType === '' ? 'missing' : contentType}`)
      }
      const declared = Number(res.headers['content-length'] ?? NaN)
      if (declared > this.policy.maxBytes) {
        res.destroy()
        throw new PictureError('too_large', `declares ${declared} bytes`)
      }
      return { bytes: await this.body(res, signal), contentType }
    }
  }

  private async get (url: URL, signal: AbortSignal): Promise<http.IncomingMessage> {
    const agent = url.protocol === 'https:' ? this.httpsAgent : this.httpAgent
    const request = url.protocol === 'https:' ? https.request : http.request
    return await new Promise((resolve, reject) => {
      const req = request(url, {
        method: 'GET',
        agent,
        signal,
        headers: {
          accept: [...PICTURE_TYPES.keys()].join(', '),
          'accept-encoding': 'identity',
          'user-agent': 'HoloCards-AvatarImport/1'
        }
      }, resolve)
      req.on('error', (err) => { reject(this.failure(err, signal)) })
      req.end()
    })
  }

  /** Reads the body, stopping as soon as it passes the cap. */
  private async body (res: http.IncomingMessage, signal: AbortSignal): Promise<Buffer> {
    const chunks: Buffer[] = []
    let size = 0
    try {
      for await (const chunk of res) {
        size += (chunk as Buffer).length
        if (size > this.policy.maxBytes) {
          res.destroy()
          throw new PictureError('too_large', `more than ${this.policy.maxBytes} bytes`)
        }
        chunks.push(chunk as Buffer)
      }
    } catch (err) {
      throw this.failure(err, signal)
    }
    // A response cut short by the peer ends without an error on some paths: it is no picture.
    if (!res.complete) throw this.failure(new Error('the response ended early'), signal)
    return Buffer.concat(chunks)
  }

  private failure (err: unknown, signal: AbortSignal): PictureError {
    if (err instanceof PictureError) return err
    if (signal.aborted) return new PictureError('timeout', 'took too long')
    const message = (err as Error).message ?? String(err)
    // request-filtering-agent's refusal: the host resolved to an address that is not allowed.
    if (/is not allowed/.test(message)) return new PictureError('refused', 'the host resolves to a forbidden address')
    return new PictureError('failed', (err as { code?: string }).code ?? 'request failed')
  }

  close (): void {
    this.httpsAgent.destroy()
    this.httpAgent.destroy()
  }
}
