# The Celery app, so that `shared_task` binds to it wherever tasks are defined.
from config.celery import app as celery_app

__all__ = ["celery_app"]
