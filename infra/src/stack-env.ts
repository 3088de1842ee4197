// The environment the local stack gives each service. Development defaults
// only: production sets these itself and refuses the unsafe ones.

export interface StackEnvInput {
  stackDir: string
  s3Endpoint: string
  smtpUrl: string
  gatewayPort: number
  env: NodeJS.ProcessEnv
}

export interface StackEnv {
  common: Record<string, string>
  perService: Record<'auth' | 'card' | 'file', Record<string, string>>
  /** Lines printed once the stack is up (dev credentials and the like). */
  notes: string[]
}

export async function localServiceEnv (i: StackEnvInput): Promise<StackEnv> {
  return {
    common: {
      REDIS_URL: i.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      AUTH_JWKS_URL: 'http://127.0.0.1:3001/api/v1/auth/.well-known/jwks.json',
      PUBLIC_URL: `http://127.0.0.1:${i.gatewayPort}`
    },
    perService: {
      auth: { SMTP_URL: i.smtpUrl },
      card: {},
      file: { S3_ENDPOINT: i.s3Endpoint }
    },
    notes: []
  }
}
