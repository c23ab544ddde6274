'use strict'
// FIFO queue (zk-client's Queue, kazoo's layout) between processes: producers and
// consumers are separate programs sharing only the znode /examples/queue/<run>. Every
// item is consumed exactly once, and each consumer gets any one producer's items in the
// order they were put.
//
//     node queue.js 127.0.0.1:2181
//
// (It starts its producers and consumers itself: `node queue.js HOSTS produce PATH ID
// COUNT` and `node queue.js HOSTS consume PATH ID` are one of each.)

const { spawn } = require('node:child_process')
const { once } = require('node:events')
const readline = require('node:readline')
const { Queue } = require('zk-client')
const { connect, run } = require('./common')

const PRODUCERS = 2
const CONSUMERS = 2
const ITEMS = 10
const STOP = 'stop'

async function produce (hosts, path, id, count) {
  const client = await connect(hosts)
  const queue = new Queue(client, path)
  for (let n = 0; n < count; n++) await queue.put(Buffer.from(`p${id}-${n}`))
  await client.close()
  process.exit(0)
}

async function consume (hosts, path, id) {
  process.stdin.resume().on('end', () => process.exit(3)) // orphaned (the starter died): stop
  const client = await connect(hosts)
  const queue = new Queue(client, path)
  for (;;) {
    const item = await queue.take({ timeout: 60000 })
    if (item === null) process.exit(1) // nothing for a minute: the test is broken
    if (item.toString() === STOP) break
    console.log(`consumer ${id} took ${item}`)
  }
  await client.close()
  process.exit(0)
}

/** One worker process; its stdout lines go to `lines` (when given). */
function start (hosts, args, lines) {
  const child = spawn(process.execPath, [__filename, hosts, ...args], { stdio: ['pipe', 'pipe', 'inherit'] })
  readline.createInterface({ input: child.stdout }).on('line', (line) => lines?.push(line))
  return once(child, 'exit').then(([code]) => code)
}

const [role, path, id, count] = process.argv.slice(3)
if (role === 'produce') {
  produce(process.argv[2], path, id, Number(count))
} else if (role === 'consume') {
  consume(process.argv[2], path, id)
} else {
  run('queue', async (hosts) => {
    const path = `/examples/queue/run-${process.pid}`
    const outputs = Array.from({ length: CONSUMERS }, () => [])
    const consumers = outputs.map((lines, id) => start(hosts, ['consume', path, String(id)], lines))
    const producers = Array.from({ length: PRODUCERS }, (_, id) => start(hosts, ['produce', path, String(id), String(ITEMS)]))
    if (!(await Promise.all(producers)).every((code) => code === 0)) throw new Error('a producer failed')
    // Everything is queued: one stop per consumer goes after it (FIFO).
    const client = await connect(hosts)
    const queue = new Queue(client, path)
    for (let i = 0; i < CONSUMERS; i++) await queue.put(Buffer.from(STOP))
    if (!(await Promise.all(consumers)).every((code) => code === 0)) throw new Error('a consumer failed')
    const taken = new Map()
    let inOrder = true
    for (const lines of outputs) {
      const last = new Map() // per producer
      for (const line of lines) {
        console.log(line)
        const item = line.split(' took ')[1]
        if (item === undefined) continue
        taken.set(item, (taken.get(item) ?? 0) + 1)
        const [producer, n] = item.split('-')
        inOrder &&= !(last.get(producer) >= Number(n))
        last.set(producer, Number(n))
      }
    }
    const onceEach = taken.size === PRODUCERS * ITEMS && [...taken.values()].every((n) => n === 1)
    await client.removeRecursive(path)
    await client.close()
    return [onceEach && inOrder, `${taken.size} items, each consumed once, in order per producer`]
  })
}
