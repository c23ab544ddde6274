// `await using` with a lease, an election, a persistent watch and a group membership: the
// disposals release them at the end of the block. using.test.mjs compiles this with tsc
// (Node 20 has no `using` syntax yet) and runs it against a server.
import { Client, Group, LeaderElection, Lock } from 'zk-client'

const address = process.argv[2] ?? '127.0.0.1:2181'
const client = new Client(address)
await client.connect()
const lock = new Lock(client, `/using-${process.pid}`)
let inside = 0
{
  await using lease = await lock.acquire()
  await using election = await new LeaderElection(client, `/using-election-${process.pid}`, 'me').start()
  await using member = await new Group(client, `/using-group-${process.pid}`).join('me', null)
  using watch = await client.addWatch('/', { recursive: true })
  inside = (await lock.contenders()).length + (await election.participants()).length + (await member.members()).length
  if (lease.lost || watch.closed) throw new Error('held things were lost inside the block')
}
const after = (await lock.contenders()).length
const members = (await new Group(client, `/using-group-${process.pid}`).members()).length
await client.close()
console.log(`inside ${inside} after ${after} ${members}`)
