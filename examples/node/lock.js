'use strict'
// Distributed lock (zk-client's Lock, Curator's layout): contenders queue as ephemeral
// sequential nodes and each watches only the one before it, so a release wakes exactly
// the next in line (no herd effect) and the lock is handed over in queue order. Then
// several clients do a read-modify-write of a counter that only the lock keeps from
// losing updates.
//
//     node lock.js 127.0.0.1:2181

const { Lock } = require('zk-client')
const { connect, run, sleep } = require('./common')

const WORKERS = 4
const ROUNDS = 5

run('lock', async (hosts) => {
  const dir = `/examples/lock/run-${process.pid}`
  const counter = `${dir}-counter`
  const first = await connect(hosts)
  await first.mkdirp('/examples/lock')
  await first.create(counter, Buffer.from('0'))

  // 1. Queue order: while one client holds the lock, workers line up one by one.
  const holder = await new Lock(first, dir).acquire()
  const order = []
  const workers = []
  for (let id = 0; id < WORKERS; id++) {
    const client = await connect(hosts)
    const lock = new Lock(client, dir)
    workers.push((async () => {
      const lease = await lock.acquire()
      console.log(`worker ${id} got the lock (fencing token 0x${lease.fencingToken.toString(16)})`)
      order.push(id)
      await lease.release()
      return [client, lock]
    })())
    while ((await new Lock(first, dir).contenders()).length < id + 2) await sleep(5) // until it is in line
    console.log(`worker ${id} is in line`)
  }
  await holder.release()
  const clients = await Promise.all(workers)
  const fifo = order.join() === [...Array(WORKERS).keys()].join()

  // 2. Mutual exclusion: unprotected read-modify-writes, serialised by the lock.
  let inside = false
  const alone = await Promise.all(clients.map(async ([client, lock]) => {
    let wasAlone = true
    for (let round = 0; round < ROUNDS; round++) {
      const lease = await lock.acquire()
      wasAlone &&= !inside
      inside = true
      const { data } = await client.get(counter)
      await client.set(counter, Buffer.from(String(Number(data) + 1)))
      inside = false
      await lease.release()
    }
    await client.close()
    return wasAlone
  }))
  const total = (await first.get(counter)).data.toString()
  console.log(`counter ${total}, expected ${WORKERS * ROUNDS}`)
  await first.removeRecursive(dir)
  await first.delete(counter)
  await first.close()
  const ok = fifo && alone.every(Boolean) && total === String(WORKERS * ROUNDS)
  return [ok, 'handed over in queue order; no update lost']
})
