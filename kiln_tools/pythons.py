"""The Pythons copier.yml offers, and where each one runs on this machine.

A version the host has (pyenv's, the system's, one uv installed) runs on the host. A version it
lacks runs inside a Debian root built for it by `kiln python provision` (`.ci/provision`): the
moral equivalent of the official `python:X.Y` image, on the host's kernel, network and /tmp. Every
command Kiln runs in a rendered project goes through `command_in`, so the matrix, the README's
commands and `kiln python run` take the same path.
"""

from __future__ import annotations

import functools
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
# Written last: a root without it is a build that did not finish, and is built again.
PROVISIONED_MARKER = ".kiln-provisioned"


class MissingPythonError(RuntimeError):
    """An offered version that neither the host nor a provisioned root can run."""


def offered() -> list[str]:
    """copier.yml's `python_version` choices, newest first, as the questionnaire lists them."""
    return python_versions()[0]


def default() -> str:
    return python_versions()[1]


@functools.cache
def on_host(version: str) -> bool:
    """uv finds the interpreter here without downloading one (pyenv's included)."""
    environment = {
        **os.environ,
        "PYENV_VERSION": os.environ.get("PYENV_VERSION", "3.11.7:3.12.1:3.13.0"),
        "UV_PYTHON_DOWNLOADS": "never",
    }
    uv = shutil.which("uv")
    assert uv, "uv is not on PATH"
    found = subprocess.run(
        [uv, "python", "find", "--no-project", version],
        cwd="/",
        env=environment,
        capture_output=True,
        check=False,
    )
    return found.returncode == 0


def newest_on_host() -> str:
    """The newest offered version the host runs itself (where copier's own tasks can run)."""
    return next(version for version in offered() if on_host(version))


def root_for(version: str) -> Path:
    return ROOTS / version


def is_provisioned(version: str) -> bool:
    return (root_for(version) / PROVISIONED_MARKER).is_file()


def project_version(project: Path) -> str | None:
    """The version a rendered project asks uv for, from its `.python-version`."""
    pin = project / ".python-version"
    return pin.read_text().strip() if pin.is_file() else None


def runs_on_host(version: str | None) -> bool:
    return version is None or on_host(version)


def command_in(project: Path, command: Sequence[str], version: str | None = None) -> list[str]:
    """`command` as it must be started to run in `project` under `version` (the project's own by
    default): unchanged where the host has that Python, else entering its provisioned root."""
    version = version or project_version(project)
    if runs_on_host(version):
        return list(command)
    assert version is not None
    if not is_provisioned(version):
        raise MissingPythonError(
            f"Python {version} is not on this machine and has no provisioned root: "
            f"run .ci/provision (or `uv run kiln python provision {version}`)"
        )
    root = str(root_for(version))
    # -P: the working directory may be a clone of Kiln, whose kiln_tools would come first.
    return [sys.executable, "-P", "-m", "kiln_tools.in_root", root, str(project), *command]


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


def provision(version: str, *, log: Path | None = None) -> Path | None:
    """Make `version` runnable here: nothing to do where the host has it; else build (once) a
    Debian root holding it, uv and git. Returns the root, or None when the host has it."""
    if on_host(version):
        return None
    root = root_for(version)
    if is_provisioned(version):
        return root
    suite = DEBIAN_SUITES.get(version)
    if suite is None:
        raise MissingPythonError(
            f"Python {version} is not on this machine, and Kiln knows no Debian suite for it: "
            f"install it (pyenv install {version}) or add it to DEBIAN_SUITES"
        )
    if shutil.which("debootstrap") is None:
        _quiet(["apt-get", "install", "-y", "-q", "--no-install-recommends", "debootstrap"])
    building = root.with_name(f"{root.name}.building")
    shutil.rmtree(building, ignore_errors=True)
    building.parent.mkdir(parents=True, exist_ok=True)
    packages = ",".join((f"python{version}", f"python{version}-venv", *ROOT_PACKAGES))
    script = Path("/usr/share/debootstrap/scripts/sid")  # forky and later use sid's script
    _quiet(
        [
            "debootstrap", "--variant=minbase", f"--include={packages}",
            suite, str(building), debian_mirror(), str(script),
        ],
        log=log,
    )  # fmt: skip
    _furnish(building)
    (building / PROVISIONED_MARKER).write_text(f"python{version} from Debian {suite}\n")
    shutil.rmtree(root, ignore_errors=True)
    building.rename(root)
    return root


def _furnish(root: Path) -> None:
    """What the host knows that the root must too: its CA bundle (this network's proxies sign
    with their own), its name resolution, and the uv it runs (one version on both sides)."""
    for known in ("/etc/ssl/certs/ca-certificates.crt", "/etc/resolv.conf", "/etc/hosts"):
        shutil.copyfile(known, root / known.lstrip("/"))
    uv = shutil.which("uv")
    assert uv, "uv is not on PATH"
    for tool in (Path(uv).resolve(), Path(uv).resolve().with_name("uvx")):
        shutil.copy2(tool, root / "usr" / "local" / "bin" / tool.name)


def _quiet(command: Sequence[str], *, log: Path | None = None) -> None:
    completed = subprocess.run(
        command,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        capture_output=True,
        text=True,
        check=False,
    )
    if log is not None:
        log.write_text(completed.stdout + completed.stderr)
    if completed.returncode != 0:
        raise MissingPythonError(
            f"{' '.join(command)} failed ({completed.returncode}):\n{completed.stderr[-4000:]}"
        )
