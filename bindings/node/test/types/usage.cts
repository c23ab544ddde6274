// Type-level test of the CommonJS typings.
import zk = require('zk-client')

export async function usage (): Promise<number> {
  const client = new zk.Client('127.0.0.1:2181')
  await client.connect()
  const stat = await client.exists('/')
  await client.close()
  return stat === null ? 0 : stat.numChildren
}
