'use strict'
// AbortSignal support for every call. One 'abort' listener per signal, whatever the number
// of calls waiting on it, so a signal shared by many calls never trips MaxListeners.

const { abortError } = require('./errors')

const waiting = new WeakMap()

function watchSignal (signal) {
  let calls = waiting.get(signal)
  if (calls === undefined) {
    calls = new Set()
    waiting.set(signal, calls)
    signal.addEventListener('abort', () => {
      const aborted = [...calls]
      calls.clear()
      for (const call of aborted) call()
    }, { once: true })
  }
  return calls
}

/**
 * `work` settles `promise` unless `signal` fires first: then `onAbort()` runs (to cancel
 * the native call) and the returned promise rejects with an AbortError at once.
 */
function raceAbort (promise, signal, onAbort) {
  if (signal.aborted) {
    onAbort()
    promise.catch(() => {})
    return Promise.reject(abortError(signal))
  }
  const calls = watchSignal(signal)
  return new Promise((resolve, reject) => {
    const abort = () => {
      onAbort()
      reject(abortError(signal))
    }
    calls.add(abort)
    promise.then((value) => {
      calls.delete(abort)
      resolve(value)
    }, (error) => {
      calls.delete(abort)
      reject(error)
    })
  })
}

module.exports = { raceAbort }
