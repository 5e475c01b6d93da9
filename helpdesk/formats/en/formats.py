"""Date formats for English, over Django's: every date-time shown (the admin's lists and read-only
fields included) carries its zone, e.g. “Mar. 9, 2026, 9:20 a.m. EDT” (SPEC §5, issue 11)."""

DATETIME_FORMAT = "N j, Y, P T"
SHORT_DATETIME_FORMAT = "m/d/Y P T"
