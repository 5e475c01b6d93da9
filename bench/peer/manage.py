"""manage.py of the peer site (django-helpdesk 2.6.1): run it with the peer's virtualenv."""

import os
import sys
from pathlib import Path

if __name__ == "__main__":
    # This folder only: the repository's root holds Phonism's own package named `helpdesk`.
    sys.path[0] = str(Path(__file__).resolve().parent)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peer_site.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
