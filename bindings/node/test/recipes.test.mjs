// The recipes from the core, as Node sees them: locks (exclusion, fencing tokens,
// timeouts, abort, disposal), read-write lock, semaphore, leader election events,
// barriers, queue, counter, group membership and the tree cache.

import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'

import {
  Barrier, Client, Counter, DoubleBarrier, Group, LeaderElection, Lease, Lock, Queue,
  ReadWriteLock, Semaphore, TreeCache, ZkError
} from 'zk-client'
import { nextEvent, startServer, unique, waitFor, within } from './support.mjs'

let server
const clients = []
before(async () => {
  server = await startServer()
  for (let i = 0; i < 3; i++) {
    const client = new Client(server.address, { sessionTimeout: 10_000 })
    await client.connect()
    clients.push(client)
  }
})
after(async () => {
  for (const client of clients) await client.close()
  await server?.stop()
})

describe('Lock', () => {
  it('excludes: one holder at a time, fencing tokens grow', async () => {
    const path = unique('lock')
    let holders = 0
    let maxHolders = 0
    const tokens = []
    const work = clients.map(async (client) => {
      const lock = new Lock(client, path)
      for (let i = 0; i < 4; i++) {
        const lease = await within(lock.acquire(), 'the lock')
        assert.ok(lease instanceof Lease)
        holders++
        maxHolders = Math.max(maxHolders, holders)
        tokens.push(lease.fencingToken)
        assert.equal(lease.lost, false)
        await client.sync(path)
        holders--
        await lease.release()
        assert.equal(lease.lost, true)
      }
    })
    await Promise.all(work)
    assert.equal(maxHolders, 1)
    assert.equal(tokens.length, 12)
    assert.deepEqual([...tokens].sort((a, b) => a - b), tokens, 'each holder has a larger token than the last')
  })

  it('tryAcquire, timeouts, abort of a waiting acquire, contenders', async () => {
    const path = unique('try')
    const [a, b] = clients
    const mine = new Lock(a, path, { data: Buffer.from('a') })
    const theirs = new Lock(b, path)
    const held = await mine.acquire()
    assert.match(held.path, new RegExp(`^${path}/_c_[0-9a-f-]{36}-lock-\\d{10}$`))
    assert.equal(await theirs.tryAcquire(), null)
    assert.equal(await theirs.acquire({ timeout: 100 }), null)
    const controller = new AbortController()
    const waiting = theirs.acquire({ signal: controller.signal })
    await waitFor(async () => (await mine.contenders()).length === 2, 'a second contender')
    controller.abort()
    await assert.rejects(waiting, { name: 'AbortError' })
    await waitFor(async () => (await mine.contenders()).length === 1, 'the aborted contender to leave')
    const next = theirs.acquire()
    await held[Symbol.asyncDispose]()
    const lease = await within(next, 'the lock after the release')
    assert.ok(lease.fencingToken > held.fencingToken)
    await lease.release()
    await lease.release() // again: fine
  })

  it('kazoo layout writes kazoo names; whenLost resolves when the node goes', async () => {
    const path = unique('kazoo')
    const [a, b] = clients
    const lease = await new Lock(a, path, { layout: 'kazoo' }).acquire()
    assert.match(lease.path, /__lock__\d{10}$/)
    const lost = lease.whenLost()
    await b.delete(lease.path)
    await within(lost, 'the loss of a deleted lock node')
    assert.equal(lease.lost, true)
    await lease.release()
    assert.throws(() => new Lock(a, path, { layout: 'etcd' }), RangeError)
    assert.throws(() => new Lock({}, path), TypeError)
  })

  it('a lock made before connect() rejects with INVALIDSTATE, then works', async () => {
    const client = new Client(server.address)
    const lock = new Lock(client, unique('early'))
    await assert.rejects(lock.acquire(), (e) => e instanceof ZkError && e.code === 'INVALIDSTATE')
    await client.connect()
    const lease = await lock.acquire()
    await lease.release()
    await client.close()
    await assert.rejects(lock.acquire(), { code: 'CLOSING' })
  })
})

describe('ReadWriteLock and Semaphore', () => {
  it('readers share, a writer waits for them', async () => {
    const path = unique('rw')
    const [a, b, c] = clients
    const r1 = await new ReadWriteLock(a, path).readLock.acquire()
    const r2 = await new ReadWriteLock(b, path).readLock.acquire()
    assert.match(r1.path, /__READ__\d{10}$/)
    const writer = new ReadWriteLock(c, path).writeLock
    assert.equal(await writer.acquire({ timeout: 100 }), null)
    const w = writer.acquire()
    await r1.release()
    await r2.release()
    const held = await within(w, 'the write lock')
    assert.match(held.path, /__WRIT__\d{10}$/)
    assert.equal(await new ReadWriteLock(a, path).readLock.acquire({ timeout: 100 }), null)
    await held.release()
  })

  it('a semaphore hands out at most maxLeases', async () => {
    const path = unique('sem')
    const [a, b, c] = clients
    const first = await new Semaphore(a, path, 2).acquire()
    const second = await new Semaphore(b, path, 2).acquire()
    const third = new Semaphore(c, path, 2)
    assert.equal(await third.acquire({ timeout: 100 }), null)
    assert.equal((await third.leaseNodes()).length, 2)
    const waiting = third.acquire()
    await first.release()
    const lease = await within(waiting, 'the third lease')
    await lease.release()
    await second.release()
    assert.throws(() => new Semaphore(a, path, 0), RangeError)
  })
})

describe('LeaderElection', () => {
  it('elects one candidate at a time and hands over on close', async () => {
    const path = unique('election')
    const [a, b] = clients
    const first = new LeaderElection(a, path, 'first')
    const second = new LeaderElection(b, path, 'second')
    const elected = nextEvent(first, 'elected')
    await first.start()
    const [token] = await elected
    assert.equal(typeof token, 'number')
    assert.equal(first.isLeader, true)
    assert.equal(first.fencingToken, token)
    await second.start()
    assert.equal(await second.waitLeadership({ timeout: 100 }), false)
    assert.equal(second.leadership, 'candidate')
    assert.deepEqual(await second.participants(), [
      { id: 'first', isLeader: true }, { id: 'second', isLeader: false }
    ])
    const secondElected = nextEvent(second, 'elected')
    const revoked = nextEvent(first, 'revoked')
    const closed = nextEvent(first, 'closed')
    await first.close()
    await revoked
    await closed
    const [token2] = await secondElected
    assert.ok(token2 > token)
    assert.equal(await second.waitLeadership(), true)
    assert.equal(first.leadership, 'closed')
    await second[Symbol.asyncDispose]()
    assert.equal(second.leadership, 'closed')
  })
})

describe('barriers', () => {
  it('a barrier blocks until removed', async () => {
    const path = unique('barrier')
    const [a, b] = clients
    const barrier = new Barrier(a, path)
    await barrier.set()
    const other = new Barrier(b, path)
    assert.equal(await other.wait({ timeout: 100 }), false)
    const waiting = other.wait()
    await barrier.remove()
    assert.equal(await within(waiting, 'the barrier to open'), true)
  })

  it('a double barrier lets members enter and leave together', async () => {
    const path = unique('double')
    const [a, b] = clients
    const one = new DoubleBarrier(a, path, 2)
    const two = new DoubleBarrier(b, path, 2)
    const entering = one.enter()
    assert.equal(await two.enter(), true)
    assert.equal(await within(entering, 'the first member to enter'), true)
    const leaving = one.leave()
    assert.equal(await two.leave(), true)
    assert.equal(await within(leaving, 'the first member to leave'), true)
  })
})

describe('Queue and Counter', () => {
  it('a queue is FIFO with priorities; take waits, poll does not', async () => {
    const path = unique('queue')
    const [a, b] = clients
    const producer = new Queue(a, path)
    const consumer = new Queue(b, path)
    assert.equal(await consumer.poll(), null)
    assert.equal(await consumer.take({ timeout: 100 }), null)
    await producer.put(Buffer.from('one'))
    await producer.put(Buffer.from('two'))
    await producer.put(Buffer.from('urgent'), { priority: 1 })
    assert.equal(await consumer.length(), 3)
    const taken = []
    for (let i = 0; i < 3; i++) taken.push((await consumer.take()).toString())
    assert.deepEqual(taken, ['urgent', 'one', 'two'])
    const waiting = consumer.take()
    await producer.put(Buffer.from('late'))
    assert.equal((await within(waiting, 'a waiting take')).toString(), 'late')
    await assert.rejects(producer.put('text'), TypeError)
    await assert.rejects(producer.put(Buffer.from('x'), { priority: 1000 }), RangeError)
  })

  it('a counter adds atomically across clients, in every format', async () => {
    for (const format of ['text', 'int32', 'int64']) {
      const path = unique(`counter-${format}`)
      const counters = clients.map((client) => new Counter(client, path, { format }))
      assert.equal(await counters[0].get(), 0)
      await Promise.all(counters.map(async (counter) => {
        for (let i = 0; i < 5; i++) await counter.add(1)
      }))
      assert.equal(await counters[1].get(), 15)
      assert.deepEqual(await counters[2].add(-5), { before: 15, after: 10 })
      assert.equal(await counters[0].set(42), 10)
      assert.equal(await counters[0].compareAndSet(41, 1), false)
      assert.equal(await counters[0].compareAndSet(42, 1), true)
      assert.equal(await counters[1].get(), 1)
    }
    const raw = unique('counter-raw')
    await new Counter(clients[0], raw, { format: 'int64' }).set(7)
    assert.deepEqual([...(await clients[0].get(raw)).data], [0, 0, 0, 0, 0, 0, 0, 7])
    assert.equal(await new Counter(clients[0], unique('default'), { default: 5 }).get(), 5)
  })
})

describe('Group', () => {
  it('members join with data, are listed, and leave', async () => {
    const path = unique('group')
    const [a, b] = clients
    const one = await new Group(a, path).join('one', Buffer.from('1'))
    const two = await new Group(b, path).join('two', Buffer.from('2'))
    assert.equal(one.id, 'one')
    const listed = (await new Group(a, path).members()).map((m) => [m.id, m.data.toString()])
    assert.deepEqual(listed.sort(), [['one', '1'], ['two', '2']])
    await two.setData(Buffer.from('22'))
    assert.deepEqual((await one.members()).map((m) => m.data.toString()).sort(), ['1', '22'])
    await assert.rejects(new Group(b, path).join('one', null), { code: 'NODEEXISTS' })
    await two[Symbol.asyncDispose]()
    assert.deepEqual((await one.members()).map((m) => m.id), ['one'])
    await one.leave()
    assert.deepEqual(await new Group(a, path).members(), [])
  })
})

describe('TreeCache', () => {
  it('loads a subtree, follows changes and reports them as events', async () => {
    const path = unique('cache')
    const [a, b] = clients
    await b.create(path, Buffer.from('root'))
    await b.create(`${path}/x`, Buffer.from('1'))
    const cache = new TreeCache(a, path)
    const created = []
    cache.on('created', (node) => created.push(node.path))
    const initialized = nextEvent(cache, 'initialized')
    await cache.start()
    await initialized
    assert.deepEqual(created.sort(), [path, `${path}/x`])
    assert.equal(cache.get(`${path}/x`).data.toString(), '1')
    assert.deepEqual(cache.children(path), ['x'])
    const changed = nextEvent(cache, 'changed')
    await b.set(`${path}/x`, Buffer.from('2'))
    const [node] = await changed
    assert.equal(node.path, `${path}/x`)
    assert.equal(node.data.toString(), '2')
    assert.equal(cache.get(`${path}/x`).stat.version, 1)
    const deleted = nextEvent(cache, 'deleted')
    await b.delete(`${path}/x`)
    assert.equal((await deleted)[0].path, `${path}/x`)
    assert.equal(cache.get(`${path}/x`), null)
    assert.deepEqual(cache.snapshot().map((n) => n.path), [path])
    const closed = nextEvent(cache, 'closed')
    cache.close()
    await closed
  })
})
