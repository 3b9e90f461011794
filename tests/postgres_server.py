"""A throwaway PostgreSQL server on a loopback port (Debian's ``postgresql``; ``.ci/run`` installs it).

``initdb`` refuses to run as root, so as root the server runs as the ``postgres`` user the package creates,
in a folder of its own under the system's temp dir (pytest's own folders are closed to other users).
"""

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import pytest


def find_binaries() -> str:
    """The folder holding ``initdb`` and ``pg_ctl``; fails the test (not skips) when there is none."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    if found:
        return os.path.dirname(found[-1])
    if shutil.which("pg_ctl") and shutil.which("initdb"):
        return os.path.dirname(shutil.which("initdb"))
    pytest.fail("PostgreSQL is not installed: apt-get install -y postgresql (.ci/run does it)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def postgres_url() -> Iterator[str]:
    """Start a server; yield ``postgresql://tune@127.0.0.1:<port>/postgres``; stop it and remove its files."""
    binaries = find_binaries()
    folder = tempfile.mkdtemp(prefix="tune-postgres-")
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = os.path.join(folder, "data"), free_port()

    def run(*command: str) -> None:
        result = subprocess.run([*as_user, *command], capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            pytest.fail(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")

    try:
        run(f"{binaries}/initdb", "-D", data, "-U", "tune", "--auth=trust", "--no-sync")
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        run(f"{binaries}/pg_ctl", "-D", data, "-o", options, "-l", os.path.join(folder, "log"), "-w", "start")
        try:
            yield f"postgresql://tune@127.0.0.1:{port}/postgres"
        finally:
            run(f"{binaries}/pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
