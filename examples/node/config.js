'use strict'
// Configuration management: a service reloads its configuration whenever it changes. Each
// reader keeps a persistent watch on /examples/config/app (it never has to re-arm it, so
// no change can slip by) and re-reads the node on every change. The writer publishes five
// versions; every reader gets every change, in the same order (the changes' zxids), and
// ends on the last version.
//
//     node config.js 127.0.0.1:2181

const { connect, run } = require('./common')

const READERS = 3
const VERSIONS = 5
const PATH = '/examples/config/app'
const hex = (zxid) => `0x${zxid.toString(16)}`

async function reader (hosts, id, ready) {
  const client = await connect(hosts)
  const changes = await client.addWatch(PATH)
  const { data } = await client.get(PATH)
  console.log(`reader ${id} loaded ${data}`)
  ready()
  const seen = [] // [zxid of the change, config read after it]
  for await (const event of changes) {
    if (event.type !== 'nodeDataChanged') continue // a connection event
    const { data, stat } = await client.get(PATH) // reload
    console.log(`reader ${id} reloaded ${data} (change zxid ${hex(event.zxid)}, read mzxid ${hex(stat.mzxid)})`)
    seen.push([event.zxid, data.toString()])
    if (seen.length === VERSIONS) break
  }
  await client.close()
  return seen
}

run('config', async (hosts) => {
  const writer = await connect(hosts)
  await writer.mkdirp(PATH)
  await writer.set(PATH, Buffer.from('version=0'))
  // The readers start (and load the first version) before the writer publishes.
  const ready = []
  const started = Array.from({ length: READERS }, (_, id) => new Promise((resolve) => { ready[id] = resolve }))
  const histories = ready.map((resolve, id) => reader(hosts, id, resolve))
  await Promise.all(started)
  for (let version = 1; version <= VERSIONS; version++) {
    await writer.set(PATH, Buffer.from(`version=${version}`))
    console.log(`writer published version=${version}`)
  }
  const timeout = new Promise((resolve) => setTimeout(resolve, 30000, null))
  const seen = await Promise.race([Promise.all(histories), timeout])
  await writer.close()
  if (seen === null) return [false, 'a reader did not see every change']
  const zxids = seen.map((history) => history.map(([zxid]) => zxid).join(','))
  const every = seen.every((history) => history.length === VERSIONS)
  const sameOrder = zxids.every((z) => z === zxids[0]) && seen[0].every(([z], i) => i === 0 || seen[0][i - 1][0] < z)
  const last = seen.every((history) => history.at(-1)?.[1] === `version=${VERSIONS}`)
  return [every && sameOrder && last, `${READERS} readers saw all ${VERSIONS} changes in order`]
})
