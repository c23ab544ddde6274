// ActiveStandbyElector (Hadoop's elector from the core) against a real server: winning and
// losing, fencing a crashed active's breadcrumb, graceful quit, cede, format, answers given
// as Promises, and callbacks that call the elector (close, quit, calls that must wait).

import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { Worker } from 'node:worker_threads'

import { ActiveNodeInfo, ActiveStandbyElector, Client, ZkError } from 'zk-client'

import { HERE, Proxy, startServer, waitFor, within } from './support.mjs'

let server
let admin
before(async () => {
  server = await startServer()
  admin = new Client(server.address, { sessionTimeout: 10_000 })
  await admin.connect()
})
after(async () => {
  await admin?.close()
  await server?.stop()
})

let counter = 0
const nameservice = (name) => `ns-${process.pid}-${counter++}-${name}`
const info = (ns, id) => ActiveNodeInfo.encode({ nameserviceId: ns, namenodeId: id, hostname: '127.0.0.1', port: 8020 })

/**
 * An elector for instance `id` of `ns` whose callbacks append to `log` (`id active`,
 * `id standby`, `id neutral`, `id fences X`, `id fatal`); `overrides` replace callbacks.
 */
function candidate (t, ns, id, log, overrides = {}, options = {}, address = server.address) {
  const elector = new ActiveStandbyElector(address, { nameservice: ns, sessionTimeout: 3000, rejoinPause: 200, ...options }, {
    becomeActive: () => { log.push(`${id} active`) },
    becomeStandby: () => { log.push(`${id} standby`) },
    enterNeutral: () => { log.push(`${id} neutral`) },
    fenceOldActive: (data) => {
      log.push(`${id} fences ${ActiveNodeInfo.decode(data).namenodeId}`)
      return true
    },
    fatalError: (message) => { log.push(`${id} fatal ${message}`) },
    ...overrides
  })
  t.after(() => elector.close())
  return elector
}

async function formatted (t, name) {
  const ns = nameservice(name)
  const elector = candidate(t, ns, 'admin', [])
  assert.equal(await elector.format(), true)
  await elector.close()
  return ns
}

const has = (log, line) => () => log.includes(line)

/** Candidate `id` joins the election of `ns`; waits until `log` says it became `state`. */
async function join (elector, ns, id, log, state = 'active') {
  await elector.join(info(ns, id))
  await waitFor(has(log, `${id} ${state}`), `${id} ${state}`)
}

/** Candidates nn1 and nn2 of a fresh nameservice, one log: nn1 active, then nn2 standing by. */
async function activeThenStandby (t, name) {
  const ns = await formatted(t, name)
  const log = []
  const nn1 = candidate(t, ns, 'nn1', log)
  const nn2 = candidate(t, ns, 'nn2', log)
  await join(nn1, ns, 'nn1', log)
  await join(nn2, ns, 'nn2', log, 'standby')
  return { log, nn1, nn2 }
}

/** Candidate nn1 of a fresh nameservice, active through a proxy (whose connection a test cuts). */
async function activeBehindProxy (t, name, sessionTimeout) {
  const ns = await formatted(t, name)
  const proxy = await new Proxy(server).start()
  t.after(() => proxy.close())
  const log = []
  const nn1 = candidate(t, ns, 'nn1', log, {}, { sessionTimeout }, proxy.address)
  await join(nn1, ns, 'nn1', log)
  return { proxy, log, nn1, session: nn1.sessionId }
}

describe('ActiveNodeInfo', () => {
  test('encodes as protobuf-java does and decodes back', () => {
    const bytes = ActiveNodeInfo.encode({ nameserviceId: 'ns1', namenodeId: 'nn1', hostname: 'h', port: 8020 })
    assert.equal(bytes.toString('hex'), '0a036e7331' + '12036e6e31' + '1a0168' + '20d43e' + '2800')
    assert.deepEqual(ActiveNodeInfo.decode(bytes), { nameserviceId: 'ns1', namenodeId: 'nn1', hostname: 'h', port: 8020, zkfcPort: 0 })
    const negative = ActiveNodeInfo.decode(ActiveNodeInfo.encode({ nameserviceId: 'a', namenodeId: 'b', hostname: 'c', port: -1, zkfcPort: 7 }))
    assert.equal(negative.port, -1)
    assert.equal(negative.zkfcPort, 7)
  })

  test('bytes that are not one are BADARGUMENTS; bad types are TypeErrors', () => {
    assert.throws(() => ActiveNodeInfo.decode(Buffer.from('not protobuf')), (e) => e instanceof ZkError && e.code === 'BADARGUMENTS' && /ActiveNodeInfo/.test(e.message))
    // A required field missing (no zkfcPort).
    const partial = ActiveNodeInfo.encode({ nameserviceId: 'a', namenodeId: 'b', hostname: 'c', port: 1 }).subarray(0, -2)
    assert.throws(() => ActiveNodeInfo.decode(partial), (e) => e.code === 'BADARGUMENTS')
    assert.throws(() => ActiveNodeInfo.decode('0a03'), TypeError)
    assert.throws(() => ActiveNodeInfo.encode({ nameserviceId: 'a', namenodeId: 'b', hostname: 'c', port: 1.5 }), RangeError)
  })
})

describe('ActiveStandbyElector', () => {
  test('bad arguments are refused before anything is sent', () => {
    assert.throws(() => new ActiveStandbyElector(server.address, { parent: 'relative' }), (e) => e instanceof ZkError && e.code === 'BADARGUMENTS')
    assert.throws(() => new ActiveStandbyElector('', { nameservice: 'x' }), (e) => e.code === 'BADARGUMENTS')
    assert.throws(() => new ActiveStandbyElector(server.address, {}), TypeError)
    assert.throws(() => new ActiveStandbyElector(server.address, { nameservice: 'x' }, { becomeActive: true }), TypeError)
    assert.throws(() => new ActiveStandbyElector(server.address, { nameservice: 'x', maxRetries: 0 }), RangeError)
    const elector = new ActiveStandbyElector(server.address, { nameservice: 'x', root: '/custom/' })
    assert.equal(elector.parent, '/custom/x')
    assert.equal(elector.state, 'init')
    assert.equal(elector.sessionId, 0n)
    return elector.close()
  })

  test('format, ensureParent, parentExists and clearParent (hdfs zkfc -formatZK)', async (t) => {
    const ns = nameservice('format')
    const elector = candidate(t, ns, 'nn1', [], {}, { root: `/fmt-${process.pid}/deep` })
    assert.equal(await elector.parentExists(), false)
    assert.equal(await elector.format(), true)
    assert.ok(await admin.exists(`/fmt-${process.pid}/deep/${ns}`))
    await admin.create(`${elector.parent}/leftover`, null)
    assert.equal(await elector.format(), false, 'an existing parent is not cleared without force')
    assert.ok(await admin.exists(`${elector.parent}/leftover`))
    assert.equal(await elector.format({ force: true }), true)
    assert.equal(await admin.exists(`${elector.parent}/leftover`), null)
    await elector.clearParent()
    assert.equal(await elector.parentExists(), false)
    await elector.ensureParent()
    assert.equal(await elector.parentExists(), true)
    await elector.join(info(ns, 'nn1'))
    await assert.rejects(elector.ensureParent(), (e) => e.code === 'BADARGUMENTS')
    await elector.quit()
    await admin.removeRecursive(`/fmt-${process.pid}`)
  })

  test('the first candidate wins, the second stands by and reads the active\'s data', async (t) => {
    const ns = await formatted(t, 'win')
    const log = []
    const nn1 = candidate(t, ns, 'nn1', log)
    const nn2 = candidate(t, ns, 'nn2', log)
    assert.equal(await nn1.activeData(), null)
    await join(nn1, ns, 'nn1', log)
    await join(nn2, ns, 'nn2', log, 'standby')
    assert.deepEqual(log, ['nn1 active', 'nn2 standby'])
    assert.equal(nn1.state, 'active')
    assert.equal(nn2.state, 'standby')
    assert.notEqual(nn1.sessionId, 0n)
    assert.equal(ActiveNodeInfo.decode(await nn2.activeData()).namenodeId, 'nn1')
    const breadcrumb = await admin.get(`${nn1.parent}/ActiveBreadCrumb`)
    assert.equal(ActiveNodeInfo.decode(breadcrumb.data).namenodeId, 'nn1')
    // Joining again while in the election changes nothing.
    await nn1.join(info(ns, 'other'))
    assert.equal(ActiveNodeInfo.decode(await nn2.activeData()).namenodeId, 'nn1')
  })

  test('a graceful quit deletes the breadcrumb: the next active fences nobody', async (t) => {
    const { log, nn1 } = await activeThenStandby(t, 'quit')
    await nn1.quit()
    assert.equal(nn1.state, 'init')
    await waitFor(has(log, 'nn2 active'), 'nn2 active')
    assert.deepEqual(log, ['nn1 active', 'nn2 standby', 'nn2 active'])
  })

  test('quit needing fence and close keep the breadcrumb: the next active fences its owner first', async (t) => {
    const ns = await formatted(t, 'fence')
    const log = []
    const nn1 = candidate(t, ns, 'nn1', log)
    const nn2 = candidate(t, ns, 'nn2', log)
    const nn3 = candidate(t, ns, 'nn3', log)
    await join(nn1, ns, 'nn1', log)
    await join(nn2, ns, 'nn2', log, 'standby')
    await nn1.quit({ needFence: true })
    await waitFor(has(log, 'nn2 active'), 'nn2 active')
    assert.deepEqual(log, ['nn1 active', 'nn2 standby', 'nn2 fences nn1', 'nn2 active'])
    await join(nn3, ns, 'nn3', log, 'standby')
    await nn2.close()
    await waitFor(has(log, 'nn3 active'), 'nn3 active')
    assert.deepEqual(log.slice(4), ['nn3 standby', 'nn3 fences nn2', 'nn3 active'])
  })

  test('a crashed active (SIGKILL) is fenced from its breadcrumb once its session expires', async (t) => {
    const ns = await formatted(t, 'crash')
    const script = `
      const { ActiveStandbyElector, ActiveNodeInfo } = require('zk-client')
      const e = new ActiveStandbyElector(process.argv[1], { nameservice: process.argv[2], sessionTimeout: 2000 }, {
        becomeActive: () => { console.log('active') }
      }).ref()
      e.join(ActiveNodeInfo.encode({ nameserviceId: process.argv[2], namenodeId: 'crashed', hostname: 'h', port: 1 }))`
    const child = spawn(process.execPath, ['-e', script, server.address, ns], { stdio: ['ignore', 'pipe', 'inherit'] })
    t.after(() => child.kill('SIGKILL'))
    let output = ''
    child.stdout.on('data', (chunk) => { output += chunk })
    await waitFor(() => output.includes('active'), 'the child to become active')
    const log = []
    const fenced = []
    const nn2 = candidate(t, ns, 'nn2', log, {
      fenceOldActive: async (data) => {
        fenced.push(ActiveNodeInfo.decode(data))
        await new Promise((resolve) => setTimeout(resolve, 50))
        return true
      }
    })
    await join(nn2, ns, 'nn2', log, 'standby')
    child.kill('SIGKILL')
    await once(child, 'exit')
    await waitFor(has(log, 'nn2 active'), 'nn2 active after the crashed session expired')
    assert.deepEqual(fenced, [{ nameserviceId: ns, namenodeId: 'crashed', hostname: 'h', port: 1, zkfcPort: 0 }])
    const breadcrumb = await admin.get(`${nn2.parent}/ActiveBreadCrumb`)
    assert.equal(ActiveNodeInfo.decode(breadcrumb.data).namenodeId, 'nn2')
  })

  test('fencing that fails (false, a throw, a rejection) blocks the takeover until it succeeds', async (t) => {
    const ns = await formatted(t, 'refuse')
    const log = []
    const nn1 = candidate(t, ns, 'nn1', log)
    await join(nn1, ns, 'nn1', log)
    await nn1.quit({ needFence: true })
    const answers = [() => false, () => { throw new Error('fence script failed') }, () => Promise.reject(new Error('no')), () => undefined, () => true]
    const errors = []
    let attempts = 0
    const nn2 = candidate(t, ns, 'nn2', log, { fenceOldActive: () => answers[attempts++]() })
    nn2.on('error', (error) => errors.push(error.message))
    await nn2.join(info(ns, 'nn2'))
    await waitFor(has(log, 'nn2 active'), 'nn2 active once fencing succeeded')
    assert.equal(attempts, 5, 'false, a throw, a rejection and undefined all count as not fenced')
    assert.deepEqual(errors, ['fence script failed', 'no'])
  })

  test('becomeActive answered by a Promise: the elector waits for it; false makes it retry', async (t) => {
    const ns = await formatted(t, 'promise')
    const log = []
    let release
    let attempts = 0
    const nn1 = candidate(t, ns, 'nn1', log, {
      becomeActive: () => {
        attempts++
        if (attempts === 1) return false // could not: the lock is released, then a new try
        return new Promise((resolve) => { release = resolve })
      }
    })
    await nn1.join(info(ns, 'nn1'))
    await waitFor(() => release !== undefined, 'the second becomeActive')
    assert.notEqual(nn1.state, 'active', 'not active before the answer')
    release(true)
    await waitFor(() => nn1.state === 'active', 'active after the answer')
    assert.equal(attempts, 2)
  })

  test('cede hands over gracefully and rejoins after the period', async (t) => {
    const { log, nn1 } = await activeThenStandby(t, 'cede')
    await nn1.cede(1000)
    assert.equal(nn1.state, 'init')
    await waitFor(has(log, 'nn2 active'), 'nn2 active')
    await waitFor(() => log.filter((l) => l === 'nn1 standby').length === 2, 'nn1 back as standby')
    assert.deepEqual(log, ['nn1 active', 'nn2 standby', 'nn1 standby', 'nn2 active', 'nn1 standby'],
      'the ceding active confirmed standby: its breadcrumb went, nobody was fenced')
  })

  test('callbacks may call close: the waiting answer counts as failed and nothing runs after', async (t) => {
    const ns = await formatted(t, 'close')
    const log = []
    let closed
    const nn1 = candidate(t, ns, 'nn1', log, {
      becomeActive: async () => {
        log.push('nn1 closing')
        closed = nn1.close()
        await closed
        log.push('nn1 closed')
        return true
      }
    })
    const nn2 = candidate(t, ns, 'nn2', log)
    await join(nn2, ns, 'nn2', log)
    await nn2.quit()
    await nn1.join(info(ns, 'nn1'))
    await within(waitFor(has(log, 'nn1 closed'), 'close() from becomeActive'), 'close() resolved inside the callback')
    assert.equal(nn1.state, 'init')
    await nn2.join(info(ns, 'nn2'))
    await waitFor(() => log.filter((l) => l === 'nn2 active').length === 2, 'nn2 active again: nn1 holds no lock')
    // nn1 had written its breadcrumb before it was asked to become active: it is fenced.
    assert.deepEqual(log, ['nn2 active', 'nn1 closing', 'nn1 closed', 'nn2 fences nn1', 'nn2 active'])
    await assert.rejects(nn1.join(info(ns, 'nn1')), (e) => e instanceof ZkError && e.code === 'CLOSING')
    await assert.rejects(nn1.activeData(), (e) => e.code === 'CLOSING')
    assert.equal(nn1.close(), closed, 'close again is the same promise')
  })

  test('inside a waited callback: calls that need the elector are INVALIDSTATE, quit resolves at once', async (t) => {
    const ns = await formatted(t, 'reentry')
    const log = []
    const seen = {}
    const nn1 = candidate(t, ns, 'nn1', log, {
      becomeActive: async () => {
        seen.activeData = await nn1.activeData().catch((e) => e.code)
        seen.format = await nn1.format().catch((e) => e.code)
        await nn1.quit({ needFence: false }) // queued: runs once this callback answered
        seen.quitReturned = true
        return true
      }
    })
    await nn1.join(info(ns, 'nn1'))
    await waitFor(() => seen.quitReturned, 'the callback to finish')
    assert.deepEqual(seen, { activeData: 'INVALIDSTATE', format: 'INVALIDSTATE', quitReturned: true })
    await waitFor(() => nn1.state === 'init', 'the queued quit')
    // Outside a callback the same calls work.
    assert.equal(await nn1.activeData(), null)
  })

  test('a terminated worker\'s elector ends: its lock goes at once, not after its session timeout', async (t) => {
    const ns = await formatted(t, 'worker')
    const worker = new Worker(path.join(HERE, 'fixtures', 'elector-worker.mjs'), { workerData: { address: server.address, nameservice: ns } })
    t.after(() => worker.terminate())
    const [message] = await once(worker, 'message')
    assert.equal(message, 'active')
    const lock = `/hadoop-ha/${ns}/ActiveStandbyElectorLock`
    assert.ok(await admin.exists(lock))
    await worker.terminate()
    await waitFor(async () => (await admin.exists(lock)) === null, 'the lock of the terminated worker\'s elector to go')
  })

  test('a lost connection is neutral; after the reconnect the lock is still ours: active again', async (t) => {
    const { proxy, log, nn1, session } = await activeBehindProxy(t, 'neutral', 4000)
    proxy.cut()
    await waitFor(() => log.length === 3, 'neutral, then active again')
    assert.deepEqual(log, ['nn1 active', 'nn1 neutral', 'nn1 active'], 'its own breadcrumb: nobody fenced')
    assert.equal(nn1.sessionId, session, 'the same session')
  })

  test('a session expired while active: neutral, then a new session wins again', async (t) => {
    const { proxy, log, nn1, session } = await activeBehindProxy(t, 'expiry', 2000)
    proxy.stall()
    proxy.cut()
    await waitFor(has(log, 'nn1 neutral'), 'nn1 neutral')
    const lock = `${nn1.parent}/ActiveStandbyElectorLock`
    await waitFor(async () => (await admin.exists(lock)) === null, 'the server to expire the cut-off session')
    proxy.resume()
    await waitFor(() => log.length === 3, 'active again on a new session')
    assert.deepEqual(log, ['nn1 active', 'nn1 neutral', 'nn1 active'])
    assert.notEqual(nn1.sessionId, session, 'a new session')
    assert.equal((await admin.exists(lock)).ephemeralOwner, nn1.sessionId)
  })
})
