'use strict'
// Argument checks: a wrong type is a TypeError before anything is sent; path syntax and
// modes are checked by the core (ZkError BADARGUMENTS).

const { argTypeError, argValueError } = require('./errors')

function path (value, name = 'path') {
  if (typeof value !== 'string') throw argTypeError(name, 'of type string', value)
  return value
}

/** Znode data: a Buffer or Uint8Array (a string is refused: encode it yourself). */
function data (value, name = 'data', { nullable = false } = {}) {
  if (value instanceof Uint8Array) return value
  if (nullable && (value === null || value === undefined)) return null
  throw argTypeError(name, nullable ? 'a Buffer, a Uint8Array or null' : 'a Buffer or a Uint8Array', value)
}

/** Bytes given as a Buffer, a Uint8Array or (for credentials) a string. */
function bytesOrString (value, name) {
  if (value instanceof Uint8Array) return value
  if (typeof value === 'string') return Buffer.from(value)
  throw argTypeError(name, 'a string, a Buffer or a Uint8Array', value)
}

function options (value, name = 'options') {
  if (value === undefined || value === null) return {}
  if (typeof value !== 'object') throw argTypeError(name, 'an object', value)
  return value
}

/** A version: a number, or `{version}`; -1 (any) when absent. */
function version (value, name = 'version') {
  let v = value
  if (v !== null && typeof v === 'object') v = v.version
  if (v === undefined || v === null) return -1
  if (typeof v !== 'number') throw argTypeError(name, 'of type number', v)
  if (!Number.isInteger(v) || v < -1 || v > 0x7fffffff) throw argValueError(name, 'an integer >= -1', v)
  return v
}

function int (value, name, min, max) {
  if (typeof value !== 'number') throw argTypeError(name, 'of type number', value)
  if (!Number.isInteger(value) || value < min || value > max) {
    throw argValueError(name, `an integer in ${min}..${max}`, value)
  }
  return value
}

/** Milliseconds (optional). */
function millis (value, name) {
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'number') throw argTypeError(name, 'of type number', value)
  if (!(value >= 0) || !Number.isFinite(value)) throw argValueError(name, 'a finite number >= 0', value)
  return value
}

function bool (value, name) {
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'boolean') throw argTypeError(name, 'of type boolean', value)
  return value
}

function string (value, name) {
  if (typeof value !== 'string') throw argTypeError(name, 'of type string', value)
  return value
}

function optionalString (value, name) {
  if (value === undefined || value === null) return undefined
  return string(value, name)
}

function fn (value, name) {
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'function') throw argTypeError(name, 'a function', value)
  return value
}

function signal (value) {
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'object' || typeof value.aborted !== 'boolean' || typeof value.addEventListener !== 'function') {
    throw argTypeError('options.signal', 'an AbortSignal', value)
  }
  return value
}

/** ACL entries `{perms, scheme, id}`. */
function acl (value, name = 'options.acl') {
  if (value === undefined || value === null) return undefined
  if (!Array.isArray(value)) throw argTypeError(name, 'an array of {perms, scheme, id}', value)
  return value.map((entry, i) => {
    if (entry === null || typeof entry !== 'object') throw argTypeError(`${name}[${i}]`, 'an object {perms, scheme, id}', entry)
    return {
      perms: int(entry.perms, `${name}[${i}].perms`, 0, 31),
      scheme: string(entry.scheme, `${name}[${i}].scheme`),
      id: string(entry.id, `${name}[${i}].id`)
    }
  })
}

module.exports = { path, data, bytesOrString, options, version, int, millis, bool, string, optionalString, fn, signal, acl }
