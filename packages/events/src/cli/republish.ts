// `pnpm events:republish --since <time>`: the process edge of republishCli.
import { republishCli } from '../relay.js'

const print = (line: string): void => { process.stdout.write(`${line}\n`) }
process.exitCode = await republishCli(process.argv.slice(2), process.env, print)
