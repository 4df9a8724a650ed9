"""The cached Debian sid root that holds the sandbox's Asterisk.

Debian bookworm has no ``asterisk`` package; sid has Asterisk 22. ``debootstrap``
builds a minimal sid root with it (about 500 MB, a minute or two) into
``${XDG_CACHE_HOME:-~/.cache}/callcenter/asterisk-root``. The build goes into a
temporary sibling folder that is renamed into place only when complete, so an
interrupted build never looks finished.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path, PurePosixPath

DEFAULT_MIRROR = "http://deb.debian.org/debian"
SUITE = "sid"
PACKAGES = ("asterisk", "asterisk-modules")
ASTERISK_BINARY = "usr/sbin/asterisk"
MARKER = ".callcenter-asterisk-root"


class SandboxError(RuntimeError):
    """The sandbox cannot be built or run here; the message says why and what to do."""


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "callcenter"


def root_path() -> Path:
    """Where the finished root lives (it may not exist yet)."""
    return cache_dir() / "asterisk-root"


def is_built(root: Path | None = None) -> bool:
    root = root or root_path()
    return (root / ASTERISK_BINARY).is_file()


def asterisk_version(root: Path | None = None) -> str | None:
    """The packaged Asterisk version, read from the root's dpkg status (no root needed)."""
    status = (root or root_path()) / "var/lib/dpkg/status"
    try:
        text = status.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for stanza in text.split("\n\n"):
        lines = stanza.splitlines()
        if "Package: asterisk" in lines:
            for line in lines:
                if line.startswith("Version: "):
                    return line.removeprefix("Version: ").strip()
    return None


def inside(root: Path, path: str) -> Path:
    """The host path of ``path`` as seen inside ``root``, following symlinks within it.

    ``ROOT/var/run`` is a symlink to ``/run``: naively joining would follow it to
    the host's ``/run``. Missing components are simply appended.
    """
    parts = list(PurePosixPath(path).parts[1:])
    current = PurePosixPath("/")
    hops = 0
    while parts:
        name = parts.pop(0)
        if name in ("", "."):
            continue
        if name == "..":
            current = current.parent
            continue
        candidate = current / name
        host = root / str(candidate).lstrip("/")
        if host.is_symlink():
            hops += 1
            if hops > 40:
                raise SandboxError(f"too many symlinks resolving {path} in {root}")
            target = PurePosixPath(os.readlink(host))
            if target.is_absolute():
                current = PurePosixPath("/")
            parts = list(target.parts[1:] if target.is_absolute() else target.parts) + parts
            continue
        current = candidate
    return root / str(current).lstrip("/")


def check_can_build() -> None:
    """Raise ``SandboxError`` unless this machine can build and run the root."""
    if os.geteuid() != 0:
        raise SandboxError(
            "the Asterisk sandbox needs root (debootstrap, chroot and mounting proc); "
            "run it with sudo or as root"
        )
    if not Path("/etc/debian_version").exists():
        raise SandboxError(
            "the Asterisk sandbox is built with debootstrap on Debian; on other systems "
            "install Asterisk yourself and use asterisk-conf/ (see its README.md)"
        )
    if shutil.which("debootstrap") is None:
        raise SandboxError("debootstrap is not installed: apt-get install debootstrap")


def mounts_under(path: Path) -> list[Path]:
    """Mount points at or below ``path``, deepest first."""
    prefix = str(path.resolve())
    found: list[Path] = []
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        fields = line.split()
        if len(fields) < 2:
            continue
        point = fields[1].replace("\\040", " ")
        if point == prefix or point.startswith(prefix + "/"):
            found.append(Path(point))
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def unmount_all(path: Path) -> None:
    """Unmount everything mounted inside ``path`` (proc, sys ... left by a build or a run)."""
    for point in mounts_under(path):
        done = subprocess.run(["umount", str(point)], capture_output=True, check=False)
        if done.returncode != 0:
            subprocess.run(["umount", "-l", str(point)], capture_output=True, check=False)
    left = mounts_under(path)
    if left:
        raise SandboxError(f"cannot unmount {', '.join(map(str, left))}")


def remove_tree(path: Path) -> None:
    """Delete a root folder, never descending into something still mounted."""
    if not path.exists() and not path.is_symlink():
        return
    unmount_all(path)
    shutil.rmtree(path)


def build_root(
    progress: Callable[[str], None],
    *,
    mirror: str = DEFAULT_MIRROR,
    force: bool = False,
    root: Path | None = None,
) -> Path:
    """Build the root with debootstrap unless it is already built; return its path.

    ``progress`` receives debootstrap's output line by line. ``force`` rebuilds
    (the sandbox must be down).
    """
    check_can_build()
    root = root or root_path()
    if is_built(root) and not force:
        progress(f"Asterisk root already built: {root}")
        return root
    if mounts_under(root):
        raise SandboxError(f"{root} is in use (something is mounted inside): stop the sandbox")
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = root.with_name(root.name + ".tmp")
    remove_tree(tmp)
    command = [
        "debootstrap",
        "--variant=minbase",
        "--include=" + ",".join(PACKAGES),
        SUITE,
        str(tmp),
        mirror,
    ]
    progress("running: " + " ".join(command))
    try:
        with subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        ) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                progress(line.rstrip())
            code = proc.wait()
        if code != 0:
            raise SandboxError(f"debootstrap failed with exit code {code}; see the output above")
        if not is_built(tmp):
            raise SandboxError(f"debootstrap finished but {ASTERISK_BINARY} is missing")
        (tmp / MARKER).write_text(f"suite={SUITE}\nmirror={mirror}\n")
    except BaseException:
        # leave nothing mounted behind; the .tmp folder is removed by the next build
        unmount_all(tmp)
        raise
    unmount_all(tmp)
    if root.exists():
        old = root.with_name(root.name + ".old")
        remove_tree(old)
        root.rename(old)
        tmp.rename(root)
        remove_tree(old)
    else:
        tmp.rename(root)
    progress(f"Asterisk root ready: {root} (Asterisk {asterisk_version(root) or '?'})")
    return root
