'use strict'
// The core's recipes (zk_core::recipes) on Curator's and kazoo's znode layouts: locks,
// semaphore, leader election, barriers, queue, counter, group membership, tree cache.
// Each recipe binds to its client's native half lazily, so it may be made before
// `connect()`; every call made before the client is connected rejects with INVALIDSTATE.

const { EventEmitter } = require('node:events')
const native = require('./native')
const args = require('./args')
const { argTypeError } = require('./errors')
const { guard, signalOf } = require('./client')
const { kNative, kSubscribe, kUnsubscribe, kCall, kConnected, kHold, kReport } = require('./symbols')

function checkClient (client) {
  if (client === null || typeof client !== 'object' || client[kNative] === undefined) {
    throw argTypeError('client', 'a zk Client', client)
  }
  return client
}

function layoutOf (o) {
  const layout = args.optionalString(o.layout, 'options.layout')
  if (layout !== undefined && layout !== 'curator' && layout !== 'kazoo') {
    throw new RangeError(`options.layout must be 'curator' or 'kazoo', not ${JSON.stringify(layout)}`)
  }
  return layout
}

/** The native recipe object, made once the client has connected (made per call before). */
class Binding {
  #client
  #make
  #made

  constructor (client, make) {
    this.#client = client
    this.#make = make
  }

  get () {
    if (this.#made !== undefined) return this.#made
    const made = this.#make(this.#client[kNative])
    if (this.#client[kConnected]) this.#made = made
    return made
  }
}

/** A held lock or semaphore lease. Release it (or `await using` it). */
class Lease {
  #native

  constructor (nativeLease) {
    this.#native = nativeLease
  }

  /** The czxid of the lease's node: a later holder of the same lock has a larger one. */
  get fencingToken () { return this.#native.fencingToken }
  /** The lease's znode. */
  get path () { return this.#native.path }
  /**
   * Whether the hold is lost: the client was disconnected (the session may be gone), the
   * session ended, or the node was deleted; or the lease was released.
   */
  get lost () { return this.#native.lost }

  /** Resolves once the hold is lost or released (does not keep the process alive). */
  whenLost () { return this.#native.whenLost() }

  /** Deletes the lease's node; a second call does nothing. */
  release () { return this.#native.release() }

  [Symbol.asyncDispose] () { return this.release() }
}

function leaseOf (nativeLease) {
  return nativeLease === null ? null : new Lease(nativeLease)
}

/**
 * An exclusive lock (Curator `InterProcessMutex`; kazoo `Lock` with
 * `{layout: 'kazoo'}`). Not re-entrant.
 */
class Lock {
  #client
  #binding

  constructor (client, path, options) {
    this.#client = checkClient(client)
    args.path(path)
    const o = args.options(options)
    const kind = o[kKind] ?? 'exclusive'
    const layout = layoutOf(o)
    const data = args.data(o.data, 'options.data', { nullable: true })
    this.path = path
    this.#binding = new Binding(client, (nativeClient) => new native.NativeLock(nativeClient, path, kind, layout, data))
  }

  /** Waits for the lock; with `{timeout}` resolves `null` if it did not come in time. */
  acquire (options) {
    return guard(() => {
      const o = args.options(options)
      const timeout = args.millis(o.timeout, 'options.timeout')
      return this.#client[kCall](args.signal(o.signal), (cancel) => this.#binding.get().acquire(timeout, cancel)).then(leaseOf)
    })
  }

  /** Takes the lock only if nobody holds or waits for it; else `null`. */
  tryAcquire (options) {
    return guard(() => this.#client[kCall](signalOf(options), (cancel) => this.#binding.get().tryAcquire(cancel)).then(leaseOf))
  }

  /** The contenders' node names, holder first. */
  contenders (options) {
    return guard(() => this.#client[kCall](signalOf(options), (cancel) => this.#binding.get().contenders(cancel)))
  }
}

const kKind = Symbol('zk.lockKind')

/** A read-write lock (Curator `InterProcessReadWriteLock`; kazoo `ReadLock`/`WriteLock`). */
class ReadWriteLock {
  constructor (client, path, options) {
    const o = args.options(options)
    this.path = path
    /** Shared: holds while no earlier writer does. */
    this.readLock = new Lock(client, path, { ...o, [kKind]: 'read' })
    /** Exclusive: holds once every earlier contender is gone. */
    this.writeLock = new Lock(client, path, { ...o, [kKind]: 'write' })
  }
}

/** A counting semaphore (Curator `InterProcessSemaphoreV2`). */
class Semaphore {
  #client
  #binding

  constructor (client, path, maxLeases, options) {
    this.#client = checkClient(client)
    args.path(path)
    args.int(maxLeases, 'maxLeases', 1, 0x7fffffff)
    const data = args.data(args.options(options).data, 'options.data', { nullable: true })
    this.path = path
    this.maxLeases = maxLeases
    this.#binding = new Binding(client, (nativeClient) => new native.NativeSemaphore(nativeClient, path, maxLeases, data))
  }

  /** Waits for a lease; with `{timeout}` resolves `null` if none came in time. */
  acquire (options) {
    return guard(() => {
      const o = args.options(options)
      const timeout = args.millis(o.timeout, 'options.timeout')
      return this.#client[kCall](args.signal(o.signal), (cancel) => this.#binding.get().acquire(timeout, cancel)).then(leaseOf)
    })
  }

  /** The lease nodes held now. */
  leaseNodes (options) {
    return guard(() => this.#client[kCall](signalOf(options), (cancel) => this.#binding.get().leaseNodes(cancel)))
  }
}

/**
 * A candidate for leadership until closed (Curator `LeaderLatch` layout). Emits `elected`
 * (with the fencing token) when it becomes the leader, `revoked` when it stops being the
 * leader (disconnected, session lost, node deleted) and `closed` at the end.
 */
class LeaderElection extends EventEmitter {
  #client
  #id
  #native = null
  #events
  #refed = false
  #closed = false

  constructor (client, path, id) {
    super()
    this.#client = checkClient(client)
    this.path = args.path(path)
    this.id = args.string(id, 'id')
  }

  /** Joins the election; resolves once this candidate's node exists. */
  start (options) {
    return guard(() => {
      if (this.#native !== null || this.#closed) throw new Error('this election was already started')
      const client = this.#client
      this.#events = client[kSubscribe]((event) => this.#deliver(event))
      return client[kCall](signalOf(options), (cancel) => native.NativeElection.start(client[kNative], this.path, this.id, this.#events, cancel))
        .then((election) => {
          this.#native = election
          return this
        }, (error) => {
          client[kUnsubscribe](this.#events)
          throw error
        })
    })
  }

  /** `leader`, `candidate` or `closed`. */
  get leadership () { return this.#native === null ? (this.#closed ? 'closed' : 'candidate') : this.#native.leadership }
  get isLeader () { return this.leadership === 'leader' }
  /** The fencing token (czxid of our node) while leading, else `null`. */
  get fencingToken () { return this.#native === null ? null : this.#native.fencingToken }

  /** Resolves `true` once leading, or `false` after `{timeout}`. */
  waitLeadership (options) {
    return guard(() => {
      const o = args.options(options)
      const timeout = args.millis(o.timeout, 'options.timeout')
      return this.#client[kCall](args.signal(o.signal), (cancel) => this.#started().wait(timeout, cancel))
    })
  }

  /** Every participant `{id, isLeader}` in line order. */
  participants (options) {
    return guard(() => this.#client[kCall](signalOf(options), (cancel) => this.#started().participants(cancel)))
  }

  /** Leaves the election (deletes our node). */
  close () {
    this.#closed = true
    this.unref()
    if (this.#native === null) return Promise.resolve()
    return this.#native.close()
  }

  [Symbol.asyncDispose] () { return this.close() }

  /** Keeps the process alive while the election is open. */
  ref () {
    if (!this.#refed && !this.#closed) {
      this.#refed = true
      this.#client[kHold](true)
    }
    return this
  }

  unref () {
    if (this.#refed) {
      this.#refed = false
      this.#client[kHold](false)
    }
    return this
  }

  #started () {
    if (this.#native === null) throw new Error('start() the election first')
    return this.#native
  }

  #deliver (event) {
    const kind = event[2]
    if (kind === 'closed') {
      this.#closed = true
      this.#client[kUnsubscribe](this.#events)
      this.unref()
    }
    if (kind === 'elected') this.emit('elected', event[3])
    else this.emit(kind)
  }
}

/** A barrier: closed while its node exists (Curator `DistributedBarrier`, kazoo `Barrier`). */
class Barrier {
  #client
  #binding

  constructor (client, path) {
    this.#client = checkClient(client)
    this.path = args.path(path)
    this.#binding = new Binding(client, (nativeClient) => new native.NativeBarrier(nativeClient, path))
  }

  /** Closes the barrier. */
  set (options) {
    return guard(() => this.#client[kCall](signalOf(options), (cancel) => this.#binding.get().set(cancel)))
  }

  /** Opens the barrier. */
  remove (options) {
    return guard(() => this.#client[kCall](signalOf(options), (cancel) => this.#binding.get().remove(cancel)))
  }

  /** Waits until the barrier is open: `true`, or `false` after `{timeout}`. */
  wait (options) {
    return guard(() => {
      const o = args.options(options)
      const timeout = args.millis(o.timeout, 'options.timeout')
      return this.#client[kCall](args.signal(o.signal), (cancel) => this.#binding.get().wait(timeout, cancel))
    })
  }
}

/** A double barrier: `members` processes enter together and leave together. */
class DoubleBarrier {
  #client
  #binding

  constructor (client, path, members, options) {
    this.#client = checkClient(client)
    this.path = args.path(path)
    args.int(members, 'members', 1, 0x7fffffff)
    const data = args.data(args.options(options).data, 'options.data', { nullable: true })
    this.#binding = new Binding(client, (nativeClient) => new native.NativeDoubleBarrier(nativeClient, path, members, data))
  }

  /** Enters and waits for every member: `true`, or `false` after `{timeout}`. */
  enter (options) {
    return guard(() => {
      const o = args.options(options)
      const timeout = args.millis(o.timeout, 'options.timeout')
      return this.#client[kCall](args.signal(o.signal), (cancel) => this.#binding.get().enter(timeout, cancel))
    })
  }

  /** Leaves and waits for every member to leave: `true`, or `false` after `{timeout}`. */
  leave (options) {
    return guard(() => {
      const o = args.options(options)
      const timeout = args.millis(o.timeout, 'options.timeout')
      return this.#client[kCall](args.signal(o.signal), (cancel) => this.#binding.get().leave(timeout, cancel))
    })
  }
}

/** A FIFO queue with priorities (kazoo `Queue`'s layout): each item is taken once. */
class Queue {
  #client
  #binding

  constructor (client, path) {
    this.#client = checkClient(client)
    this.path = args.path(path)
    this.#binding = new Binding(client, (nativeClient) => new native.NativeQueue(nativeClient, path))
  }

  /** Appends `item`; a lower `{priority}` (0..999, default 100) is taken first. */
  put (item, options) {
    return guard(() => {
      const bytes = args.data(item, 'item')
      const o = args.options(options)
      const priority = o.priority === undefined ? undefined : args.int(o.priority, 'options.priority', 0, 999)
      return this.#client[kCall](args.signal(o.signal), (cancel) => this.#binding.get().put(bytes, priority, cancel))
    })
  }

  /** Removes and returns the first item, waiting for one (at most `{timeout}`: then `null`). */
  take (options) {
    return guard(() => {
      const o = args.options(options)
      const timeout = args.millis(o.timeout, 'options.timeout')
      return this.#client[kCall](args.signal(o.signal), (cancel) => this.#binding.get().take(true, timeout, cancel))
    })
  }

  /** Removes and returns the first item, or `null` at once if the queue is empty. */
  poll (options) {
    return guard(() => this.#client[kCall](signalOf(options), (cancel) => this.#binding.get().take(false, undefined, cancel)))
  }

  /** How many items are queued. */
  length (options) {
    return guard(() => this.#client[kCall](signalOf(options), (cancel) => this.#binding.get().len(cancel)))
  }
}

/**
 * A shared integer: `{format: 'text'}` (default, kazoo `Counter`), `'int32'` (Curator
 * `SharedCount`) or `'int64'` (Curator `DistributedAtomicLong`).
 */
class Counter {
  #client
  #binding

  constructor (client, path, options) {
    this.#client = checkClient(client)
    this.path = args.path(path)
    const o = args.options(options)
    const format = args.optionalString(o.format, 'options.format')
    if (format !== undefined && !['text', 'int32', 'int64'].includes(format)) {
      throw new RangeError(`options.format must be 'text', 'int32' or 'int64', not ${JSON.stringify(format)}`)
    }
    const initial = o.default === undefined ? undefined : args.int(o.default, 'options.default', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)
    this.#binding = new Binding(client, (nativeClient) => new native.NativeCounter(nativeClient, path, format, initial))
  }

  get (options) {
    return guard(() => this.#client[kCall](signalOf(options), (cancel) => this.#binding.get().get(cancel)))
  }

  /** Adds `delta` atomically: `{before, after}`. */
  add (delta, options) {
    return guard(() => {
      args.int(delta, 'delta', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)
      return this.#client[kCall](signalOf(options), (cancel) => this.#binding.get().add(delta, cancel))
    })
  }

  /** Sets the value; resolves to the value it replaced. */
  set (value, options) {
    return guard(() => {
      args.int(value, 'value', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)
      return this.#client[kCall](signalOf(options), (cancel) => this.#binding.get().set(value, cancel))
    })
  }

  /** Sets `next` only if the value is `expected`: `true` if it was. */
  compareAndSet (expected, next, options) {
    return guard(() => {
      args.int(expected, 'expected', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)
      args.int(next, 'next', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)
      return this.#client[kCall](signalOf(options), (cancel) => this.#binding.get().compareAndSet(expected, next, cancel))
    })
  }
}

/** Group membership (Curator `GroupMember` layout: ephemeral `<path>/<id>` with the member's data). */
class Group {
  #client

  constructor (client, path) {
    this.#client = checkClient(client)
    this.path = args.path(path)
  }

  /** Joins as `id` with `data`; resolves to the membership (leave it, or `await using` it). */
  join (id, data, options) {
    return guard(() => {
      args.string(id, 'id')
      const bytes = args.data(data, 'data', { nullable: true })
      const client = this.#client
      return client[kCall](signalOf(options), (cancel) => native.NativeGroupMember.join(client[kNative], this.path, id, bytes, cancel))
        .then((member) => new GroupMember(client, member))
    })
  }

  /** The members `[{id, data}]`. */
  members (options) {
    return guard(() => {
      const client = this.#client
      return client[kCall](signalOf(options), (cancel) => native.NativeGroupMember.membersOf(client[kNative], this.path, cancel))
    })
  }
}

class GroupMember {
  #client
  #native

  constructor (client, nativeMember) {
    this.#client = client
    this.#native = nativeMember
  }

  get id () { return this.#native.id }

  members (options) {
    return guard(() => this.#client[kCall](signalOf(options), (cancel) => this.#native.members(cancel)))
  }

  setData (data, options) {
    return guard(() => {
      const bytes = args.data(data)
      return this.#client[kCall](signalOf(options), (cancel) => this.#native.setData(bytes, cancel))
    })
  }

  /** Leaves the group; a second call does nothing. */
  leave () { return this.#native.leave() }

  [Symbol.asyncDispose] () { return this.leave() }
}

/**
 * A local copy of a subtree kept current by a recursive watch (Curator `CuratorCache`).
 * Emits `created`, `changed`, `deleted` (with the node `{path, data, stat}`),
 * `initialized`, `suspended`, `resynced` and `closed`.
 */
class TreeCache extends EventEmitter {
  #client
  #native = null
  #events
  #refed = false
  #closed = false
  #initialized

  constructor (client, path) {
    super()
    this.#client = checkClient(client)
    this.path = args.path(path)
  }

  /** Starts the cache; resolves once the initial load is complete. */
  start (options) {
    return guard(() => {
      if (this.#native !== null || this.#closed) throw new Error('this cache was already started')
      const client = this.#client
      // Waiting for the initial load is a call in flight: it keeps the process alive.
      client[kHold](true)
      let held = true
      const release = () => {
        if (held) {
          held = false
          client[kHold](false)
        }
      }
      let initialized
      this.#initialized = new Promise((resolve) => { initialized = resolve }).finally(release)
      this.#events = client[kSubscribe]((event) => {
        const kind = event[2]
        if (kind === 'initialized') initialized()
        if (kind === 'closed') {
          this.#closed = true
          initialized()
          client[kUnsubscribe](this.#events)
          this.unref()
        }
        this.#emitSafely(kind, event[3])
      })
      return client[kCall](signalOf(options), (cancel) => native.NativeTreeCache.start(client[kNative], this.path, this.#events, cancel))
        .then((cache) => {
          this.#native = cache
          return this.#initialized
        }, (error) => {
          client[kUnsubscribe](this.#events)
          release()
          throw error
        })
        .then(() => this)
    })
  }

  /** A cached node `{path, data, stat}`, or `null`. */
  get (path) { return this.#native === null ? null : this.#native.get(args.path(path)) }
  /** The cached children's names of a node, sorted. */
  children (path) { return this.#native === null ? [] : this.#native.children(args.path(path)) }
  /** Every cached node, in path order. */
  snapshot () { return this.#native === null ? [] : this.#native.snapshot() }

  /** Stops the cache (a `closed` event follows). */
  close () {
    this.unref()
    if (this.#native !== null) this.#native.close()
    else this.#closed = true
  }

  [Symbol.dispose] () { this.close() }

  /** Keeps the process alive while the cache is open. */
  ref () {
    if (!this.#refed && !this.#closed) {
      this.#refed = true
      this.#client[kHold](true)
    }
    return this
  }

  unref () {
    if (this.#refed) {
      this.#refed = false
      this.#client[kHold](false)
    }
    return this
  }

  #emitSafely (kind, node) {
    try {
      if (node === null || node === undefined) this.emit(kind)
      else this.emit(kind, node)
    } catch (error) {
      this.#client[kReport](error)
    }
  }
}

module.exports = {
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
  TreeCache
}
