"""Query-string input to the admin that Django itself does not validate (issue 15: no input
makes a 500).

The add page takes initial values from the query string (``?tenant=3``); an autocomplete widget
looks a foreign key's initial value up in the database as given, so ``?tenant=abc`` or a
25-digit id raised an error while rendering. ``ValidInitialMixin`` drops such values: the page
opens with the field empty, as if the parameter had not been given.
"""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.http import HttpRequest

from helpdesk.middleware import MAX_ID


def _usable_key(field, value) -> bool:
    try:
        key = field.target_field.to_python(value)
    except (ValidationError, ValueError, TypeError):
        return False
    return not isinstance(key, int) or 0 <= key <= MAX_ID


class ValidInitialMixin(admin.ModelAdmin):
    def get_changeform_initial_data(self, request: HttpRequest) -> dict:
        initial = super().get_changeform_initial_data(request)
        for name, value in list(initial.items()):
            try:
                field = self.model._meta.get_field(name)
            except FieldDoesNotExist:
                continue
            if not field.is_relation:
                continue
            values = value if isinstance(value, list) else [value]
            if not all(_usable_key(field, v) for v in values):
                del initial[name]
        return initial
