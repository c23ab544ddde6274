// Connection and session events: a server restart (disconnected, then connected again with
// the same session and every watch still in place) and a partition longer than the session
// timeout, which the client reports as `expired` itself, while still cut off.

import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'

import { Client, Lock } from 'zk-client'
import { Proxy, connect, nextEvent, startServer, unique, waitFor, within } from './support.mjs'

let server
before(async () => { server = await startServer() })
after(async () => { await server?.stop() })

describe('server restart', () => {
  it('reports disconnected then connected, keeps the session, re-registers watches', async (t) => {
    // Long sessions: they must outlive the restart, however slow the machine is.
    const client = await connect(t, server.address, { sessionTimeout: 90_000 })
    const writer = await connect(t, server.address, { sessionTimeout: 90_000 })
    const path = unique('restart')
    await client.create(path, Buffer.from('0'))
    const eph = await client.create(`${path}-eph`, null, { mode: 'ephemeral' })
    const session = client.sessionId
    const states = []
    client.on('state', (s) => states.push(s))
    let fired
    const watchFired = new Promise((resolve) => { fired = resolve })
    await client.get(path, { watch: fired })
    const persistent = await client.addWatch(path)

    const disconnected = nextEvent(client, 'disconnected')
    await server.stop()
    await disconnected
    assert.equal(client.state, 'disconnected')
    // A call made while disconnected waits for the reconnect.
    const pending = client.exists(path)
    pending.catch(() => {}) // awaited below; never an unhandled rejection meanwhile
    await server.start()
    await waitFor(() => client.state === 'connected', 'the client to reconnect', 90_000).catch((error) => {
      error.message += `; client state ${client.state}, states seen ${JSON.stringify(states)}; ` +
        `server log:\n${server.tail(60)}`
      throw error
    })
    assert.ok(await within(pending, 'the call made while disconnected'))
    assert.deepEqual(states, ['disconnected', 'connected'])
    assert.equal(client.sessionId, session, 'the session survived the restart')
    assert.ok(await writer.exists(eph), 'and so did its ephemeral node')

    await waitFor(() => writer.state === 'connected', 'the writer to reconnect')
    await writer.set(path, Buffer.from('1'))
    const event = await within(watchFired, 'the one-shot watch after the restart')
    assert.equal(event.type, 'nodeDataChanged')
    // The persistent watch saw the disconnection and the reconnection, then the change.
    const seen = []
    for await (const e of persistent) {
      seen.push(e.type === 'none' ? e.state : e.type)
      if (e.type === 'nodeDataChanged') break
    }
    assert.deepEqual(seen, ['disconnected', 'syncConnected', 'nodeDataChanged'])
  })
})

describe('session expiry', () => {
  it('a partition longer than the session timeout is reported as expired while still cut off', async (t) => {
    const proxy = await new Proxy(server).start()
    t.after(() => proxy.close())
    const client = new Client(proxy.address, { sessionTimeout: 2000 })
    t.after(() => client.close())
    await client.connect()
    const path = unique('expiry')
    await client.create(path, null, { mode: 'ephemeral' })
    const lease = await new Lock(client, unique('expiry-lock')).acquire()
    const states = []
    client.on('state', (s) => states.push(s))
    let watchEvent
    const watched = new Promise((resolve) => { watchEvent = resolve })
    await client.exists(path, { watch: watchEvent })
    const { changed } = await client.getWatched(path)
    const stream = await client.addWatch('/', { recursive: true })

    const expired = nextEvent(client, 'expired')
    proxy.stall()
    const pending = client.get(path)
    await assert.rejects(within(pending, 'the request in flight'), { code: 'CONNECTIONLOSS', errno: -4 })
    await expired
    assert.deepEqual(states, ['disconnected', 'expired'])
    assert.equal(client.state, 'expired')
    assert.equal((await within(watched, 'the watch callback')).state, 'expired')
    assert.equal((await within(changed, 'changed')).state, 'expired')
    assert.equal(lease.lost, true)
    await within(lease.whenLost(), 'the lease loss')
    const streamed = []
    for await (const e of stream) streamed.push(e.state)
    assert.equal(streamed.at(-1), 'expired', 'the persistent watch ends with the expiry')
    await assert.rejects(client.get('/'), { code: 'SESSIONEXPIRED', errno: -112 })
    await assert.rejects(client.create(unique('after'), null), { code: 'SESSIONEXPIRED' })

    proxy.resume()
    const observer = await connect(t, server.address)
    await waitFor(async () => (await observer.exists(path)) === null, 'the server to expire the session too')
    await client.close()
    assert.equal(client.state, 'expired', 'close() after expiry changes nothing')
  })
})

describe('auth failure', () => {
  it('credentials the server refuses end the session with authFailed', async (t) => {
    const client = await connect(t, server.address)
    const states = []
    client.on('state', (s) => states.push(s))
    const failed = nextEvent(client, 'authFailed')
    await assert.rejects(client.addAuth('no-such-scheme', 'secret'), { code: 'AUTHFAILED', errno: -115 })
    await failed
    assert.deepEqual(states, ['authFailed'])
    assert.equal(client.state, 'authFailed')
    await assert.rejects(client.get('/'), { code: 'AUTHFAILED' })
    await client.close()
    assert.equal(client.state, 'authFailed')
  })
})
