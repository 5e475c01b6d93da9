"""Rows of HTML already written, by everything they are made from.

A case page is opened again and again, and each entry of its history is the same on every
visit: the admin's history tables (``helpdesk.admin.HistoryTable``) and the portal's timeline
(``helpdesk.timeline``) keep each row's HTML here under a key holding every value the row
shows (and the viewer's zone and language), so a visit writes only new or changed rows. A
changed value is a new key, never an old row: nothing needs forgetting. Per process, bounded.
"""

from __future__ import annotations

from django.utils.safestring import SafeString


class RowMemo:
    """At most ``size`` rows (all forgotten at once when full), each no longer than
    ``2 * longest`` characters (longer ones are written every time, and callers do not build a
    key for a text over ``longest``): a few MB per process in the worst case, far less for rows
    of usual length."""

    def __init__(self, size: int = 2048, longest: int = 1000) -> None:
        self.size = size
        self.longest = longest
        self.rows: dict[tuple, SafeString] = {}

    def get(self, key: tuple) -> SafeString | None:
        return self.rows.get(key)

    def remember(self, key: tuple, row: SafeString) -> None:
        if len(row) > 2 * self.longest:
            return
        if len(self.rows) >= self.size:
            self.rows = {}
        self.rows[key] = row
