#!/usr/bin/env bash
# Sets up the peer of the side-by-side benchmark: django-helpdesk 2.6.1 in its own virtualenv
# and its own PostgreSQL database, filled (see README.md beside this file).
#
#   PEER_DATABASE_URL=postgres://USER@HOST:5432/peer_bench bash bench/peer/setup.sh [VENV]
#
# VENV: where the virtualenv goes (or PEER_VENV; default: peer-helpdesk-venv in the system's
# temporary directory, never inside this repository). PYTHON: the interpreter that makes it
# (default python3; Phonism's is CPython 3.11). Re-running reuses the virtualenv and leaves a
# filled database as it is.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
VENV="${1:-${PEER_VENV:-${TMPDIR:-/tmp}/peer-helpdesk-venv}}"
PYTHON="${PYTHON:-python3}"

case "$(cd "$(dirname "$VENV")" 2>/dev/null && pwd)/" in
  "$(cd "$HERE/../.." && pwd)/"*) echo "put the virtualenv outside the repository: $VENV" >&2; exit 2 ;;
esac

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet --upgrade pip
"$VENV/bin/pip" install --quiet -r "$HERE/requirements.txt"
"$VENV/bin/python" -c "import django, importlib.metadata as m; print('django-helpdesk', m.version('django-helpdesk'), 'on Django', django.get_version())"

# Creates the database if missing, migrates, fills (about 2 minutes on 2 cores).
"$VENV/bin/python" "$HERE/fill_peer.py"
echo "peer ready: $VENV/bin/python $HERE/bench_peer.py"
