"""`metis demo`: Metis, a Redis, a Celery worker and a demo LMS course, all on this machine."""
