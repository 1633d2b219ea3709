'use strict'
// Reading an engine's catalog once per source.

/**
 * `load` run on the first call and its promise shared by every call after;
 * a failure is forgotten, so a call after the cause is fixed (the table
 * created, the server back) tries again.
 */
function onceUntilSuccess(load) {
  let promise
  return () =>
    (promise ??= load().catch((error) => {
      promise = undefined
      throw error
    }))
}

module.exports = { onceUntilSuccess }
