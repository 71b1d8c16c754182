"""Gunicorn's settings for kapclinic, read from the environment like the rest (docs/deploy.md).

    gunicorn -c python:kapclinic.gunicorn_conf

`make serve` and the systemd unit in deploy/systemd/ start it so. It loads kapclinic.settings first, so a missing
or bad setting stops the server before it binds, with the message naming the variable.

Its variables (KAPCLINIC_BIND, KAPCLINIC_WEB_WORKERS, KAPCLINIC_WEB_TIMEOUT, KAPCLINIC_WEB_MAX_REQUESTS,
KAPCLINIC_PROXY_ADDRESSES, KAPCLINIC_ACCESS_LOG, KAPCLINIC_WEB_LOG_LEVEL) are in docs/deploy.md.
"""

from __future__ import annotations

import gc
import os
import time
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from gunicorn.glogging import Logger

from kapclinic import settings as kapclinic_settings
from kapclinic.logpaths import path_for_log
from kapclinic.settings import env_bool, env_int, env_str

if kapclinic_settings.DEBUG:
    # Debug pages show settings and data on an error, and the HTTPS protections are off: never behind a real server.
    raise ImproperlyConfigured("gunicorn serves production only: unset KAPCLINIC_DEBUG (make demo is for development)")


def cores() -> int:
    """The CPUs this process may run on (a container's or systemd's CPU set, not the whole machine's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


wsgi_app = "kapclinic.wsgi:application"
proc_name = "kapclinic"
bind = [address.strip() for address in env_str("KAPCLINIC_BIND", "127.0.0.1:8000").split(",") if address.strip()]
workers = env_int("KAPCLINIC_WEB_WORKERS", cores(), minimum=1)
# KAPCLINIC_WEB_THREADS > 1: each worker serves that many requests at once in threads (gunicorn's gthread worker,
# which also keeps connections alive between requests), so a worker waiting on the database is not a core idle.
# Each thread holds its own database connection.
threads = env_int("KAPCLINIC_WEB_THREADS", 1, minimum=1)
worker_class = "gthread" if threads > 1 else "sync"
timeout = env_int("KAPCLINIC_WEB_TIMEOUT", 60, minimum=1)
graceful_timeout = 30
keepalive = 5
# A worker is replaced after about this many requests, which bounds slow memory growth. A replacement imports
# Django and the clinic again, about 2 s of CPU: at 1,000 requests that was a fifth of a busy server's CPU
# (bench/load.py's CPU per request, 11.0 ms against 8.1-8.9 ms without replacements), while a worker's memory grew
# by about 1 MB over its first 3,000 requests after the warm-up and by less after (135 MB -> 152 -> 154 MB).
max_requests = env_int("KAPCLINIC_WEB_MAX_REQUESTS", 10_000)
max_requests_jitter = max_requests // 10
# No control socket: it would land in the home directory, and two servers on one machine would share it.
control_socket_disable = True

# Behind the reverse proxy: the proxy says the client came over https in X-Forwarded-Proto, and only that header
# (Django's SECURE_PROXY_SSL_HEADER), believed only from the proxies' addresses. With no proxy
# (KAPCLINIC_TRUSTED_PROXIES=0) nobody is believed. The client's address is read by the application from
# X-Forwarded-For, counting KAPCLINIC_TRUSTED_PROXIES from the right (kapclinic.audit.context.client_address).
secure_scheme_headers = {"X-FORWARDED-PROTO": "https"}
forwarded_allow_ips = (
    env_str("KAPCLINIC_PROXY_ADDRESSES", "127.0.0.1,::1") if kapclinic_settings.KAPCLINIC_TRUSTED_PROXIES > 0 else ""
)

# Logs go to standard output and error: journald (or the container runtime) keeps them. The access log names the
# path but never the query string (patient searches, report filters) nor the referrer (which carries them too)
# nor the user agent; a path holds only record numbers. Client addresses are in the proxy's log and in the audit
# log, which is where a question "who looked at this chart" is answered.
# Every line in the clinic's time zone with its offset: Django switches the workers' zone to it, so the master too.
os.environ["TZ"] = kapclinic_settings.TIME_ZONE
time.tzset()
accesslog = "-" if env_bool("KAPCLINIC_ACCESS_LOG", default=True) else None
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'


class AccessLogger(Logger):  # type: ignore[misc]  # gunicorn ships no type hints
    """The access log with a calendar feed's secret left out of its path (kapclinic/logpaths.py)."""

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        atoms["U"] = path_for_log(str(atoms.get("U", "")))
        return atoms


logger_class = AccessLogger
errorlog = "-"
loglevel = env_str("KAPCLINIC_WEB_LOG_LEVEL", "info")


def when_ready(server: Any) -> None:
    """Say once, at start, how the server was configured (no secrets)."""
    proxies = kapclinic_settings.KAPCLINIC_TRUSTED_PROXIES
    server.log.info(
        "kapclinic: %d worker(s) on %s; %s",
        workers,
        ", ".join(bind),
        f"{proxies} trusted proxy(ies) at {forwarded_allow_ips}" if proxies else "no trusted proxy",
    )


def post_worker_init(worker: Any) -> None:
    """Freeze what the worker has loaded (Django, the clinic): a full collection then leaves those long-lived objects
    alone. Unfrozen, in bench/chart_pages.py's process, one came about every 200 requests and took some 0.3 s."""
    gc.freeze()
