"""How the web app is served, in production and by the demo and the benchmarks alike (issue 9):
``gunicorn -c config/gunicorn.conf.py config.wsgi:application`` (``--bind`` on the command line).

Several processes behind one port, each with a few threads: one process runs Python under one
GIL, so a single server process (waitress with 8 threads, before) never used more than one core,
and its threads waited for the GIL after every socket read and SQLite write. Measured with the
webhook benchmark (3,000 signed pushes from 16 client threads, SQLite) on this 2-core machine at
a load average of 3-6, alternating runs: 4 processes x 2 threads took 840-890 pushes/s with a p99
of 81-82 ms; 2 x 4 took 690-710/s, p99 94-110 ms; 3 x 3 560-670/s, p99 113-117 ms; one waitress
process with 8 threads 280-540/s, p99 110-450 ms.
"""

import os

# Two processes per core, two threads each: the same 8 requests at once as before with fewer
# threads behind each GIL, and 8 database connections (one per thread, kept between requests:
# config/wsgi.py). Each process holds its own copy of the app in memory.
workers = int(os.environ.get("WEB_WORKERS", "4"))
threads = int(os.environ.get("WEB_THREADS", "2"))
worker_class = "gthread"
# The app is imported once, in the master, before the workers fork: they start at once and share
# its memory. Safe because importing it opens no database connection and starts no thread
# (each worker opens its own connections on its first requests).
preload_app = True
# A gthread worker's heartbeat comes from its main loop, not from the request threads, so a long
# request (a month's CSV) is not killed by ``timeout``. On SIGTERM, requests in flight get this
# long to finish; the demo's supervisor waits 15 s before it kills.
graceful_timeout = 10
