#!/usr/bin/env bash
# Installs the throwaway PostgreSQL of the integration tests: a Python
# virtual environment in .tools/pg-venv (git ignores .tools) holding the
# pgserver wheel, which ships PostgreSQL 16 with pgvector 0.6 prebuilt, so
# nothing but python3 and PyPI is needed. Run by .ci/run; run it once by
# hand to let `npm test` and the benchmarks start a server themselves
# (scripts/postgres.js). Prints the venv's python.
set -euo pipefail
cd "$(dirname "$0")/.."

PGSERVER_VERSION=0.1.4
VENV=.tools/pg-venv

if ! "$VENV/bin/python" -c "import pgserver" >/dev/null 2>&1; then
  rm -rf "$VENV"
  mkdir -p .tools
  if ! python3 -m venv "$VENV" >/dev/null 2>&1; then
    # Debian's python3 leaves venv (ensurepip) to the python3-venv package.
    rm -rf "$VENV"
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "pg-venv: python3 -m venv failed; installing python3-venv" >&2
      apt-get update -qq >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >&2
      python3 -m venv "$VENV"
    else
      echo "pg-venv: python3 -m venv failed: install python3-venv (Debian/Ubuntu) and run this again" >&2
      exit 1
    fi
  fi
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "pgserver==$PGSERVER_VERSION" >&2
fi
echo "$PWD/$VENV/bin/python"
