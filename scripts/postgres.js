'use strict'
// A PostgreSQL + pgvector server for the integration tests and the
// benchmarks: the one named by HNSW_GNN_PG_URI if set (.ci/run starts one
// and sets it), else a throwaway server started from the virtual
// environment that scripts/pg-venv.sh installs, else none.
//
// A server started here is scripts/pg-server.py `serve` in a child process
// holding the other end of a pipe: stop() closes the pipe and waits for the
// server to stop and its directory to go; if this process dies first, the
// pipe closes with it and the server stops all the same.

const { spawn } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const ROOT = path.join(__dirname, '..')
const VENV_PYTHON = path.join(ROOT, '.tools', 'pg-venv', 'bin', 'python')
const SERVER_SCRIPT = path.join(__dirname, 'pg-server.py')
/** How long a start may take: usually under 2 s (initdb and start). */
const START_TIMEOUT_MS = 60_000
const STOP_TIMEOUT_MS = 30_000

/** Why `postgres()` would return null here, or null if it would not. */
function whyNoPostgres() {
  if (process.env.HNSW_GNN_PG_URI) return null
  if (fs.existsSync(VENV_PYTHON)) return null
  return 'no PostgreSQL: HNSW_GNN_PG_URI is not set and scripts/pg-venv.sh has not installed .tools/pg-venv'
}

/**
 * `{ uri, stop }` for a server (`uri` is a connection string `pg`
 * accepts; `stop()` stops a server started here and does nothing to one
 * named by HNSW_GNN_PG_URI), or null when there is none (`whyNoPostgres()`
 * says why). Rejects if a start fails, with the server's output.
 */
async function postgres() {
  if (process.env.HNSW_GNN_PG_URI) return { uri: process.env.HNSW_GNN_PG_URI, stop: async () => {} }
  if (!fs.existsSync(VENV_PYTHON)) return null
  return startServer()
}

function startServer() {
  const child = spawn(VENV_PYTHON, [SERVER_SCRIPT, 'serve'], { stdio: ['pipe', 'pipe', 'pipe'] })
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
  let output = ''
  child.stderr.setEncoding('utf8').on('data', (text) => (output += text))
  const stop = async () => {
    child.stdin.end()
    const timer = setTimeout(() => child.kill('SIGTERM'), STOP_TIMEOUT_MS)
    await exited
    clearTimeout(timer)
  }
  return new Promise((resolve, reject) => {
    const fail = (reason) => {
      clearTimeout(timer)
      child.kill('SIGTERM')
      reject(new Error(`starting PostgreSQL (${SERVER_SCRIPT} serve) failed: ${reason}\n${output}`))
    }
    const timer = setTimeout(() => fail(`no URI after ${START_TIMEOUT_MS / 1000} s`), START_TIMEOUT_MS)
    let line = ''
    child.stdout.setEncoding('utf8').on('data', (text) => {
      line += text
      if (!line.includes('\n')) return
      clearTimeout(timer)
      // The server lives as long as the pipe: let this process exit
      // without waiting for it (exiting closes the pipe, which stops it).
      for (const handle of [child, child.stdin, child.stdout, child.stderr]) handle.unref()
      resolve({ uri: line.split('\n')[0].trim(), stop })
    })
    child.once('error', (error) => fail(error.message))
    exited.then(({ code, signal }) => fail(`it exited (${signal ?? `code ${code}`})`))
  })
}

module.exports = { postgres, whyNoPostgres }
