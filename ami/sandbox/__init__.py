"""A real Asterisk for the demo and the tests: a cached Debian sid root run in a chroot.

``build_root`` makes the root once (debootstrap), ``sandbox_up``/``sandbox_down``/
``sandbox_status`` run it with the repository's ``asterisk-conf/``, and
``ami.sandbox.sipp`` provides operator phones and callers.
"""

from ami.sandbox.asterisk import (
    AMI_HOST,
    AMI_PORT,
    CONF_DIR,
    SIP_PORT,
    SandboxStatus,
    cdr_csv_path,
    hangup_all,
    sandbox_cli,
    sandbox_down,
    sandbox_status,
    sandbox_up,
)
from ami.sandbox.root import SandboxError, build_root, is_built, root_path

__all__ = [
    "AMI_HOST",
    "AMI_PORT",
    "CONF_DIR",
    "SIP_PORT",
    "SandboxError",
    "SandboxStatus",
    "build_root",
    "cdr_csv_path",
    "hangup_all",
    "is_built",
    "root_path",
    "sandbox_cli",
    "sandbox_down",
    "sandbox_status",
    "sandbox_up",
]
