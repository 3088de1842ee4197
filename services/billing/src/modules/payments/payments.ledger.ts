// How a payment is split, as pure arithmetic on integers (minor units). The ledger is double-entry: the
// customer's entry is minus the gross and the others receive it, so every payment's entries sum to zero, and
// a refund writes the same entries negated.

export type Account = 'customer' | 'stripe' | 'platform' | 'author'

export interface Split {
  gross: number
  /** The platform's share by its percentage (templates), or everything (Holo+). */
  platformFee: number
  /** Stripe's fee when known. */
  stripeFee: number | null
  /** The author's earnings: gross less the platform's share and Stripe's fee, never below zero. */
  authorNet: number
}

export interface Entry { account: Account, amount: number }

/**
 * The split of a template sale: the platform takes `percent` of the gross (rounded half up to a whole minor
 * unit), Stripe's fee comes out of the author's share, and anything Stripe takes beyond that share comes out
 * of the platform's. A Holo+ payment (no author) leaves everything to the platform.
 */
export function split (gross: number, percent: number, stripeFee: number | null, hasAuthor: boolean): Split {
  if (!Number.isSafeInteger(gross) || gross < 0) throw new RangeError(`gross ${gross} is not a whole amount`)
  if (stripeFee !== null && (!Number.isSafeInteger(stripeFee) || stripeFee < 0)) {
    throw new RangeError(`stripeFee ${stripeFee} is not a whole amount`)
  }
  const platformFee = hasAuthor ? Math.min(gross, Math.round(gross * percent / 100)) : gross
  const authorNet = hasAuthor ? Math.max(0, gross - platformFee - (stripeFee ?? 0)) : 0
  return { gross, platformFee, stripeFee, authorNet }
}

/** The sale's entries (an author's only where there is an author): they sum to zero. */
export function saleEntries (s: Split, hasAuthor: boolean): Entry[] {
  const fee = s.stripeFee ?? 0
  const entries: Entry[] = [
    { account: 'customer', amount: -s.gross },
    { account: 'stripe', amount: fee },
    { account: 'platform', amount: s.gross - fee - s.authorNet }
  ]
  if (hasAuthor) entries.push({ account: 'author', amount: s.authorNet })
  return entries
}
