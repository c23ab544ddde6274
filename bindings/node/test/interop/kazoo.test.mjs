// Interop: our Lock (kazoo's node names) and kazoo's Lock, in another process, on the same
// path: never two holders. Needs ZK_NODE_PYTHON, a Python with kazoo (the test command
// provides one); it fails, rather than skips, without.

import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'

import { Client, Lock } from 'zk-client'
import { DEADLINE, HERE, startServer, unique, within } from '../support.mjs'

const PYTHON = process.env.ZK_NODE_PYTHON
const ROUNDS = 25

let server
before(async () => {
  assert.ok(PYTHON, 'ZK_NODE_PYTHON must name a Python with kazoo installed')
  server = await startServer()
})
after(async () => { await server?.stop() })

function kazooLock (lockPath, holderPath) {
  const child = spawn(PYTHON, [path.join(HERE, 'interop', 'kazoo_lock.py'), server.address, lockPath, holderPath, String(ROUNDS)], {
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  let err = ''
  let readyResolve
  const ready = new Promise((resolve) => { readyResolve = resolve })
  child.stdout.on('data', (chunk) => {
    out += chunk
    if (out.includes('ready')) readyResolve()
  })
  child.stderr.on('data', (chunk) => { err += chunk })
  const timer = setTimeout(() => child.kill('SIGKILL'), DEADLINE * 4)
  const exited = new Promise((resolve) => child.on('exit', (code) => {
    clearTimeout(timer)
    readyResolve()
    resolve({ code, out, err })
  }))
  return { ready, exited }
}

describe('kazoo interop', () => {
  it('our Lock and kazoo\'s Lock on one path: never two holders', async (t) => {
    const lockPath = unique('interop-lock')
    const holderPath = `${lockPath}-holder`
    const client = new Client(server.address, { sessionTimeout: 10_000 })
    t.after(() => client.close())
    await client.connect()
    const kazoo = kazooLock(lockPath, holderPath)
    await within(kazoo.ready, 'kazoo to connect', DEADLINE * 2)
    const lock = new Lock(client, lockPath, { layout: 'kazoo', data: Buffer.from('node') })
    let sawKazooWaiting = false
    for (let i = 0; i < ROUNDS; i++) {
      const lease = await within(lock.acquire(), 'our lock', DEADLINE * 2)
      try {
        await client.create(holderPath, Buffer.from('node'), { mode: 'ephemeral' })
      } catch (error) {
        const { data } = await client.get(holderPath).catch(() => ({ data: Buffer.from('?') }))
        assert.fail(`two holders: node and ${data.toString()} (${error.code})`)
      }
      for (let j = 0; j < 3; j++) await client.sync(lockPath)
      if ((await lock.contenders()).length > 1) sawKazooWaiting = true
      await client.delete(holderPath)
      await lease.release()
    }
    const result = await kazoo.exited
    assert.equal(result.code, 0, `kazoo: ${result.out}${result.err}`)
    assert.match(result.out, new RegExp(`done ${ROUNDS}`))
    assert.ok(sawKazooWaiting, "kazoo's contender was seen in line (the lock was really contended)")
  })
})
