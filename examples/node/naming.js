'use strict'
// Naming service: unique names from sequential znodes. Several clients ask for job names
// at once; the server appends a ten-digit counter to each create under /examples/naming,
// so no two names are ever the same, and each client's names grow.
//
//     node naming.js 127.0.0.1:2181

const { CreateMode } = require('zk-client')
const { connect, run } = require('./common')

const WORKERS = 4
const NAMES_EACH = 5

run('naming', async (hosts) => {
  const admin = await connect(hosts)
  await admin.mkdirp('/examples/naming')
  const workers = Array.from({ length: WORKERS }, async (_, worker) => {
    const client = await connect(hosts) // another process, in real life
    const names = []
    for (let i = 0; i < NAMES_EACH; i++) {
      const data = Buffer.from(`requested by worker ${worker}`)
      const path = await client.create('/examples/naming/job-', data, { mode: CreateMode.PERSISTENT_SEQUENTIAL })
      console.log(`worker ${worker} got ${path}`)
      names.push(path)
    }
    await client.close()
    return names
  })
  const all = new Set()
  let increasing = true
  for (const names of await Promise.all(workers)) {
    increasing &&= names.every((name, i) => i === 0 || names[i - 1] < name)
    for (const name of names) all.add(name)
  }
  await admin.close()
  return [all.size === WORKERS * NAMES_EACH && increasing, `${all.size} unique names`]
})
