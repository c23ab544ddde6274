// TLS to a `secureClientPort` (PEM files made with openssl at test time), against the
// server ZK_NODE_SERVER names (zk-server by default; the test command runs this file
// against Apache ZooKeeper 3.8 too, which needs the Netty connection factory).

import assert from 'node:assert/strict'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'

import { ActiveStandbyElector, Client } from 'zk-client'
import { HOST, freePort, makeCerts, startServer, tlsServerConfig, unique, waitFor } from './support.mjs'

let server
let certs
let secure
before(async () => {
  certs = makeCerts()
  const securePort = await freePort()
  server = await startServer({ config: tlsServerConfig(securePort, certs) })
  secure = `${HOST}:${securePort}`
})
after(async () => { await server?.stop() })

/** Connects over TLS, retrying until the secure port serves (it may open after the plain one). */
async function connectTls (t, hosts, tls) {
  return await waitFor(async () => {
    const client = new Client(hosts, { sessionTimeout: 10_000, connectTimeout: 5_000, tls })
    try {
      await client.connect()
    } catch (error) {
      await client.close()
      throw error
    }
    t.after(() => client.close())
    return client
  }, `a TLS session on ${hosts}`)
}

/** True when connecting with `tls` fails within its connect timeout (never hangs). */
async function refused (hosts, tls) {
  const client = new Client(hosts, { sessionTimeout: 10_000, connectTimeout: 3_000, tls })
  try {
    await client.connect()
    return false
  } catch {
    return true
  } finally {
    await client.close()
  }
}

describe('tls', () => {
  it('connects with a client certificate: calls work and whoAmI shows x509', async (t) => {
    const client = await connectTls(t, secure, { ca: certs('ca.crt'), cert: certs('client.crt'), key: certs('client.key') })
    const node = unique('tls')
    await client.create(node, Buffer.from('sealed'))
    const big = Buffer.alloc(200_000, 7)
    await client.set(node, big)
    const { data, stat } = await client.get(node)
    assert.ok(data.equals(big))
    assert.equal(stat.version, 1)
    const who = await client.whoAmI()
    assert.ok(who.some((i) => i.authScheme === 'x509' && i.user.includes('CN=client')), JSON.stringify(who))
  })

  it('without a client certificate: connected, not known as x509', async (t) => {
    const client = await connectTls(t, secure, { ca: certs('ca.crt') })
    const who = await client.whoAmI()
    assert.ok(who.every((i) => i.authScheme !== 'x509'), JSON.stringify(who))
  })

  it('refuses a server signed by an untrusted authority, and a wrong host name unless told not to check', async (t) => {
    // First a trusting connection, so a refusal below is the certificate's doing, not a late port.
    await connectTls(t, secure, { ca: certs('ca.crt') })
    assert.ok(await refused(secure, { ca: certs('other-ca.crt') }), 'an untrusted server was accepted')
    const byName = secure.replace(HOST, 'localhost')
    assert.ok(await refused(byName, { ca: certs('ca.crt') }), 'a certificate for 127.0.0.1 passed as localhost')
    const client = await connectTls(t, byName, { ca: certs('ca.crt'), verifyHostname: false })
    assert.ok(await client.exists('/') !== null)
  })

  it('an ActiveStandbyElector speaks TLS too', async () => {
    const tls = { ca: certs('ca.crt'), cert: certs('client.crt'), key: certs('client.key') }
    const elector = new ActiveStandbyElector(secure, { parent: unique('elector'), connectPause: 100, tls }, {})
    try {
      await elector.ensureParent()
      assert.equal(await elector.parentExists(), true)
    } finally {
      await elector.close()
    }
  })

  it('unusable files are BADARGUMENTS naming the file; bad option types are TypeErrors', async () => {
    const missing = path.join(path.dirname(certs('ca.crt')), 'missing-ca.pem')
    const client = new Client(secure, { tls: { ca: missing } })
    await assert.rejects(client.connect(), (e) => e.code === 'BADARGUMENTS' && e.message.includes('missing-ca.pem'))
    await client.close()
    // A certificate without its key is refused at once.
    assert.throws(() => new Client(secure, { tls: { ca: certs('ca.crt'), cert: certs('client.crt') } }),
      (e) => e.code === 'BADARGUMENTS' && e.message.includes('key file'))
    assert.throws(() => new Client(secure, { tls: { cert: certs('client.crt') } }), TypeError)
    assert.throws(() => new Client(secure, { tls: { ca: certs('ca.crt'), verifyHostname: 'yes' } }), TypeError)
  })
})
