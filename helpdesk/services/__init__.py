"""The only way cases change (ARCHITECTURE "One way in"): this package's public API.

Every channel (portal, widget, email, admin, seeds, tests) opens and changes cases here, so the
contract's rules (Emergency entitlement, the Minor default, allowed status transitions, who may
write what) hold for all of them. Each service runs in one transaction, locks the case it changes
and writes a CaseEvent per change. Rule violations raise ``ValidationError`` with a message meant
for the person who asked; acting outside one's reach raises ``PermissionDenied``.
"""

from helpdesk.services.cases import (
    EMERGENCY_NOT_ENTITLED,
    REFERENCE_PREFIX,
    TRANSITIONS,
    allowed_statuses,
    case_assign,
    case_change_severity,
    case_change_status,
    case_open,
    reserve_references,
)
from helpdesk.services.escalation import can_escalate, case_escalate, case_hand_back
from helpdesk.services.people import member_invite
from helpdesk.services.updates import (
    statuses_with_reply,
    update_add,
    update_kinds,
    update_visibility,
)

__all__ = [
    "EMERGENCY_NOT_ENTITLED",
    "REFERENCE_PREFIX",
    "TRANSITIONS",
    "allowed_statuses",
    "can_escalate",
    "case_assign",
    "case_change_severity",
    "case_change_status",
    "case_escalate",
    "case_hand_back",
    "case_open",
    "member_invite",
    "reserve_references",
    "statuses_with_reply",
    "update_add",
    "update_kinds",
    "update_visibility",
]
