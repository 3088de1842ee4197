// s3rver in a process of its own, so the load generator does not share its event loop.
// Usage: tsx --conditions=holo-source bench/s3rver-process.ts <directory> <port>
import { startS3 } from '@holo/infra'

const [directory, port] = process.argv.slice(2)
if (directory === undefined || port === undefined) throw new Error('usage: s3rver-process.ts <directory> <port>')
const s3 = await startS3(directory, Number(port))
process.stdout.write(`${s3.endpoint}\n`)
process.once('SIGTERM', () => { void s3.stop().finally(() => process.exit(0)) })
