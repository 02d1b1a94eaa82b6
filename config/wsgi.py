import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Issue 9: a WSGI server's threads live as long as the server, so each keeps its database
# connection between requests instead of opening one per request (settings default to 0 for
# every other process). Profiled under the webhook benchmark on SQLite, opening and closing the
# connection (connect, Django's SQL functions, the WAL/synchronous PRAGMAs) was about half of a
# push's CPU, several times the INSERT itself. A connection found broken (PostgreSQL restarted)
# is replaced at the start of the next request (CONN_HEALTH_CHECKS in settings). An explicit
# DB_CONN_MAX_AGE in the environment still wins.
os.environ.setdefault("DB_CONN_MAX_AGE", "600")
application = get_wsgi_application()
# Import the URLconf, and with it every view, now rather than on a process's first request:
# under gunicorn's preload_app (config/gunicorn.conf.py) the master does it once for all its
# workers, where each worker took ~0.4 s of CPU on its first request (issue 9). It opens no
# database connection.
get_resolver().url_patterns  # noqa: B018  (the property's side effect is the import)
