#!/usr/bin/env python3
"""A throwaway PostgreSQL + pgvector server for the integration tests.

The server comes from the `pgserver` wheel (PostgreSQL 16 with pgvector 0.6
inside), installed into a virtual environment by `.ci/run` or by
`scripts/postgres.js`; run this file with that environment's python.

    pg-server.py start DIR   initialise DIR, start a server, print its URI, exit
                             (the server keeps running)
    pg-server.py stop DIR    stop the server of DIR and delete DIR
    pg-server.py serve       start a server in a new temp directory, print its
                             URI, and stop it and delete the directory when
                             stdin closes or on SIGTERM/SIGINT: the owner
                             (scripts/postgres.js) cannot leak a server, even
                             if it is killed, because its end of the pipe
                             closes with it

The server listens on a Unix socket inside DIR and on no TCP address
(pgserver starts postgres with `-h ""`), accepts the `postgres` user without
a password (trust auth on a socket only this machine can reach), and prints
a URI `pg` understands: postgresql://postgres:@/postgres?host=DIR.

Run as root, pgserver runs postgres as a system user `pgserver` (postgres
refuses to run as root), creating the user with `useradd` if needed and
opening read/traverse permissions on DIR's parents and on the wheel's files.
"""

import os
import shutil
import signal
import sys
import tempfile
import time
import warnings
from pathlib import Path

# pgserver keeps its lock file in the user's runtime directory; without
# XDG_RUNTIME_DIR (CI, root shells) platformdirs falls back to /tmp and warns.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")


def server_user():
    """The system user postgres runs as: pgserver's choice, repeated for stop."""
    return "pgserver" if os.name == "posix" and os.geteuid() == 0 else None


def start(data_dir: Path) -> str:
    import pgserver

    started = time.monotonic()
    # cleanup_mode=None: pgserver would otherwise stop the server when this
    # process exits; `start` hands the server over to whoever calls `stop`.
    server = pgserver.get_server(data_dir, cleanup_mode=None)
    uri = server.get_uri()
    print(
        f"pg-server: PostgreSQL ready in {time.monotonic() - started:.1f} s, data in {data_dir}",
        file=sys.stderr,
    )
    return uri


def stop(data_dir: Path) -> None:
    from pgserver import pg_ctl

    if (data_dir / "postmaster.pid").exists():
        try:
            # fast: roll back open transactions instead of waiting for clients.
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=data_dir, user=server_user(), timeout=30)
        except Exception as error:  # a server that already died is stopped
            print(f"pg-server: pg_ctl stop: {error}", file=sys.stderr)
    shutil.rmtree(data_dir, ignore_errors=True)


def serve() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="hnsw-gnn-pg-"))
    try:
        uri = start(data_dir)
        print(uri, flush=True)
        # SIGTERM/SIGINT end the wait like EOF does; the finally stops the server.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
        sys.stdin.read()
    finally:
        stop(data_dir)


def main(argv) -> int:
    if len(argv) == 2 and argv[1] == "serve":
        serve()
        return 0
    if len(argv) == 3 and argv[1] in ("start", "stop"):
        data_dir = Path(argv[2]).resolve()
        if argv[1] == "start":
            print(start(data_dir), flush=True)
        else:
            stop(data_dir)
        return 0
    print(__doc__.split("\n\n")[1], file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
