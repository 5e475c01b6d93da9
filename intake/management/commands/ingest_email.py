"""``python manage.py ingest_email [--recipient ADDRESS] < message.eml``: one raw message on
stdin, for a mail server's pipe (Postfix ``pipe``, Exim ``pipe`` transport).

Exit 0 once the message is stored (whatever its outcome: a case, an update, triage, ignored);
exit 75 (EX_TEMPFAIL) when it could not be stored, so the mail server keeps it and retries.
Never a traceback: one line on stderr says what went wrong.
"""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand

from intake.models import Source
from intake.services import email_ingest

EX_OK, EX_DATAERR, EX_TEMPFAIL = 0, 65, 75


class Command(BaseCommand):
    help = "Read one email on stdin and turn it into a case, an update or a triage item."
    # The database may be down; system checks must not be what fails first.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--recipient",
            default="",
            help="The envelope recipient (Postfix: ${recipient}; Exim: $local_part@$domain); "
            "picks the brand and reads signed reply addresses.",
        )

    def execute(self, *args, **options):
        try:
            return super().execute(*args, **options)
        except SystemExit:
            raise
        except BaseException as error:  # noqa: BLE001 - the mail server must get 75, not a trace
            sys.stderr.write(f"ingest_email: not stored, try again later ({_short(error)})\n")
            sys.exit(EX_TEMPFAIL)

    def handle(self, *args, **options) -> None:
        raw = sys.stdin.buffer.read()
        if not raw.strip():
            sys.stderr.write("ingest_email: no message on stdin\n")
            sys.exit(EX_DATAERR)
        row = email_ingest(raw=raw, source=Source.PIPE, recipient=options["recipient"])
        self.stdout.write(
            f"{row.get_outcome_display()}: {row.reason or '-'} (inbound email {row.pk})"
        )


def _short(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return f"{type(error).__name__}: {text}"[:300]
