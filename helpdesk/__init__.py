# The Celery app is loaded with Django, so @shared_task binds to it and on_commit enqueues
# reach the configured broker.
from helpdesk.celery import app as celery_app

__all__ = ["celery_app"]
