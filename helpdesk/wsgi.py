"""The WSGI application (gunicorn ``helpdesk.wsgi``), and the web process's garbage collector
set up for serving pages (``tune_garbage_collector``)."""

import gc
import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
application = get_wsgi_application()


def tune_garbage_collector() -> None:
    """Everything loaded so far (Django, the apps, their models and admin) is long lived:
    ``gc.freeze`` keeps it out of every later collection. And the youngest objects are
    collected after ``GC_GEN0_THRESHOLD`` allocations rather than 700: a page allocates tens of
    thousands of objects that reference counting frees, so at 700 the collector ran dozens of
    times a request, finding next to nothing. Garbage in cycles is still collected, later."""
    gc.freeze()
    if settings.GC_GEN0_THRESHOLD:
        _, older, oldest = gc.get_threshold()
        gc.set_threshold(settings.GC_GEN0_THRESHOLD, older, oldest)


tune_garbage_collector()
