// Every Client method, every create mode, errors and bad input, transactions, ACLs and
// auth, abort and use after close, against the server ZK_NODE_SERVER names (zk-server by
// default; the test command runs this file against Apache ZooKeeper 3.8 too).

import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'

import {
  Acls, Client, Codes, CreateMode, Perms, ZkError
} from 'zk-client'
import { KIND, Proxy, connect, nextEvent, startServer, unique, waitFor, within } from './support.mjs'

let server
before(async () => { server = await startServer() })
after(async () => { await server?.stop() })

describe('connect and close', () => {
  it('connects, reports states in order, and closes', async (t) => {
    const client = new Client(server.address, { sessionTimeout: 8000 })
    const states = []
    client.on('state', (s) => states.push(s))
    const named = []
    client.on('connected', () => named.push('connected'))
    client.on('closed', () => named.push('closed'))
    assert.equal(client.state, 'connecting')
    await client.connect()
    assert.equal(client.state, 'connected')
    assert.deepEqual(states, ['connected'], 'the connected event comes before connect() resolves')
    assert.equal(typeof client.sessionId, 'bigint')
    assert.ok(client.sessionId > 0n)
    assert.ok(Buffer.isBuffer(client.sessionPassword) && client.sessionPassword.length > 0)
    assert.ok(client.sessionTimeout >= 1000 && client.sessionTimeout <= 8000, `negotiated ${client.sessionTimeout}`)
    await client.close()
    assert.deepEqual(states, ['connected', 'closed'])
    assert.deepEqual(named, ['connected', 'closed'])
    assert.equal(client.state, 'closed')
    await client.close() // again: fine
  })

  it('connect() rejects after connectTimeout instead of hanging, and closes the client', async (t) => {
    const proxy = await new Proxy(server).start()
    t.after(() => proxy.close())
    proxy.stall()
    const client = new Client(proxy.address, { sessionTimeout: 4000, connectTimeout: 600 })
    const started = Date.now()
    await assert.rejects(client.connect(), (e) => e instanceof ZkError && e.code === 'OPERATIONTIMEOUT' && e.errno === -7)
    assert.ok(Date.now() - started < 20_000)
    await waitFor(() => client.state === 'closed', 'the timed-out client to be closed')
    await assert.rejects(client.get('/'), { code: 'CLOSING' })
  })

  it('connect() takes an AbortSignal and closes the client when it fires', async (t) => {
    const proxy = await new Proxy(server).start()
    t.after(() => proxy.close())
    proxy.stall()
    const client = new Client(proxy.address, { sessionTimeout: 4000 })
    const controller = new AbortController()
    const connecting = client.connect({ signal: controller.signal })
    setImmediate(() => controller.abort(new Error('user gave up')))
    await assert.rejects(connecting, (e) => e.name === 'AbortError' && e.code === 'ABORT_ERR' && e.cause.message === 'user gave up')
    await waitFor(() => client.state === 'closed', 'the aborted client to be closed')
  })

  it('requestTimeout bounds every call; auth credentials are sent at connect', async (t) => {
    const proxy = await new Proxy(server).start()
    t.after(() => proxy.close())
    const client = await connect(t, proxy.address, {
      sessionTimeout: 30_000,
      requestTimeout: 300,
      auth: [{ scheme: 'digest', auth: 'carol:pw' }]
    })
    const who = await client.whoAmI()
    assert.ok(who.some((i) => i.authScheme === 'digest' && i.user.startsWith('carol')), JSON.stringify(who))
    proxy.stall()
    const started = Date.now()
    await assert.rejects(client.get('/'), { code: 'OPERATIONTIMEOUT', errno: -7 })
    assert.ok(Date.now() - started < 20_000)
  })

  it('calls before connect() reject with INVALIDSTATE', async () => {
    const client = new Client(server.address)
    await assert.rejects(client.get('/'), { code: 'INVALIDSTATE', errno: Codes.INVALIDSTATE })
    await client.close()
  })

  it('resumes a session from its id and password', async (t) => {
    // The first client is cut off, so it cannot take the session back.
    const proxy = await new Proxy(server).start()
    t.after(() => proxy.close())
    const first = await connect(t, proxy.address)
    const path = unique('resume')
    await first.create(path, null, { mode: 'ephemeral' })
    proxy.stall()
    const second = await connect(t, server.address, {
      session: { id: first.sessionId, password: first.sessionPassword }
    })
    assert.equal(second.sessionId, first.sessionId)
    assert.deepEqual(await second.getEphemerals(path), [path])
  })
})

describe('operations', () => {
  let client
  before(async () => {
    client = new Client(server.address, { sessionTimeout: 10_000 })
    await client.connect()
  })
  after(() => client.close())

  it('creates nodes in all seven modes', async () => {
    const base = unique('modes')
    await client.create(base, Buffer.from('root'))
    const created = {}
    for (const mode of Object.values(CreateMode)) {
      const ttl = mode.includes('Ttl') ? 60_000 : undefined
      created[mode] = await client.create(`${base}/${mode}-`, Buffer.from(mode), { mode, ttl })
    }
    assert.equal(created.persistent, `${base}/persistent-`)
    assert.equal(created.ephemeral, `${base}/ephemeral-`)
    assert.equal(created.container, `${base}/container-`)
    assert.equal(created.persistentWithTtl, `${base}/persistentWithTtl-`)
    for (const mode of ['persistentSequential', 'ephemeralSequential', 'persistentSequentialWithTtl']) {
      assert.match(created[mode], new RegExp(`^${base}/${mode}-\\d{10}$`))
    }
    const ephemeral = await client.exists(created.ephemeral)
    assert.equal(ephemeral.ephemeralOwner, client.sessionId)
    assert.equal((await client.exists(created.ephemeralSequential)).ephemeralOwner, client.sessionId)
    assert.equal((await client.exists(created.persistent)).ephemeralOwner, 0n)
    for (const [mode, path] of Object.entries(created)) {
      const { data } = await client.get(path)
      assert.equal(data.toString(), mode)
    }
    assert.deepEqual((await client.getEphemerals(base)).sort(), [created.ephemeral, created.ephemeralSequential].sort())
  })

  it('refuses bad TTL use and unknown modes with BADARGUMENTS', async () => {
    const base = unique('ttl')
    await assert.rejects(client.create(base, null, { mode: 'persistentWithTtl' }), { code: 'BADARGUMENTS', errno: -8 })
    await assert.rejects(client.create(base, null, { mode: 'persistent', ttl: 1000 }), { code: 'BADARGUMENTS' })
    await assert.rejects(client.create(base, null, { mode: 'ephemeralish' }), (e) => e.code === 'BADARGUMENTS' && /persistent, ephemeral/.test(e.message))
    assert.equal(await client.exists(base), null, 'nothing was created')
  })

  it('create with {stat: true}, null data and empty data', async () => {
    const path = unique('stat')
    const { path: created, stat } = await client.create(path, null, { stat: true })
    assert.equal(created, path)
    assert.equal(stat.version, 0)
    assert.equal(stat.dataLength, 0)
    assert.ok(stat.czxid > 0)
    const empty = await client.get(path)
    assert.ok(Buffer.isBuffer(empty.data))
    assert.equal(empty.data.length, 0)
    await client.create(`${path}/u8`, new Uint8Array([1, 2, 3]))
    assert.deepEqual([...(await client.get(`${path}/u8`)).data], [1, 2, 3])
  })

  it('data of every size comes back byte for byte', async () => {
    const path = unique('sizes')
    await client.create(path, null)
    for (const size of [1, 100, 65_535, 65_536, 65_537, 200_000]) {
      const data = Buffer.alloc(size)
      for (let i = 0; i < size; i++) data[i] = (i * 31 + size) & 0xff
      await client.set(path, data)
      const [got, cached] = await Promise.all([client.get(path), client.get(path)])
      assert.ok(got.data.equals(data), `size ${size}`)
      assert.ok(cached.data.equals(data), `size ${size}, twice at once`)
      assert.equal(got.stat.dataLength, size)
    }
  })

  it('get, set with versions, exists, delete', async () => {
    const path = unique('crud')
    await client.create(path, Buffer.from('v0'))
    const { data, stat } = await client.get(path)
    assert.equal(data.toString(), 'v0')
    assert.equal(stat.version, 0)
    assert.equal(stat.dataLength, 2)
    assert.equal(stat.numChildren, 0)
    for (const key of ['czxid', 'mzxid', 'pzxid', 'ctime', 'mtime', 'cversion', 'aversion']) {
      assert.equal(typeof stat[key], 'number', key)
    }
    const set1 = await client.set(path, Buffer.from('v1'), { version: 0 })
    assert.equal(set1.version, 1)
    assert.ok(set1.mzxid > stat.mzxid)
    const set2 = await client.set(path, Buffer.from('v2'), 1)
    assert.equal(set2.version, 2)
    await assert.rejects(client.set(path, Buffer.from('stale'), { version: 0 }), (e) =>
      e instanceof ZkError && e instanceof Error && e.code === 'BADVERSION' && e.errno === -103 && e.message.includes(path))
    assert.equal((await client.set(path, Buffer.from('any'))).version, 3)
    assert.equal((await client.exists(path)).version, 3)
    await assert.rejects(client.delete(path, { version: 1 }), { code: 'BADVERSION' })
    await client.delete(path, { version: 3 })
    assert.equal(await client.exists(path), null)
    await assert.rejects(client.get(path), { code: 'NONODE', errno: -101 })
    await assert.rejects(client.delete(path), { code: 'NONODE' })
    await assert.rejects(client.set(path, Buffer.from('x')), { code: 'NONODE' })
  })

  it('getChildren with and without stat; NOTEMPTY, NODEEXISTS, NOCHILDRENFOREPHEMERALS', async () => {
    const path = unique('children')
    await client.create(path, null)
    for (const name of ['a', 'b', 'c']) await client.create(`${path}/${name}`, null)
    assert.deepEqual((await client.getChildren(path)).sort(), ['a', 'b', 'c'])
    const { children, stat } = await client.getChildren(path, { stat: true })
    assert.deepEqual(children.sort(), ['a', 'b', 'c'])
    assert.equal(stat.numChildren, 3)
    assert.equal(stat.cversion, 3)
    await assert.rejects(client.delete(path), { code: 'NOTEMPTY', errno: -111 })
    await assert.rejects(client.create(`${path}/a`, null), { code: 'NODEEXISTS', errno: -110 })
    const eph = await client.create(`${path}/eph`, null, { mode: 'ephemeral' })
    await assert.rejects(client.create(`${eph}/child`, null), { code: 'NOCHILDRENFOREPHEMERALS', errno: -108 })
    await assert.rejects(client.getChildren(`${path}/none`), { code: 'NONODE' })
    assert.equal(await client.getAllChildrenNumber(path), 4)
  })

  it('mkdirp and removeRecursive', async () => {
    const base = unique('tree')
    await client.mkdirp(`${base}/a/b/c`)
    await client.mkdirp(`${base}/a/b/c`)
    assert.ok(await client.exists(`${base}/a/b/c`))
    await client.create(`${base}/a/x`, Buffer.from('1'))
    await client.removeRecursive(base)
    assert.equal(await client.exists(base), null)
    await client.removeRecursive(base) // missing: fine
  })

  it('sync, getAcl/setAcl, addAuth and whoAmI', async (t) => {
    await client.sync('/')
    await client.sync()
    const path = unique('acl')
    await client.create(path, Buffer.from('secret'))
    const open = await client.getAcl(path)
    assert.deepEqual(open.acl, [{ perms: Perms.ALL, scheme: 'world', id: 'anyone' }])
    const owner = await connect(t, server.address)
    await owner.addAuth('digest', 'alice:pw')
    const who = await owner.whoAmI()
    assert.ok(who.some((i) => i.authScheme === 'digest' && i.user.startsWith('alice')), JSON.stringify(who))
    const guarded = unique('guarded')
    await owner.create(guarded, Buffer.from('mine'), { acl: Acls.CREATOR_ALL })
    const acl = (await owner.getAcl(guarded)).acl
    assert.equal(acl.length, 1)
    assert.equal(acl[0].scheme, 'digest')
    assert.equal(acl[0].perms, Perms.ALL)
    await assert.rejects(client.get(guarded), { code: 'NOAUTH', errno: -102 })
    assert.equal((await owner.get(guarded)).data.toString(), 'mine')
    const stat = await owner.setAcl(guarded, Acls.READ_UNSAFE, { version: 0 })
    assert.equal(stat.aversion, 1)
    assert.equal((await client.get(guarded)).data.toString(), 'mine')
    await assert.rejects(client.set(guarded, Buffer.from('x')), { code: 'NOAUTH' })
    // READ_UNSAFE took the owner's ADMIN permission away.
    await assert.rejects(owner.setAcl(guarded, Acls.OPEN_UNSAFE), { code: 'NOAUTH' })
    const mine = unique('versioned')
    await owner.create(mine, null)
    await assert.rejects(owner.setAcl(mine, Acls.READ_UNSAFE, { version: 3 }), { code: 'BADVERSION' })
    await assert.rejects(client.create(unique('badacl'), null, { acl: [] }), { code: 'INVALIDACL', errno: -114 })
  })

  it('transactions apply all ops or none and name the failing op', async () => {
    const base = unique('multi')
    await client.create(base, Buffer.from('0'))
    const results = await client.transaction()
      .check(base, 0)
      .create(`${base}/a`, Buffer.from('a'))
      .create(`${base}/seq-`, null, { mode: 'persistentSequential' })
      .set(base, Buffer.from('1'), { version: 0 })
      .delete(`${base}/a`)
      .commit()
    assert.deepEqual(results.map((r) => r.type), ['check', 'create', 'create', 'set', 'delete'])
    assert.equal(results[1].path, `${base}/a`)
    assert.match(results[2].path, /\/seq-\d{10}$/)
    assert.equal(results[3].stat.version, 1)
    await assert.rejects(
      client.transaction()
        .create(`${base}/b`, Buffer.from('b'))
        .set(base, Buffer.from('2'), 7)
        .create(`${base}/c`, null)
        .commit(),
      (e) => e instanceof ZkError && e.code === 'BADVERSION' && e.index === 1 && e.path === base)
    assert.equal(await client.exists(`${base}/b`), null, 'nothing of the failed transaction was applied')
    assert.deepEqual(await client.transaction().commit(), [])
  })

  it('errors carry code, errno and a message naming the path', async () => {
    const path = unique('missing')
    const error = await client.get(path).catch((e) => e)
    assert.ok(error instanceof ZkError)
    assert.ok(error instanceof Error)
    assert.equal(error.name, 'ZkError')
    assert.equal(error.code, 'NONODE')
    assert.equal(error.errno, Codes.NONODE)
    assert.equal(error.path, path)
    assert.match(error.message, new RegExp(`NoNode.*${path}`))
    assert.match(error.stack, /ZkError/)
  })
})

describe('bad input', () => {
  let client
  before(async () => {
    client = new Client(server.address)
    await client.connect()
  })
  after(() => client.close())

  it('a string as data is a TypeError and nothing is sent', async () => {
    const path = unique('str')
    await assert.rejects(client.create(path, 'text'), (e) => e instanceof TypeError && e.code === 'ERR_INVALID_ARG_TYPE')
    await client.create(path, null)
    await assert.rejects(client.set(path, 'text'), TypeError)
    await assert.rejects(client.set(path, { length: 3 }), TypeError)
    assert.throws(() => client.transaction().set(path, 'x'), TypeError)
    assert.equal((await client.get(path)).stat.version, 0)
  })

  it('wrong argument types are TypeErrors; wrong values RangeErrors', async () => {
    await assert.rejects(client.get(42), TypeError)
    await assert.rejects(client.get(null), TypeError)
    await assert.rejects(client.exists('/', { watch: 'yes' }), TypeError)
    await assert.rejects(client.delete('/x', { version: 1.5 }), RangeError)
    await assert.rejects(client.delete('/x', { version: '1' }), TypeError)
    await assert.rejects(client.create('/x', null, { acl: 'open' }), TypeError)
    await assert.rejects(client.create('/x', null, { acl: [{ perms: 99, scheme: 'world', id: 'anyone' }] }), RangeError)
    await assert.rejects(client.get('/', { signal: 'stop' }), TypeError)
    await assert.rejects(client.addAuth('digest', 7), TypeError)
    assert.throws(() => new Client(7), TypeError)
    assert.throws(() => new Client('127.0.0.1:1', { sessionTimeout: -5 }), RangeError)
    assert.throws(() => new Client('127.0.0.1:1', { session: { id: 5, password: Buffer.alloc(16) } }), TypeError)
  })

  it('bad paths and connect strings are ZkErrors BADARGUMENTS', async () => {
    for (const path of ['', 'relative', '/trailing/', '//double', '/a/./b', '/nul\u0000']) {
      await assert.rejects(client.get(path), { code: 'BADARGUMENTS' }, JSON.stringify(path))
      await assert.rejects(client.create(path, null), { code: 'BADARGUMENTS' }, JSON.stringify(path))
    }
    assert.throws(() => new Client(''), (e) => e instanceof ZkError && e.code === 'BADARGUMENTS')
    assert.throws(() => new Client('host:notaport'), { code: 'BADARGUMENTS' })
    await assert.rejects(client.removeWatches('/', 'sometimes'), { code: 'BADARGUMENTS' })
  })
})

describe('abort', () => {
  let client
  before(async () => {
    client = new Client(server.address)
    await client.connect()
  })
  after(() => client.close())

  it('an aborted signal rejects at once and sends nothing', async () => {
    const path = unique('aborted')
    const controller = new AbortController()
    controller.abort()
    await assert.rejects(client.create(path, null, { signal: controller.signal }), { name: 'AbortError' })
    await assert.rejects(client.get('/', { signal: controller.signal }), { name: 'AbortError' })
    await assert.rejects(client.transaction().create(path, null).commit({ signal: controller.signal }), { name: 'AbortError' })
    assert.equal(await client.exists(path), null)
  })

  it('aborting cancels the wait of a call in flight', async (t) => {
    const proxy = await new Proxy(server).start()
    t.after(() => proxy.close())
    const slow = await connect(t, proxy.address, { sessionTimeout: 20_000 })
    proxy.stall()
    const controller = new AbortController()
    const pending = slow.get('/', { signal: controller.signal })
    const other = slow.exists('/', { signal: AbortSignal.timeout(200) })
    setTimeout(() => controller.abort(), 50)
    await assert.rejects(within(pending, 'the aborted get'), (e) => e.name === 'AbortError' && e.code === 'ABORT_ERR')
    await assert.rejects(within(other, 'the timed-out exists'), (e) => e.name === 'AbortError' && e.cause.name === 'TimeoutError')
    // resume() also cuts the stalled connection: the client must notice that and reconnect
    // (until it has, its state still says connected).
    const reconnected = nextEvent(slow, 'connected')
    proxy.resume()
    await reconnected
    assert.ok(await slow.exists('/'))
  })

  it('one signal shared by many calls adds one listener', async () => {
    const controller = new AbortController()
    const warnings = []
    const onWarning = (w) => warnings.push(w)
    process.on('warning', onWarning)
    try {
      await Promise.all(Array.from({ length: 200 }, () => client.exists('/', { signal: controller.signal })))
    } finally {
      process.off('warning', onWarning)
    }
    assert.deepEqual(warnings.map(String), [])
  })
})

describe('use after close', () => {
  it('every call rejects with CLOSING and nothing crashes', async () => {
    const client = new Client(server.address)
    await client.connect()
    await client.close()
    const calls = [
      client.create('/x', null), client.get('/'), client.set('/', Buffer.alloc(0)), client.exists('/'),
      client.getChildren('/'), client.delete('/x'), client.getAcl('/'), client.setAcl('/', Acls.OPEN_UNSAFE),
      client.sync('/'), client.addAuth('digest', 'a:b'), client.whoAmI(), client.getEphemerals(),
      client.transaction().check('/', -1).commit(), client.mkdirp('/a/b'), client.removeRecursive('/a'),
      client.addWatch('/'), client.getWatched('/'), client.getAllChildrenNumber('/'), client.connect()
    ]
    for (const call of calls) {
      await assert.rejects(call, (e) => e instanceof ZkError && e.code === 'CLOSING' && e.errno === -116)
    }
    await client.close()
    assert.equal(client.state, 'closed')
  })

  it('calls in flight when close() is called settle', async () => {
    const client = new Client(server.address)
    await client.connect()
    const inflight = Array.from({ length: 50 }, () => client.exists('/').then(() => 'ok', (e) => e.code))
    await client.close()
    for (const outcome of await Promise.all(inflight)) {
      assert.ok(outcome === 'ok' || outcome === 'CLOSING' || outcome === 'CONNECTIONLOSS', outcome)
    }
  })
})

describe('server kind', () => {
  it(`runs against ${KIND}`, () => {
    assert.ok(['zk', 'apache'].includes(KIND))
  })
})
