"""A throw-away Dovecot IMAP server for the tests: Debian's `dovecot-imapd`, its config, mail
and logs under a temporary folder, listening on 127.0.0.1 only, stopped after the test."""

from __future__ import annotations

import grp
import os
import pwd
import random
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

PORTS = range(8143, 8199)
USER, PASSWORD = "support@voicehub.test", "imap-test-password"


@dataclass
class Dovecot:
    host: str
    port: int
    user: str
    password: str
    log: Path


def binary() -> str | None:
    return shutil.which("dovecot") or (
        "/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None
    )


def _free_port() -> int:
    # In random order: parallel test workers starting Dovecot at the same moment would
    # otherwise all probe the same first port and race for it.
    for port in random.sample(PORTS, len(PORTS)):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port for Dovecot in 8143-8198")


def _account() -> tuple[str, str, int, int]:
    """The system user Dovecot runs as and delivers mail as. Dovecot refuses mail access
    as root, so under root it is the package's own `dovecot` user."""
    entry = pwd.getpwnam("dovecot") if os.geteuid() == 0 else pwd.getpwuid(os.geteuid())
    return entry.pw_name, grp.getgrgid(entry.pw_gid).gr_name, entry.pw_uid, entry.pw_gid


def start(folder: Path) -> tuple[subprocess.Popen, Dovecot]:
    """Start Dovecot on a free port; if another process took the port between the probe and
    Dovecot's own bind, again on another."""
    for attempt in range(5):
        try:
            return _start(folder, _free_port())
        except PortTaken:
            if attempt == 4:
                raise
    raise AssertionError("unreachable")


class PortTaken(RuntimeError):
    pass


def _start(folder: Path, port: int) -> tuple[subprocess.Popen, Dovecot]:
    user, group, uid, gid = _account()
    for sub in ("run", "state", "mail", "home"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        for sub in ("mail", "home"):
            os.chown(folder / sub, uid, gid)
    (folder / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
    log = folder / "dovecot.log"
    log.unlink(missing_ok=True)  # (an earlier attempt's)
    config = folder / "dovecot.conf"
    config.write_text(
        f"""
protocols = imap
listen = 127.0.0.1
base_dir = {folder}/run
state_dir = {folder}/state
log_path = {log}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{folder}/mail/%u
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
first_valid_uid = {uid}
last_valid_uid = {uid}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {folder}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={folder}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
protocol imap {{
  mail_max_userip_connections = 50
}}
"""
    )
    process = subprocess.Popen(  # noqa: S603 - Debian's dovecot, our config
        [binary(), "-F", "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            error = process.stderr.read().decode() + _tail(log)
            kind = PortTaken if "Address already in use" in error else RuntimeError
            raise kind("Dovecot did not start: " + error)
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return process, Dovecot("127.0.0.1", port, USER, PASSWORD, log)
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("Dovecot did not listen within 15 s" + _tail(log))


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _tail(log: Path) -> str:
    return "\n" + log.read_text()[-2000:] if log.exists() else ""
