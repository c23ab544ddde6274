'use strict'
// zk-client: a ZooKeeper client for Node over zk's shared Rust core.

const native = require('./native')
const { Client, Transaction } = require('./client')
const { PersistentWatch } = require('./watch')
const { ZkError, Codes } = require('./errors')
const recipes = require('./recipes')
const { ActiveStandbyElector, ActiveNodeInfo } = require('./elector')

const modes = native.createModes()

/** Create modes by name (`CreateMode.EPHEMERAL_SEQUENTIAL === 'ephemeralSequential'`). */
const CreateMode = Object.freeze(Object.fromEntries(modes.map((mode) => [
  mode.replace(/([A-Z])/g, '_$1').toUpperCase(), mode
])))

const bits = native.perms()
/** ACL permission bits (`ZooDefs.Perms`). */
const Perms = Object.freeze({
  READ: bits.read, WRITE: bits.write, CREATE: bits.create, DELETE: bits.delete, ADMIN: bits.admin, ALL: bits.all
})

/** The usual ACLs (`ZooDefs.Ids`). */
const Acls = Object.freeze({
  OPEN_UNSAFE: Object.freeze([Object.freeze({ perms: Perms.ALL, scheme: 'world', id: 'anyone' })]),
  READ_UNSAFE: Object.freeze([Object.freeze({ perms: Perms.READ, scheme: 'world', id: 'anyone' })]),
  CREATOR_ALL: Object.freeze([Object.freeze({ perms: Perms.ALL, scheme: 'auth', id: '' })])
})

module.exports = {
  Client,
  Transaction,
  PersistentWatch,
  ZkError,
  Codes,
  CreateMode,
  Perms,
  Acls,
  ActiveStandbyElector,
  ActiveNodeInfo,
  ...recipes
}
