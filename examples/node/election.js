'use strict'
// Leader election, the classic recipe written out: each contender creates an ephemeral
// sequential node; the lowest leads; every other contender watches only the node just
// before its own. When the leader goes, exactly one contender wakes up (no herd effect).
// (zk-client's LeaderElection packages the same algorithm on Curator's layout.)
//
//     node election.js 127.0.0.1:2181

const { CreateMode } = require('zk-client')
const { connect, run } = require('./common')

const CONTENDERS = 4

/** A queue of values for one consumer: `push` now, `next()` resolves in order. */
function channel () {
  const items = []
  const waiting = []
  return {
    push: (item) => (waiting.length > 0 ? waiting.shift()(item) : items.push(item)),
    next: () => (items.length > 0 ? Promise.resolve(items.shift()) : new Promise((resolve) => waiting.push(resolve)))
  }
}

async function contend (id, hosts, dir, counts, leaders, inLine, resign) {
  const client = await connect(hosts)
  const path = await client.create(`${dir}/n_`, Buffer.from(String(id)), { mode: CreateMode.EPHEMERAL_SEQUENTIAL })
  const me = path.split('/').at(-1)
  for (let first = true; ; first = false) {
    const line = (await client.getChildren(dir)).sort() // the ten-digit suffix sorts as text
    const position = line.indexOf(me)
    if (position === 0) {
      console.log(`contender ${id} (${me}) leads`)
      if (first) inLine.push(id)
      leaders.push(id)
      await resign
      await client.close() // the leader steps down: its session (and node) ends
      return
    }
    const before = line[position - 1]
    console.log(`contender ${id} (${me}) watches ${before}`)
    const { stat, changed } = await client.existsWatched(`${dir}/${before}`)
    if (first) inLine.push(id)
    if (stat !== null) {
      await changed
      counts.wakeups++
      console.log(`contender ${id} woke up: ${before} is gone`)
    }
  }
}

run('election', async (hosts) => {
  const admin = await connect(hosts)
  // A directory of our own, so nodes a killed earlier run left behind are not in line.
  const dir = `/examples/election/run-${process.pid}`
  await admin.mkdirp(dir)
  const counts = { wakeups: 0 }
  const leaders = channel()
  const inLine = channel()
  const resign = []
  for (let id = 0; id < CONTENDERS; id++) {
    const resigned = new Promise((resolve) => { resign[id] = resolve })
    contend(id, hosts, dir, counts, leaders, inLine, resigned).catch((error) => { console.error(error); process.exit(1) })
  }
  // Nobody steps down before every contender leads or watches its predecessor.
  for (let i = 0; i < CONTENDERS; i++) await inLine.next()
  let ok = true
  for (let round = 0; round < CONTENDERS; round++) {
    const leader = await leaders.next()
    console.log(`round ${round}: contender ${leader} leads; contenders woken so far: ${counts.wakeups}`)
    ok &&= counts.wakeups === round // each resignation woke exactly one contender
    resign[leader]()
  }
  await admin.removeRecursive(dir)
  await admin.close()
  return [ok, 'each change of leader woke exactly one contender']
})
