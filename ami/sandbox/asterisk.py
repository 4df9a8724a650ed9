"""Run the real Asterisk of the cached root with exactly the files of ``asterisk-conf/``.

``sandbox_up`` replaces ``ROOT/etc/asterisk`` with the repository's reference
configuration, mounts proc, starts ``chroot ROOT asterisk -f`` in its own session
(output to a log file, pid in a pidfile beside the root) and waits until AMI
greets and Asterisk is fully booted. ``sandbox_down`` and ``sandbox_status``
work from any process through the pidfile.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from ami.sandbox.root import (
    SandboxError,
    asterisk_version,
    check_can_build,
    inside,
    is_built,
    mounts_under,
    root_path,
    unmount_all,
)

CONF_DIR = Path(__file__).resolve().parents[2] / "asterisk-conf"
AMI_HOST = "127.0.0.1"
AMI_PORT = 5038
SIP_PORT = 5060
AMI_GREETING = b"Asterisk Call Manager/"

# Asterisk processes started by this Python process, so that they are reaped
_children: dict[int, subprocess.Popen[bytes]] = {}

_CHROOT_ENV = {
    "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
    "LANG": "C.UTF-8",
}


@dataclass(frozen=True)
class SandboxStatus:
    built: bool
    running: bool
    pid: int | None
    ami_host: str
    ami_port: int
    sip_port: int
    root: Path
    asterisk_version: str | None
    cdr_csv: Path
    """Asterisk's own CDR, one line per call leg (``newcdrcolumns``: linkedid included)."""
    queue_log: Path
    recordings: Path
    log: Path
    """Console output of ``asterisk -f`` (notices, warnings, errors)."""


def state_dir(root: Path | None = None) -> Path:
    """Pidfile and log live beside the root, not inside it."""
    root = root or root_path()
    return root.with_name(root.name + "-state")


def pidfile(root: Path | None = None) -> Path:
    return state_dir(root) / "asterisk.pid"


def log_path(root: Path | None = None) -> Path:
    return state_dir(root) / "asterisk.log"


def cdr_csv_path(root: Path | None = None) -> Path:
    return inside(root or root_path(), "/var/log/asterisk/cdr-csv/Master.csv")


def queue_log_path(root: Path | None = None) -> Path:
    return inside(root or root_path(), "/var/log/asterisk/queue_log")


def recordings_dir(root: Path | None = None) -> Path:
    return inside(root or root_path(), "/var/spool/asterisk/monitor")


def conf_files(conf_dir: Path = CONF_DIR) -> list[Path]:
    files = sorted(conf_dir.glob("*.conf"))
    if not files:
        raise SandboxError(f"no *.conf files in {conf_dir}")
    return files


def ami_greets(host: str = AMI_HOST, port: int = AMI_PORT, timeout: float = 1.0) -> bool:
    """True when something on host:port greets like Asterisk's manager."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            data = b""
            while b"\n" not in data and len(data) < 200:
                chunk = sock.recv(200)
                if not chunk:
                    break
                data += chunk
    except OSError:
        return False
    return data.startswith(AMI_GREETING)


def _udp_port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _alive(pid: int) -> bool:
    child = _children.get(pid)
    if child is not None:
        return child.poll() is None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # "pid (comm) S ...": a zombie is dead for our purposes
    return stat.rpartition(")")[2].split()[0] != "Z"


def _is_our_asterisk(pid: int, root: Path) -> bool:
    if not _alive(pid):
        return False
    try:
        return Path(os.readlink(f"/proc/{pid}/root")) == root.resolve()
    except OSError:
        # not allowed to look (not root): trust the command name
        try:
            return Path(f"/proc/{pid}/comm").read_text().strip() == "asterisk"
        except OSError:
            return False


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _running_pid(root: Path) -> int | None:
    """Our pidfile first; else the pidfile Asterisk itself writes inside the root."""
    for path in (pidfile(root), inside(root, "/var/run/asterisk/asterisk.pid")):
        pid = _read_pid(path)
        if pid is not None and _is_our_asterisk(pid, root):
            return pid
    return None


def sandbox_status(*, root: Path | None = None) -> SandboxStatus:
    root = root or root_path()
    pid = _running_pid(root) if is_built(root) else None
    return SandboxStatus(
        built=is_built(root),
        running=pid is not None,
        pid=pid,
        ami_host=AMI_HOST,
        ami_port=AMI_PORT,
        sip_port=SIP_PORT,
        root=root,
        asterisk_version=asterisk_version(root),
        cdr_csv=cdr_csv_path(root),
        queue_log=queue_log_path(root),
        recordings=recordings_dir(root),
        log=log_path(root),
    )


def prepare_root(root: Path, conf_dir: Path = CONF_DIR) -> None:
    """Install the configuration and everything Asterisk needs before it starts."""
    files = conf_files(conf_dir)
    # Asterisk resolves its own host name on every call; without this line it
    # asks the (unreachable) resolver each time and calls stall under load
    inside(root, "/etc/hosts").write_text(
        f"127.0.0.1 localhost {socket.gethostname()}\n::1 localhost ip6-localhost ip6-loopback\n"
    )
    etc = inside(root, "/etc/asterisk")
    if etc.exists():
        shutil.rmtree(etc)
    etc.mkdir(mode=0o755)
    for source in files:
        shutil.copyfile(source, etc / source.name)
        (etc / source.name).chmod(0o644)
    for folder in (
        "/var/lib/asterisk",
        "/var/spool/asterisk",
        "/var/spool/asterisk/monitor",
        "/var/log/asterisk",
        "/var/log/asterisk/cdr-csv",
        "/var/run/asterisk",
        "/var/cache/asterisk",
    ):
        inside(root, folder).mkdir(parents=True, exist_ok=True)
    # the package's files belong to the root's own asterisk uid; Asterisk runs as
    # root here and refuses "modules.conf invalid or missing" otherwise
    for folder in (
        "/etc/asterisk",
        "/var/lib/asterisk",
        "/var/spool/asterisk",
        "/var/log/asterisk",
        "/var/run/asterisk",
        "/var/cache/asterisk",
    ):
        _chown_root(inside(root, folder))
    # a pidfile or control socket left by a killed run would confuse "asterisk -rx"
    for stale in ("asterisk.pid", "asterisk.ctl"):
        with contextlib.suppress(FileNotFoundError):
            (inside(root, "/var/run/asterisk") / stale).unlink()
    proc = root / "proc"
    if proc.resolve() not in mounts_under(proc):
        subprocess.run(["mount", "-t", "proc", "proc", str(proc)], check=True)


def _chown_root(top: Path) -> None:
    os.chown(top, 0, 0, follow_symlinks=False)
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            os.chown(os.path.join(dirpath, name), 0, 0, follow_symlinks=False)


def _log_tail(root: Path, lines: int = 20) -> str:
    try:
        text = log_path(root).read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def sandbox_cli(command: str, *, timeout: float = 10.0, root: Path | None = None) -> str:
    """Run one Asterisk CLI command (``asterisk -rx``) in the running sandbox."""
    root = root or root_path()
    done = subprocess.run(
        ["chroot", str(root), "/usr/sbin/asterisk", "-rx", command],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_CHROOT_ENV,
        check=False,
    )
    if done.returncode != 0:
        raise SandboxError(f"asterisk -rx {command!r} failed: {done.stderr.strip()}")
    return done.stdout


def hangup_all(*, root: Path | None = None) -> None:
    """Hang up every call in the sandbox.

    sipp phones that are killed mid-call never send BYE, and without RTP from sipp
    Asterisk cannot notice; such calls would keep operators busy for the next user.
    """
    sandbox_cli("channel request hangup all", root=root)


def sandbox_up(
    timeout: float = 30.0, *, root: Path | None = None, conf_dir: Path = CONF_DIR
) -> SandboxStatus:
    """Start Asterisk (or find it already running) and wait until it is fully booted.

    Idempotent: when the sandbox already runs it is left alone (its configuration
    is not reloaded; ``sandbox_down`` first to apply changed files).
    """
    root = root or root_path()
    deadline = time.monotonic() + timeout
    check_can_build()
    if not is_built(root):
        raise SandboxError(
            f"the Asterisk root is not built ({root}): run `callcenter asterisk-sandbox build`"
        )
    pid = _running_pid(root)
    if pid is None:
        if ami_greets():
            raise SandboxError(
                f"another Asterisk manager already answers on {AMI_HOST}:{AMI_PORT}; stop it first"
            )
        if not _udp_port_free(AMI_HOST, SIP_PORT):
            raise SandboxError(f"UDP {AMI_HOST}:{SIP_PORT} is taken; stop whatever uses it")
        pid = _start(root, conf_dir)
    try:
        _wait_ready(root, pid, deadline)
    except BaseException:
        if pid in _children:
            sandbox_down(root=root)
        raise
    return sandbox_status(root=root)


def _start(root: Path, conf_dir: Path) -> int:
    prepare_root(root, conf_dir)
    state_dir(root).mkdir(parents=True, exist_ok=True)
    with log_path(root).open("wb") as log:
        proc = subprocess.Popen(
            # -f: stay in the foreground (we track it); -n: no colours in the log
            ["chroot", str(root), "/usr/sbin/asterisk", "-f", "-n"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=_CHROOT_ENV,
            cwd="/",
            start_new_session=True,
        )
    _children[proc.pid] = proc
    pidfile(root).write_text(f"{proc.pid}\n")
    return proc.pid


def _wait_ready(root: Path, pid: int, deadline: float) -> None:
    while not ami_greets():
        if not _alive(pid):
            raise SandboxError(f"Asterisk exited while starting; its log says:\n{_log_tail(root)}")
        if time.monotonic() > deadline:
            raise SandboxError(
                f"Asterisk did not open AMI on {AMI_HOST}:{AMI_PORT} in time; log:\n"
                f"{_log_tail(root)}"
            )
        time.sleep(0.1)
    # AMI listens before every module is loaded; wait for the whole boot
    remaining = max(deadline - time.monotonic(), 1.0)
    try:
        sandbox_cli("core waitfullybooted", timeout=remaining, root=root)
    except subprocess.TimeoutExpired as exc:
        raise SandboxError(f"Asterisk did not finish booting; log:\n{_log_tail(root)}") from exc


def sandbox_down(timeout: float = 10.0, *, root: Path | None = None) -> SandboxStatus:
    """Stop Asterisk (SIGTERM, then SIGKILL after ``timeout``) and unmount proc."""
    root = root or root_path()
    pid = _running_pid(root)
    if pid is not None:
        _signal(pid, signal.SIGTERM)
        if not _wait_gone(pid, timeout):
            _signal(pid, signal.SIGKILL)
            if not _wait_gone(pid, 5.0):
                raise SandboxError(f"Asterisk (pid {pid}) does not die")
    child = _children.pop(pid, None) if pid is not None else None
    if child is not None:
        child.wait(timeout=1)
    with contextlib.suppress(FileNotFoundError):
        pidfile(root).unlink()
    if is_built(root):
        unmount_all(root / "proc")
    return sandbox_status(root=root)


def _signal(pid: int, sig: signal.Signals) -> None:
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)  # Asterisk and anything it spawned
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _wait_gone(pid: int, timeout: float) -> bool:
    child = _children.get(pid)
    if child is not None:
        try:
            child.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        return True
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
