'use strict'
// The errors the candidate sources (hnsw-gnn/pgvector, hnsw-gnn/lancedb)
// throw: `Error`s with the same stable `code`s as hnsw-gnn's own, plus
// ERR_SOURCE for a failure inside the other engine, whose error is kept as
// `cause` so nothing the engine said is lost.

function codedError(ErrorClass, code, message, cause) {
  const error = cause === undefined ? new ErrorClass(message) : new ErrorClass(message, { cause })
  error.code = code
  return error
}

/** A bad option or argument: a TypeError, as hnsw-gnn's are. */
function invalidArgument(message) {
  return codedError(TypeError, 'ERR_INVALID_ARGUMENT', message)
}

function invalidFilter(message) {
  return codedError(TypeError, 'ERR_INVALID_FILTER', message)
}

function invalidVector(message) {
  return codedError(Error, 'ERR_INVALID_VECTOR', message)
}

function dimensionMismatch(message) {
  return codedError(Error, 'ERR_DIMENSION_MISMATCH', message)
}

/** The engine failed; `what` says which call on which table and column. */
function sourceError(what, cause) {
  const reason = cause instanceof Error ? cause.message : String(cause)
  return codedError(Error, 'ERR_SOURCE', `${what} failed: ${reason}`, cause)
}

module.exports = { codedError, invalidArgument, invalidFilter, invalidVector, dimensionMismatch, sourceError }
