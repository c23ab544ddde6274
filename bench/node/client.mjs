// One measurement in a process of its own:
//
//   node client.mjs CLIENT ADDRESS WORKLOAD OPS
//
// CLIENT: `zk-client` (this repository's package, its Promise API) or
// `node-zookeeper-client` (its callback API: each client in its own idiom, no wrappers).
// WORKLOAD: `get` (one call at a time), `get-pipelined` (64 in flight), `set`,
// `set-pipelined`. Prints one JSON line: ops/s over the timed phase, latency percentiles and
// the process's CPU time (user + system, every thread: the addon's runtime threads too)
// per call.

import { createRequire } from 'node:module'

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

const opened = clientName === 'zk-client' ? await openZkClient() : await openNodeZookeeperClient()
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
