// SASL DIGEST-MD5 (`sasl: {username, password}`) against the server ZK_NODE_SERVER names
// (zk-server by default; the test command runs this file against Apache ZooKeeper 3.8 too,
// with the `sasl` auth provider), both given the same JAAS `Server` section: a `sasl:bob`
// ACL, wrong credentials, enforcement, and re-authentication after the connection is cut.

import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'

import { Client, ZkError } from 'zk-client'
import { Proxy, startServer, unique, waitFor } from './support.mjs'

const BOB = { username: 'bob', password: 'bobsecret' }
const ALICE = { username: 'alice', password: 'alicesecret' }
const BOB_ONLY = [{ perms: 31, scheme: 'sasl', id: 'bob' }]
const PROVIDER = { 'authProvider.1': 'org.apache.zookeeper.server.auth.SASLAuthenticationProvider' }
const ENFORCE = { 'enforce.auth.enabled': 'true', 'enforce.auth.schemes': 'sasl' }

let server
let enforcing
before(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zk-node-sasl-'))
  const jaas = path.join(dir, 'jaas.conf')
  fs.writeFileSync(jaas, 'Server {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n' +
    '  user_bob="bobsecret"\n  user_alice="alicesecret";\n};\n')
  const jvmFlags = [`-Djava.security.auth.login.config=${jaas}`]
  server = await startServer({ config: PROVIDER, jvmFlags })
  enforcing = await startServer({ config: { ...PROVIDER, ...ENFORCE }, jvmFlags, probe: { sasl: BOB } })
})
after(async () => {
  await server?.stop()
  await enforcing?.stop()
})

/** A connected client with `sasl` credentials (or none); closed by `t.after`. */
async function open (t, address, sasl) {
  const client = new Client(address, { sessionTimeout: 10_000, ...(sasl ? { sasl } : {}) })
  t.after(() => client.close())
  const states = []
  client.on('state', (state) => states.push(state))
  await client.connect()
  return { client, states }
}

describe('SASL DIGEST-MD5', () => {
  it('a sasl:bob node is readable by bob only; connect() resolves once authenticated', async (t) => {
    const { client: bob, states } = await open(t, server.address, BOB)
    assert.equal(bob.state, 'saslAuthenticated')
    assert.deepEqual(states, ['connected', 'saslAuthenticated'])
    const node = unique('sasl')
    await bob.create(node, Buffer.from('secret'), { acl: BOB_ONLY, mode: 'ephemeral' })
    assert.equal((await bob.get(node)).data.toString(), 'secret')
    const who = await bob.whoAmI()
    assert.ok(who.some((c) => c.authScheme === 'sasl' && c.user === 'bob'), JSON.stringify(who))
    const { client: alice } = await open(t, server.address, ALICE)
    await assert.rejects(alice.get(node), { code: 'NOAUTH' })
    const { client: anonymous } = await open(t, server.address, null)
    await assert.rejects(anonymous.get(node), { code: 'NOAUTH' })
  })

  it('wrong credentials reject connect() with AUTHFAILED and end the client', async (t) => {
    for (const wrong of [{ username: 'bob', password: 'wrong' }, { username: 'nobody', password: 'x' }]) {
      const client = new Client(server.address, { sessionTimeout: 10_000, sasl: wrong })
      t.after(() => client.close())
      await assert.rejects(client.connect(), (e) => e instanceof ZkError && e.code === 'AUTHFAILED')
      assert.equal(client.state, 'authFailed')
      await assert.rejects(client.get('/'), { code: 'AUTHFAILED' })
    }
  })

  it('refuses mechanisms other than DIGEST-MD5 and malformed options', () => {
    assert.throws(() => new Client(server.address, { sasl: { ...BOB, mechanism: 'GSSAPI' } }),
      (e) => e instanceof ZkError && e.code === 'BADARGUMENTS' && /GSSAPI/.test(e.message))
    assert.throws(() => new Client(server.address, { sasl: { username: 'bob' } }), TypeError)
  })

  it('every new connection authenticates again', async (t) => {
    const { client: owner } = await open(t, server.address, BOB)
    const node = unique('again')
    await owner.create(node, Buffer.from('again'), { acl: BOB_ONLY, mode: 'ephemeral' })
    const proxy = await new Proxy(server).start()
    t.after(() => proxy.close())
    const { client, states } = await open(t, proxy.address, BOB)
    const session = client.sessionId
    for (let round = 0; round < 2; round++) {
      const from = states.length
      proxy.cut()
      await waitFor(() => states.slice(from).includes('saslAuthenticated'),
        `round ${round}: authenticated again (${states.slice(from)})`)
      assert.deepEqual(states.slice(from), ['disconnected', 'connected', 'saslAuthenticated'])
      assert.equal((await client.get(node)).data.toString(), 'again')
      assert.equal(client.sessionId, session)
    }
  })

  it('under enforce.auth.schemes=sasl an authenticated client works and others are refused', async (t) => {
    const { client: bob } = await open(t, enforcing.address, BOB)
    const node = unique('enforced')
    await bob.create(node, Buffer.from('ok'), { mode: 'ephemeral' })
    assert.equal((await bob.get(node)).data.toString(), 'ok')
    const { client: anonymous } = await open(t, enforcing.address, null)
    await assert.rejects(anonymous.get(node),
      (e) => e instanceof ZkError && ['SESSIONCLOSEDREQUIRESASLAUTH', 'CONNECTIONLOSS'].includes(e.code))
  })
})
