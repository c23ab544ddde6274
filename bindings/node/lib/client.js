'use strict'
// Client: the Promise API over the native client. Methods check argument types, start the
// native call and return its promise (wrapped only when an AbortSignal is given). Events
// of the client (states, watches, recipes) arrive in batches through `#route`, on the
// JavaScript thread, in the order the core produced them.

const { EventEmitter } = require('node:events')
const native = require('./native')
const args = require('./args')
const { ZkError, abortError } = require('./errors')
const { raceAbort } = require('./signal')
const { PersistentWatch } = require('./watch')
const {
  kNative, kSubscribe, kUnsubscribe, kCall, kReport, kConnected, kHold, kRemoveWatch, kDeliverEnd
} = require('./symbols')

const FINAL_STATES = new Set(['expired', 'authFailed', 'closed'])
const DEFAULT_SESSION_TIMEOUT = 30000

let nextCancelId = 1

class Client extends EventEmitter {
  #native
  /** The handle of the native fast paths (plain functions, no class-method overhead). */
  #fast
  #connectTimeout
  #nextId = 1
  /** One-shot watches and persistent watches by id. */
  #watches = new Map()
  /** Recipe objects (elections, caches) receiving events, by id. */
  #subscribers = new Map()
  #refed = false
  #connected = false

  /**
   * @param {string} hosts `host:port,host:port/chroot`
   * @param {object} [options] sessionTimeout, requestTimeout, connectTimeout (ms),
   *   readOnly, auth: [{scheme, auth}], session: {id, password} to resume,
   *   tls: {ca, cert, key, verifyHostname} (PEM file paths) for a `secureClientPort`,
   *   sasl: {username, password, mechanism = 'DIGEST-MD5', service = 'zookeeper'}.
   */
  constructor (hosts, options) {
    super()
    args.string(hosts, 'hosts')
    const o = args.options(options)
    const problem = native.NativeClient.checkHosts(hosts)
    if (problem !== null) throw new ZkError('BADARGUMENTS', problem)
    const sessionTimeout = args.millis(o.sessionTimeout, 'options.sessionTimeout')
    const config = {
      sessionTimeout,
      requestTimeout: args.millis(o.requestTimeout, 'options.requestTimeout'),
      readOnly: args.bool(o.readOnly, 'options.readOnly'),
      auth: authEntries(o.auth),
      tls: tlsConfig(o.tls),
      sasl: saslConfig(o.sasl)
    }
    if (o.session !== undefined && o.session !== null) {
      const session = args.options(o.session, 'options.session')
      if (typeof session.id !== 'bigint') throw new TypeError('options.session.id must be a bigint (a session id)')
      config.sessionId = session.id
      config.sessionPassword = Buffer.from(args.data(session.password, 'options.session.password'))
    }
    this.#connectTimeout = args.millis(o.connectTimeout, 'options.connectTimeout') ?? sessionTimeout ?? DEFAULT_SESSION_TIMEOUT
    this.#native = new native.NativeClient(hosts, config, (batch) => this.#route(batch))
    this.#fast = this.#native.fastHandle()
  }

  // ----- connection -----

  /**
   * Connects and resolves once the session is established. Rejects with
   * `OPERATIONTIMEOUT` after `connectTimeout` (then the client is closed), never hangs.
   */
  connect (options) {
    return guard(() => {
      const o = args.options(options)
      const timeout = args.millis(o.timeout, 'options.timeout') ?? this.#connectTimeout
      const signal = args.signal(o.signal)
      const connected = this.#call(signal, (cancel) => this.#native.connect(timeout, cancel), () => {
        this.close().catch(() => {})
      })
      return connected.then(() => { this.#connected = true })
    })
  }

  /** Closes the session; its ephemeral nodes go at once. Safe to call again. */
  close () {
    return this.#native.close()
  }

  /**
   * `connecting`, `connected`, `connectedReadOnly`, `saslAuthenticated` (after `connected`, with
   * `sasl` options), `disconnected`, `expired`, `authFailed`, `closed`.
   */
  get state () { return this.#native.state }
  /** The session id, a bigint (0n before connecting). */
  get sessionId () { return this.#native.sessionId }
  get sessionPassword () { return this.#native.sessionPassword }
  /** The negotiated session timeout in ms. */
  get sessionTimeout () { return this.#native.sessionTimeout }
  get lastZxid () { return this.#native.lastZxid }

  /** Keeps the process alive while the client is open, even when idle (like `socket.ref()`). */
  ref () {
    if (!this.#refed && !FINAL_STATES.has(this.state)) {
      this.#refed = true
      this.#native.hold()
    }
    return this
  }

  /** The default: only calls in flight keep the process alive. */
  unref () {
    if (this.#refed) {
      this.#refed = false
      this.#native.unhold()
    }
    return this
  }

  hasRef () { return this.#refed }

  // ----- operations -----

  /** Creates a node: resolves to its path (with the sequence suffix), or `{path, stat}` with `{stat: true}`. */
  create (path, data, options) {
    return guard(() => {
      args.path(path)
      const bytes = args.data(data, 'data', { nullable: true })
      const o = args.options(options)
      const mode = args.optionalString(o.mode, 'options.mode')
      const acl = args.acl(o.acl)
      const ttl = args.millis(o.ttl, 'options.ttl')
      const op = o.stat === true ? 'create2' : 'create'
      return this.#call(args.signal(o.signal), (cancel) => this.#native[op](path, bytes, mode, acl, ttl, cancel))
    })
  }

  /** `{data, stat}` of a node; `options.watch(event)` leaves a one-shot data watch. */
  get (path, options) {
    if (options === undefined && typeof path === 'string') return native.fastGet(this.#fast, path)
    return guard(() => {
      args.path(path)
      const o = args.options(options)
      return this.#watched(path, 'data', args.fn(o.watch, 'options.watch'), o.signal,
        (id, cancel) => this.#native.get(path, id, cancel))
    })
  }

  /** Like `get`, with a one-shot watch as a promise: `{data, stat, changed}`. */
  getWatched (path, options) {
    return guard(() => {
      args.path(path)
      const o = args.options(options)
      return this.#withChanged(path, 'data', o.signal, (id, cancel) => this.#native.get(path, id, cancel))
    })
  }

  /** Replaces a node's data: `set(path, data, {version})` (or a version number); resolves to the Stat. */
  set (path, data, options) {
    if (options === undefined && typeof path === 'string' && data instanceof Uint8Array) return native.fastSet(this.#fast, path, data)
    return guard(() => {
      args.path(path)
      const bytes = args.data(data)
      const version = args.version(options, 'options.version')
      return this.#call(signalOf(options), (cancel) => this.#native.set(path, bytes, version, cancel))
    })
  }

  /** The Stat of a node, or `null`; `options.watch(event)` fires on create, delete or change. */
  exists (path, options) {
    if (options === undefined && typeof path === 'string') return native.fastExists(this.#fast, path)
    return guard(() => {
      args.path(path)
      const o = args.options(options)
      return this.#watched(path, 'exist', args.fn(o.watch, 'options.watch'), o.signal,
        (id, cancel) => this.#native.exists(path, id, cancel))
    })
  }

  /** Like `exists`, with the watch as a promise: `{stat, changed}`. */
  existsWatched (path, options) {
    return guard(() => {
      args.path(path)
      const o = args.options(options)
      return this.#withChanged(path, 'exist', o.signal, (id, cancel) => this.#native.exists(path, id, cancel),
        (stat, changed) => ({ stat, changed }))
    })
  }

  /** The children's names; `{children, stat}` with `{stat: true}`; `options.watch(event)` leaves a child watch. */
  getChildren (path, options) {
    if (options === undefined && typeof path === 'string') return native.fastGetChildren(this.#fast, path)
    return guard(() => {
      args.path(path)
      const o = args.options(options)
      const op = o.stat === true ? 'getChildren2' : 'getChildren'
      return this.#watched(path, 'child', args.fn(o.watch, 'options.watch'), o.signal,
        (id, cancel) => this.#native[op](path, id, cancel))
    })
  }

  /** Children with a one-shot child watch as a promise: `{children, stat, changed}`. */
  getChildrenWatched (path, options) {
    return guard(() => {
      args.path(path)
      const o = args.options(options)
      return this.#withChanged(path, 'child', o.signal, (id, cancel) => this.#native.getChildren2(path, id, cancel))
    })
  }

  /** How many nodes are below `path`. */
  getAllChildrenNumber (path, options) {
    return guard(() => {
      args.path(path)
      return this.#call(signalOf(options), (cancel) => this.#native.getAllChildrenNumber(path, cancel))
    })
  }

  /** Deletes a node: `delete(path, {version})` (or a version number). */
  delete (path, options) {
    return guard(() => {
      args.path(path)
      const version = args.version(options, 'options.version')
      return this.#call(signalOf(options), (cancel) => this.#native.delete(path, version, cancel))
    })
  }

  /** `{acl, stat}` of a node. */
  getAcl (path, options) {
    return guard(() => {
      args.path(path)
      return this.#call(signalOf(options), (cancel) => this.#native.getAcl(path, cancel))
    })
  }

  /** Replaces a node's ACL: `setAcl(path, acl, {version})`; resolves to the Stat. */
  setAcl (path, acl, options) {
    return guard(() => {
      args.path(path)
      const entries = args.acl(acl, 'acl')
      if (entries === undefined) throw new TypeError('The "acl" argument must be an array of {perms, scheme, id}')
      const version = args.version(options, 'options.version')
      return this.#call(signalOf(options), (cancel) => this.#native.setAcl(path, entries, version, cancel))
    })
  }

  /** Waits until the connected server has caught up with the leader. */
  sync (path = '/', options) {
    return guard(() => {
      args.path(path)
      return this.#call(signalOf(options), (cancel) => this.#native.sync(path, cancel))
    })
  }

  /** Adds credentials (`digest`, `user:password`) to the session, also after reconnects. */
  addAuth (scheme, auth, options) {
    return guard(() => {
      args.string(scheme, 'scheme')
      const bytes = args.bytesOrString(auth, 'auth')
      return this.#call(signalOf(options), (cancel) => this.#native.addAuth(scheme, bytes, cancel))
    })
  }

  /** The identities of this session: `[{authScheme, user}]`. */
  whoAmI (options) {
    return guard(() => this.#call(signalOf(options), (cancel) => this.#native.whoAmI(cancel)))
  }

  /** This session's ephemeral nodes under `prefix` (default `/`). */
  getEphemerals (prefix = '/', options) {
    return guard(() => {
      args.path(prefix, 'prefix')
      return this.#call(signalOf(options), (cancel) => this.#native.getEphemerals(prefix, cancel))
    })
  }

  /** A transaction: `check/create/set/delete` then `commit()`, all or nothing. */
  transaction () {
    return new Transaction(this)
  }

  /** Creates `path` and any missing parents (persistent, empty); an existing node is fine. */
  mkdirp (path, options) {
    return guard(() => {
      args.path(path)
      return this.#call(signalOf(options), (cancel) => this.#native.mkdirp(path, cancel))
    })
  }

  /** Deletes `path` and everything below it; a missing node is fine. */
  removeRecursive (path, options) {
    return guard(() => {
      args.path(path)
      return this.#call(signalOf(options), (cancel) => this.#native.removeRecursive(path, cancel))
    })
  }

  /**
   * A persistent watch on `path` (`{recursive: true}`: and every node below it), as an
   * async iterator of events. It does not keep the process alive unless `ref()`ed.
   */
  addWatch (path, options) {
    return guard(() => {
      args.path(path)
      const o = args.options(options)
      const recursive = args.bool(o.recursive, 'options.recursive') ?? false
      const id = this.#nextId++
      const watch = new PersistentWatch(this, id, path, recursive)
      this.#watches.set(id, { path, type: recursive ? 'persistentRecursive' : 'persistent', watch })
      const added = this.#call(args.signal(o.signal), (cancel) => this.#native.addWatch(path, recursive, id, cancel))
      return added.then(() => watch, (error) => {
        this.#watches.delete(id)
        throw error
      })
    })
  }

  /**
   * Removes this client's watches on `path` of `type` (`data` (incl. exists watches),
   * `children`, `persistent`, `persistentRecursive` or `any`). Callbacks and `changed`
   * promises get a `dataWatchRemoved`/`childWatchRemoved` event, persistent watches end.
   * Rejects with `NOWATCHER` when there was none.
   */
  removeWatches (path, type = 'any', options) {
    return guard(() => {
      args.path(path)
      args.string(type, 'type')
      if (!REMOVABLE.has(type)) throw new ZkError('BADARGUMENTS', `unknown watch type ${JSON.stringify(type)}; one of: ${[...REMOVABLE].join(', ')}`)
      const signal = signalOf(options)
      let removed = 0
      for (const [id, entry] of this.#watches) {
        if (entry.path !== path || !matches(entry.type, type)) continue
        removed++
        this[kRemoveWatch](id)
        const event = { type: entry.type === 'child' ? 'childWatchRemoved' : 'dataWatchRemoved', state: 'syncConnected', path, zxid: -1 }
        if (entry.watch !== undefined) entry.watch[kDeliverEnd]()
        else this.#deliverOnce(entry, event)
      }
      if (signal?.aborted) return Promise.reject(abortError(signal))
      if (removed === 0) return Promise.reject(new ZkError('NOWATCHER', `No such watcher for ${path}`, { path }))
      return Promise.resolve()
    })
  }

  // ----- internals shared with watches and recipes -----

  get [kNative] () { return this.#native }
  get [kConnected] () { return this.#connected }

  [kCall] (signal, start, onAbort) { return this.#call(signal, start, onAbort) }

  [kSubscribe] (handler) {
    const id = this.#nextId++
    this.#subscribers.set(id, handler)
    return id
  }

  [kUnsubscribe] (id) { this.#subscribers.delete(id) }

  [kRemoveWatch] (id) {
    this.#watches.delete(id)
    this.#native.removeWatch(id)
  }

  /** One more (or, with `false`, one less) reason to keep the process alive. */
  [kHold] (on) {
    if (on) this.#native.hold()
    else this.#native.unhold()
  }

  /** A user callback threw: tell the `error` listeners, or warn; the client goes on. */
  [kReport] (error) {
    if (this.listenerCount('error') > 0) {
      try {
        this.emit('error', error)
        return
      } catch (again) {
        error = again
      }
    }
    process.emitWarning(error instanceof Error ? error : new Error(String(error)), {
      type: 'ZkCallbackError',
      detail: 'a zk callback or listener threw; the client goes on'
    })
  }

  #call (signal, start, onAbort) {
    if (signal === undefined || signal === null) return start(undefined)
    args.signal(signal)
    const cancel = nextCancelId++
    if (signal.aborted) {
      return raceAbort(Promise.resolve(), signal, () => onAbort?.())
    }
    const promise = start(cancel)
    return raceAbort(promise, signal, () => {
      this.#native.cancel(cancel)
      onAbort?.()
    })
  }

  #watched (path, type, callback, signal, start) {
    if (callback === undefined) return this.#call(signal, (cancel) => start(undefined, cancel))
    const id = this.#nextId++
    this.#watches.set(id, { path, type, callback })
    const done = this.#call(signal, (cancel) => start(id, cancel))
    done.catch(() => this.#watches.delete(id))
    return done
  }

  #withChanged (path, type, signal, start, shape) {
    const id = this.#nextId++
    let resolve
    const changed = new Promise((r) => { resolve = r })
    this.#watches.set(id, { path, type, resolve })
    return this.#call(signal, (cancel) => start(id, cancel)).then(
      (result) => shape === undefined ? { ...result, changed } : shape(result, changed),
      (error) => {
        this.#watches.delete(id)
        throw error
      })
  }

  #deliverOnce (entry, event) {
    if (entry.resolve !== undefined) entry.resolve(event)
    if (entry.callback !== undefined) {
      try {
        entry.callback(event)
      } catch (error) {
        this[kReport](error)
      }
    }
  }

  #uncorkCalls = () => this.#native.uncorkCalls()

  #route (batch) {
    // The calls that this batch's callbacks and promise continuations make go to the core
    // together, after them, written to the socket in one go by this thread. The uncork is
    // a microtask queued behind the continuations of the promises this batch settled (a
    // setImmediate would cost the event loop an extra turn per batch); calls made later
    // than that simply go out at once.
    this.#native.corkCalls()
    queueMicrotask(this.#uncorkCalls)
    if (batch === null) return
    for (const event of batch) {
      switch (event[0]) {
        case 'state':
          this.#onState(event[1])
          break
        case 'watch': {
          const entry = this.#watches.get(event[1])
          if (entry !== undefined) {
            this.#watches.delete(event[1])
            this.#deliverOnce(entry, event[2])
          }
          break
        }
        default: {
          const handler = this.#subscribers.get(event[1])
          if (handler !== undefined) {
            try {
              handler(event)
            } catch (error) {
              this[kReport](error)
            }
          }
        }
      }
    }
  }

  #onState (state) {
    if (FINAL_STATES.has(state)) {
      this.#native.end(state)
      this.unref()
    }
    for (const name of ['state', state]) {
      try {
        if (name === 'state') this.emit('state', state)
        else this.emit(name)
      } catch (error) {
        this[kReport](error)
      }
    }
  }
}

const REMOVABLE = new Set(['any', 'data', 'children', 'persistent', 'persistentRecursive'])

function matches (entryType, type) {
  switch (type) {
    case 'any': return true
    case 'data': return entryType === 'data' || entryType === 'exist'
    case 'children': return entryType === 'child'
    default: return entryType === type
  }
}

/** A transaction builder: ops run all or none at `commit()`. */
class Transaction {
  #client
  #ops = []

  constructor (client) {
    this.#client = client
  }

  /** Fails the transaction unless the node's version is `version`. */
  check (path, version) {
    this.#ops.push({ op: 'check', path: args.path(path), version: args.version(version) })
    return this
  }

  create (path, data, options) {
    args.path(path)
    const o = args.options(options)
    this.#ops.push({
      op: 'create',
      path,
      // A transaction's create has no null data: empty.
      data: args.data(data, 'data', { nullable: true }) ?? undefined,
      mode: args.optionalString(o.mode, 'options.mode'),
      acl: args.acl(o.acl),
      ttl: args.millis(o.ttl, 'options.ttl')
    })
    return this
  }

  set (path, data, options) {
    this.#ops.push({ op: 'set', path: args.path(path), data: args.data(data), version: args.version(options, 'options.version') })
    return this
  }

  delete (path, options) {
    this.#ops.push({ op: 'delete', path: args.path(path), version: args.version(options, 'options.version') })
    return this
  }

  /**
   * Applies the ops: resolves to one result per op (`{type, path?, stat?}`); a failure
   * rejects with the failing op's `index` and `path`.
   */
  commit (options) {
    return guard(() => {
      const ops = this.#ops
      const client = this.#client
      return client[kCall](signalOf(options), (cancel) => client[kNative].multi(ops, cancel))
    })
  }
}

function signalOf (options) {
  if (options === null || typeof options !== 'object') return undefined
  return args.signal(options.signal)
}

function authEntries (auth) {
  if (auth === undefined || auth === null) return undefined
  if (!Array.isArray(auth)) throw new TypeError('options.auth must be an array of {scheme, auth}')
  return auth.map((entry, i) => ({
    scheme: args.string(entry?.scheme, `options.auth[${i}].scheme`),
    auth: Buffer.from(args.bytesOrString(entry?.auth, `options.auth[${i}].auth`))
  }))
}

/**
 * TLS files (PEM paths) for the core; unreadable or unusable files reject `connect()` with
 * BADARGUMENTS naming the file.
 */
function tlsConfig (tls) {
  if (tls === undefined || tls === null) return undefined
  const o = args.options(tls, 'options.tls')
  return {
    ca: args.string(o.ca, 'options.tls.ca'),
    cert: args.optionalString(o.cert, 'options.tls.cert'),
    key: args.optionalString(o.key, 'options.tls.key'),
    verifyHostname: args.bool(o.verifyHostname, 'options.tls.verifyHostname')
  }
}

/**
 * SASL credentials for the core, which authenticates every connection with them before
 * anything else; a mechanism other than DIGEST-MD5 is BADARGUMENTS (the core says why).
 */
function saslConfig (sasl) {
  if (sasl === undefined || sasl === null) return undefined
  const o = args.options(sasl, 'options.sasl')
  const mechanism = args.optionalString(o.mechanism, 'options.sasl.mechanism') ?? 'DIGEST-MD5'
  const problem = native.NativeClient.checkSasl(mechanism)
  if (problem !== null) throw new ZkError('BADARGUMENTS', problem)
  return {
    mechanism,
    username: args.string(o.username, 'options.sasl.username'),
    password: args.string(o.password, 'options.sasl.password'),
    service: args.optionalString(o.service, 'options.sasl.service')
  }
}

/** Runs `start`, turning a synchronous throw (a bad argument) into a rejection. */
function guard (start) {
  try {
    return start()
  } catch (error) {
    return Promise.reject(error)
  }
}

module.exports = { Client, Transaction, guard, signalOf, authEntries, tlsConfig, saslConfig }
