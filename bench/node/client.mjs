// One measurement in a process of its own:
//
//   node client.mjs CLIENT ADDRESS WORKLOAD OPS
//
// CLIENT: `zk-client` (this repository's package, its Promise API),
// `node-zookeeper-client` (its callback API: each client in its own idiom, no wrappers), or
// `raw`: a floor, not a client: one `net.Socket` sending requests prebuilt but for their xid
// and matching replies by order, nothing else; no Node client can spend less per call.
// WORKLOAD: `get` (one call at a time), `get-pipelined` (64 in flight), `set`,
// `set-pipelined`. Prints one JSON line: ops/s over the timed phase, latency percentiles and
// the process's CPU time (user + system, every thread: the addon's runtime threads too)
// per call.

import { createRequire } from 'node:module'
import net from 'node:net'

const require = createRequire(import.meta.url)
const [clientName, address, workload, opsArg] = process.argv.slice(2)
const OPS = Number(opsArg)
const IN_FLIGHT = workload.endsWith('-pipelined') ? 64 : 1
const WRITE = workload.startsWith('set')
const PATH = `/bench-node-${process.pid}`
const DATA = Buffer.alloc(100, 120)

/** `call(done)` issues one operation and calls `done(error)` when it completes. */
async function openZkClient () {
  const { Client } = require('zk-client')
  const client = new Client(address, { sessionTimeout: 30000 })
  await client.connect()
  await client.create(PATH, DATA)
  const call = WRITE
    ? (done) => { client.set(PATH, DATA).then(() => done(null), done) }
    : (done) => { client.get(PATH).then(() => done(null), done) }
  return { call, close: () => client.delete(PATH).then(() => client.close()) }
}

async function openNodeZookeeperClient () {
  const zookeeper = require('node-zookeeper-client')
  const client = zookeeper.createClient(address, { sessionTimeout: 30000 })
  await new Promise((resolve) => {
    client.once('connected', resolve)
    client.connect()
  })
  await new Promise((resolve, reject) => client.create(PATH, DATA, (e) => e ? reject(e) : resolve()))
  const call = WRITE
    ? (done) => client.setData(PATH, DATA, -1, (e) => done(e))
    : (done) => client.getData(PATH, (e) => done(e))
  return {
    call,
    close: () => new Promise((resolve) => client.remove(PATH, -1, () => {
      client.once('disconnected', resolve)
      client.close()
    }))
  }
}

/** The floor (see the header): frames written by hand, replies taken in order. */
async function openRawSocket () {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))]
  const socket = net.connect({ host, port, noDelay: true })
  await new Promise((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
  const pending = []
  let buffered = Buffer.alloc(0)
  socket.on('data', (chunk) => {
    buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk
    while (buffered.length >= 4 && buffered.length >= 4 + buffered.readInt32BE(0)) {
      const length = buffered.readInt32BE(0)
      const frame = buffered.subarray(4, 4 + length)
      buffered = buffered.subarray(4 + length)
      const { done, header } = pending.shift()
      // A reply header is xid, zxid, err; the handshake's answer has none to check.
      done(header && frame.readInt32BE(12) !== 0 ? new Error(`error ${frame.readInt32BE(12)}`) : null)
    }
  })
  const send = (body, done, header) => {
    const frame = Buffer.allocUnsafe(4 + body.length)
    frame.writeInt32BE(body.length, 0)
    body.copy(frame, 4)
    pending.push({ done, header })
    socket.write(frame)
  }
  // ConnectRequest: protocol 0, last zxid 0, timeout 30 s, session 0, an empty password.
  const connect = Buffer.alloc(4 + 8 + 4 + 8 + 4 + 16 + 1)
  connect.writeInt32BE(30000, 12)
  connect.writeInt32BE(16, 24)
  await new Promise((resolve, reject) => send(connect, (e) => e ? reject(e) : resolve(), false))
  const path = Buffer.from(PATH)
  const request = (opcode, payload) => {
    const body = Buffer.alloc(8 + 4 + path.length + payload.length)
    body.writeInt32BE(opcode, 4)
    body.writeInt32BE(path.length, 8)
    path.copy(body, 12)
    payload.copy(body, 12 + path.length)
    return body
  }
  const createBody = request(1, Buffer.concat([lengthPrefixed(DATA), openAcl(), int32(0)]))
  const setBody = request(5, Buffer.concat([lengthPrefixed(DATA), int32(-1)]))
  const getBody = request(4, Buffer.from([0]))
  const deleteBody = request(2, int32(-1))
  let xid = 0
  const call = (body, done) => {
    const copy = Buffer.from(body)
    copy.writeInt32BE(++xid, 0)
    send(copy, done, true)
  }
  await new Promise((resolve, reject) => call(createBody, (e) => e ? reject(e) : resolve()))
  return {
    call: (done) => call(WRITE ? setBody : getBody, done),
    close: () => new Promise((resolve) => call(deleteBody, () => { socket.end(); resolve() }))
  }
}

function int32 (value) {
  const out = Buffer.alloc(4)
  out.writeInt32BE(value, 0)
  return out
}

function lengthPrefixed (bytes) {
  return Buffer.concat([int32(bytes.length), bytes])
}

/** world:anyone with every permission, as a one-entry ACL vector. */
function openAcl () {
  const scheme = Buffer.from('world')
  const id = Buffer.from('anyone')
  return Buffer.concat([int32(1), int32(31), lengthPrefixed(scheme), lengthPrefixed(id)])
}

/** Runs `ops` calls with at most IN_FLIGHT outstanding; latencies in µs if `record`. */
function drive (call, ops, record) {
  const latencies = record ? new Float64Array(ops) : null
  return new Promise((resolve, reject) => {
    let issued = 0
    let completed = 0
    let failed = false
    const issue = () => {
      const index = issued++
      const start = record ? performance.now() : 0
      call((error) => {
        if (failed) return
        if (error) {
          failed = true
          reject(error)
          return
        }
        if (record) latencies[index] = (performance.now() - start) * 1000
        completed++
        if (completed === ops) resolve(latencies)
        else if (issued < ops) issue()
      })
    }
    for (let i = 0; i < Math.min(IN_FLIGHT, ops); i++) issue()
  })
}

function percentile (sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]
}

const openers = { 'zk-client': openZkClient, 'node-zookeeper-client': openNodeZookeeperClient, raw: openRawSocket }
const opened = await openers[clientName]()
await drive(opened.call, Math.max(1000, Math.floor(OPS / 10)), false) // warm-up (JIT, buffers)
const cpuBefore = process.cpuUsage()
const started = performance.now()
const latencies = await drive(opened.call, OPS, true)
const seconds = (performance.now() - started) / 1000
const cpu = process.cpuUsage(cpuBefore)
await opened.close()
const sorted = Array.from(latencies).sort((a, b) => a - b)
console.log(JSON.stringify({
  client: clientName,
  workload,
  inFlight: IN_FLIGHT,
  ops: OPS,
  seconds,
  opsPerSec: OPS / seconds,
  p50us: percentile(sorted, 0.5),
  p99us: percentile(sorted, 0.99),
  cpuUserUs: cpu.user,
  cpuSystemUs: cpu.system,
  cpuPerCallUs: (cpu.user + cpu.system) / OPS
}))
