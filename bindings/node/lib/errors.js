'use strict'
// The errors promises reject with. The codes and numbers come from the core's one table
// (native `errorCodes()`); which failure gets which code is decided in src/errors.rs.

const native = require('./native')

/** Every ZooKeeper error code: name -> errno (`NONODE` -> -101). */
const Codes = Object.freeze(Object.fromEntries(native.errorCodes()))

/** A failed ZooKeeper call: `code` is the code's name (`'NONODE'`), `errno` its number. */
class ZkError extends Error {
  constructor (code, message, options = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'ZkError'
    this.code = code
    this.errno = options.errno ?? Codes[code] ?? 0
    // A failed transaction names its failing op.
    if (options.index != null) this.index = options.index
    if (options.path != null) this.path = options.path
  }
}

/** The factory the addon calls on the JavaScript thread. */
function makeError (code, errno, message, index, path) {
  return new ZkError(code, message, { errno, index, path })
}

/** What a call rejects with when its `AbortSignal` fires (as Node's own APIs do). */
function abortError (signal) {
  const error = new Error('The operation was aborted', { cause: signal.reason })
  error.name = 'AbortError'
  error.code = 'ABORT_ERR'
  return error
}

/** A `TypeError` for a bad argument, like Node's `ERR_INVALID_ARG_TYPE`. */
function argTypeError (name, expected, actual) {
  let shown
  if (actual === null) shown = 'null'
  else if (typeof actual === 'string') shown = `type string (${JSON.stringify(actual.length > 28 ? actual.slice(0, 25) + '...' : actual)})`
  else if (typeof actual === 'object') shown = `an instance of ${actual.constructor?.name ?? 'Object'}`
  else shown = `type ${typeof actual} (${String(actual)})`
  const error = new TypeError(`The "${name}" argument must be ${expected}. Received ${shown}`)
  error.code = 'ERR_INVALID_ARG_TYPE'
  return error
}

/** A `RangeError` for an argument of the right type and a wrong value. */
function argValueError (name, expected, actual) {
  const error = new RangeError(`The "${name}" argument must be ${expected}. Received ${String(actual)}`)
  error.code = 'ERR_OUT_OF_RANGE'
  return error
}

module.exports = { Codes, ZkError, makeError, abortError, argTypeError, argValueError }
