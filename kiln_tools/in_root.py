"""`python -m kiln_tools.in_root ROOT WORKDIR COMMAND...`: COMMAND in WORKDIR, inside ROOT.

ROOT is a Debian root that `kiln python provision` built for a Python this machine lacks. The
process enters a mount namespace of its own, so nothing mounted here outlives it or shows on the
host; it keeps the host's network, users and PID space, so the machine's PostgreSQL, Redis and
RabbitMQ answer on 127.0.0.1 as they do outside, and a signal sent to this process reaches
COMMAND, which replaces it. Inside, the host's /tmp (uv's cache for the roots included), WORKDIR
and Kiln's checkout are where they are outside: a path printed inside means the same file outside.
Root only (mount namespaces and chroot).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

# Shared with the host at the same path: the matrix's renders and XDG_RUNTIME_DIR live in /tmp;
# `kiln bench` points a render at Kiln's own files (its baseline app, its phase probe).
# S108: the host's own /tmp, meant to be shared, not a temporary file of ours.
SHARED_FOLDERS = (Path("/tmp"), Path(__file__).resolve().parents[1])  # noqa: S108
# uv's cache for the roots, in the host's /tmp, the mount the renders are on: from a cache on
# another mount uv can only copy each environment, not hard-link it (with the copies, a CI run's
# system time went from 5 to 13 minutes).
UV_CACHE = Path("/tmp/kiln-uv-cache")  # noqa: S108 - a cache by name, shared on purpose
INSIDE_PATH = "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin"
# The host's own tools a render's checks run that no package of the root provides: kubectl (a
# static binary) renders deploy/kubernetes for tests/deploy.
HOST_TOOLS = ("kubectl",)


def _mount(*arguments: str) -> None:
    subprocess.run(["mount", *arguments], check=True)


def _is_within(path: Path, folders: Sequence[Path]) -> bool:
    return any(path == folder or folder in path.parents for folder in folders)


def enter(root: Path, workdir: Path) -> None:
    """Mount what is shared, then chroot into `root` and move to `workdir`."""
    os.unshare(os.CLONE_NEWNS)
    # Mounts made from here on stay in this namespace, whatever the host's propagation is.
    _mount("--make-rprivate", "/")
    _mount("--rbind", "/dev", str(root / "dev"))
    _mount("-t", "proc", "proc", str(root / "proc"))
    shared = [folder for folder in SHARED_FOLDERS if folder.is_dir()]
    if not _is_within(workdir, shared):
        shared.append(workdir)
    for folder in shared:
        inside = root / folder.relative_to("/")
        inside.mkdir(parents=True, exist_ok=True)
        _mount("--bind", str(folder), str(inside))
    for tool in HOST_TOOLS:
        found = shutil.which(tool)
        if found is not None:
            inside = root / "usr/local/bin" / tool
            inside.touch()  # a file to mount on; empty, and hidden, outside this namespace
            _mount("--bind", os.path.realpath(found), str(inside))
    os.chroot(root)
    os.chdir(workdir)


def inside_environment(environment: Mapping[str, str]) -> dict[str, str]:
    """The caller's environment, with the tools' paths of the root and uv's cache shared."""
    return {
        # UV names the host's uv binary, which `uv run` sets again for what it runs.
        **{name: value for name, value in environment.items() if name != "UV"},
        "PATH": INSIDE_PATH,
        "UV_CACHE_DIR": str(UV_CACHE),
        "UV_PYTHON_DOWNLOADS": "never",
        # The host's CA bundle, copied in when the root was built: uv does not read pip.conf.
        "SSL_CERT_FILE": "/etc/ssl/certs/ca-certificates.crt",
    }


def main(arguments: Sequence[str]) -> None:
    if len(arguments) < 3:
        sys.exit("usage: python -m kiln_tools.in_root ROOT WORKDIR COMMAND...")
    root, workdir, command = Path(arguments[0]), Path(arguments[1]).resolve(), arguments[2:]
    enter(root, workdir)
    # S606 (a process started without a shell): exec is the point, the command replaces this one
    # so a signal sent to it lands; the command is the caller's own, not outside input.
    os.execvpe(command[0], list(command), inside_environment(os.environ))  # noqa: S606


if __name__ == "__main__":
    main(sys.argv[1:])
