"""The breach sweep (sla.sweep): one event per clock and kind, bounded batches, catching up,
the timeline, who is told, and the admin lists."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from helpdesk import services
from helpdesk.access import events_visible_to
from helpdesk.models import (
    CaseEvent,
    EventKind,
    NotificationKind,
    OutboundEmail,
    Severity,
    Status,
    Visibility,
)
from sla import sweep as sweeping
from sla import tasks
from sla.models import ResponseClock, SlaEvent, SlaEventKind
from tests.conftest import sign_in
from tests.factories import case_by

pytestmark = pytest.mark.django_db


def overdue(person, severity=Severity.EMERGENCY):
    """An Emergency (10 minutes, round the clock) opened 30 minutes ago: breached whatever the
    hour. Only Globex has the entitlement; others get a Critical moved into the past."""
    if severity == Severity.EMERGENCY:
        return case_by(person, severity, at=timezone.now() - timedelta(minutes=30))
    case = case_by(person, severity)
    past = timezone.now() - timedelta(minutes=1)
    ResponseClock.objects.filter(case=case).update(
        at_risk_at=past - timedelta(minutes=1), due_at=past, dispatched_at=past - timedelta(hours=1)
    )
    return case


def events(case) -> list[str]:
    return sorted(SlaEvent.objects.filter(case=case).values_list("kind", flat=True))


def test_an_overdue_case_gets_one_breach_event_and_one_email_each_after_two_sweeps(
    demo, django_capture_on_commit_callbacks
):
    case = overdue(demo["gina"])
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        first = sweeping.sweep()
    with django_capture_on_commit_callbacks(execute=True):
        second = sweeping.sweep()
    assert first.breached >= 1 and second.breached == second.at_risk == 0
    assert events(case) == [SlaEventKind.AT_RISK, SlaEventKind.BREACHED]
    received = [to for m in mail.outbox if case.reference in m.subject for to in m.to]
    # Tier one (provider support: alice, sam; sam also as manager) once each, on call once.
    assert sorted(received) == ["alice@phonism.test", "oncall@phonism.test", "sam@phonism.test"]
    breach = next(m for m in mail.outbox if "sam@phonism.test" in m.to)
    assert breach.subject.startswith(f"[{case.reference}] Response target breached (Emergency")
    assert breach.extra_headers["Auto-Submitted"] == "auto-generated"


def test_at_risk_comes_before_the_breach_and_goes_to_the_assignee(demo):
    ann, alice = demo["ann"], demo["alice"]
    case = case_by(ann, Severity.MAJOR)
    services.case_assign(case=case, actor=alice, assignee=alice)
    clock = ResponseClock.objects.get(case=case)
    sweeping.sweep(now=clock.at_risk_at - timedelta(seconds=1))
    assert events(case) == []
    sweeping.sweep(now=clock.at_risk_at)
    assert events(case) == [SlaEventKind.AT_RISK]
    at_risk = OutboundEmail.objects.get(case=case, kind=NotificationKind.AT_RISK)
    assert at_risk.recipients == ["alice@phonism.test"]
    sweeping.sweep(now=clock.due_at)  # at the due instant itself: still only at risk
    assert events(case) == [SlaEventKind.AT_RISK]
    sweeping.sweep(now=clock.due_at + timedelta(seconds=1))
    assert events(case) == [SlaEventKind.AT_RISK, SlaEventKind.BREACHED]
    breach = OutboundEmail.objects.get(case=case, kind=NotificationKind.BREACHED)
    assert set(breach.recipients) == {"alice@phonism.test", "sam@phonism.test"}


def test_a_sub_customers_breach_goes_to_the_reseller_and_phonisms_managers(demo):
    case = overdue(demo["ivan"], Severity.CRITICAL)
    sweeping.sweep()
    rows = OutboundEmail.objects.filter(case=case, kind=NotificationKind.BREACHED)
    assert sorted((row.audience, tuple(row.recipients)) for row in rows) == [
        ("reseller", ("rita@voicehub.test", "rob@voicehub.test")),
        ("staff", ("sam@phonism.test",)),
    ]


def test_a_clock_first_seen_past_due_keeps_its_at_risk_event_but_only_the_breach_is_emailed(
    demo,
):
    case = overdue(demo["ann"], Severity.CRITICAL)
    result = sweeping.sweep()
    assert events(case) == [SlaEventKind.AT_RISK, SlaEventKind.BREACHED]
    assert result.breached >= 1
    kinds = set(OutboundEmail.objects.filter(case=case).values_list("kind", flat=True))
    assert NotificationKind.AT_RISK not in kinds and NotificationKind.BREACHED in kinds


def test_late_answered_and_late_resolved_cases_get_their_breach_but_tell_nobody(demo):
    """Stopped after due before any sweep saw them: the breach is still recorded (once, at the
    due instant), but nobody is emailed about a breach already answered or resolved."""
    ann, alice = demo["ann"], demo["alice"]
    answered = overdue(ann, Severity.CRITICAL)
    services.update_add(case=answered, author=alice, body="On it.")
    resolved = overdue(ann, Severity.CRITICAL)
    services.case_change_status(case=resolved, actor=ann, status=Status.RESOLVED)
    sweeping.sweep()
    sweeping.sweep()
    for case in (answered, resolved):
        assert events(case) == [SlaEventKind.BREACHED]
        breach = SlaEvent.objects.get(case=case)
        assert breach.occurred_at == ResponseClock.objects.get(case=case).due_at
    told = OutboundEmail.objects.filter(case__in=[answered, resolved])
    assert not told.filter(kind__in=[NotificationKind.BREACHED, NotificationKind.AT_RISK]).exists()


def test_cases_stopped_in_time_are_left_alone(demo):
    ann, alice = demo["ann"], demo["alice"]
    answered = case_by(ann, Severity.CRITICAL)
    services.update_add(case=answered, author=alice, body="On it.")
    resolved = case_by(ann, Severity.CRITICAL)
    services.case_change_status(case=resolved, actor=ann, status=Status.RESOLVED)
    later = timezone.now() + timedelta(days=7)
    sweeping.sweep(now=later)
    assert events(answered) == events(resolved) == []


def test_the_sweep_works_in_bounded_batches_and_a_killed_sweep_loses_nothing(demo, monkeypatch):
    cases = [overdue(demo["ann"], Severity.CRITICAL) for _ in range(5)]
    real = sweeping.sweep_batch
    calls = []

    def killed_after_one_batch(*args, **kwargs):
        calls.append(1)
        if len(calls) > 1:
            raise SystemExit("worker killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(sweeping, "sweep_batch", killed_after_one_batch)
    with pytest.raises(SystemExit):
        sweeping.sweep(batch=2)
    assert SlaEvent.objects.filter(case__in=cases, kind=SlaEventKind.BREACHED).count() == 2
    monkeypatch.undo()
    result = sweeping.sweep(batch=2)
    assert result.breached == 3 and result.batches >= 3
    breaches = SlaEvent.objects.filter(case__in=cases, kind=SlaEventKind.BREACHED)
    assert breaches.count() == 5
    mails = OutboundEmail.objects.filter(case__in=cases, kind=NotificationKind.BREACHED)
    assert mails.count() == 5


def test_an_event_that_exists_is_never_recorded_or_notified_again(demo):
    """Two sweeps that picked the same clock before either committed: the constraint and
    ON CONFLICT DO NOTHING let only the first record it, and only it sends."""
    case = overdue(demo["ann"], Severity.CRITICAL)
    clock = ResponseClock.objects.get(case=case)
    now = timezone.now()
    assert sweeping.insert_events(sweeping.BREACHED, [clock.pk], now) == {clock.pk}
    assert sweeping.insert_events(sweeping.BREACHED, [clock.pk], now) == set()
    # The clock's flag was never set (as if the first sweep's flag update had not happened):
    # the sweep sees the clock again, records nothing and emails nobody.
    result = sweeping.sweep()
    assert events(case) == [SlaEventKind.AT_RISK, SlaEventKind.BREACHED]
    assert not OutboundEmail.objects.filter(case=case, kind=NotificationKind.BREACHED).exists()
    assert result.breached == 0


def test_the_timeline_shows_sla_events_to_the_support_side_only(demo):
    ann, ivan, rob = demo["ann"], demo["ivan"], demo["rob"]
    direct = overdue(ann, Severity.CRITICAL)
    sub = overdue(ivan, Severity.CRITICAL)
    sweeping.sweep()
    breach = CaseEvent.objects.get(case=direct, kind=EventKind.SLA_BREACHED)
    clock = ResponseClock.objects.get(case=direct)
    assert breach.visibility == Visibility.PROVIDER_NOTE and breach.actor is None
    assert breach.created_at == clock.due_at and breach.new_value.startswith("due ")
    assert not events_visible_to(ann).filter(case=direct, kind=EventKind.SLA_BREACHED).exists()
    sub_breach = CaseEvent.objects.get(case=sub, kind=EventKind.SLA_BREACHED)
    assert sub_breach.visibility == Visibility.RESELLER_NOTE
    assert events_visible_to(rob).filter(pk=sub_breach.pk).exists()
    assert not events_visible_to(ivan).filter(pk=sub_breach.pk).exists()


def test_the_beat_task_runs_the_sweep(demo):
    case = overdue(demo["ann"], Severity.CRITICAL)
    tasks.sla_sweep.apply()
    assert SlaEventKind.BREACHED in events(case)


def test_a_sweep_that_finds_nothing_new_reads_nothing(demo, django_assert_max_num_queries):
    sweeping.sweep()
    # Two empty index ranges (breaches, then at-risk) and the transactions around them.
    with django_assert_max_num_queries(6):
        result = sweeping.sweep()
    assert (result.breached, result.at_risk, result.emails) == (0, 0, 0)


# --- admin ------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["admin", "sam", "alice"])
def test_staff_see_sla_events_the_watch_list_and_managers_the_outbox(client, demo, who):
    case = overdue(demo["ann"], Severity.CRITICAL)
    at_risk_only = case_by(demo["bob"], Severity.MAJOR)
    ResponseClock.objects.filter(case=at_risk_only).update(at_risk_at=timezone.now())
    sweeping.sweep()
    sign_in(client, demo[who])

    page = client.get(reverse("admin:sla_slaevent_changelist"), {"kind": "breached"})
    assert page.status_code == 200 and case.reference in page.content.decode()
    for query in ({"tier": 1}, {"severity": 2}, {"occurred_at__gte": "2020-01-01 00:00:00+00:00"}):
        assert client.get(reverse("admin:sla_slaevent_changelist"), query).status_code == 200

    watch = client.get(reverse("admin:sla_slawatch_changelist")).content.decode()
    assert case.reference in watch and at_risk_only.reference in watch
    assert watch.index(case.reference) < watch.index(at_risk_only.reference)  # soonest due first
    breached_only = client.get(reverse("admin:sla_slawatch_changelist"), {"state": "breached"})
    assert at_risk_only.reference not in breached_only.content.decode()

    outbox = client.get(reverse("admin:helpdesk_outboundemail_changelist"), {"status": "pending"})
    assert outbox.status_code == (403 if who == "alice" else 200)
    timeline = client.get(reverse("admin:helpdesk_case_change", args=[case.pk])).content.decode()
    assert "Response target breached" in timeline
