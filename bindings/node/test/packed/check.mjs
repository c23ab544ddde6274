// The packed tarball, installed in a fresh folder (with no Rust toolchain on PATH): copied
// into that folder and run there by scripts/test as `node check.mjs ZK_SERVER_BIN`, so
// `zk-client` resolves to the installed package. Starts a zk-server of its own, uses the
// package through both require() and import, and checks the process ends after close().

import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'

import * as esm from 'zk-client'

const require = createRequire(path.join(process.cwd(), 'package.json'))
const cjs = require('zk-client')
const installedAt = path.dirname(require.resolve('zk-client/package.json'))
assert.ok(!fs.lstatSync(installedAt).isSymbolicLink(), 'the package is installed, not linked')
assert.ok(fs.readdirSync(path.join(installedAt, 'native')).some((f) => f.endsWith('.node')), 'the tarball carries the addon')
assert.equal(esm.Client, cjs.Client, 'import and require give the same module')

const zkServer = process.argv[2]
const port = await new Promise((resolve) => {
  const probe = net.createServer().listen(0, '127.0.0.1', () => {
    const { port } = probe.address()
    probe.close(() => resolve(port))
  })
})
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zk-packed-'))
fs.writeFileSync(path.join(dir, 'zoo.cfg'), [
  'tickTime=500', `dataDir=${path.join(dir, 'data')}`, `clientPort=${port}`, 'clientPortAddress=127.0.0.1',
  'admin.enableServer=false', 'extendedTypesEnabled=true', 'maxClientCnxns=0'
].join('\n') + '\n')
const server = spawn(zkServer, ['start-foreground', path.join(dir, 'zoo.cfg')], { stdio: 'ignore' })
const address = `127.0.0.1:${port}`

try {
  // Wait (with a deadline) for the server to serve a session.
  const deadline = Date.now() + 30_000
  for (;;) {
    const probe = new cjs.Client(address, { connectTimeout: 1000 })
    try {
      await probe.connect()
      await probe.close()
      break
    } catch (error) {
      if (Date.now() > deadline) throw error
      await probe.close()
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }

  const client = new esm.Client(address)
  await client.connect()
  const node = await client.create(`/packed-${process.pid}-`, Buffer.from('tarball'), { mode: esm.CreateMode.EPHEMERAL_SEQUENTIAL })
  let fired
  const changed = new Promise((resolve) => { fired = resolve })
  const { data } = await client.get(node, { watch: fired })
  assert.equal(data.toString(), 'tarball')
  await client.set(node, Buffer.from('changed'))
  assert.equal((await changed).type, 'nodeDataChanged')
  const lease = await new cjs.Lock(client, `/packed-lock-${process.pid}`).acquire()
  assert.ok(lease.fencingToken > 0)
  await lease.release()
  await assert.rejects(client.get('/definitely/missing'), (e) => e instanceof cjs.ZkError && e.code === 'NONODE')
  await client.close()
  // The HA elector (the core's, in the same addon) wins alone.
  let activated
  const active = new Promise((resolve) => { activated = resolve })
  const elector = new esm.ActiveStandbyElector(address, { nameservice: `packed-${process.pid}` }, { becomeActive: () => activated() })
  assert.equal(await elector.format(), true)
  await elector.join(esm.ActiveNodeInfo.encode({ nameserviceId: 'packed', namenodeId: 'nn1', hostname: 'h', port: 1 }))
  await active
  assert.equal(cjs.ActiveNodeInfo.decode(await elector.activeData()).namenodeId, 'nn1')
  await elector.close()
  console.log(`packed package OK (${process.version}, ${installedAt})`)
} finally {
  server.kill('SIGKILL')
  fs.rmSync(dir, { recursive: true, force: true })
}
