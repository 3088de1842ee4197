// The local Stripe stand-in: a small HTTP server that speaks Stripe's own API protocol for the calls the
// billing service makes (form-encoded requests, Bearer secret keys, Idempotency-Key, Stripe's JSON object
// shapes and error format), hosts a plain-HTML checkout page and customer portal, and sends webhooks signed
// exactly as Stripe signs them (Stripe-Signature: t=<unix time>,v1=<HMAC-SHA256 of "t.payload">).
//
// It is for `npm start` and tests only, like s3rver for S3: no card is ever charged, nothing leaves the
// machine, state lives in memory. The billing service refuses its URL in production. Object shapes follow
// Stripe's published OpenAPI fixtures (github.com/stripe/openapi, openapi/fixtures3.json), trimmed to the
// fields this project reads plus the identifying ones.
import { createHash, createHmac, randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'

type Json = Record<string, unknown>
type Obj = Json & { id: string, object: string }

export interface StandinPrice {
  id: string
  unitAmount: number
  currency: string
  productName: string
  /** A recurring price (a subscription's), monthly unless `intervalSeconds` says otherwise. */
  recurring?: boolean
}

export interface StripeStandinOptions {
  /** 0 picks a free port. Default 12111 (the port stripe-mock uses). */
  port?: number
  host?: string
  /** The secret key clients must send (Authorization: Bearer …). Any `sk_test_…` key when unset. */
  secretKey?: string
  /** Where webhooks go (e.g. http://127.0.0.1:8080/api/v1/billing/webhooks/stripe); none are sent when unset. */
  webhookUrl?: string
  /** The endpoint's signing secret (whsec_…). */
  webhookSecret: string
  /** Prices that exist from the start (e.g. the Holo+ monthly price). */
  prices?: StandinPrice[]
  /** Length of a subscription period; default 30 days. Tests shorten it. */
  periodSeconds?: number
  /** Renew (or end, when set to cancel) subscriptions when their period ends. Default true. */
  autoAdvance?: boolean
  /** Stripe's fee on a card payment: percent plus fixed minor units. Default 2.9 % + 30. */
  fee?: { percent: number, fixed: number }
  /** Base URL of the hosted pages as a browser reaches them; default this server's own URL. */
  publicUrl?: string
}

/**
 * The stand-in as the local stack and its command line run it, from the environment: STRIPE_STANDIN_PORT
 * (12111), STRIPE_WEBHOOK_SECRET, STRIPE_STANDIN_PERIOD_SECONDS, and Holo+'s price (STRIPE_HOLO_PLUS_PRICE,
 * HOLO_PLUS_AMOUNT, HOLO_PLUS_CURRENCY; billing's development defaults).
 */
export function standinOptionsFromEnv (
  env: Record<string, string | undefined>, o: { webhookUrl?: string, secretKey?: string }
): StripeStandinOptions {
  return {
    port: Number(env.STRIPE_STANDIN_PORT ?? 12111),
    webhookUrl: o.webhookUrl,
    webhookSecret: env.STRIPE_WEBHOOK_SECRET ?? 'whsec_holo_local_standin',
    secretKey: o.secretKey,
    periodSeconds: env.STRIPE_STANDIN_PERIOD_SECONDS === undefined ? undefined : Number(env.STRIPE_STANDIN_PERIOD_SECONDS),
    prices: [{
      id: env.STRIPE_HOLO_PLUS_PRICE ?? 'price_holo_plus_monthly',
      unitAmount: Number(env.HOLO_PLUS_AMOUNT ?? 499),
      currency: env.HOLO_PLUS_CURRENCY ?? 'eur',
      productName: 'Holo+',
      recurring: true
    }]
  }
}

export interface StripeStandin {
  url: string
  port: number
  /** Every event made, oldest first (whether or not it was delivered yet). */
  events: () => Obj[]
  /** Sends an event (again) to the webhook endpoint, signed now; resolves with the endpoint's status. */
  deliver: (eventId: string) => Promise<number>
  /** Resolves when every event made so far was delivered (2xx) or gave up. */
  idle: () => Promise<void>
  /** Pays an open checkout session as the hosted page's Pay button does. */
  pay: (sessionId: string) => Promise<void>
  /** Ends a subscription's current period now: it renews, or ends if set to cancel at period end. */
  advance: (subscriptionId: string) => Promise<void>
  /** The next renewal of this subscription fails (invoice.payment_failed, status past_due). */
  failNextRenewal: (subscriptionId: string) => void
  /** Stops or resumes webhook delivery (events queue up meanwhile). */
  pauseDelivery: (paused: boolean) => void
  /** The object with this id, as the API would return it. */
  object: (id: string) => Obj | undefined
  stop: () => Promise<void>
}

const API_VERSION = '2026-10-28.endive'
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
const newId = (prefix: string): string => {
  const bytes = randomBytes(24)
  let s = ''
  for (const b of bytes) s += ALPHABET[b % ALPHABET.length]
  return `${prefix}_${s}`
}
const now = (): number => Math.floor(Date.now() / 1000)
const clone = <T>(v: T): T => structuredClone(v)

/** An error in Stripe's format: `{ error: { type, message, param?, code? } }` with its HTTP status. */
class StripeApiError extends Error {
  constructor (
    readonly status: number,
    readonly type: string,
    message: string,
    readonly param?: string,
    readonly code?: string
  ) { super(message) }
}
const invalid = (message: string, param?: string, code?: string, status = 400): StripeApiError =>
  new StripeApiError(status, 'invalid_request_error', message, param, code)
const missingParam = (param: string): StripeApiError => invalid(`Missing required param: ${param}.`, param,
  'parameter_missing')
const noSuch = (what: string, id: string, param = 'id'): StripeApiError =>
  invalid(`No such ${what}: '${id}'`, param, 'resource_missing', 404)

/**
 * Parses Stripe's form encoding (`a[b][0][c]=v`, `expand[]=x`) into nested objects and arrays, as the
 * Stripe libraries encode them.
 */
export function parseStripeForm (body: string): Json {
  const root: Json = {}
  for (const [rawKey, value] of new URLSearchParams(body)) {
    const path = rawKey.replace(/\]/g, '').split('[')
    let node: Record<string, unknown> = root
    path.forEach((seg, i) => {
      const key = seg === '' ? String(Object.keys(node).length) : seg
      if (i === path.length - 1) { node[key] = value; return }
      if (typeof node[key] !== 'object' || node[key] === null) node[key] = {}
      node = node[key] as Record<string, unknown>
    })
  }
  return arrays(root) as Json
}

function arrays (v: unknown): unknown {
  if (typeof v !== 'object' || v === null) return v
  const o = v as Record<string, unknown>
  const keys = Object.keys(o)
  const fixed = Object.fromEntries(keys.map((k) => [k, arrays(o[k])]))
  if (keys.length > 0 && keys.every((k) => /^\d+$/.test(k))) {
    return keys.map(Number).sort((a, b) => a - b).map((k) => fixed[String(k)])
  }
  return fixed
}

const str = (p: Json, key: string, required = false): string | undefined => {
  const v = p[key]
  if (v === undefined || v === '') {
    if (required) throw missingParam(key)
    return undefined
  }
  if (typeof v !== 'string') throw invalid(`Invalid string: ${key}`, key)
  return v
}
const int = (v: unknown, param: string): number => {
  if (typeof v !== 'string' || !/^-?\d+$/.test(v)) throw invalid(`Invalid integer: ${String(v)}`, param)
  return Number(v)
}
const bool = (v: unknown, param: string): boolean => {
  if (v === 'true') return true
  if (v === 'false') return false
  throw invalid(`Invalid boolean: ${String(v)}`, param)
}
const metadataOf = (v: unknown, param = 'metadata'): Record<string, string> => {
  if (v === undefined || v === '') return {}
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalid('Invalid hash', param)
  for (const [k, x] of Object.entries(v)) {
    if (typeof x !== 'string') throw invalid(`Invalid metadata value for ${k}`, `${param}[${k}]`)
  }
  return v as Record<string, string>
}

/** The Stripe-Signature header for a payload, as Stripe computes it. */
export function stripeSignature (payload: string, secret: string, timestamp = now()): string {
  const v1 = createHmac('sha256', secret).update(`${timestamp}.${payload}`, 'utf8').digest('hex')
  return `t=${timestamp},v1=${v1}`
}

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) =>
  ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c)

const money = (amount: number, currency: string): string =>
  `${(amount / 100).toFixed(2)} ${currency.toUpperCase()}`

export async function startStripeStandin (o: StripeStandinOptions): Promise<StripeStandin> {
  const store = new Map<string, Obj>()
  const events: Obj[] = []
  const idempotent = new Map<string, { hash: string, status: number, body: string }>()
  const periodSeconds = o.periodSeconds ?? 30 * 86_400
  const fee = o.fee ?? { percent: 2.9, fixed: 30 }
  const failNext = new Set<string>()
  const timers = new Map<string, NodeJS.Timeout>()
  let publicUrl = o.publicUrl ?? ''
  let paused = false
  let queue: Promise<unknown> = Promise.resolve()
  let stopped = false

  const put = <T extends Obj>(obj: T): T => { store.set(obj.id, obj); return obj }
  const get = (id: string, what: string, prefix: string, param = 'id'): Obj => {
    const found = store.get(id)
    if (found === undefined || !id.startsWith(prefix)) throw noSuch(what, id, param)
    return found
  }

  for (const p of o.prices ?? []) {
    const product = put({ id: newId('prod'), object: 'product', name: p.productName, active: true, created: now(),
      livemode: false, metadata: {} })
    put({
      id: p.id,
      object: 'price',
      active: true,
      billing_scheme: 'per_unit',
      created: now(),
      currency: p.currency,
      livemode: false,
      lookup_key: null,
      metadata: {},
      nickname: null,
      product: product.id,
      recurring: p.recurring === true
        ? { interval: 'month', interval_count: 1, meter: null, usage_type: 'licensed', trial_period_days: null }
        : null,
      tax_behavior: 'unspecified',
      type: p.recurring === true ? 'recurring' : 'one_time',
      unit_amount: p.unitAmount,
      unit_amount_decimal: String(p.unitAmount)
    })
  }

  // ---- events and webhooks ----------------------------------------------------------------------
  const emit = (type: string, object: Obj, previous?: Json, request?: { id: string, key: string | null }): Obj => {
    const event = put({
      id: newId('evt'),
      object: 'event',
      api_version: API_VERSION,
      created: now(),
      data: previous === undefined ? { object: visible(object) } : { object: visible(object), previous_attributes: previous },
      livemode: false,
      pending_webhooks: o.webhookUrl === undefined ? 0 : 1,
      request: { id: request?.id ?? null, idempotency_key: request?.key ?? null },
      type
    })
    events.push(event)
    // Delivered one after another, in the order they were made (Stripe does not promise that; tests that
    // need another order send events themselves with deliver()).
    queue = queue.then(async () => { await deliverWithRetries(event) }).catch(() => {})
    return event
  }

  const send = async (event: Obj): Promise<number> => {
    if (o.webhookUrl === undefined) return 0
    const payload = JSON.stringify(event, null, 2)
    const res = await fetch(o.webhookUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json; charset=utf-8',
        'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
        'stripe-signature': stripeSignature(payload, o.webhookSecret)
      },
      body: payload,
      signal: AbortSignal.timeout(10_000)
    })
    await res.arrayBuffer()
    return res.status
  }

  const deliverWithRetries = async (event: Obj): Promise<void> => {
    for (let attempt = 0; attempt < 5 && !stopped; attempt++) {
      while (paused && !stopped) await new Promise((resolve) => setTimeout(resolve, 20))
      const status = await send(event).catch(() => 0)
      if (status >= 200 && status < 300) { event.pending_webhooks = 0; return }
      if (o.webhookUrl === undefined) return
      await new Promise((resolve) => setTimeout(resolve, 200 * 2 ** attempt))
    }
  }

  // ---- money movement -----------------------------------------------------------------------------
  /** A succeeded PaymentIntent with its charge and balance transaction (Stripe's fee). */
  const charge = (amount: number, currency: string, customer: string | null, metadata: Record<string, string>,
    description: string | null): { pi: Obj, ch: Obj } => {
    const piId = newId('pi')
    const chId = newId('ch')
    const stripeFee = Math.round(amount * fee.percent / 100) + fee.fixed
    const txn = put({
      id: newId('txn'), object: 'balance_transaction', amount, available_on: now() + 2 * 86_400, created: now(),
      currency, description, exchange_rate: null, fee: stripeFee,
      fee_details: [{ amount: stripeFee, application: null, currency, description: 'Stripe processing fees', type: 'stripe_fee' }],
      net: amount - stripeFee, reporting_category: 'charge', source: chId, status: 'pending', type: 'charge'
    })
    const ch = put({
      id: chId, object: 'charge', amount, amount_captured: amount, amount_refunded: 0, balance_transaction: txn.id,
      captured: true, created: now(), currency, customer, description, disputed: false, livemode: false, metadata: { ...metadata },
      paid: true, payment_intent: piId, refunded: false, status: 'succeeded',
      payment_method_details: { type: 'card', card: { brand: 'visa', last4: '4242', exp_month: 12, exp_year: 2034 } }
    })
    const pi = put({
      id: piId, object: 'payment_intent', amount, amount_capturable: 0, amount_received: amount, capture_method: 'automatic',
      client_secret: `${piId}_secret_${randomBytes(12).toString('hex')}`, created: now(), currency, customer, description,
      latest_charge: ch.id, livemode: false, metadata: { ...metadata }, payment_method_types: ['card'], status: 'succeeded'
    })
    return { pi, ch }
  }

  /** A paid (or failed) invoice of a subscription period, with its payment. */
  const invoice = (sub: Obj, reason: string, fail: boolean): Obj => {
    const item = ((sub.items as Json).data as Json[])[0] as Json
    const price = item.price as Json
    const amount = price.unit_amount as number
    const currency = price.currency as string
    const start = item.current_period_start as number
    const end = item.current_period_end as number
    const id = newId('in')
    const paid = fail ? null : charge(amount, currency, sub.customer as string, {}, 'Subscription update')
    const lineMeta = sub.metadata as Json
    return put({
      id, object: 'invoice', amount_due: amount, amount_paid: fail ? 0 : amount, amount_remaining: fail ? amount : 0,
      attempt_count: 1, attempted: true, billing_reason: reason, collection_method: 'charge_automatically', created: now(),
      currency, customer: sub.customer, livemode: false, metadata: {},
      lines: { object: 'list', has_more: false, url: `/v1/invoices/${id}/lines`, data: [{
        id: newId('il'), object: 'line_item', amount, currency, description: `1 × ${String(price.nickname ?? 'Subscription')}`,
        invoice: id, livemode: false, metadata: { ...lineMeta }, period: { start, end }, quantity: 1, subscription: sub.id,
        parent: { type: 'subscription_item_details', subscription_item_details: { subscription: sub.id, subscription_item: item.id } }
      }] },
      parent: { type: 'subscription_details', quote_details: null,
        subscription_details: { metadata: { ...lineMeta }, subscription: sub.id } },
      payments: { object: 'list', has_more: false, url: `/v1/invoice_payments?invoice=${id}`, data: paid === null ? [] : [{
        id: newId('inpay'), object: 'invoice_payment', amount_paid: amount, amount_requested: amount, created: now(), currency,
        invoice: id, is_default: true, livemode: false, payment: { type: 'payment_intent', payment_intent: paid.pi.id },
        status: 'paid', status_transitions: { canceled_at: null, paid_at: now() }
      }] },
      period_end: end, period_start: start, status: fail ? 'open' : 'paid',
      status_transitions: { finalized_at: now(), paid_at: fail ? null : now(), voided_at: null },
      subtotal: amount, total: amount
    })
  }

  const schedule = (sub: Obj): void => {
    clearTimeout(timers.get(sub.id))
    if (o.autoAdvance === false || sub.status === 'canceled') return
    const end = (((sub.items as Json).data as Json[])[0] as Json).current_period_end as number
    const due = end * 1000 - Date.now()
    // setTimeout holds at most 2^31 - 1 ms (24.8 days; a month is longer): wake up then and look again.
    const timer = setTimeout(() => {
      if (end * 1000 > Date.now()) schedule(sub)
      else void advance(sub.id).catch(() => {})
    }, Math.min(Math.max(0, due), 2 ** 31 - 1))
    timer.unref()
    timers.set(sub.id, timer)
  }

  const cancelNow = (sub: Obj, request?: { id: string, key: string | null }): void => {
    const previous = { status: sub.status }
    Object.assign(sub, { status: 'canceled', canceled_at: sub.canceled_at ?? now(), ended_at: now(), cancel_at: null })
    clearTimeout(timers.get(sub.id))
    emit('customer.subscription.deleted', sub, undefined, request)
    void previous
  }

  const advance = async (subscriptionId: string): Promise<void> => {
    const sub = get(subscriptionId, 'subscription', 'sub_')
    if (sub.status === 'canceled') return
    if (sub.cancel_at_period_end === true) { cancelNow(sub); return }
    const item = ((sub.items as Json).data as Json[])[0] as Json
    const previous = { items: clone(sub.items), status: sub.status, latest_invoice: sub.latest_invoice }
    const start = item.current_period_end as number
    Object.assign(item, { current_period_start: start, current_period_end: start + periodSeconds })
    const fail = failNext.delete(sub.id)
    const inv = invoice(sub, 'subscription_cycle', fail)
    sub.latest_invoice = inv.id
    sub.status = fail ? 'past_due' : 'active'
    emit('invoice.created', inv)
    emit(fail ? 'invoice.payment_failed' : 'invoice.paid', inv)
    emit('customer.subscription.updated', sub, previous)
    schedule(sub)
  }

  // ---- checkout ----------------------------------------------------------------------------------
  const completeCheckout = (session: Obj): void => {
    if (session.status !== 'open') throw invalid('This Checkout Session is no longer open.', undefined, 'checkout_session_inactive')
    let customer = session.customer as string | null
    if (customer === null) {
      customer = put({ id: newId('cus'), object: 'customer', created: now(), email: session.customer_email ?? null,
        livemode: false, metadata: {}, name: null }).id
      session.customer = customer
    }
    if (session.mode === 'payment') {
      const { pi } = charge(session.amount_total as number, session.currency as string, customer,
        (session.payment_intent_data as Record<string, string> | undefined) ?? {}, null)
      Object.assign(session, { payment_intent: pi.id })
      Object.assign(session, { status: 'complete', payment_status: 'paid' })
      emit('payment_intent.succeeded', pi)
      emit('checkout.session.completed', session)
      return
    }
    const price = store.get((session.line_items_prices as string[])[0] ?? '') as Obj
    const start = now()
    const sub = put({
      id: newId('sub'), object: 'subscription', billing_cycle_anchor: start, cancel_at: null, cancel_at_period_end: false,
      canceled_at: null, collection_method: 'charge_automatically', created: start, currency: price.currency, customer,
      ended_at: null, latest_invoice: null as string | null, livemode: false,
      metadata: { ...(session.subscription_metadata as Json) },
      start_date: start, status: 'active', trial_end: null, trial_start: null,
      items: { object: 'list', has_more: false, url: '/v1/subscription_items', data: [{
        id: newId('si'), object: 'subscription_item', created: start, current_period_start: start,
        current_period_end: start + periodSeconds, metadata: {}, price: clone(price), quantity: 1, subscription: '' }] }
    })
    ;(((sub.items as Json).data as Json[])[0] as Json).subscription = sub.id
    const inv = invoice(sub, 'subscription_create', false)
    sub.latest_invoice = inv.id
    Object.assign(session, { subscription: sub.id, invoice: inv.id, status: 'complete', payment_status: 'paid' })
    emit('customer.subscription.created', sub)
    emit('invoice.paid', inv)
    emit('checkout.session.completed', session)
    schedule(sub)
  }

  const createCheckoutSession = (p: Json): Obj => {
    const mode = str(p, 'mode', true) as string
    if (!['payment', 'subscription'].includes(mode)) throw invalid(`Invalid mode: must be one of payment, setup, or subscription`, 'mode')
    const successUrl = str(p, 'success_url', true) as string
    const cancelUrl = str(p, 'cancel_url') ?? null
    const items = p.line_items
    if (!Array.isArray(items) || items.length === 0) throw missingParam('line_items')
    if (items.length > 1) throw invalid('This stand-in takes one line item', 'line_items')
    const li = items[0] as Json
    const quantity = li.quantity === undefined ? 1 : int(li.quantity, 'line_items[0][quantity]')
    if (quantity !== 1) throw invalid('This stand-in takes quantity 1', 'line_items[0][quantity]')
    let amount: number
    let currency: string
    let name: string
    let priceId: string | null = null
    if (typeof li.price === 'string') {
      const price = get(li.price, 'price', 'price_', 'line_items[0][price]')
      amount = price.unit_amount as number
      currency = price.currency as string
      name = String((store.get(price.product as string) as Json | undefined)?.name ?? 'Product')
      priceId = price.id
      if ((mode === 'subscription') !== (price.type === 'recurring')) {
        throw invalid(mode === 'subscription'
          ? 'You must provide at least one recurring price in `subscription` mode when using prices.'
          : 'You specified `payment` mode but passed a recurring price.', 'line_items[0][price]')
      }
    } else if (typeof li.price_data === 'object' && li.price_data !== null) {
      if (mode !== 'payment') throw invalid('This stand-in takes price_data in payment mode only', 'line_items[0][price_data]')
      const pd = li.price_data as Json
      currency = str(pd, 'currency', true) as string
      if (!/^[a-z]{3}$/.test(currency)) throw invalid(`Invalid currency: ${currency}`, 'line_items[0][price_data][currency]')
      amount = int(pd.unit_amount, 'line_items[0][price_data][unit_amount]')
      if (amount < 1) throw invalid('This value must be greater than or equal to 1.', 'line_items[0][price_data][unit_amount]')
      const product = pd.product_data as Json | undefined
      name = product === undefined ? '' : (str(product, 'name', true) as string)
    } else {
      throw invalid('You must specify either `price` or `price_data` in each line item.', 'line_items[0]')
    }
    const customer = str(p, 'customer') ?? null
    if (customer !== null) get(customer, 'customer', 'cus_', 'customer')
    const id = newId(mode === 'payment' ? 'cs_test_a1' : 'cs_test_b1')
    const expiresAt = p.expires_at === undefined ? now() + 86_400 : int(p.expires_at, 'expires_at')
    const piData = p.payment_intent_data as Json | undefined
    const subData = p.subscription_data as Json | undefined
    return put({
      id, object: 'checkout.session', amount_subtotal: amount, amount_total: amount, cancel_url: cancelUrl,
      client_reference_id: str(p, 'client_reference_id') ?? null, created: now(), currency, customer,
      customer_email: str(p, 'customer_email') ?? null, expires_at: expiresAt, invoice: null, livemode: false,
      metadata: metadataOf(p.metadata), mode, payment_intent: null, payment_status: 'unpaid',
      payment_method_types: ['card'], status: 'open', subscription: null, success_url: successUrl, ui_mode: 'hosted',
      url: `${publicUrl}/c/pay/${id}`,
      // Kept for completion, never returned (see visible()).
      line_items_prices: priceId === null ? [] : [priceId],
      line_item_name: name,
      payment_intent_data: metadataOf(piData?.metadata, 'payment_intent_data[metadata]'),
      subscription_metadata: metadataOf(subData?.metadata, 'subscription_data[metadata]')
    })
  }

  /** What the API returns of an object: internal fields dropped, `expand` applied. */
  const visible = (obj: Obj, expand: string[] = []): Json => {
    const out: Json = clone(obj)
    for (const k of ['line_items_prices', 'line_item_name', 'payment_intent_data', 'subscription_metadata']) delete out[k]
    for (const path of expand) expandPath(out, path.split('.'))
    return out
  }
  const expandPath = (node: Json, path: string[]): void => {
    const [head, ...rest] = path
    if (head === undefined) return
    const v = node[head]
    if (typeof v === 'string' && store.has(v)) node[head] = visible(store.get(v) as Obj)
    const next = node[head]
    if (rest.length > 0 && typeof next === 'object' && next !== null) expandPath(next as Json, rest)
  }

  // ---- API routes ----------------------------------------------------------------------------------
  type Handler = (p: Json, m: RegExpMatchArray, request: { id: string, key: string | null }) => Obj | Json
  const routes: Array<[string, RegExp, Handler]> = [
    ['POST', /^\/v1\/customers$/, (p) => put({
      id: newId('cus'), object: 'customer', created: now(), email: str(p, 'email') ?? null, livemode: false,
      metadata: metadataOf(p.metadata), name: str(p, 'name') ?? null, balance: 0, delinquent: false, currency: null
    })],
    ['GET', /^\/v1\/customers\/([^/]+)$/, (_p, m) => get(m[1] as string, 'customer', 'cus_')],
    ['POST', /^\/v1\/checkout\/sessions$/, (p) => createCheckoutSession(p)],
    ['GET', /^\/v1\/checkout\/sessions\/([^/]+)$/, (_p, m) => get(m[1] as string, 'checkout.session', 'cs_')],
    ['POST', /^\/v1\/checkout\/sessions\/([^/]+)\/expire$/, (_p, m, request) => {
      const s = get(m[1] as string, 'checkout.session', 'cs_')
      if (s.status !== 'open') throw invalid(`Only Checkout Sessions with a status in ["open"] can be expired.`)
      s.status = 'expired'
      emit('checkout.session.expired', s, undefined, request)
      return s
    }],
    ['GET', /^\/v1\/payment_intents\/([^/]+)$/, (_p, m) => get(m[1] as string, 'payment_intent', 'pi_')],
    ['GET', /^\/v1\/charges\/([^/]+)$/, (_p, m) => get(m[1] as string, 'charge', 'ch_')],
    ['GET', /^\/v1\/balance_transactions\/([^/]+)$/, (_p, m) => get(m[1] as string, 'balance_transaction', 'txn_')],
    ['GET', /^\/v1\/invoices\/([^/]+)$/, (_p, m) => get(m[1] as string, 'invoice', 'in_')],
    ['GET', /^\/v1\/prices\/([^/]+)$/, (_p, m) => get(m[1] as string, 'price', 'price_')],
    ['GET', /^\/v1\/events\/([^/]+)$/, (_p, m) => get(m[1] as string, 'event', 'evt_')],
    ['GET', /^\/v1\/events$/, (p) => {
      // Newest first, as Stripe lists them; `type`, `limit` (1-100) and `starting_after` as Stripe takes them.
      const limit = p.limit === undefined ? 10 : int(p.limit, 'limit')
      if (limit < 1 || limit > 100) throw invalid('This value must be between 1 and 100.', 'limit')
      let list = [...events].reverse().filter((e) => p.type === undefined || e.type === p.type)
      const after = str(p, 'starting_after')
      if (after !== undefined) {
        const at = list.findIndex((e) => e.id === after)
        if (at < 0) throw noSuch('event', after, 'starting_after')
        list = list.slice(at + 1)
      }
      return { object: 'list', url: '/v1/events', has_more: list.length > limit, data: list.slice(0, limit) } as unknown as Obj
    }],
    ['GET', /^\/v1\/subscriptions\/([^/]+)$/, (_p, m) => get(m[1] as string, 'subscription', 'sub_')],
    ['POST', /^\/v1\/subscriptions\/([^/]+)$/, (p, m, request) => {
      const sub = get(m[1] as string, 'subscription', 'sub_')
      if (sub.status === 'canceled') {
        throw invalid('A canceled subscription can only update its cancellation_details and metadata.')
      }
      const previous: Json = {}
      if (p.cancel_at_period_end !== undefined) {
        const v = bool(p.cancel_at_period_end, 'cancel_at_period_end')
        if (v !== sub.cancel_at_period_end) {
          Object.assign(previous, { cancel_at_period_end: sub.cancel_at_period_end, cancel_at: sub.cancel_at,
            canceled_at: sub.canceled_at })
          const end = (((sub.items as Json).data as Json[])[0] as Json).current_period_end
          Object.assign(sub, { cancel_at_period_end: v, cancel_at: v ? end : null, canceled_at: v ? now() : null })
        }
      }
      if (p.metadata !== undefined) {
        previous.metadata = sub.metadata
        sub.metadata = { ...(sub.metadata as Json), ...metadataOf(p.metadata) }
      }
      if (Object.keys(previous).length > 0) emit('customer.subscription.updated', sub, previous, request)
      return sub
    }],
    ['DELETE', /^\/v1\/subscriptions\/([^/]+)$/, (_p, m, request) => {
      const sub = get(m[1] as string, 'subscription', 'sub_')
      if (sub.status === 'canceled') throw invalid(`No such subscription: '${sub.id}'`, 'id', 'resource_missing')
      cancelNow(sub, request)
      return sub
    }],
    ['POST', /^\/v1\/refunds$/, (p, _m, request) => {
      const piId = str(p, 'payment_intent')
      const chId = str(p, 'charge')
      let ch: Obj
      if (piId !== undefined) {
        const pi = get(piId, 'payment_intent', 'pi_', 'payment_intent')
        ch = get(pi.latest_charge as string, 'charge', 'ch_', 'payment_intent')
      } else if (chId !== undefined) {
        ch = get(chId, 'charge', 'ch_', 'charge')
      } else {
        throw invalid('One of the following params should be provided for this request: payment_intent or charge.')
      }
      const amount = p.amount === undefined ? (ch.amount as number) - (ch.amount_refunded as number) : int(p.amount, 'amount')
      if (ch.refunded === true || amount <= 0) {
        throw invalid(`Charge ${ch.id} has already been refunded.`, undefined, 'charge_already_refunded')
      }
      if (amount > (ch.amount as number) - (ch.amount_refunded as number)) {
        throw invalid(`Refund amount (${amount}) is greater than unrefunded amount on charge`, 'amount', 'amount_too_large')
      }
      const refund = put({
        id: newId('re'), object: 'refund', amount, balance_transaction: null, charge: ch.id, created: now(),
        currency: ch.currency, metadata: metadataOf(p.metadata), payment_intent: ch.payment_intent,
        reason: str(p, 'reason') ?? null, status: 'succeeded'
      })
      const previous = { amount_refunded: ch.amount_refunded, refunded: ch.refunded }
      ch.amount_refunded = (ch.amount_refunded as number) + amount
      ch.refunded = ch.amount_refunded === ch.amount
      emit('refund.created', refund, undefined, request)
      emit('charge.refunded', ch, previous, request)
      return refund
    }],
    ['POST', /^\/v1\/billing_portal\/sessions$/, (p) => {
      const customer = str(p, 'customer', true) as string
      get(customer, 'customer', 'cus_', 'customer')
      const id = newId('bps')
      return put({
        id, object: 'billing_portal.session', configuration: 'bpc_standin', created: now(), customer, flow: null,
        livemode: false, locale: null, on_behalf_of: null, return_url: str(p, 'return_url') ?? null,
        url: `${publicUrl}/p/session/${id}`
      })
    }]
  ]

  const readBody = async (req: IncomingMessage): Promise<string> => {
    const chunks: Buffer[] = []
    let size = 0
    for await (const chunk of req) {
      size += (chunk as Buffer).length
      if (size > 1_000_000) throw invalid('Request body too large', undefined, undefined, 413)
      chunks.push(chunk as Buffer)
    }
    return Buffer.concat(chunks).toString('utf8')
  }

  const sendJson = (res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void => {
    res.writeHead(status, {
      'content-type': 'application/json',
      'request-id': `req_${randomBytes(7).toString('hex')}`,
      'stripe-version': API_VERSION,
      ...headers
    })
    res.end(body)
  }

  const api = async (req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams): Promise<void> => {
    const auth = req.headers.authorization ?? ''
    const key = auth.startsWith('Bearer ') ? auth.slice(7) : ''
    if (key === '' || (o.secretKey !== undefined ? key !== o.secretKey : !key.startsWith('sk_test_'))) {
      throw new StripeApiError(401, 'invalid_request_error', key === ''
        ? 'You did not provide an API key. You need to provide your API key in the Authorization header, using ' +
          'Bearer auth (e.g. \'Authorization: Bearer YOUR_SECRET_KEY\').'
        : 'Invalid API Key provided: ' + key.slice(0, 8) + '*'.repeat(Math.max(0, key.length - 12)) + key.slice(-4))
    }
    const method = req.method ?? 'GET'
    const raw = method === 'GET' || method === 'DELETE' ? query.toString() : await readBody(req)
    const params = parseStripeForm(raw)
    const route = routes.find(([m, re]) => m === method && re.test(path))
    if (route === undefined) {
      throw invalid(`Unrecognized request URL (${method}: ${path}). This stand-in implements only the calls ` +
        'the billing service makes.', undefined, undefined, 404)
    }
    const idemKey = typeof req.headers['idempotency-key'] === 'string' ? req.headers['idempotency-key'] : null
    const requestId = `req_${randomBytes(7).toString('hex')}`
    if (method === 'POST' && idemKey !== null) {
      const hash = createHash('sha256').update(`${path}\n${raw}`).digest('hex')
      const seen = idempotent.get(`${key}\n${idemKey}`)
      if (seen !== undefined) {
        if (seen.hash !== hash) {
          throw new StripeApiError(400, 'idempotency_error', `Keys for idempotent requests can only be used with the ` +
            `same parameters they were first used with. Try using a key other than '${idemKey}' if you meant to ` +
            'execute a different request.')
        }
        sendJson(res, seen.status, seen.body, { 'idempotent-replayed': 'true', 'idempotency-key': idemKey })
        return
      }
      const [status, body] = run(route, params, path, { id: requestId, key: idemKey })
      idempotent.set(`${key}\n${idemKey}`, { hash, status, body })
      sendJson(res, status, body, { 'idempotency-key': idemKey })
      return
    }
    const [status, body] = run(route, params, path, { id: requestId, key: idemKey })
    sendJson(res, status, body)
  }

  const run = (route: [string, RegExp, Handler], params: Json, path: string, request: { id: string, key: string | null }):
    [number, string] => {
    try {
      const expand = Array.isArray(params.expand) ? params.expand.map(String) : []
      const result = route[2](params, path.match(route[1]) as RegExpMatchArray, request)
      return [200, JSON.stringify(visible(result as Obj, expand))]
    } catch (err) {
      if (err instanceof StripeApiError) return [err.status, errorBody(err)]
      throw err
    }
  }

  const errorBody = (err: StripeApiError): string => JSON.stringify({
    error: {
      type: err.type,
      message: err.message,
      ...(err.param === undefined ? {} : { param: err.param }),
      ...(err.code === undefined ? {} : { code: err.code, doc_url: `https://stripe.com/docs/error-codes/${err.code.replace(/_/g, '-')}` })
    }
  })

  // ---- hosted pages: plain HTML forms, usable without JavaScript -----------------------------------
  const page = (res: ServerResponse, status: number, title: string, body: string): void => {
    res.writeHead(status, {
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' http: https:",
      'cache-control': 'no-store'
    })
    res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font:16px system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}
.banner{background:#fff3cd;padding:.5rem;border-radius:4px;font-size:.85rem}
button{font-size:1rem;padding:.5rem 1.2rem;margin:.3rem .3rem 0 0}</style></head><body>
<p class="banner">Local Stripe stand-in (test mode): nothing is charged.</p>${body}</body></html>`)
  }

  const checkoutPage = (res: ServerResponse, session: Obj): void => {
    const name = escapeHtml(String(session.line_item_name))
    const price = money(session.amount_total as number, session.currency as string)
    if (session.status !== 'open') {
      page(res, 410, 'Checkout closed', `<h1>This checkout is ${escapeHtml(String(session.status))}</h1>`)
      return
    }
    const every = session.mode === 'subscription' ? ' per month' : ''
    page(res, 200, `Pay ${name}`, `<h1>${name}</h1><p id="amount">${price}${every}</p>
<form method="post" action="/c/pay/${session.id}/confirm">
<label>Card number <input name="card" value="4242 4242 4242 4242" autocomplete="off"></label><br>
<button type="submit" id="pay">Pay ${price}</button></form>
<form method="post" action="/c/pay/${session.id}/cancel"><button type="submit" id="cancel">Cancel</button></form>`)
  }

  const redirect = (res: ServerResponse, to: string): void => { res.writeHead(303, { location: to }); res.end() }

  const portalPage = (res: ServerResponse, portal: Obj): void => {
    const subs = [...store.values()].filter((x) => x.object === 'subscription' && x.customer === portal.customer)
    const rows = subs.map((s) => {
      const end = new Date(((((s.items as Json).data as Json[])[0] as Json).current_period_end as number) * 1000)
      const state = s.status === 'canceled'
        ? 'ended'
        : s.cancel_at_period_end === true ? `cancels on ${end.toISOString()}` : `renews on ${end.toISOString()}`
      const action = s.status === 'canceled'
        ? ''
        : `<form method="post" action="/p/session/${portal.id}/${s.id}/${s.cancel_at_period_end === true ? 'renew' : 'cancel'}">
<button type="submit" id="${s.cancel_at_period_end === true ? 'renew' : 'cancel'}">${s.cancel_at_period_end === true
  ? 'Keep my subscription'
  : 'Cancel at the end of the period'}</button></form>`
      return `<li>${escapeHtml(s.id)}: ${escapeHtml(String(s.status))}, ${state}${action}</li>`
    })
    const back = typeof portal.return_url === 'string' ? `<p><a href="${escapeHtml(portal.return_url)}">Return</a></p>` : ''
    page(res, 200, 'Your subscription', `<h1>Your subscription</h1><ul>${rows.join('') || '<li>none</li>'}</ul>${back}`)
  }

  const hosted = async (req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> => {
    let m = path.match(/^\/c\/pay\/(cs_[A-Za-z0-9_]+)(?:\/(confirm|cancel))?$/)
    if (m !== null) {
      const session = store.get(m[1] as string)
      if (session === undefined) { page(res, 404, 'Not found', '<h1>No such checkout</h1>'); return true }
      if (m[2] === undefined && req.method === 'GET') { checkoutPage(res, session); return true }
      if (req.method !== 'POST' || m[2] === undefined) return false
      await readBody(req)
      if (session.status !== 'open') { checkoutPage(res, session); return true }
      if (m[2] === 'cancel') {
        redirect(res, String(session.cancel_url ?? session.success_url))
        return true
      }
      completeCheckout(session)
      redirect(res, String(session.success_url).replace('{CHECKOUT_SESSION_ID}', session.id))
      return true
    }
    m = path.match(/^\/p\/session\/(bps_[A-Za-z0-9]+)(?:\/(sub_[A-Za-z0-9]+)\/(cancel|renew))?$/)
    if (m !== null) {
      const portal = store.get(m[1] as string)
      if (portal === undefined) { page(res, 404, 'Not found', '<h1>No such portal session</h1>'); return true }
      if (m[2] === undefined && req.method === 'GET') { portalPage(res, portal); return true }
      if (req.method !== 'POST' || m[2] === undefined) return false
      await readBody(req)
      const sub = store.get(m[2])
      if (sub === undefined || sub.customer !== portal.customer || sub.status === 'canceled') {
        page(res, 404, 'Not found', '<h1>No such subscription</h1>')
        return true
      }
      const want = m[3] === 'cancel'
      if (sub.cancel_at_period_end !== want) {
        const previous = { cancel_at_period_end: sub.cancel_at_period_end, cancel_at: sub.cancel_at }
        const end = (((sub.items as Json).data as Json[])[0] as Json).current_period_end
        Object.assign(sub, { cancel_at_period_end: want, cancel_at: want ? end : null, canceled_at: want ? now() : null })
        emit('customer.subscription.updated', sub, previous)
      }
      redirect(res, `/p/session/${portal.id}`)
      return true
    }
    return false
  }

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://standin')
    const handle = async (): Promise<void> => {
      if (url.pathname.startsWith('/v1/')) { await api(req, res, url.pathname, url.searchParams); return }
      if (await hosted(req, res, url.pathname)) return
      page(res, 404, 'Not found', '<h1>Not found</h1>')
    }
    handle().catch((err: unknown) => {
      if (err instanceof StripeApiError) { sendJson(res, err.status, errorBody(err)); return }
      sendJson(res, 500, JSON.stringify({ error: { type: 'api_error', message: (err as Error).message } }))
    })
  })
  server.keepAliveTimeout = 5000

  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject)
    server.listen(o.port ?? 12111, o.host ?? '127.0.0.1', () => resolve((server.address() as { port: number }).port))
  })
  const url = `http://${o.host ?? '127.0.0.1'}:${port}`
  if (publicUrl === '') publicUrl = url

  return {
    url,
    port,
    events: () => [...events],
    deliver: async (eventId) => await send(get(eventId, 'event', 'evt_')),
    idle: async () => {
      for (let seen: unknown; seen !== queue;) { seen = queue; await queue }
    },
    pay: async (sessionId) => { completeCheckout(get(sessionId, 'checkout.session', 'cs_')) },
    advance,
    failNextRenewal: (id) => { failNext.add(id) },
    pauseDelivery: (p) => { paused = p },
    object: (id) => store.get(id) === undefined ? undefined : visible(store.get(id) as Obj) as Obj,
    stop: async () => {
      stopped = true
      for (const t of timers.values()) clearTimeout(t)
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}
