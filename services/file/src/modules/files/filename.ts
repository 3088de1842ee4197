const MAX_LENGTH = 200

/**
 * The client's filename, kept as metadata only (storage keys are the
 * server's own): no directories, no control or reserved characters, no
 * leading dots, bounded length.
 */
export function sanitizeFilename (raw: string | undefined): string {
  const base = (raw ?? '').normalize('NFC').split(/[/\\]/).pop() ?? ''
  const cleaned = base
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f"<>:|?*]/g, '')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/^\.+/, '')
  const short = [...cleaned].slice(0, MAX_LENGTH).join('')
  return short === '' ? 'file' : short
}

/** Content-Disposition with an ASCII fallback and the UTF-8 name (RFC 6266/8187). */
export function contentDisposition (filename: string, disposition: 'inline' | 'attachment' = 'inline'): string {
  const ascii = filename.replace(/[^\x20-\x7e]/g, '_').replace(/[\\"]/g, '_')
  const utf8 = encodeURIComponent(filename).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
  return `${disposition}; filename="${ascii}"; filename*=UTF-8''${utf8}`
}
