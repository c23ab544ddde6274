// What the node:test suites share: servers (zk-server or Apache ZooKeeper 3.8) started and
// stopped by the tests, a loopback proxy that cuts or stalls connections, and waits on
// conditions with deadlines (never fixed sleeps: a loaded machine only makes them slower).
//
// ZK_NODE_SERVER=zk (default) | apache picks the server kind of `startServer()`.
// ZK_SERVER_BIN overrides the zk-server binary (default: target/debug/zk-server).

import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

import { Client } from 'zk-client'

export const HERE = path.dirname(fileURLToPath(import.meta.url))
export const PACKAGE_ROOT = path.resolve(HERE, '..')
export const REPO_ROOT = path.resolve(PACKAGE_ROOT, '..', '..')
export const HOST = '127.0.0.1'
export const KIND = process.env.ZK_NODE_SERVER ?? 'zk'
export const DEADLINE = 30_000

const APACHE_CLASSPATH = [
  '/etc/zookeeper/conf',
  '/usr/share/java/zookeeper.jar',
  '/usr/share/java/netty-codec.jar',
  '/usr/share/java/netty-resolver.jar',
  '/usr/share/java/slf4j-simple.jar'
].join(':')

export function zkServerBin () {
  return process.env.ZK_SERVER_BIN ?? path.join(REPO_ROOT, 'target', 'debug', 'zk-server')
}

/** Polls `condition` until it returns a truthy value; throws at the deadline. */
export async function waitFor (condition, message, timeout = DEADLINE) {
  const deadline = Date.now() + timeout
  let lastError
  for (;;) {
    try {
      const value = await condition()
      if (value) return value
    } catch (error) {
      lastError = error
    }
    if (Date.now() >= deadline) {
      const detail = lastError ? ` (last error: ${lastError.message})` : ''
      throw new Error(`timed out after ${timeout} ms waiting for ${message}${detail}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

/** Resolves with the event's arguments; rejects at the deadline. */
export async function nextEvent (emitter, name, timeout = DEADLINE) {
  return await once(emitter, name, { signal: AbortSignal.timeout(timeout) })
}

/** Resolves `promise`, or rejects with `message` at the deadline. */
export async function within (promise, message, timeout = DEADLINE) {
  let timer
  const expired = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeout} ms: ${message}`)), timeout)
  })
  try {
    return await Promise.race([promise, expired])
  } finally {
    clearTimeout(timer)
  }
}

const handedOut = new Set()

/** A loopback port that was free a moment ago, below the ephemeral range. */
export async function freePort () {
  let floor = 32768
  try {
    floor = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').split(/\s+/)[0]) || floor
  } catch {}
  for (let i = 0; i < 1000; i++) {
    const port = 10_000 + Math.floor(Math.random() * (Math.max(floor, 10_001) - 10_000))
    if (handedOut.has(port)) continue
    const free = await new Promise((resolve) => {
      const probe = net.createServer()
      probe.once('error', () => resolve(false))
      probe.listen(port, HOST, () => probe.close(() => resolve(true)))
    })
    if (free) {
      handedOut.add(port)
      return port
    }
  }
  throw new Error('no free port found')
}

const liveServers = new Set()
const serverDirs = new Set()
function killServers () {
  for (const server of liveServers) server.process?.kill('SIGKILL')
  for (const dir of serverDirs) fs.rmSync(dir, { recursive: true, force: true })
}
// Servers die with the test process, also when the runner stops it (a file timeout).
process.on('exit', killServers)
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
  process.once(signal, () => {
    killServers()
    process.exit(128 + (signal === 'SIGHUP' ? 1 : signal === 'SIGINT' ? 2 : 15))
  })
}

/** One standalone server process with its own data directory. */
export class Server {
  /**
   * `jvmFlags`: `-D` flags (a JAAS file), on Apache's java command line and in zk-server's
   * SERVER_JVMFLAGS; `probe`: the client options of the readiness probe (SASL credentials,
   * where enforcement refuses anonymous reads).
   */
  constructor (kind, dir, port, config, { jvmFlags = [], probe = {} } = {}) {
    this.kind = kind
    this.dir = dir
    this.port = port
    this.config = config
    this.jvmFlags = jvmFlags
    this.probeOptions = probe
    this.process = null
    this.log = path.join(dir, 'server.log')
  }

  get address () { return `${HOST}:${this.port}` }

  command () {
    const cfg = path.join(this.dir, 'zoo.cfg')
    if (this.kind === 'apache') {
      return ['java', ['-XX:+UseSerialGC', '-Xms32m', '-Xmx256m', '-XX:TieredStopAtLevel=1',
        ...this.jvmFlags, '-cp', APACHE_CLASSPATH, 'org.apache.zookeeper.server.quorum.QuorumPeerMain', cfg]]
    }
    return [zkServerBin(), ['start-foreground', cfg]]
  }

  async start () {
    const lines = Object.entries(this.config).map(([k, v]) => `${k}=${v}`)
    fs.writeFileSync(path.join(this.dir, 'zoo.cfg'), lines.join('\n') + '\n')
    const [command, argv] = this.command()
    const log = fs.openSync(this.log, 'a')
    const env = this.kind === 'zk' && this.jvmFlags.length > 0
      ? { ...process.env, SERVER_JVMFLAGS: this.jvmFlags.join(' ') }
      : process.env
    this.process = spawn(command, argv, { cwd: this.dir, stdio: ['ignore', log, log], env })
    fs.closeSync(log)
    liveServers.add(this)
    const exited = once(this.process, 'exit')
    try {
      await waitFor(async () => {
        if (this.process.exitCode !== null) throw new Error(`${this.kind} server exited:\n${this.tail()}`)
        return await this.probe()
      }, `${this.kind} server on ${this.address} to serve a read`)
    } catch (error) {
      await this.stop()
      throw error
    }
    void exited
    return this
  }

  /** True once a session can be opened and `/` read. */
  async probe () {
    const client = new Client(this.address, { sessionTimeout: 10_000, connectTimeout: 2_000, ...this.probeOptions })
    try {
      await client.connect()
      await client.get('/')
      return true
    } catch {
      return false
    } finally {
      await client.close()
    }
  }

  async stop (signal = 'SIGTERM') {
    const child = this.process
    this.process = null
    if (child === null) return
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit')
      child.kill(signal)
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
      await exited
      clearTimeout(timer)
    }
    liveServers.delete(this)
  }

  async restart () {
    await this.stop()
    await this.start()
  }

  tail (lines = 30) {
    try {
      return fs.readFileSync(this.log, 'utf8').split('\n').slice(-lines).join('\n')
    } catch {
      return '(no log)'
    }
  }
}

/** Starts a server of `kind` (default `KIND`) with a fresh data directory. */
export async function startServer ({ kind = KIND, config = {}, jvmFlags = [], probe = {} } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `zk-node-${kind}-`))
  serverDirs.add(dir)
  const port = await freePort()
  const server = new Server(kind, dir, port, {
    tickTime: '500',
    dataDir: path.join(dir, 'data'),
    clientPort: String(port),
    clientPortAddress: HOST,
    '4lw.commands.whitelist': '*',
    'admin.enableServer': 'false',
    extendedTypesEnabled: 'true',
    maxClientCnxns: '0',
    // Room for long sessions (a restart of Apache's JVM on a loaded machine takes a while).
    maxSessionTimeout: '120000',
    ...config
  }, { jvmFlags, probe })
  fs.mkdirSync(path.join(dir, 'data'), { recursive: true })
  return await server.start()
}

/**
 * A loopback proxy in front of `target`: `cut()` drops every connection (clients
 * reconnect), `stall()` keeps connections open but passes nothing (a partition),
 * `resume()` passes traffic again.
 */
export class Proxy {
  constructor (target) {
    this.target = target
    this.stalled = false
    this.pairs = new Set()
    this.server = net.createServer((client) => this.#accept(client))
  }

  async start () {
    this.port = await freePort()
    await new Promise((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(this.port, HOST, resolve)
    })
    return this
  }

  get address () { return `${HOST}:${this.port}` }

  #accept (client) {
    if (this.stalled) {
      // A partition: the connection is accepted and then nothing comes back.
      this.pairs.add({ client, upstream: null })
      client.on('error', () => {})
      return
    }
    const upstream = net.connect(this.target.port, HOST)
    const pair = { client, upstream }
    this.pairs.add(pair)
    const drop = () => {
      client.destroy()
      upstream.destroy()
      this.pairs.delete(pair)
    }
    client.on('error', drop).on('close', drop)
    upstream.on('error', drop).on('close', drop)
    client.on('data', (chunk) => { if (!this.stalled) upstream.write(chunk) })
    upstream.on('data', (chunk) => { if (!this.stalled) client.write(chunk) })
  }

  cut () {
    for (const { client, upstream } of this.pairs) {
      client.destroy()
      upstream?.destroy()
    }
    this.pairs.clear()
  }

  stall () { this.stalled = true }

  resume () {
    this.stalled = false
    this.cut()
  }

  async close () {
    this.cut()
    await new Promise((resolve) => this.server.close(resolve))
  }
}

/** A connected client; closed by `t.after`. */
export async function connect (t, address, options = {}) {
  const client = new Client(address, { sessionTimeout: 10_000, ...options })
  t.after(() => client.close())
  await client.connect()
  return client
}

let uniqueCounter = 0
/** A fresh path for one test. */
export function unique (name = 'node') {
  return `/t-${process.pid}-${Date.now().toString(36)}-${uniqueCounter++}-${name}`
}

/**
 * A folder to put on `NODE_PATH` so that programs outside this package (the examples)
 * `require('zk-client')` this checkout, as `npm install` of it would let them.
 */
export function packagePath () {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zk-node-path-'))
  serverDirs.add(dir)
  fs.symlinkSync(PACKAGE_ROOT, path.join(dir, 'zk-client'), 'dir')
  return dir
}

/**
 * Throwaway TLS files made with the openssl command (never committed), all PEM in a fresh
 * folder: `ca.crt`, a server certificate for 127.0.0.1 only (so `localhost` fails a host
 * name check) in Apache's PEM key store form (`server-keystore.pem`: key and certificate),
 * a client certificate (`client.crt`, `client.key`) and an untrusted authority
 * (`other-ca.crt`). Returns `name => path`.
 */
export function makeCerts () {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zk-node-certs-'))
  serverDirs.add(dir)
  const openssl = (...argv) => {
    const result = spawnSync('openssl', argv, { cwd: dir, encoding: 'utf8' })
    if (result.status !== 0) throw new Error(`openssl ${argv.join(' ')}: ${result.stderr ?? result.error}`)
  }
  const authority = (name, subject) => openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2',
    '-keyout', `${name}.key`, '-out', `${name}.crt`, '-subj', `/CN=${subject}`)
  const signed = (name, subject, ca, altNames) => {
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`,
      '-subj', `/O=zk tests/CN=${subject}`)
    const ext = 'basicConstraints=CA:FALSE\n' + (altNames ? `subjectAltName=${altNames}\n` : '')
    fs.writeFileSync(path.join(dir, `${name}.ext`), ext)
    openssl('x509', '-req', '-days', '2', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`,
      '-CAcreateserial', '-out', `${name}.crt`, '-extfile', `${name}.ext`)
  }
  authority('ca', 'zk test CA')
  authority('other-ca', 'zk untrusted test CA')
  signed('server', 'zk-server', 'ca', 'IP:127.0.0.1')
  signed('client', 'client', 'ca')
  const file = (name) => path.join(dir, name)
  fs.writeFileSync(file('server-keystore.pem'),
    fs.readFileSync(file('server.key'), 'utf8') + fs.readFileSync(file('server.crt'), 'utf8'))
  return file
}

/** The zoo.cfg keys of a `secureClientPort` with PEM stores that both servers accept. */
export function tlsServerConfig (securePort, certs) {
  return {
    secureClientPort: String(securePort),
    secureClientPortAddress: HOST,
    serverCnxnFactory: 'org.apache.zookeeper.server.NettyServerCnxnFactory',
    'ssl.keyStore.location': certs('server-keystore.pem'),
    'ssl.keyStore.type': 'PEM',
    'ssl.trustStore.location': certs('ca.crt'),
    'ssl.trustStore.type': 'PEM',
    'ssl.clientAuth': 'want'
  }
}
