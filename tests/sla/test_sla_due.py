"""``manage.py sla_due`` exactly as SPEC §5 defines it."""

from __future__ import annotations

import io
from datetime import datetime

import pytest
from django.core.management import ManagementUtility, call_command
from django.core.management.base import CommandError

from helpdesk.models import Severity
from tests.factories import TenantFactory
from tests.sla.helpers import plan_with

pytestmark = pytest.mark.django_db


def sla_due(*args: str) -> list[str]:
    out = io.StringIO()
    call_command("sla_due", *args, stdout=out)
    return out.getvalue().splitlines()


def from_the_shell(capsys, *args: str) -> tuple[int, str, str]:
    """Run as ``manage.py sla_due ...`` does: exit code, stdout, stderr."""
    with pytest.raises(SystemExit) as exit_:
        ManagementUtility(["manage.py", "sla_due", *args]).execute()
        raise SystemExit(0)
    captured = capsys.readouterr()
    return exit_.value.code, captured.out, captured.err


@pytest.mark.parametrize(
    ("severity", "dispatched", "due"),
    [
        ("Critical", "2026-03-09T16:30:00-04:00", "2026-03-09T17:00:00-04:00"),
        ("Critical", "2026-03-09T16:45:00-04:00", "2026-03-10T09:15:00-04:00"),
        ("Critical", "2026-03-06T16:50:00-05:00", "2026-03-09T09:20:00-04:00"),
        ("Emergency", "2026-03-08T01:55:00-05:00", "2026-03-08T03:05:00-04:00"),
        ("Minor", "2026-03-09T10:00:00-04:00", "2026-03-10T10:00:00-04:00"),
        ("Minor", "2026-03-06T10:00:00-05:00", "2026-03-09T09:00:00-04:00"),
        ("Minor", "2026-03-07T12:00:00-05:00", "2026-03-10T09:00:00-04:00"),
        ("Major", "2026-03-09T10:00:00-04:00", "2026-03-09T11:00:00-04:00"),
        ("Moderate", "2026-03-09T10:00:00-04:00", "2026-03-09T14:00:00-04:00"),
    ],
)
def test_it_prints_the_worked_examples_of_the_spec(severity, dispatched, due) -> None:
    assert sla_due("--severity", severity, dispatched) == [due]


def test_it_answers_in_the_calendars_offset_whatever_the_inputs() -> None:
    # The same instant given in UTC, with Z, and with another offset.
    lines = sla_due(
        "--severity",
        "2",
        "2026-03-09T20:30:00+00:00",
        "2026-03-09T20:30:00Z",
        "2026-03-10T05:30+09:00",
    )
    assert lines == ["2026-03-09T17:00:00-04:00"] * 3


def test_it_prints_one_line_per_input_in_order() -> None:
    lines = sla_due(
        "--severity",
        "critical",
        "2026-03-06T16:50:00-05:00",
        "2026-03-09T16:30:00-04:00",
        "2026-03-09T16:45:00-04:00",
    )
    assert lines == [
        "2026-03-09T09:20:00-04:00",
        "2026-03-09T17:00:00-04:00",
        "2026-03-10T09:15:00-04:00",
    ]
    for line in lines:
        assert datetime.fromisoformat(line).utcoffset() is not None


@pytest.mark.parametrize("severity", ["2", "critical", "CRITICAL", "Critical", " critical "])
def test_severity_is_a_level_or_a_name_in_any_case(severity) -> None:
    assert sla_due("--severity", severity, "2026-03-09T16:30:00-04:00") == [
        "2026-03-09T17:00:00-04:00"
    ]


def test_seconds_and_fractions_are_kept() -> None:
    assert sla_due("--severity", "2", "2026-03-09T16:45:30.5-04:00") == [
        "2026-03-10T09:15:30.500000-04:00"
    ]


def test_it_uses_the_tenants_plan() -> None:
    TenantFactory(slug="fast", sla_plan=plan_with("Fast", {Severity.CRITICAL: 15}))
    TenantFactory(slug="plain")
    assert sla_due("--severity", "2", "--tenant", "fast", "2026-03-09T16:30-04:00") == [
        "2026-03-09T16:45:00-04:00"
    ]
    assert sla_due("--severity", "2", "--tenant", "plain", "2026-03-09T16:30-04:00") == [
        "2026-03-09T17:00:00-04:00"
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--severity", "urgent", "2026-03-09T10:00:00-04:00"], "unknown severity 'urgent'"),
        (["--severity", "6", "2026-03-09T10:00:00-04:00"], "unknown severity '6'"),
        (["--severity", "0", "2026-03-09T10:00:00-04:00"], "unknown severity '0'"),
        (["--severity", "2", "2026-03-09T10:00:00"], "has no UTC offset"),
        (["--severity", "2", "garbage"], "not an ISO 8601 date and time: 'garbage'"),
        (["--severity", "2", "2026-02-30T10:00:00Z"], "not an ISO 8601"),
        (["--severity", "2", "--tenant", "nobody", "2026-03-09T10:00Z"], "no tenant"),
    ],
)
def test_bad_input_is_an_error(args, message) -> None:
    with pytest.raises(CommandError, match=message):
        sla_due(*args)


def test_one_bad_value_among_good_ones_prints_nothing() -> None:
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command(
            "sla_due", "--severity", "2", "2026-03-09T10:00Z", "2026-03-09T10:00", stdout=out
        )
    assert out.getvalue() == ""


@pytest.mark.parametrize(
    "args",
    [
        ["--severity", "urgent", "2026-03-09T10:00:00-04:00"],
        ["--severity", "2", "2026-03-09T10:00:00"],
        ["--severity", "2", "garbage"],
        ["2026-03-09T10:00:00Z"],  # no --severity
        ["--severity", "2"],  # no DISPATCHED
    ],
)
def test_from_the_shell_bad_input_exits_non_zero_with_one_line(capsys, args) -> None:
    code, out, err = from_the_shell(capsys, *args)
    assert code != 0
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err


def test_from_the_shell_good_input_exits_zero(capsys) -> None:
    code, out, err = from_the_shell(capsys, "--severity", "1", "2026-03-08T01:55:00-05:00")
    assert (code, out, err) == (0, "2026-03-08T03:05:00-04:00\n", "")
