// ESM entry: the same objects as the CommonJS entry (one copy of the module state).
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const zk = require('./index.js')

export const {
  Client,
  Transaction,
  PersistentWatch,
  ZkError,
  Codes,
  CreateMode,
  Perms,
  Acls,
  Lease,
  Lock,
  ReadWriteLock,
  Semaphore,
  LeaderElection,
  Barrier,
  DoubleBarrier,
  Queue,
  Counter,
  Group,
  GroupMember,
  TreeCache,
  ActiveStandbyElector,
  ActiveNodeInfo
} = zk

export default zk
