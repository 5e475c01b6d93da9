"""New-case POST throughput under load: gunicorn on this machine, wrk as the load tool.

    export DATABASE_URL=postgres://USER@HOST:5432/helpdesk_bench   (migrated, seed_demo run)
    export REDIS_URL=redis://HOST:6379/3      # production's cache: sessions come from it
    python bench/bench_new_case.py            # needs `wrk` (Debian package) on PATH

Starts gunicorn (WORKERS sync workers, default 2 per core) on a loopback port, signs in as a
demo agent, then has wrk POST the new-case form (with the CSRF token and session cookie) for
DURATION seconds over CONNECTIONS connections. Prints the cases per second that the database
actually gained, checked by counting rows, and wrk's latency figures. Target: >= 150 cases/s.
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import django
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

PORT = int(os.environ.get("PORT", "8765"))
# Two per core: PostgreSQL and wrk share the same two cores with gunicorn here.
WORKERS = int(os.environ.get("WORKERS", str(2 * (os.cpu_count() or 1))))
DURATION = int(os.environ.get("DURATION", "20"))
CONNECTIONS = int(os.environ.get("CONNECTIONS", "8"))
BASE = f"http://127.0.0.1:{PORT}"

LUA = """
wrk.method = "POST"
wrk.body = "csrfmiddlewaretoken=%(token)s&subject=Load+test+case&severity=4&description=Generated+by+bench"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Cookie"] = "csrftoken=%(token)s; sessionid=%(session)s"
wrk.headers["Referer"] = "%(base)s/cases/new/"
"""


def case_count() -> int:
    django.setup()
    # Models load only after django.setup(), which only this count needs.
    from helpdesk.models import Case  # noqa: PLC0415

    connection.close()
    return Case.objects.count()


def sign_in(email: str, password: str) -> tuple[str, str]:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{BASE}/accounts/login/").read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    data = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": token, "username": email, "password": password}
    ).encode()
    request = urllib.request.Request(
        f"{BASE}/accounts/login/", data=data, headers={"Referer": f"{BASE}/accounts/login/"}
    )
    opener.open(request).read()
    cookies = {c.name: c.value for c in jar}
    return cookies["csrftoken"], cookies["sessionid"]


def wait_for_server(process: subprocess.Popen) -> None:
    for _ in range(100):
        if process.poll() is not None:
            raise SystemExit("gunicorn exited; see its output above")
        try:
            urllib.request.urlopen(f"{BASE}/healthz").read()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("gunicorn did not answer")


def main() -> None:
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt install wrk)")
    env = {
        **os.environ,
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-" + "x" * 60),
        "LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(  # noqa: S603 - our own gunicorn
        [
            sys.executable,
            "-m",
            "gunicorn",
            "helpdesk.wsgi",
            "--workers",
            str(WORKERS),
            "--bind",
            f"127.0.0.1:{PORT}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        wait_for_server(server)
        token, session = sign_in("ann@acme.test", "demo-password")
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            script.write(LUA % {"token": token, "session": session, "base": BASE})
        before = case_count()
        started = time.perf_counter()
        result = subprocess.run(  # noqa: S603
            [
                "wrk",
                "-t2",
                f"-c{CONNECTIONS}",
                f"-d{DURATION}s",
                "--latency",
                "-s",
                script.name,
                f"{BASE}/cases/new/",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        elapsed = time.perf_counter() - started
        added = case_count() - before
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    print(
        f"gunicorn: {WORKERS} sync workers on {os.cpu_count()} cores; wrk: {CONNECTIONS} "
        f"connections for {DURATION}s"
    )
    print(result.stdout)
    print(f"cases created: {added:,} in {elapsed:.1f}s = {added / elapsed:.0f} cases per second")


if __name__ == "__main__":
    main()
