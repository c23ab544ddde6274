'use strict'
// Barrier (zk-client's DoubleBarrier): a computation starts only once every participant
// has arrived, and nobody leaves before everybody has finished.
//
//     node barrier.js 127.0.0.1:2181

const { DoubleBarrier } = require('zk-client')
const { connect, run, sleep } = require('./common')

const PARTICIPANTS = 4

run('barrier', async (hosts) => {
  const path = `/examples/barrier/run-${process.pid}`
  let entered = 0
  let finished = 0
  const participants = Array.from({ length: PARTICIPANTS }, async (_, id) => {
    const client = await connect(hosts)
    const barrier = new DoubleBarrier(client, path, PARTICIPANTS, { data: Buffer.from(String(id)) })
    await sleep(100 * id) // arrive one after another, so the early ones really wait
    entered++
    console.log(`participant ${id} arrives`)
    if (!(await barrier.enter({ timeout: 30000 }))) throw new Error(`participant ${id} timed out entering`)
    const allIn = entered === PARTICIPANTS
    console.log(`participant ${id} starts working`)
    await sleep(50 * (PARTICIPANTS - id))
    finished++
    console.log(`participant ${id} finished, leaving`)
    if (!(await barrier.leave({ timeout: 30000 }))) throw new Error(`participant ${id} timed out leaving`)
    const allDone = finished === PARTICIPANTS
    console.log(`participant ${id} left`)
    await client.close()
    return allIn && allDone
  })
  const ok = (await Promise.all(participants)).every(Boolean)
  const admin = await connect(hosts)
  await admin.removeRecursive(path)
  await admin.close()
  return [ok, 'nobody started before all arrived, nobody left before all finished']
})
