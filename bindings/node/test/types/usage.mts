// Type-level tests of the ESM typings: compiled (not run) by `tsc -p tsconfig.json`.
import zk, {
  Acls, Barrier, Client, Codes, Counter, CreateMode, DoubleBarrier, Group, LeaderElection,
  Lock, PersistentWatch, Queue, ReadWriteLock, Semaphore, TreeCache, ZkError,
  ActiveStandbyElector, ActiveNodeInfo,
  type Lease, type OpResult, type Stat, type State, type WatchEvent, type ElectorState
} from 'zk-client'

function expectType<T> (value: T): T { return value }

export async function usage (): Promise<void> {
  const client = new Client('127.0.0.1:2181/app', { sessionTimeout: 10_000, auth: [{ scheme: 'digest', auth: 'u:p' }] })
  client.on('state', (state) => { expectType<State>(state) })
  const secure = new Client('127.0.0.1:2281', { tls: { ca: 'ca.pem', cert: 'c.crt', key: 'c.key', verifyHostname: false } })
  void secure
  // @ts-expect-error the CA file is required
  void new Client('127.0.0.1:2281', { tls: { cert: 'c.crt', key: 'c.key' } })
  const authenticated = new Client('127.0.0.1:2181', { sasl: { username: 'bob', password: 'secret' } })
  authenticated.on('saslAuthenticated', () => {})
  void authenticated
  // @ts-expect-error the password is required
  void new Client('127.0.0.1:2181', { sasl: { username: 'bob' } })
  client.on('expired', () => {})
  await client.connect({ timeout: 5000, signal: AbortSignal.timeout(6000) })
  expectType<bigint>(client.sessionId)
  expectType<State>(client.state)

  expectType<string>(await client.create('/a', Buffer.from('x'), { mode: CreateMode.EPHEMERAL_SEQUENTIAL }))
  expectType<{ path: string, stat: Stat }>(await client.create('/b', null, { stat: true, mode: 'persistentWithTtl', ttl: 1000 }))
  // @ts-expect-error a string is not data
  await client.create('/c', 'text')
  // @ts-expect-error not a mode
  await client.create('/c', null, { mode: 'sometimes' })

  const { data, stat } = await client.get('/a', { watch: (event) => { expectType<WatchEvent>(event) } })
  expectType<Buffer>(data)
  expectType<bigint>(stat.ephemeralOwner)
  const watched = await client.getWatched('/a')
  expectType<WatchEvent>(await watched.changed)
  expectType<Stat>(await client.set('/a', new Uint8Array([1]), { version: stat.version }))
  expectType<Stat | null>(await client.exists('/a'))
  expectType<string[]>(await client.getChildren('/'))
  expectType<{ children: string[], stat: Stat }>(await client.getChildren('/', { stat: true }))
  await client.delete('/a', 3)
  const results: OpResult[] = await client.transaction().check('/', -1).create('/t', null).set('/t', Buffer.alloc(0)).delete('/t').commit()
  for (const result of results) {
    if (result.type === 'create') expectType<string>(result.path)
  }
  await client.setAcl('/a', Acls.OPEN_UNSAFE)

  const watch: PersistentWatch = await client.addWatch('/', { recursive: true })
  for await (const event of watch) {
    expectType<string>(event.path)
    break
  }

  try {
    await client.get('/missing')
  } catch (error) {
    if (error instanceof ZkError && error.code === 'NONODE') expectType<number>(error.errno)
  }
  expectType<number | undefined>(Codes.NONODE)

  const lease: Lease | null = await new Lock(client, '/lock', { layout: 'kazoo' }).acquire({ timeout: 100 })
  if (lease !== null) expectType<number>(lease.fencingToken)
  const held: Lease = await new ReadWriteLock(client, '/rw').writeLock.acquire()
  await held.release()
  await new Semaphore(client, '/sem', 2).leaseNodes()
  const election = new LeaderElection(client, '/election', 'me')
  election.on('elected', (token) => { expectType<number>(token) })
  await election.start()
  await new Barrier(client, '/b').wait({ timeout: 10 })
  await new DoubleBarrier(client, '/db', 2).enter()
  expectType<Buffer | null>(await new Queue(client, '/q').take({ timeout: 1 }))
  expectType<{ before: number, after: number }>(await new Counter(client, '/n').add(1))
  const member = await new Group(client, '/g').join('me', null)
  await member.leave()
  const cache = await new TreeCache(client, '/').start()
  cache.on('changed', (node) => { expectType<Buffer>(node.data) })
  expectType<typeof Client>(zk.Client)
  await client.close()
}

export async function elector (): Promise<void> {
  const me = ActiveNodeInfo.encode({ nameserviceId: 'ns1', namenodeId: 'nn1', hostname: 'h', port: 8020 })
  const elector = new ActiveStandbyElector('127.0.0.1:2181', { nameservice: 'ns1', sessionTimeout: 5000 }, {
    becomeActive: async () => true,
    becomeStandby: () => {},
    fenceOldActive: (data) => ActiveNodeInfo.decode(data).namenodeId !== 'nn1',
    fatalError: (message) => { expectType<string>(message) }
  })
  expectType<boolean>(await elector.format({ force: true }))
  await elector.join(me)
  expectType<ElectorState>(elector.state)
  expectType<bigint>(elector.sessionId)
  const active = await elector.activeData()
  if (active !== null) expectType<number>(ActiveNodeInfo.decode(active).port)
  await elector.cede(1000)
  await elector.quit({ needFence: true })
  await elector.close()
}
