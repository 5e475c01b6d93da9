"""Which webhook subscriptions hear of a change, and what they are told (issue 17).

Like ``helpdesk.notifications`` for email, it runs inside the transaction of the change and
writes ``WebhookDelivery`` rows; workers send them after commit (``api.webhook_sender``). A
tenant's subscriptions hear of its own cases; a reseller's also of its customers' cases. What a
payload carries follows the reader's side: the requesting side (a customer, a sub-customer)
gets public facts and public replies only, never the provider's name, the tier or an internal
note; a reseller, on its customers' cases, also its own notes and the escalation thread.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable

from django.db import transaction
from django.db.models.signals import post_delete, post_save

from api.models import WebhookDelivery, WebhookEvent, WebhookSubscription
from helpdesk.celery import app as celery_app
from helpdesk.models import Case, CaseUpdate, Tier, Visibility
from tenants.memo import StampedMemo
from tenants.models import Tenant, TenantKind

DELIVER_TASK = "api.tasks.deliver_webhook"
logger = logging.getLogger(__name__)


def _interested_tenants(case: Case) -> list[int]:
    """The case's tenant and, for a sub-customer, its reseller: whose subscriptions hear."""
    return _hearing(case.tenant)


def _hearing(tenant: Tenant) -> list[int]:
    if tenant.kind == TenantKind.SUBCUSTOMER and tenant.parent_id:
        return [tenant.pk, tenant.parent_id]
    return [tenant.pk]


def _subscriptions_of(tenant_ids: Iterable[int]) -> dict[int, list[WebhookSubscription]]:
    """Active subscriptions by tenant, in one query however many tenants."""
    found: dict[int, list[WebhookSubscription]] = defaultdict(list)
    for subscription in WebhookSubscription.objects.filter(
        tenant_id__in=set(tenant_ids), is_active=True
    ):
        found[subscription.tenant_id].append(subscription)
    return found


def _payload(case: Case, support_side: bool) -> dict:
    body = {
        "reference": case.reference,
        "subject": case.subject,
        "severity": case.severity,
        "severity_name": case.get_severity_display(),
        "status": case.status,
        "organisation": case.tenant.slug,
        "updated_at": case.updated_at.isoformat(),
    }
    if support_side:
        body["tier"] = case.tier
    return body


def _update_visible(update: CaseUpdate, support_side: bool) -> bool:
    if update.visibility == Visibility.PUBLIC:
        return True
    return support_side and update.visibility in (Visibility.RESELLER_NOTE, Visibility.ESCALATION)


# Each tenant's active subscriptions, remembered per process: every case opening asks, most
# tenants have none, and they change rarely. Forgotten in every process when a subscription is
# saved or deleted (``connect_signals``; a tenant's deletion deletes them one by one, signals
# and all).
SUBSCRIPTIONS = StampedMemo("webhook-subscriptions")


def _remembered_subscriptions_of(tenant_ids: list[int]) -> dict[int, list[WebhookSubscription]]:
    def load(missing: list[int]) -> dict[int, list[WebhookSubscription]]:
        found = _subscriptions_of(missing)
        return {tenant_id: found.get(tenant_id, []) for tenant_id in missing}

    return SUBSCRIPTIONS.get_many(tenant_ids, load)


def _subscription_written(sender, **kwargs) -> None:
    SUBSCRIPTIONS.forget()


def connect_signals() -> None:
    """From ``HelpdeskConfig.ready``."""
    post_save.connect(
        _subscription_written, sender=WebhookSubscription, dispatch_uid="webhook_sub_saved"
    )
    post_delete.connect(
        _subscription_written, sender=WebhookSubscription, dispatch_uid="webhook_sub_deleted"
    )


def anyone_listens(tenant: Tenant) -> bool:
    """Whether any subscription hears of ``tenant``'s cases at all (remembered: usually no
    query). When none does, opening a case writes no delivery row: ``case_open`` then needs no
    transaction of its own around its one statement."""
    tenant_ids = _hearing(tenant)
    subscriptions = _remembered_subscriptions_of(tenant_ids)
    return any(subscriptions.get(tenant_id) for tenant_id in tenant_ids)


def case_event(case: Case, event: str, *, update: CaseUpdate | None = None, **extra) -> int:
    """Write one delivery per interested subscription; returns how many."""
    subscriptions = _remembered_subscriptions_of(_interested_tenants(case))
    return _write(_deliveries(case, event, subscriptions, update=update, **extra))


def _deliveries(
    case: Case,
    event: str,
    subscriptions: dict[int, list[WebhookSubscription]],
    *,
    update: CaseUpdate | None = None,
    tier: int | None = None,
    **extra,
) -> list[WebhookDelivery]:
    """The deliveries (unsaved) of ``event`` on ``case`` for the interested subscriptions
    among ``subscriptions`` (by tenant)."""
    rows = []
    for tenant_id in _interested_tenants(case):
        for subscription in subscriptions.get(tenant_id, ()):
            if not subscription.wants(event):
                continue
            support_side = subscription.tenant_id != case.tenant_id
            if update is not None and not _update_visible(update, support_side):
                continue
            if event == WebhookEvent.ESCALATED and not support_side:
                continue  # the tier is the support side's business (white label)
            if tier == Tier.TWO and not support_side:
                continue  # so is the provider's clock
            data = _payload(case, support_side)
            if update is not None:
                data["update"] = {
                    "id": update.pk,
                    "visibility": update.visibility,
                    "body": update.body,
                    "by_support": update.by_support,
                    "created_at": update.created_at.isoformat(),
                }
            data.update({k: v for k, v in extra.items() if support_side or k != "tier"})
            rows.append(
                WebhookDelivery(
                    subscription=subscription,
                    event=event,
                    case_reference=case.reference,
                    message_id=f"msg_{uuid.uuid4().hex}",
                    payload={"type": event, "data": data},
                )
            )
    return rows


def sla_events(event: str, clocks: Iterable[tuple[int, int]]) -> int:
    """At risk / breached, from the sweep, for ``clocks`` as (case id, tier) pairs: one
    delivery per clock and interested subscription. The provider's clock (tier two) of a
    reseller's customer's case is the support side's business: its customer never hears of it
    (white label). A constant number of queries per sweep batch, however many cases it
    breached: the cases, their tenants' subscriptions (once for all of them) and the
    deliveries' insert."""
    clocks = list(clocks)
    cases = Case.objects.filter(pk__in={case_id for case_id, _ in clocks}).select_related("tenant")
    by_id = {case.pk: case for case in cases}
    if not by_id:
        return 0
    subscriptions = _subscriptions_of(
        t for case in by_id.values() for t in _interested_tenants(case)
    )
    if not subscriptions:
        return 0
    return _write(
        [
            row
            for case_id, tier in clocks
            if case_id in by_id
            for row in _deliveries(by_id[case_id], event, subscriptions, tier=tier)
        ]
    )


def _write(rows: list[WebhookDelivery]) -> int:
    if not rows:
        return 0
    WebhookDelivery.objects.bulk_create(rows)
    ids = [row.pk for row in rows if row.pk is not None] or list(
        WebhookDelivery.objects.filter(message_id__in=[r.message_id for r in rows]).values_list(
            "pk", flat=True
        )
    )
    transaction.on_commit(lambda: _enqueue(ids), robust=True)
    return len(rows)


def _enqueue(ids: list[int]) -> None:
    """Hand deliveries to the broker; when it is down they stay pending for the drain."""
    try:
        task = celery_app.tasks[DELIVER_TASK]
        for pk in ids:
            task.apply_async((pk,), retry=False)
    except Exception:
        logger.error(
            "Could not enqueue %d webhook deliveries; the drain will", len(ids), exc_info=True
        )


__all__ = ["WebhookEvent", "case_event", "sla_events"]
