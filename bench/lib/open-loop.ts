// The open-loop generator behind the fixed-rate scenarios. autocannon cannot send at a steady rate: its
// overallRate is a quota per connection and second, fired back to back at the start of each second, so its
// latencies measure the queue behind a burst. Here request i is due at start + i / rate (evenly spaced), is sent
// without waiting for any earlier answer, and its latency runs from that due instant, not from when it went out:
// a late generator or a full pool then shows up in the figures instead of hiding (coordinated omission).
import { Pool, errors as undiciErrors, type Dispatcher } from 'undici'
import type { Drawn, Tally } from './scenarios.js'

export interface OpenLoopOptions {
  /** Origin the paths of the drawn requests are sent to. */
  origin: string
  /** Arrivals per second, evenly spaced. */
  rate: number
  /** Seconds at the same rate before the measured part; their answers are not counted. */
  warmupS: number
  durationS: number
  /** Keep-alive connections in the pool; a request finding them all busy waits in the pool's queue, on the clock. */
  connections: number
  /**
   * Requests in flight (sent or queued in the pool, not yet answered) beyond which a due request is not sent and
   * counts as an error: past it the stack is far behind, and an unbounded queue would only eat the generator's memory.
   */
  maxInFlight?: number
  /**
   * No answer this long after going out (undici's header and body timeouts), or after the last due instant for those
   * still out at the end, counts as a timeout: autocannon's default, 10 s.
   */
  timeoutMs?: number
  next: () => Drawn
  /** Gets the measured answers by kind; latency from the due instant, as for the totals. */
  tally?: Tally
  /** Called as the first measured request is due (after the warm-up's). */
  onMeasured?: () => void
}

export interface OpenLoopResult {
  /**
   * Answers (any status) per second that arrived during the measured part, warm-up ones included: below the rate
   * only when the stack could not keep up.
   */
  requestsPerSec: number
  /** Latency of the 2xx answers (ms), as autocannon reports it; the tally has every status. */
  latency: { average: number, p50: number, p97_5: number, p99: number }
  /** Measured answers, any status. */
  answered: number
  /** Measured requests sent. */
  sent: number
  /** Connection and protocol errors plus `dropped`. */
  errors: number
  /** Measured requests due while maxInFlight were in flight: not sent. */
  dropped: number
  /** The first few distinct error messages (what failed, not only how often). */
  errorSamples: string[]
  timeouts: number
  non2xx: number
  /** How late the generator sent the measured requests after their due instants (ms): part of every latency. */
  sendLag: { p99: number, max: number }
  maxInFlight: number
  /** The generator's CPU over the measured part, as % of one core. */
  cpuPct: number
}

const round2 = (x: number): number => Math.round(x * 100) / 100

/** The value at percentile p of ascending `xs`, as HDR histograms define it: the smallest with p % at or below. */
function percentile (xs: Float64Array, p: number): number {
  if (xs.length === 0) return 0
  return xs[Math.max(0, Math.ceil((p / 100) * xs.length) - 1)] as number
}

export async function openLoop (o: OpenLoopOptions): Promise<OpenLoopResult> {
  const maxInFlight = o.maxInFlight ?? 2_000
  const timeoutMs = o.timeoutMs ?? 10_000
  const interval = 1000 / o.rate
  const warmupCount = Math.round(o.warmupS * o.rate)
  const measuredCount = Math.round(o.durationS * o.rate)
  const total = warmupCount + measuredCount
  const pool = new Pool(o.origin, {
    connections: o.connections,
    pipelining: 1,
    // Below nginx's keepalive_timeout (65 s), so an idle connection is never reused just as the server drops it.
    keepAliveTimeout: 60_000,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs
  })
  // 10,000 numbers for 10 s at 1,000/s: kept and sorted rather than binned, so the percentiles are exact.
  const latencies = new Float64Array(measuredCount)
  const lags = new Float64Array(measuredCount)
  let nLatencies = 0
  let sent = 0
  let answered = 0
  let failed = 0
  const errorSamples = new Set<string>()
  let dropped = 0
  let timeouts = 0
  let non2xx = 0
  let inFlight = 0
  let measuredInFlight = 0
  // Every answer in the measured window, whichever part asked: at a steady state the warm-up's late answers in it
  // stand for the measured ones after it, so this is the answer rate, undisturbed by the tail of the last latencies.
  let inWindow = 0
  // Set once the run is over: whatever the pool's teardown rejects afterwards was already counted as a timeout.
  let over = false
  let onIdle: (() => void) | undefined

  o.tally?.reset()
  const start = performance.now()
  const measuredStart = start + warmupCount * interval
  const measuredEnd = measuredStart + measuredCount * interval
  let cpuBefore = process.cpuUsage()

  const send = (i: number, due: number, now: number): void => {
    // Drawn even when dropped, so request i is the same whichever requests the stack could not take.
    const { kind, call } = o.next()
    const measured = i >= warmupCount
    if (inFlight >= maxInFlight) {
      if (measured) dropped++
      return
    }
    inFlight++
    if (measured) {
      lags[sent++] = now - due
      measuredInFlight++
    }
    const request: Dispatcher.RequestOptions = {
      method: call.method as Dispatcher.HttpMethod,
      path: call.path,
      // undici sets the length of the body it sends; a content-length autocannon left on a shared request
      // object (it writes one into the requests it sends) would not match a body drawn again.
      headers: withoutLength(call.headers),
      body: call.body ?? null
    }
    void (async () => {
      try {
        const res = await pool.request(request)
        // Read to the end, as autocannon does: the latency covers the whole answer, and the connection is reused.
        await res.body.arrayBuffer()
        const at = performance.now()
        if (at >= measuredStart && at < measuredEnd) inWindow++
        if (!measured || over) return
        const ms = at - due
        answered++
        if (res.statusCode >= 200 && res.statusCode < 300) latencies[nLatencies++] = ms
        else non2xx++
        o.tally?.add(kind, res.statusCode, ms)
      } catch (err) {
        if (!measured || over) return
        if (err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError) timeouts++
        else {
          failed++
          if (errorSamples.size < 5) errorSamples.add(`${kind}: ${(err as Error).message}`)
        }
      } finally {
        inFlight--
        if (measured) measuredInFlight--
        if (inFlight === 0) onIdle?.()
      }
    })()
  }

  // Each tick sends every request whose instant has passed (the clock is monotonic, so a late timer makes a short
  // burst, never a lower rate), then sleeps until the next instant. No busy wait: the stack shares the cores.
  await new Promise<void>((resolve) => {
    let i = 0
    const tick = (): void => {
      const now = performance.now()
      while (i < total && start + i * interval <= now) {
        if (i === warmupCount) {
          cpuBefore = process.cpuUsage()
          o.onMeasured?.()
        }
        send(i, start + i * interval, now)
        i++
      }
      if (i >= total) resolve()
      else setTimeout(tick, Math.max(0, start + i * interval - performance.now()))
    }
    tick()
  })

  // The last requests get their answers; what is still out when its time is up counts as a timeout.
  const lastDue = start + (total - 1) * interval
  if (inFlight > 0) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, Math.max(0, lastDue + timeoutMs - performance.now()))
      onIdle = () => { clearTimeout(timer); resolve() }
    })
  }
  const end = performance.now()
  const cpu = process.cpuUsage(cpuBefore)
  over = true
  timeouts += measuredInFlight
  if (inFlight > 0) await pool.destroy()
  else await pool.close()

  const ok = latencies.subarray(0, nLatencies).sort()
  let sum = 0
  for (const x of ok) sum += x
  const sortedLags = lags.subarray(0, sent).sort()
  return {
    requestsPerSec: Math.round(inWindow / ((measuredEnd - measuredStart) / 1000)),
    latency: {
      average: nLatencies === 0 ? 0 : round2(sum / nLatencies),
      p50: round2(percentile(ok, 50)),
      p97_5: round2(percentile(ok, 97.5)),
      p99: round2(percentile(ok, 99))
    },
    answered,
    sent,
    errors: failed + dropped,
    dropped,
    errorSamples: [...errorSamples],
    timeouts,
    non2xx,
    sendLag: { p99: round2(percentile(sortedLags, 99)), max: round2(sortedLags[sortedLags.length - 1] ?? 0) },
    maxInFlight,
    cpuPct: Math.round(((cpu.user + cpu.system) / 1000 / Math.max(1, end - measuredStart)) * 100)
  }
}

function withoutLength<H extends object> (headers: H | undefined): H | undefined {
  if (headers === undefined) return undefined
  const { 'content-length': _length, ...rest } = headers as H & { 'content-length'?: unknown }
  return rest as H
}
