// Watches of every kind: one-shot as callbacks and as promises, persistent and recursive as
// async iterators, removal, many at once, and callbacks that throw.

import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'

import { Client, PersistentWatch, ZkError } from 'zk-client'
import { KIND, startServer, unique, waitFor, within } from './support.mjs'

let server
let client
let writer
before(async () => {
  server = await startServer()
  client = new Client(server.address, { sessionTimeout: 10_000 })
  writer = new Client(server.address, { sessionTimeout: 10_000 })
  await Promise.all([client.connect(), writer.connect()])
})
after(async () => {
  await client?.close()
  await writer?.close()
  await server?.stop()
})

/** A callback and a promise of its first call. */
function recorder () {
  let resolve
  const fired = new Promise((r) => { resolve = r })
  const events = []
  const callback = (event) => {
    events.push(event)
    resolve(event)
  }
  return { callback, fired, events }
}

function checkEvent (event, type, path) {
  assert.equal(event.type, type)
  assert.equal(event.path, path)
  assert.equal(event.state, 'syncConnected')
  assert.equal(typeof event.zxid, 'number')
  if (KIND === 'zk') assert.ok(event.zxid > 0, 'zk-server sends the zxid of the change')
}

describe('one-shot watches', () => {
  it('get with a watch callback fires once on a data change', async () => {
    const path = unique('get')
    await writer.create(path, Buffer.from('0'))
    const rec = recorder()
    const { data } = await client.get(path, { watch: rec.callback })
    assert.equal(data.toString(), '0')
    await writer.set(path, Buffer.from('1'))
    const event = await within(rec.fired, 'the data watch')
    checkEvent(event, 'nodeDataChanged', path)
    await writer.set(path, Buffer.from('2'))
    await writer.sync(path)
    await client.sync(path)
    assert.equal(rec.events.length, 1, 'a one-shot watch fires once')
  })

  it('getWatched resolves {data, stat, changed}; deletion fires it', async () => {
    const path = unique('getWatched')
    await writer.create(path, Buffer.from('x'))
    const { data, stat, changed } = await client.getWatched(path)
    assert.equal(data.toString(), 'x')
    assert.equal(stat.version, 0)
    assert.ok(changed instanceof Promise)
    await writer.delete(path)
    checkEvent(await within(changed, 'changed'), 'nodeDeleted', path)
  })

  it('a watch event reaches JavaScript before the reply of a later read showing the change', async () => {
    const path = unique('order')
    await writer.create(path, Buffer.from('0'))
    const seen = []
    await client.get(path, { watch: () => seen.push('event') })
    await writer.set(path, Buffer.from('1'))
    // Read until the new data is visible: by then the event must have been delivered.
    await waitFor(async () => (await client.get(path)).data.toString() === '1', 'the change to be visible')
    assert.deepEqual(seen, ['event'])
  })

  it('exists watches a missing node until it is created', async () => {
    const path = unique('exists')
    const rec = recorder()
    assert.equal(await client.exists(path, { watch: rec.callback }), null)
    await writer.create(path, null)
    checkEvent(await within(rec.fired, 'the exists watch'), 'nodeCreated', path)
    const { stat, changed } = await client.existsWatched(path)
    assert.equal(stat.version, 0)
    await writer.set(path, Buffer.from('y'))
    checkEvent(await within(changed, 'existsWatched'), 'nodeDataChanged', path)
  })

  it('getChildren watches fire on a child change', async () => {
    const path = unique('children')
    await writer.create(path, null)
    const rec = recorder()
    assert.deepEqual(await client.getChildren(path, { watch: rec.callback }), [])
    await writer.create(`${path}/kid`, null)
    checkEvent(await within(rec.fired, 'the child watch'), 'nodeChildrenChanged', path)
    const { children, stat, changed } = await client.getChildrenWatched(path)
    assert.deepEqual(children, ['kid'])
    assert.equal(stat.numChildren, 1)
    await writer.delete(`${path}/kid`)
    checkEvent(await within(changed, 'getChildrenWatched'), 'nodeChildrenChanged', path)
    const withStat = recorder()
    const listed = await client.getChildren(path, { stat: true, watch: withStat.callback })
    assert.deepEqual(listed.children, [])
    await writer.delete(path)
    checkEvent(await within(withStat.fired, 'the child watch on deletion'), 'nodeDeleted', path)
  })

  it('a failed read leaves no watch behind', async () => {
    const path = unique('nowatch')
    const rec = recorder()
    await assert.rejects(client.get(path, { watch: rec.callback }), { code: 'NONODE' })
    await assert.rejects(client.getWatched(path), { code: 'NONODE' })
    await assert.rejects(client.removeWatches(path), { code: 'NOWATCHER', errno: -121 })
  })

  it('removeWatches ends callbacks and promises with removal events', async () => {
    const path = unique('remove')
    await writer.create(path, null)
    const data = recorder()
    const child = recorder()
    await client.get(path, { watch: data.callback })
    await client.getChildren(path, { watch: child.callback })
    const { changed } = await client.getWatched(path)
    await client.removeWatches(path, 'data')
    assert.equal((await within(data.fired, 'data removal')).type, 'dataWatchRemoved')
    assert.equal((await within(changed, 'changed removal')).type, 'dataWatchRemoved')
    assert.equal(child.events.length, 0)
    await client.removeWatches(path, 'children')
    assert.equal((await within(child.fired, 'child removal')).type, 'childWatchRemoved')
    await assert.rejects(client.removeWatches(path, 'any'), (e) => e instanceof ZkError && e.code === 'NOWATCHER')
    // Removed watches stay silent.
    await writer.set(path, Buffer.from('after'))
    await writer.create(`${path}/c`, null)
    await client.sync(path)
    assert.equal(data.events.length, 1)
    assert.equal(child.events.length, 1)
  })

  it('a thousand watches at once: no MaxListeners warning, every one fires', async () => {
    const path = unique('many')
    await writer.create(path, null)
    const warnings = []
    const onWarning = (w) => warnings.push(w)
    process.on('warning', onWarning)
    try {
      let fired = 0
      const reads = []
      for (let i = 0; i < 500; i++) {
        reads.push(client.get(path, { watch: () => { fired++ } }))
        reads.push(client.getWatched(path))
      }
      const changed = (await Promise.all(reads)).filter((r) => r.changed !== undefined).map((r) => r.changed)
      assert.equal(changed.length, 500)
      await writer.set(path, Buffer.from('go'))
      const events = await within(Promise.all(changed), 'five hundred changed promises')
      assert.ok(events.every((e) => e.type === 'nodeDataChanged'))
      await waitFor(() => fired === 500, 'five hundred watch callbacks')
    } finally {
      process.off('warning', onWarning)
    }
    assert.deepEqual(warnings.map(String), [])
  })

  it('a throwing watch callback does not break the client', async (t) => {
    const path = unique('throws')
    await writer.create(path, null)
    const reported = []
    const onError = (e) => reported.push(e)
    client.on('error', onError)
    t.after(() => client.off('error', onError))
    const after = recorder()
    await client.get(path, { watch: () => { throw new Error('user bug') } })
    await client.exists(path, { watch: after.callback })
    await writer.set(path, Buffer.from('1'))
    await within(after.fired, 'the watch after the throwing one')
    await waitFor(() => reported.length === 1, 'the error to be reported')
    assert.equal(reported[0].message, 'user bug')
    assert.ok(await client.exists(path), 'the client still works')
  })
})

describe('persistent watches', () => {
  it('a persistent watch is an async iterator of every change of one node', async () => {
    const path = unique('persistent')
    await writer.create(path, Buffer.from('0'))
    const watch = await client.addWatch(path)
    assert.ok(watch instanceof PersistentWatch)
    assert.equal(watch.path, path)
    assert.equal(watch.recursive, false)
    await writer.set(path, Buffer.from('1'))
    await writer.create(`${path}/kid`, null)
    await writer.set(path, Buffer.from('2'))
    await writer.delete(`${path}/kid`)
    await writer.delete(path)
    const seen = []
    for await (const event of watch) {
      seen.push(event.type)
      if (seen.length === 5) break
    }
    assert.deepEqual(seen, ['nodeDataChanged', 'nodeChildrenChanged', 'nodeDataChanged', 'nodeChildrenChanged', 'nodeDeleted'])
    assert.equal(watch.closed, true, 'breaking out of for-await closes the watch')
    await assert.rejects(client.removeWatches(path, 'persistent'), { code: 'NOWATCHER' })
  })

  it('a recursive watch sees the whole subtree (no child events)', async () => {
    const path = unique('recursive')
    await writer.create(path, null)
    const watch = await client.addWatch(path, { recursive: true })
    assert.equal(watch.recursive, true)
    await writer.create(`${path}/a`, null)
    await writer.create(`${path}/a/b`, Buffer.from('x'))
    await writer.set(`${path}/a/b`, Buffer.from('y'))
    await writer.delete(`${path}/a/b`)
    const it = watch[Symbol.asyncIterator]()
    const seen = []
    for (let i = 0; i < 4; i++) {
      const { value, done } = await within(it.next(), 'a recursive event')
      assert.equal(done, false)
      seen.push(`${value.type} ${value.path.slice(path.length)}`)
      if (KIND === 'zk') assert.ok(value.zxid > 0)
    }
    assert.deepEqual(seen, ['nodeCreated /a', 'nodeCreated /a/b', 'nodeDataChanged /a/b', 'nodeDeleted /a/b'])
    await client.removeWatches(path, 'persistentRecursive')
    assert.deepEqual(await within(it.next(), 'the end'), { done: true, value: undefined })
    assert.equal(watch.closed, true)
  })

  it('close() and Symbol.asyncDispose end the iteration; a pending next() resolves done', async () => {
    const path = unique('close')
    await writer.create(path, null)
    const watch = await client.addWatch(path)
    const pending = watch.next()
    watch.close()
    assert.deepEqual(await within(pending, 'pending next'), { done: true, value: undefined })
    const other = await client.addWatch(path, { recursive: true })
    await other[Symbol.asyncDispose]()
    assert.equal(other.closed, true)
    await assert.rejects(client.removeWatches(path), { code: 'NOWATCHER' })
  })

  it('two watches on one path are independent', async () => {
    const path = unique('two')
    await writer.create(path, null)
    const a = await client.addWatch(path)
    const b = await client.addWatch(path)
    a.close()
    await writer.set(path, Buffer.from('1'))
    assert.equal((await within(b.next(), 'b')).value.type, 'nodeDataChanged')
    b.close()
  })
})
