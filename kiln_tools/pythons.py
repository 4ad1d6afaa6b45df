"""The Pythons copier.yml offers, and where each one runs on this machine.

A version the host has (pyenv's, the system's, one uv installed) runs on the host. A version it
lacks runs inside a Debian root built for it by `kiln python provision` (`.ci/provision`): the
moral equivalent of the official `python:X.Y` image, on the host's kernel, network and /tmp. Every
command Kiln runs in a rendered project goes through `command_in`, so the matrix, the README's
commands and `kiln python run` take the same path.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from kiln_tools.matrix import python_versions

ROOTS = Path(os.environ.get("KILN_PYTHON_ROOTS") or "/var/cache/kiln/pythons")
# The Debian suite whose python3.X package is that version: only versions the host lacks need one.
DEBIAN_SUITES = {"3.14": "forky"}
DEBIAN_MIRROR = "http://deb.debian.org/debian"
# git: copier clones the template with it, inside the root, when the README's commands run there.
ROOT_PACKAGES = ("ca-certificates", "git")
# Written last, with what the root was built from: a root without it is a build that did not
# finish, one with another recipe was built by another Kiln; either is built again.
PROVISIONED_MARKER = ".kiln-provisioned"
# chroot and debootstrap live in sbin, which a user's PATH may lack.
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Every interpreter pyenv holds on CI's machines, visible at once (`.ci/run` exports the same).
PYENV_VERSIONS = "3.11.7:3.12.1:3.13.0"


class MissingPythonError(AssertionError):
    """An offered version that neither the host nor a provisioned root can run.

    An AssertionError, as every failed step of a check is: the combinations that need that
    Python fail with this message, and the others go on.
    """


def offered() -> list[str]:
    """copier.yml's `python_version` choices, newest first, as the questionnaire lists them."""
    return python_versions()[0]


def default() -> str:
    return python_versions()[1]


def uv_binary() -> str:
    """The uv executable itself: `uv run` names it in UV; on PATH, `uv` may be a pyenv shim, a
    script that works on the host only."""
    uv = os.environ.get("UV") or shutil.which("uv")
    assert uv, "uv is not on PATH"
    return str(Path(uv).resolve())


@functools.cache
def on_host(version: str) -> bool:
    """uv finds the interpreter here without downloading one (pyenv's included)."""
    environment = {
        **{k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "UV_PYTHON"}},
        "PYENV_VERSION": os.environ.get("PYENV_VERSION", PYENV_VERSIONS),
        "UV_PYTHON_DOWNLOADS": "never",
    }
    found = subprocess.run(
        [uv_binary(), "python", "find", "--no-project", version],
        cwd="/",
        env=environment,
        capture_output=True,
        check=False,
    )
    return found.returncode == 0


def newest_on_host() -> str:
    """The newest offered version the host runs itself (where copier's own tasks can run)."""
    return next(version for version in offered() if on_host(version))


def root_for(version: str, roots: Path | None = None) -> Path:
    return (ROOTS if roots is None else roots) / version


def is_provisioned(version: str, roots: Path | None = None) -> bool:
    return (root_for(version, roots) / PROVISIONED_MARKER).is_file()


def project_version(project: Path) -> str | None:
    """The version a rendered project asks uv for, from its `.python-version`."""
    pin = project / ".python-version"
    return pin.read_text().strip() if pin.is_file() else None


def runs_on_host(version: str | None) -> bool:
    return version is None or on_host(version)


def command_in(
    project: Path, command: Sequence[str], version: str | None = None, *, roots: Path | None = None
) -> list[str]:
    """`command` as it must be started to run in `project` under `version` (the project's own by
    default): unchanged where the host has that Python, else entering its provisioned root."""
    version = version or project_version(project)
    if runs_on_host(version):
        return list(command)
    assert version is not None
    if not is_provisioned(version, roots):
        raise MissingPythonError(
            f"Python {version} is not on this machine and has no provisioned root: "
            f"run .ci/provision (or `uv run kiln python provision {version}`)"
        )
    root = str(root_for(version, roots))
    # -P: the working directory may be a clone of Kiln, whose kiln_tools would come first.
    return [
        sys.executable, "-P", "-m", "kiln_tools.in_root", root, str(project.resolve()), *command
    ]  # fmt: skip


def environment_for(version: str | None, environment: Mapping[str, str]) -> dict[str, str]:
    """uv told which interpreter to use, when a version other than the project's is asked for."""
    return dict(environment) if version is None else {**environment, "UV_PYTHON": version}


def debian_mirror() -> str:
    """The mirror apt already uses here, else Debian's own."""
    sources = Path("/etc/apt/sources.list.d/debian.sources")
    if sources.is_file():
        found = re.search(r"^URIs:\s*(\S+/debian)\s*$", sources.read_text(), re.MULTILINE)
        if found:
            return found.group(1)
    return DEBIAN_MIRROR


def provision(version: str) -> Path | None:
    """Make `version` runnable here: nothing to do where the host has it; else build (once) a
    Debian root holding it, uv and git. Returns the root, or None when the host has it.

    One process at a time builds a root (a lock beside the roots); a root whose recipe changed
    (the suite, the packages, the uv binary) is built again."""
    if on_host(version):
        return None
    suite = DEBIAN_SUITES.get(version)
    if suite is None:
        raise MissingPythonError(
            f"Python {version} is not on this machine, and Kiln knows no Debian suite for it: "
            f"install it (pyenv install {version}) or add it to DEBIAN_SUITES"
        )
    root = root_for(version)
    ROOTS.mkdir(parents=True, exist_ok=True)
    with (ROOTS / f"{version}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not is_current(version):
            _build(root, version, suite)
            (root / PROVISIONED_MARKER).write_text(recipe(version, suite))
    return root


def is_current(version: str) -> bool:
    """The version's root is built, from what this Kiln would build it from."""
    marker = root_for(version) / PROVISIONED_MARKER
    suite = DEBIAN_SUITES[version]
    return marker.is_file() and marker.read_text() == recipe(version, suite)


def recipe(version: str, suite: str) -> str:
    """What a root is built from, as its marker records it."""
    digest = hashlib.sha256(Path(uv_binary()).read_bytes()).hexdigest()[:16]
    packages = " ".join((f"python{version}", f"python{version}-venv", *ROOT_PACKAGES))
    return f"suite {suite}\npackages {packages}\nuv {digest}\n"


def _build(root: Path, version: str, suite: str) -> None:
    if shutil.which("debootstrap", path=SYSTEM_PATH) is None:
        _quiet(["apt-get", "install", "-y", "-q", "--no-install-recommends", "debootstrap"])
    building = root.with_name(f"{root.name}.building")
    shutil.rmtree(building, ignore_errors=True)
    packages = ",".join((f"python{version}", f"python{version}-venv", *ROOT_PACKAGES))
    script = Path("/usr/share/debootstrap/scripts/sid")  # forky and later use sid's script
    # In a mount namespace of its own: the /proc and /sys debootstrap mounts in the root go with
    # it, even when it is killed half-way.
    _quiet(
        [
            "unshare", "--mount", "--propagation", "private",
            "debootstrap", "--variant=minbase", f"--include={packages}",
            suite, str(building), debian_mirror(), str(script),
        ]
    )  # fmt: skip
    _furnish(building)
    _quiet(["chroot", str(building), f"python{version}", "-c", "import ensurepip, ssl, venv"])
    _quiet(["chroot", str(building), "/usr/local/bin/uv", "--version"])
    shutil.rmtree(root, ignore_errors=True)
    building.rename(root)


def _furnish(root: Path) -> None:
    """What the host knows that the root must too: its CA bundle (this network's proxies sign
    with their own), its name resolution, and the uv it runs (one version on both sides)."""
    for known in ("/etc/ssl/certs/ca-certificates.crt", "/etc/resolv.conf", "/etc/hosts"):
        shutil.copyfile(known, root / known.lstrip("/"))
    uv = Path(uv_binary())
    for tool in (uv, uv.with_name("uvx")):
        if tool.read_bytes()[:4] != b"\x7fELF":
            raise MissingPythonError(f"{tool} is not uv's own binary: put uv itself on PATH")
        shutil.copy2(tool, root / "usr" / "local" / "bin" / tool.name)


def _quiet(command: Sequence[str]) -> None:
    completed = subprocess.run(
        command,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive", "PATH": SYSTEM_PATH},
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise MissingPythonError(
            f"{' '.join(command)} failed ({completed.returncode}):\n{completed.stderr[-4000:]}"
        )
