"""A PostgreSQL cluster of the suite's own: initdb, start, stop and restart on a free port.

The suite stops and restarts its store under running daemons, so it must
never use the shared server on 5432: it builds a throwaway cluster in a
temporary directory from the server binaries of the machine
(``/usr/lib/postgresql/*/bin`` or ``PATH``). PostgreSQL refuses to run as
root, so as root every server command runs as the ``postgres`` user
(``runuser -u postgres --``) in a directory that user owns.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

SERVER_USER = "postgres"
COMMAND_TIMEOUT_SECONDS = 60.0


class ClusterError(Exception):
    """The cluster could not be created, started or stopped; the message says why."""


def server_binaries() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl``: the newest installed, else PATH."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda path: (
            int(Path(path).parent.parent.name) if Path(path).parent.parent.name.isdigit() else 0
        ),
    )
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


class Cluster:
    """One throwaway cluster: trust authentication on 127.0.0.1, user ``postgres``.

    It lives in a temporary directory of its own (its socket too), outside the
    caller's, which the server user may not be allowed to enter.
    """

    def __init__(self, port: int, binaries: Path) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="driftwarden-pg-"))
        self.port = port
        self.binaries = binaries
        self.data = self.directory / "data"
        self.log = self.directory / "postgres.log"
        self._as_server_user = os.geteuid() == 0

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> None:
        command = [str(self.binaries / args[0]), *args[1:]]
        if self._as_server_user:
            command = ["runuser", "-u", SERVER_USER, "--", *command]
        try:
            completed = subprocess.run(
                command, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_SECONDS
            )
        except subprocess.TimeoutExpired:
            raise ClusterError(
                f"{args[0]} did not finish in {COMMAND_TIMEOUT_SECONDS:.0f}s"
            ) from None
        if completed.returncode != 0:
            output = (completed.stderr or completed.stdout).strip().splitlines()
            raise ClusterError(
                f"{args[0]} failed: {output[-1] if output else completed.returncode}"
            )

    def create(self) -> None:
        """initdb into ``directory/data``, owned by the server user when run as root."""
        if self._as_server_user:
            try:
                user = pwd.getpwnam(SERVER_USER)
            except KeyError:
                raise ClusterError(f"running as root needs a {SERVER_USER!r} user") from None
            os.chown(self.directory, user.pw_uid, user.pw_gid)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    def start(self) -> None:
        # Dead clients (a daemon killed with SIGKILL mid-query) are noticed within a second,
        # so the sessions of a hung pg_sleep do not pile up over twenty kills.
        options = (
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c max_connections=300 -c client_connection_check_interval=1000"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def remove(self) -> None:
        """Stop the server, whatever its state, and delete the cluster (the suite's last step)."""
        with contextlib.suppress(ClusterError):
            self.stop("immediate")
        shutil.rmtree(self.directory, ignore_errors=True)
