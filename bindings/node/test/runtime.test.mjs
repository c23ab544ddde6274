// The package in a Node process: it never keeps the process alive after close() (nor while
// idle, unless ref()ed), it loads through require and import, it works in worker threads
// next to the main thread (also when a worker is terminated mid-call), a throwing
// callback does not break the client, and a JavaScript thread that blocks (while it reads
// its client's replies itself) does not cost the session.

import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Worker } from 'node:worker_threads'

import { Client } from 'zk-client'
import { DEADLINE, HERE, connect, startServer, unique, waitFor, within } from './support.mjs'

let server
before(async () => { server = await startServer() })
after(async () => { await server?.stop() })

/** Runs a fixture in a child process: its stdout lines with arrival times, and its exit. */
function run (fixture, ...argv) {
  const child = spawn(process.execPath, [path.join(HERE, 'fixtures', fixture), ...argv], {
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const lines = []
  let stderr = ''
  let buffered = ''
  child.stdout.on('data', (chunk) => {
    buffered += chunk
    let nl
    while ((nl = buffered.indexOf('\n')) >= 0) {
      lines.push({ text: buffered.slice(0, nl), at: performance.now() })
      buffered = buffered.slice(nl + 1)
    }
  })
  child.stderr.on('data', (chunk) => { stderr += chunk })
  const exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal, at: performance.now(), lines, stderr }))
  })
  const timer = setTimeout(() => child.kill('SIGKILL'), DEADLINE)
  exited.then(() => clearTimeout(timer))
  return exited
}

function texts (result) {
  return result.lines.map((l) => l.text)
}

describe('process lifetime', () => {
  it('a process exits within 2 s of close(), with watches, a lock, an election and a cache used', async () => {
    const result = await run('lifecycle.cjs', server.address, 'close')
    assert.equal(result.code, 0, result.stderr)
    const closed = result.lines.find((l) => l.text === 'closed')
    assert.ok(closed, `no 'closed' line: ${result.stderr}`)
    const lingered = result.at - closed.at
    assert.ok(lingered < 2000, `the process lingered ${Math.round(lingered)} ms after close()`)
  })

  it('an idle open client does not keep the process alive', async () => {
    const result = await run('lifecycle.cjs', server.address, 'idle')
    assert.equal(result.code, 0, result.stderr)
    assert.deepEqual(texts(result), ['idle'])
  })

  it('a ref()ed client keeps the process alive until closed', async () => {
    const result = await run('lifecycle.cjs', server.address, 'ref')
    assert.equal(result.code, 0, result.stderr)
    assert.deepEqual(texts(result), ['alive', 'closed'])
  })

  it('a ref()ed persistent watch keeps the process alive until closed', async () => {
    const result = await run('lifecycle.cjs', server.address, 'watchref')
    assert.equal(result.code, 0, result.stderr)
    assert.deepEqual(texts(result), ['alive', 'closed'])
  })
})

describe('module formats', () => {
  it('loads with require()', async () => {
    const result = await run('load.cjs', server.address)
    assert.equal(result.code, 0, result.stderr)
    assert.deepEqual(texts(result), ['cjs function true'])
  })

  it('loads with import', async () => {
    const result = await run('load.mjs', server.address)
    assert.equal(result.code, 0, result.stderr)
    assert.deepEqual(texts(result), ['esm function true true'])
  })
})

describe('callbacks that throw', () => {
  it('become warnings when nothing listens for errors; the client goes on', async () => {
    const result = await run('throwing.cjs', server.address)
    assert.equal(result.code, 0, result.stderr)
    const out = texts(result)
    assert.ok(out.includes('warning Error: listener bug'), out.join('\n'))
    assert.ok(out.includes('warning Error: watch bug'), out.join('\n'))
    assert.equal(out.at(-1), 'works x')
  })

  it("go to the client's error listeners when there are some", async (t) => {
    const client = new Client(server.address)
    t.after(() => client.close())
    const errors = []
    client.on('error', (e) => errors.push(e.message))
    client.on('connected', () => { throw new Error('state listener bug') })
    await client.connect()
    assert.deepEqual(errors, ['state listener bug'])
    assert.ok(await client.exists('/'))
  })
})

describe('worker threads', () => {
  function startWorker (name, hang = false) {
    const worker = new Worker(path.join(HERE, 'fixtures', 'worker.mjs'), {
      workerData: { address: server.address, name, hang }
    })
    const message = new Promise((resolve, reject) => {
      worker.once('message', resolve)
      worker.once('error', reject)
    })
    const exited = new Promise((resolve) => worker.once('exit', resolve))
    return { worker, message, exited }
  }

  it('workers and the main thread use clients at once', async (t) => {
    const main = await connect(t, server.address)
    const base = unique('main')
    const workers = ['w1', 'w2'].map((name) => startWorker(name))
    const mainWork = (async () => {
      await main.create(base, null)
      for (let i = 0; i < 50; i++) await main.create(`${base}/n`, Buffer.from(String(i)), { mode: 'persistentSequential' })
      return (await main.getChildren(base)).length
    })()
    const results = await within(Promise.all(workers.map((w) => w.message)), 'the workers')
    for (const [i, result] of results.entries()) {
      const name = `w${i + 1}`
      assert.deepEqual(result, { name, data: `${name}!`, event: 'nodeDataChanged', state: 'closed' })
    }
    assert.equal(await mainWork, 50)
    for (const { exited } of workers) {
      assert.equal(await within(exited, 'a worker to exit by itself'), 0)
    }
    // After the workers are gone the main thread's client (and the one runtime) still work.
    assert.ok(await main.exists(base))
    const late = startWorker('w3')
    assert.equal((await within(late.message, 'a worker started later')).data, 'w3!')
  })

  it('terminating a worker mid-call leaves the process and other clients unharmed', async (t) => {
    const main = await connect(t, server.address)
    const { worker, message } = startWorker('doomed', true)
    const ready = await within(message, 'the worker to be mid-call')
    assert.equal(ready.ready, true)
    assert.ok(await main.exists(ready.lease), 'the worker holds its lock')
    const code = await within(worker.terminate(), 'terminate()')
    assert.equal(code, 1)
    // Its sessions (120 s timeouts) were closed with the worker: the lock node is gone
    // long before they could have expired.
    await waitFor(async () => (await main.exists(ready.lease)) === null, "the terminated worker's lock node to go")
    const again = startWorker('after-terminate')
    assert.equal((await within(again.message, 'a worker after terminate()')).state, 'closed')
  })
})

describe('a blocked JavaScript thread', () => {
  it('keeps its session past the session timeout, and the calls after it work', async (t) => {
    // With calls in flight this thread reads the client's socket itself; blocked, it reads
    // nothing, so the core's IO thread must take the reads back to hear the pings' replies.
    const client = await connect(t, server.address, { sessionTimeout: 3000 })
    const observer = await connect(t, server.address)
    const node = unique('blocked')
    await client.create(node, Buffer.from('a'), { mode: 'ephemeral' })
    const states = []
    client.on('state', (state) => states.push(state))
    const { changed } = await client.getWatched(node)
    const pending = client.get(node)
    // Twice the session timeout: without the IO thread reading, the connection would look
    // silent after two thirds of it.
    const blockFor = 2 * client.sessionTimeout
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, blockFor)
    assert.deepEqual((await pending).data, Buffer.from('a'))
    await observer.set(node, Buffer.from('b'))
    assert.equal((await within(changed, 'the watch event after the block')).type, 'nodeDataChanged')
    assert.deepEqual((await client.get(node)).data, Buffer.from('b'))
    assert.deepEqual(states, [], `the session went through ${states.join(', ')}`)
    assert.notEqual(await observer.exists(node), null, 'the ephemeral node outlived the block')
  })
})
