'use strict'
// ActiveStandbyElector: Hadoop's active/standby election (the elector inside HDFS's ZKFC),
// the core's `zk_core::recipes::elector` (docs/ha.md). The elector owns its sessions, so
// it takes a connect string, not a Client.
//
// The elector waits for the answers of becomeActive, fenceOldActive and (while ceding)
// becomeStandby. Their callbacks run here, on the JavaScript thread, one at a time in the
// elector's order; each may answer at once or with a Promise, and its answer goes back to
// the elector when it settles. Nothing ever blocks this thread.

const { AsyncLocalStorage } = require('node:async_hooks')
const { EventEmitter } = require('node:events')
const native = require('./native')
const args = require('./args')
const { ZkError, argTypeError } = require('./errors')
const { guard, authEntries, tlsConfig } = require('./client')

/** Hadoop's default root of the parent znodes (`ha.zookeeper.parent-znode`). */
const DEFAULT_ROOT = '/hadoop-ha'
const CALLBACKS = ['becomeActive', 'becomeStandby', 'enterNeutral', 'fenceOldActive', 'fatalError']
/** The events whose answer the elector waits for. */
const ANSWERED = new Set(['becomeActive', 'becomeStandby', 'fenceOldActive'])

/**
 * Marks the async context of a callback the elector waits for: a call that needs the
 * elector's task (`activeData()`, ...) made from there could only finish after the
 * callback answered, so it is refused (INVALIDSTATE) instead of waiting for itself.
 */
const answering = new AsyncLocalStorage()

class ActiveStandbyElector extends EventEmitter {
  #native
  #callbacks
  /** The callbacks run one after another, in the elector's order. */
  #queue = Promise.resolve()
  #closed = null
  #refed = false

  /**
   * @param {string} hosts `host:port,...[/chroot]` (every session the elector opens)
   * @param {object} options `nameservice` (and `root`, default `/hadoop-ha`) or `parent`;
   *   sessionTimeout (ms, default 10000), acl, auth, tls, maxRetries, rejoinPause, connectPause
   * @param {object} [callbacks] becomeActive(), becomeStandby(), enterNeutral(),
   *   fenceOldActive(data), fatalError(message)
   */
  constructor (hosts, options, callbacks) {
    super()
    args.string(hosts, 'hosts')
    const o = args.options(options)
    let parent = o.parent
    if (parent === undefined || parent === null) {
      const root = o.root ?? DEFAULT_ROOT
      args.string(root, 'options.root')
      args.string(o.nameservice, 'options.nameservice')
      parent = native.electorParent(root, o.nameservice)
    }
    args.string(parent, 'options.parent')
    const c = args.options(callbacks, 'callbacks')
    for (const name of CALLBACKS) args.fn(c[name], `callbacks.${name}`)
    this.#callbacks = c
    const maxRetries = o.maxRetries === undefined || o.maxRetries === null
      ? undefined
      : args.int(o.maxRetries, 'options.maxRetries', 1, 0xffff)
    const config = {
      parent,
      sessionTimeout: args.millis(o.sessionTimeout, 'options.sessionTimeout'),
      acl: args.acl(o.acl),
      auth: authEntries(o.auth),
      tls: tlsConfig(o.tls),
      maxRetries,
      rejoinPause: args.millis(o.rejoinPause, 'options.rejoinPause'),
      connectPause: args.millis(o.connectPause, 'options.connectPause')
    }
    this.#native = new native.NativeElector(hosts, config, (batch) => this.#route(batch))
  }

  /** The parent znode, `<root>/<nameservice>`. */
  get parent () { return this.#native.parent }
  /** `init` (not in the election), `active`, `standby` or `neutral`. */
  get state () { return this.#native.state }
  /** The current session's id, a bigint (0n while there is none). */
  get sessionId () { return this.#native.sessionId }

  /** Joins the election with `data` (stored in the lock and, once active, the breadcrumb). */
  join (data) {
    return guard(() => {
      this.#native.join(Buffer.from(args.data(data)))
      return Promise.resolve()
    })
  }

  /**
   * Leaves the election; `{needFence: true}` keeps the breadcrumb (the service may still
   * act as active: the next active fences it). Resolves once out.
   */
  quit (options) {
    return guard(() => {
      const needFence = args.bool(args.options(options).needFence, 'options.needFence') ?? false
      return this.#queued(this.#native.quit(needFence))
    })
  }

  /** A graceful handover (ZKFC's `cedeActive`): out of the election for `ms`, then back. */
  cede (ms) {
    return guard(() => {
      if (typeof ms !== 'number') throw argTypeError('ms', 'of type number', ms)
      return this.#queued(this.#native.cede(args.millis(ms, 'ms')))
    })
  }

  /** Creates the parent znode and its ancestors. Not while in the election. */
  ensureParent () { return this.#waiting('ensureParent', () => this.#native.ensureParent()) }
  /** Whether the parent znode exists. */
  parentExists () { return this.#waiting('parentExists', () => this.#native.parentExists()) }
  /** Deletes the parent znode recursively. Not while in the election. */
  clearParent () { return this.#waiting('clearParent', () => this.#native.clearParent()) }

  /**
   * `hdfs zkfc -formatZK`: resolves `true` once the parent is fresh, `false` (nothing
   * changed) when it exists and `{force: true}` was not given.
   */
  format (options) {
    return guard(() => {
      const force = args.bool(args.options(options).force, 'options.force') ?? false
      return this.#waiting('format', () => this.#native.format(force))
    })
  }

  /** The active's data (a Buffer), or `null` when nobody is active. */
  activeData () { return this.#waiting('activeData', () => this.#native.activeData()) }

  /**
   * Ends the elector: its session closes (the lock goes, the breadcrumb stays). Safe from
   * a callback: a callback the elector still waits for counts as failed, and no callback
   * runs after this call. Safe to call again.
   */
  close () {
    if (this.#closed === null) {
      this.unref()
      this.#closed = this.#native.close()
    }
    return this.#closed
  }

  [Symbol.asyncDispose] () { return this.close() }

  /** Keeps the process alive until `close()` (by default the elector does not). */
  ref () {
    if (!this.#refed && this.#closed === null) {
      this.#refed = true
      this.#native.hold()
    }
    return this
  }

  unref () {
    if (this.#refed) {
      this.#refed = false
      this.#native.unhold()
    }
    return this
  }

  hasRef () { return this.#refed }

  /** quit/cede from a callback the elector waits for: done after it answers, so not awaited there. */
  #queued (promise) {
    if (answering.getStore()?.waiting !== true) return promise
    promise.catch((error) => this.#report(error))
    return Promise.resolve()
  }

  #waiting (name, start) {
    return guard(() => {
      const inside = answering.getStore()
      if (inside?.waiting === true) {
        throw new ZkError('INVALIDSTATE', `${name}() was called from the elector's ${inside.kind} callback, ` +
          'which the elector waits for: it could only finish after that callback answered')
      }
      return start()
    })
  }

  #route (batch) {
    if (batch === null) return
    for (const [kind, id, payload] of batch) {
      if (kind === 'ended') {
        this.unref()
        continue
      }
      this.#queue = this.#queue.then(() => this.#run(kind, id, payload))
    }
  }

  async #run (kind, id, payload) {
    if (this.#closed !== null) return
    const context = { kind, waiting: ANSWERED.has(kind) }
    let ok = false
    try {
      const answer = await answering.run(context, () => this.#invoke(kind, payload))
      // Fencing succeeds only when it says so; a transition unless it says it failed.
      ok = kind === 'fenceOldActive' ? answer === true : answer !== false
    } catch (error) {
      this.#report(error)
    } finally {
      context.waiting = false
    }
    if (ANSWERED.has(kind)) this.#native.answer(id, ok)
  }

  #invoke (kind, payload) {
    const callback = this.#callbacks[kind]
    if (callback !== undefined) return callback.call(this.#callbacks, payload)
    switch (kind) {
      // Without a way to fence, a takeover must not happen (Hadoop: no fencer, no failover).
      case 'fenceOldActive': return false
      case 'fatalError': throw new ZkError('SYSTEMERROR', `the elector gave up: ${payload}`)
      default: return true
    }
  }

  /** A callback threw: tell the `error` listeners, or warn; the elector goes on. */
  #report (error) {
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
      detail: 'an ActiveStandbyElector callback threw; it counts as failed'
    })
  }
}

/** Hadoop's `ActiveNodeInfo` (HAZKInfo.proto) as protobuf bytes, as HDFS controllers store it. */
const ActiveNodeInfo = Object.freeze({
  /** `{nameserviceId, namenodeId, hostname, port, zkfcPort}` -> a Buffer. */
  encode (info) {
    const i = args.options(info, 'info')
    return native.encodeActiveNodeInfo({
      nameserviceId: args.string(i.nameserviceId, 'info.nameserviceId'),
      namenodeId: args.string(i.namenodeId, 'info.namenodeId'),
      hostname: args.string(i.hostname, 'info.hostname'),
      port: args.int(i.port, 'info.port', -0x80000000, 0x7fffffff),
      zkfcPort: args.int(i.zkfcPort ?? 0, 'info.zkfcPort', -0x80000000, 0x7fffffff)
    })
  },
  /** A Buffer -> `{nameserviceId, namenodeId, hostname, port, zkfcPort}`; BADARGUMENTS if it is not one. */
  decode (data) {
    return native.decodeActiveNodeInfo(Buffer.from(args.data(data)))
  }
})

module.exports = { ActiveStandbyElector, ActiveNodeInfo, DEFAULT_ROOT }
