"""A PgBouncer of the test's own, in transaction pooling, in front of the local PostgreSQL.

Started from the Debian package's binary (``.ci/run`` installs it); missing, it skips its tests
locally and fails them under DBJOBQ_REQUIRE_ALL_DATABASES=1, like a missing database server.
PgBouncer refuses to run as root: then it runs as the ``postgres`` user (``runuser``).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

from tests.databases import Server

_BINARIES = ("pgbouncer", "/usr/sbin/pgbouncer")


def _binary() -> str | None:
    for name in _BINARIES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def pgbouncer(direct_url: str) -> Iterator[str]:
    """Run PgBouncer (transaction pooling) in front of ``direct_url``'s server; yield the same URL
    through it. Stopped, and its directory removed, at the end.

    Its files live in a directory of their own under the system's temporary directory: pytest's
    ``tmp_path`` is private to the current user, which PgBouncer (as ``postgres``) cannot enter."""
    binary = _binary()
    if binary is None:
        Server("pgbouncer", error="the pgbouncer binary is not installed (Debian package pgbouncer)").unavailable()
    assert binary is not None
    url = make_url(direct_url)
    port = _free_port()
    workdir = Path(tempfile.mkdtemp(prefix="dbjobq-pgbouncer-"))
    workdir.chmod(0o777)  # the postgres user writes its log and pid file here when we are root
    (workdir / "users.txt").write_text(f'"{url.username}" "{url.password or ""}"\n')
    ini = workdir / "pgbouncer.ini"
    ini.write_text(
        "[databases]\n"
        f"* = host={url.host} port={url.port or 5432}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {workdir / 'users.txt'}\n"
        "pool_mode = transaction\ndefault_pool_size = 4\nmax_client_conn = 500\n"
        f"logfile = {workdir / 'pgbouncer.log'}\npidfile = {workdir / 'pgbouncer.pid'}\n"
    )
    for path in workdir.iterdir():
        path.chmod(0o666)
    command = [binary, str(ini)]
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log = workdir / "pgbouncer.log"
                    detail = log.read_text()[-2000:] if log.exists() else "no log"
                    raise RuntimeError(f"PgBouncer did not start: {detail}") from None
                time.sleep(0.05)
        yield url.set(port=port).render_as_string(hide_password=False)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)
