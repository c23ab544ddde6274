#!/usr/bin/env node
// ha_controller: a Hadoop-style failover controller (HDFS's ZKFC) in Node. It
// health-checks a local service, keeps it in the election while it is healthy, and fences
// the previous active before its service takes over. The elector (zk-client's
// ActiveStandbyElector, the core's) does the ZooKeeper work; examples/ha/README.md has the
// flags (the same in every language), the output lines and the exit codes.
'use strict'

const { spawn } = require('node:child_process')
const net = require('node:net')
const os = require('node:os')
const readline = require('node:readline')
const { ActiveStandbyElector, ActiveNodeInfo } = require('zk-client')

// Hadoop's exit codes (ZKFailoverController); any other failure is 1.
const FAILED = 1
const FORMAT_DENIED = 2
const NO_PARENT_ZNODE = 3
const NO_FENCER = 4
const NO_ZK = 6

const SWITCHES = ['--format', '--force', '--non-interactive']
const OPTIONS = ['--zk', '--root', '--nameservice', '--id', '--host', '--port', '--zkfc-port',
  '--session-timeout-ms', '--check-cmd', '--check-port', '--check-interval-ms', '--check-timeout-ms',
  '--fence', '--on-active', '--on-standby']

/** Why the controller stops: a message and an exit code. */
class Stop { constructor (message, code) { Object.assign(this, { message, code }) } }

let id = 'zkfc'
/** One line of output, prefixed with the instance id (README: "Output"). */
const say = (what) => process.stdout.write(`[${id}] ${what}\n`)

/** The command line: each flag's values, in order. */
function parse (argv) {
  const flags = new Map()
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]
    let value = ''
    if (OPTIONS.includes(flag)) value = argv[++i] ?? ''
    else if (!SWITCHES.includes(flag)) throw new Stop(`unknown argument ${flag}`, FAILED)
    flags.set(flag, [...(flags.get(flag) ?? []), value])
  }
  const all = (flag) => flags.get(flag) ?? []
  const get = (flag, fallback) => all(flag).at(-1) ?? fallback
  const on = (flag) => flags.has(flag)
  const number = (flag, fallback) => {
    const value = all(flag).at(-1)
    if (value === undefined) return fallback
    const digits = value.split(':').at(-1) // --check-port HOST:PORT
    if (!/^\d+$/.test(digits)) throw new Stop(`${flag} ${value}: not a number`, FAILED)
    return Number(digits)
  }
  const checks = all('--check-cmd').length + all('--check-port').length
  if (!on('--zk') || !on('--nameservice') || !(on('--format') || (on('--id') && checks === 1))) {
    throw new Stop('needs --zk, --nameservice, --id and one of --check-cmd, --check-port (examples/ha/README.md)', FAILED)
  }
  return { all, get, on, number }
}

/** Runs argv: `true`/`false` by its exit status, `null` if it did not start or outran `limit` ms. */
function run (argv, env = {}, limit) {
  return new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), { env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit'] })
    const timer = limit === undefined ? undefined : setTimeout(() => { child.kill('SIGKILL'); resolve(null) }, limit)
    child.on('error', () => { clearTimeout(timer); resolve(null) })
    child.on('exit', (code) => { clearTimeout(timer); resolve(code === 0) })
  })
}

/** Runs a transition command (`sh -c`); an unset one succeeds. */
async function transition (cmd) {
  if (cmd === '' || (await run(['sh', '-c', cmd])) === true) return true
  say(`command failed: ${cmd}`)
  return false
}

/** One health check: a command (exit 0 healthy, else unhealthy) or a TCP connect. */
async function check (flags, limit) {
  const port = flags.get('--check-port', '')
  let healthy
  if (port === '') {
    healthy = await run(['sh', '-c', flags.get('--check-cmd', '')], {}, limit)
  } else {
    const colon = port.lastIndexOf(':')
    const host = colon < 0 ? '127.0.0.1' : port.slice(0, colon)
    healthy = await new Promise((resolve) => { // refused or silent: NotResponding
      const socket = net.connect({ host, port: Number(port.slice(colon + 1)), timeout: limit })
      const done = (ok) => { socket.destroy(); resolve(ok) }
      socket.on('connect', () => done(true)).on('timeout', () => done(null)).on('error', () => done(null))
    })
  }
  return healthy === true ? 'Healthy' : healthy === false ? 'Unhealthy' : 'NotResponding'
}

/** Hadoop's NodeFencer with `shell(...)` methods: tried in order until one exits 0 (`bash -e -c`). */
async function fence (data, flags) {
  let old
  try {
    old = ActiveNodeInfo.decode(data)
  } catch {
    say('fence ? failed: the breadcrumb is not an ActiveNodeInfo')
    return false
  }
  const env = {
    target_host: old.hostname,
    target_port: String(old.port),
    target_address: `${old.hostname}:${old.port}`,
    target_nameserviceid: old.nameserviceId,
    target_namenodeid: old.namenodeId
  }
  for (const method of flags.all('--fence')) {
    const cmd = method.startsWith('shell(') && method.endsWith(')') ? method.slice(6, -1) : method
    if ((await run(['bash', '-e', '-c', cmd], env)) === true) {
      say(`fence ${old.namenodeId} ok`)
      return true
    }
  }
  say(`fence ${old.namenodeId} failed`)
  return false
}

/** `hdfs zkfc -formatZK [-force] [-nonInteractive]`. */
async function format (elector, exists, flags) {
  const parent = elector.parent
  const confirmed = async () => {
    if (flags.on('--non-interactive')) return false
    process.stderr.write(`${parent} exists; stop its controllers first. Proceed formatting? (Y or N) `)
    const lines = readline.createInterface({ input: process.stdin })
    const answer = await new Promise((resolve) => lines.once('line', resolve).once('close', () => resolve('')))
    lines.close()
    return ['Y', 'y', 'yes'].includes(answer.trim())
  }
  if (exists && !flags.on('--force') && !(await confirmed())) {
    throw new Stop(`${parent} exists: not formatted (--force)`, FORMAT_DENIED)
  }
  await elector.format({ force: true }).catch((e) => { throw new Stop(`cannot format ${parent}: ${e.message}`, FAILED) })
  return new Stop(`formatted ${parent}`, 0)
}

async function controller (flags) {
  id = flags.get('--id', '') || 'zkfc'
  const interval = flags.number('--check-interval-ms', 1000)
  const limit = flags.number('--check-timeout-ms', 45000)
  let stop // resolves the main loop: a signal or a fatal elector error
  const stopped = new Promise((resolve) => { stop = resolve })
  let elector
  try {
    elector = new ActiveStandbyElector(flags.get('--zk'), {
      root: flags.get('--root', '/hadoop-ha'),
      nameservice: flags.get('--nameservice'),
      sessionTimeout: flags.number('--session-timeout-ms', 10000)
    }, {
      becomeActive: async () => {
        const ok = await transition(flags.get('--on-active', ''))
        say(ok ? 'active' : 'active failed')
        return ok
      },
      becomeStandby: () => {
        say('standby')
        return transition(flags.get('--on-standby', ''))
      },
      enterNeutral: () => say('neutral'),
      fenceOldActive: (data) => fence(data, flags),
      fatalError: (message) => stop(new Stop(message, FAILED))
    })
  } catch (e) {
    throw new Stop(`bad configuration: ${e.message}`, FAILED)
  }
  try {
    const exists = await elector.parentExists().catch((e) => { throw new Stop(`cannot reach ZooKeeper: ${e.message}`, NO_ZK) })
    if (flags.on('--format')) return await format(elector, exists, flags)
    if (!exists) throw new Stop(`${elector.parent} does not exist: run --format`, NO_PARENT_ZNODE)
    if (flags.all('--fence').length === 0) throw new Stop('no fencing method (--fence)', NO_FENCER)
    const me = ActiveNodeInfo.encode({
      nameserviceId: flags.get('--nameservice'),
      namenodeId: flags.get('--id'),
      hostname: flags.get('--host', os.hostname()),
      port: flags.number('--port', flags.number('--check-port', 0)),
      zkfcPort: flags.number('--zkfc-port', 0)
    })
    for (const signal of ['SIGTERM', 'SIGINT']) process.once(signal, () => stop(new Stop(`on ${signal}`, 0)))
    let health = 'Initializing'
    say(`health ${health}`)
    for (;;) {
      const started = Date.now()
      const now = await Promise.race([check(flags, limit), stopped])
      if (now instanceof Stop) break
      if (now !== health) {
        health = now
        say(`health ${health}`) // ZKFC's recheckElectability:
        if (health === 'Healthy') await elector.join(me)
        else await elector.quit({ needFence: true })
      }
      const pause = new Promise((resolve) => setTimeout(resolve, Math.max(0, interval - (Date.now() - started))))
      if ((await Promise.race([pause, stopped])) instanceof Stop) break
    }
    // As ZKFC on its way out: the service may still be active, so keep the breadcrumb.
    await elector.quit({ needFence: true }).catch(() => {})
    return await stopped
  } finally {
    await elector.close()
  }
}

async function main () {
  let outcome
  try {
    outcome = await controller(parse(process.argv.slice(2)))
  } catch (e) {
    outcome = e instanceof Stop ? e : new Stop(String(e?.stack ?? e), FAILED)
  }
  say(`${outcome.code === 0 ? 'exit' : 'fatal'} ${outcome.message}`)
  process.exit(outcome.code)
}

main()
