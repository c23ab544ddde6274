'use strict'
// PersistentWatch: a persistent (or recursive) watch as an async iterator. Each `next()`
// pulls one event from the core's bounded queue; `{type: 'overflow'}` says events were
// dropped (resynchronise), and the iteration ends when the watch is closed or removed or
// the session ends (after that session event). Breaking out of `for await` closes it.

const { kNative, kRemoveWatch, kHold } = require('./symbols')
const { kDeliverEnd } = require('./symbols')

const DONE = Object.freeze({ done: true, value: undefined })

class PersistentWatch {
  #client
  #id
  #path
  #recursive
  #done = false
  #refed = false

  constructor (client, id, path, recursive) {
    this.#client = client
    this.#id = id
    this.#path = path
    this.#recursive = recursive
  }

  get path () { return this.#path }
  get recursive () { return this.#recursive }
  /** Whether the watch has ended (closed, removed, or its session is over). */
  get closed () { return this.#done }

  /** The next event: `{type, state, path, zxid}`. */
  next () {
    if (this.#done) return Promise.resolve(DONE)
    return this.#client[kNative].watchNext(this.#id).then((event) => {
      if (event === null) {
        this.#finish()
        return DONE
      }
      return { done: false, value: event }
    })
  }

  return () {
    this.close()
    return Promise.resolve(DONE)
  }

  [Symbol.asyncIterator] () { return this }

  /** Removes the watch (from the server too, once no other watch of the client needs it). */
  close () {
    this.#finish()
  }

  [Symbol.asyncDispose] () {
    this.close()
    return Promise.resolve()
  }

  [Symbol.dispose] () { this.close() }

  /** Keeps the process alive while the watch is open. */
  ref () {
    if (!this.#refed && !this.#done) {
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

  hasRef () { return this.#refed }

  [kDeliverEnd] () { this.#finish() }

  #finish () {
    if (this.#done) return
    this.#done = true
    this.#client[kRemoveWatch](this.#id)
    this.unref()
  }
}

module.exports = { PersistentWatch }
