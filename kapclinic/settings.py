"""Settings for kapclinic: one module, configured only by environment variables."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    """Read a yes/no variable; anything but a clear yes or no is a configuration error."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}")


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}") from exc
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}")
    return value


DEBUG = env_bool("KAPCLINIC_DEBUG", default=False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set (KAPCLINIC_DEBUG=true allows a development key).")
    SECRET_KEY = "development-only-key-never-used-in-production-0123456789"  # noqa: S105

ALLOWED_HOSTS = [h for h in env_str("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in env_str("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "ninja",
    "django_tasks",
    "django_tasks_db",
    "kapclinic.accounts",
    "kapclinic.audit",
    "kapclinic.patients",
    "kapclinic.home",
    "kapclinic.portal",
    "kapclinic.ledger",
    "kapclinic.measures",
    "kapclinic.intake",
    "kapclinic.appointments",
    "kapclinic.consent",
    "kapclinic.plans",
    "kapclinic.dosing",
    "kapclinic.therapy",
    "kapclinic.messaging.apps.MessagingConfig",
    "kapclinic.reminders",
    "kapclinic.chart",
    "kapclinic.outcomes",
    "kapclinic.fhir",
    "kapclinic.billing",
    "kapclinic.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Below WhiteNoise: every answer but a static file gets the content policy and "no-store".
    "kapclinic.middleware.SecurityHeadersMiddleware",
    # Around everything that reads: a request that writes, and the next ones of that browser, read the primary.
    "kapclinic.replica.ReadYourWritesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The audit rows a page's reads record, written in one INSERT as the answer leaves (kapclinic/audit/page_reads.py).
    "kapclinic.audit.page_reads.PageReadsMiddleware",
    # Before anything reads the body: an unreadable sign-in request is a counted failure.
    "kapclinic.accounts.middleware.SignInRequestGuard",
    "django.middleware.common.CommonMiddleware",
    "kapclinic.middleware.RejectNulCharactersMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "kapclinic.accounts.middleware.IdleSignOutMiddleware",
    "kapclinic.accounts.middleware.AccountGateMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "kapclinic.urls"
WSGI_APPLICATION = "kapclinic.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "kapclinic" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "kapclinic.accounts.context_processors.role",
                "kapclinic.home.context_processors.header_counts",
            ],
            # One way to write names, questionnaires, dates and amounts on every page (issue 13, defect 10).
            # {% url %} with its answers kept, in place of Django's (kapclinic/urlcache.py: half of base.html's time).
            "builtins": ["kapclinic.patients.templatetags.clinic_words", "kapclinic.urlcache"],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'var' / 'kapclinic.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the demo server read while a write is under way; a busy timeout waits out short locks.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
    }
# SQLite keeps its connection across requests too (DATABASE_CONN_MAX_AGE, as PostgreSQL): opening one costs a
# file open and the PRAGMAs above on every request (it was 0 for SQLite, with no reason given, since the start).
# Between transactions it is in autocommit, so a kept connection holds no read snapshot open; a backup is
# restored with the server stopped, so no kept connection sees an old file.
# A kept connection that broke (a restarted database server) is noticed and replaced before a request uses it.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

# --- A read replica and connection pools (issue 15, item 4; docs/deploy.md) --------------------------------
# DATABASE_REPLICA_URL: a streaming replica of the primary, read by the reports, dashboards, exports and
# outcome charts only (kapclinic/replica.py says which reads and why). Unset: one database, as before.
KAPCLINIC_READ_REPLICA = ""
if env_str("DATABASE_REPLICA_URL", ""):
    DATABASES["replica"] = dj_database_url.parse(
        env_str("DATABASE_REPLICA_URL", ""), conn_max_age=DATABASES["default"]["CONN_MAX_AGE"]
    )
    DATABASES["replica"]["CONN_HEALTH_CHECKS"] = True
    # Tests read the test database through this alias, not a second database (Django docs, "Testing
    # primary/replica configurations").
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
    KAPCLINIC_READ_REPLICA = "replica"
DATABASE_ROUTERS = ["kapclinic.replica.ReplicaRouter"]

# PostgreSQL plans every statement afresh when Django writes the values into its text (client-side binding, its
# default). Sent apart from their values (server_side_binding), the statements a connection runs a fifth time are
# prepared by psycopg (prepare_threshold) and PostgreSQL may reuse their plans: under the clinic's mixed load the
# database spent 2.8 ms of CPU a request instead of 4.2 ms (issue 15; bench/load.py). Some complex statements
# still get a plan of their own each time (PostgreSQL's plan_cache_mode "auto" judges that).
# PgBouncer in transaction mode keeps them only from 1.22 (which understands the DEALLOCATE ALL psycopg sends after a
# rollback) with max_prepared_statements set, and with libpq 17 or later on the client (psycopg's docs, "Prepared
# statements"; psycopg's binary wheel brings its own): DATABASE_PREPARED_STATEMENTS=false otherwise.
DATABASE_PREPARED_STATEMENTS = env_bool("DATABASE_PREPARED_STATEMENTS", default=True)
for _alias in ("default", "replica") if DATABASE_PREPARED_STATEMENTS else ():
    if _alias in DATABASES and DATABASES[_alias]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES[_alias].setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=5)
# After a write, that browser reads from the primary this long (above the replica's usual replay lag).
KAPCLINIC_REPLICA_STICKY_SECONDS = env_int("KAPCLINIC_REPLICA_STICKY_SECONDS", 10, minimum=1)

# DATABASE_POOL_MAX > 0: a psycopg 3 connection pool per process for the primary and the replica (Django 5.1+,
# OPTIONS["pool"]; needs the psycopg-pool package). A pooled connection goes back to the pool after each
# request, so CONN_MAX_AGE must be 0 (Django refuses persistent connections with a pool).
# PgBouncer in transaction mode cannot keep a server-side cursor across transactions (Django docs,
# "Transaction pooling and server-side cursors"): DATABASE_SERVER_SIDE_CURSORS=false there.
if not env_bool("DATABASE_SERVER_SIDE_CURSORS", default=True):
    for _alias in ("default", "replica"):
        if _alias in DATABASES:
            DATABASES[_alias]["DISABLE_SERVER_SIDE_CURSORS"] = True
DATABASE_POOL_MAX = env_int("DATABASE_POOL_MAX", 0)
if DATABASE_POOL_MAX:
    _pool_min = env_int("DATABASE_POOL_MIN", 1)
    if _pool_min > DATABASE_POOL_MAX:
        raise ImproperlyConfigured("DATABASE_POOL_MIN must not exceed DATABASE_POOL_MAX")
    for _alias in ("default", "replica"):
        if _alias in DATABASES:
            if DATABASES[_alias]["ENGINE"] != "django.db.backends.postgresql":
                raise ImproperlyConfigured("DATABASE_POOL_MAX needs PostgreSQL: unset it for SQLite")
            DATABASES[_alias].setdefault("OPTIONS", {})["pool"] = {
                "min_size": _pool_min,
                "max_size": DATABASE_POOL_MAX,
                # Seconds a request waits for a free connection before failing (psycopg_pool's `timeout`).
                "timeout": env_int("DATABASE_POOL_TIMEOUT", 10, minimum=1),
            }
            DATABASES[_alias]["CONN_MAX_AGE"] = 0

# The parts of patient pages kept per version of the record (kapclinic/patients/fragments.py), in each worker's
# memory. Django's default keeps 300 entries and drops a third when full: a clinic's day of charts, banners and
# session screens (a few hundred patients, each seen by two or three roles) did not fit, and most charts were
# drawn again (issue 15). An entry is 6 KB on average, 32 KB at most (the demo's charts): 5,000 is 30-160 MB a
# worker at most. KAPCLINIC_PAGE_PARTS_KEPT sets it (0: keep none).
KAPCLINIC_PAGE_PARTS_KEPT = env_int("KAPCLINIC_PAGE_PARTS_KEPT", 5000, minimum=0)
CACHES = {
    "default": {
        "BACKEND": (
            "django.core.cache.backends.locmem.LocMemCache"
            if KAPCLINIC_PAGE_PARTS_KEPT
            else "django.core.cache.backends.dummy.DummyCache"
        ),
        "LOCATION": "kapclinic-page-parts",
        "OPTIONS": {"MAX_ENTRIES": max(KAPCLINIC_PAGE_PARTS_KEPT, 1)},
    }
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home:home"
LOGOUT_REDIRECT_URL = "accounts:login"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
# A strength estimate (zxcvbn, offline) on top of length and the common-password list: "aaaaaaaaaaaa" is 12
# characters and still guessed at once. Score 0-4; KAPCLINIC_PASSWORD_MIN_STRENGTH (3) is "safely unguessable"
# by zxcvbn's scale (NIST SP 800-63B 5.1.1.2: check against values known to be commonly used or compromised).
KAPCLINIC_PASSWORD_MIN_STRENGTH = env_int("KAPCLINIC_PASSWORD_MIN_STRENGTH", 3)
if KAPCLINIC_PASSWORD_MIN_STRENGTH > 4:
    raise ImproperlyConfigured("KAPCLINIC_PASSWORD_MIN_STRENGTH must be between 0 and 4")
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {
        "NAME": "kapclinic.accounts.passwords.GuessablePasswordValidator",
        "OPTIONS": {"min_score": KAPCLINIC_PASSWORD_MIN_STRENGTH},
    },
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# Login throttling (django-axes): lock a username from one address after repeated failures.
AXES_FAILURE_LIMIT = env_int("KAPCLINIC_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("KAPCLINIC_LOGIN_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "kapclinic.audit.context.client_address"  # the address the audit log records
AXES_LOCKOUT_CALLABLE = "kapclinic.accounts.views.locked_out"
AXES_VERBOSE = False
AXES_ENABLE_ACCESS_FAILURE_LOG = False

# Idle time-out (HIPAA 164.312(a)(2)(iii)): signed out this long after the last activity. Polls are not activity
# (kapclinic.accounts.middleware.IdleSignOutMiddleware notes activity at most once a minute; the session, and
# with it the cookie's expiry, is saved only then, never by a poll).
KAPCLINIC_IDLE_TIMEOUT_MINUTES = env_int("KAPCLINIC_IDLE_TIMEOUT_MINUTES", 15, minimum=2)
SESSION_COOKIE_AGE = KAPCLINIC_IDLE_TIMEOUT_MINUTES * 60
SESSION_SAVE_EVERY_REQUEST = False
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# Two-factor sign-in for staff: on unless explicitly turned off (the demo turns it off).
KAPCLINIC_REQUIRE_MFA = env_bool("KAPCLINIC_REQUIRE_MFA", default=True)
OTP_TOTP_ISSUER = "kapclinic"

KAPCLINIC_API_TOKEN_HOURS = env_int("KAPCLINIC_API_TOKEN_HOURS", 8, minimum=1)
KAPCLINIC_EMERGENCY_ACCESS_MINUTES = env_int("KAPCLINIC_EMERGENCY_ACCESS_MINUTES", 60, minimum=1)
# A count differing from the ledger by more than this opens an investigation [policy: exact].
KAPCLINIC_COUNT_TOLERANCE_MG = env_int("KAPCLINIC_COUNT_TOLERANCE_MG", 0)
# Shown to a patient at once after an answer that raises a suicide-risk flag [policy: configurable text].
KAPCLINIC_CRISIS_TEXT = env_str(
    "KAPCLINIC_CRISIS_TEXT",
    "If you are thinking about harming yourself or ending your life, call or text 988, the Suicide & Crisis "
    "Lifeline, at any time. If you are in immediate danger, call 911. A member of your care team will also "
    "contact you.",
)
# Spam protection of the public inquiry form: at most this many from one address an hour.
KAPCLINIC_PUBLIC_INQUIRIES_PER_HOUR = env_int("KAPCLINIC_PUBLIC_INQUIRIES_PER_HOUR", 5, minimum=1)
# The demo's outcome cohort (kapclinic/demo/outcomes.py): past courses behind the outcomes dashboard. A few hundred
# make its figures meaningful (issue 19); the test suite loads the demo often and sets fewer (tests/conftest.py).
KAPCLINIC_DEMO_COHORT = env_int("KAPCLINIC_DEMO_COHORT", 240, minimum=2)
KAPCLINIC_CLINIC_ADDRESS = env_str("KAPCLINIC_CLINIC_ADDRESS", "The clinic")
# The clinic's name as reminders give it ("your appointment at <name>"): a plain name, nothing clinical.
KAPCLINIC_CLINIC_NAME = env_str("KAPCLINIC_CLINIC_NAME", "the clinic")
# The practice as a claim names it (issue 18: the 837P billing provider and the clearinghouse envelope). Blank in
# production until set: a claim file is refused, saying which is missing. The demo and tests (KAPCLINIC_DEBUG) get
# synthetic values (the NPI passes the check digit; no real practice).
_BILLING_DEMO = DEBUG
KAPCLINIC_BILLING_NAME = env_str("KAPCLINIC_BILLING_NAME", "Synthetic KAP Clinic" if _BILLING_DEMO else "")
KAPCLINIC_BILLING_NPI = env_str("KAPCLINIC_BILLING_NPI", "1234567893" if _BILLING_DEMO else "")
KAPCLINIC_BILLING_TAX_ID = env_str("KAPCLINIC_BILLING_TAX_ID", "990000001" if _BILLING_DEMO else "")  # EIN, 9 digits
KAPCLINIC_BILLING_TAXONOMY = env_str("KAPCLINIC_BILLING_TAXONOMY", "261QM0801X" if _BILLING_DEMO else "")
KAPCLINIC_BILLING_STREET = env_str("KAPCLINIC_BILLING_STREET", "100 Example Street" if _BILLING_DEMO else "")
KAPCLINIC_BILLING_CITY = env_str("KAPCLINIC_BILLING_CITY", "Austin" if _BILLING_DEMO else "")
KAPCLINIC_BILLING_STATE = env_str("KAPCLINIC_BILLING_STATE", "TX" if _BILLING_DEMO else "")
KAPCLINIC_BILLING_ZIP = env_str("KAPCLINIC_BILLING_ZIP", "787010001" if _BILLING_DEMO else "")  # ZIP+4, 9 digits
KAPCLINIC_BILLING_PHONE = env_str("KAPCLINIC_BILLING_PHONE", "5125550100" if _BILLING_DEMO else "")
KAPCLINIC_BILLING_CONTACT = env_str("KAPCLINIC_BILLING_CONTACT", "Billing office" if _BILLING_DEMO else "")
# The clearinghouse: the ids it gave the clinic (ISA06/GS02, submitter) and its own (ISA08/GS03, receiver).
KAPCLINIC_X12_SUBMITTER_ID = env_str("KAPCLINIC_X12_SUBMITTER_ID", "KAPDEMO" if _BILLING_DEMO else "")
KAPCLINIC_X12_RECEIVER_ID = env_str("KAPCLINIC_X12_RECEIVER_ID", "CLEARDEMO" if _BILLING_DEMO else "")
KAPCLINIC_X12_RECEIVER_NAME = env_str("KAPCLINIC_X12_RECEIVER_NAME", "Synthetic Clearinghouse" if _BILLING_DEMO else "")
# ISA15: T (test) until the clearinghouse has accepted the clinic's test files, then P.
KAPCLINIC_X12_USAGE = env_str("KAPCLINIC_X12_USAGE", "T")
# The FHIR face's identifier systems (issue 17): the clinic's own URIs for its MRNs and its staff numbers. Set them
# to a URL the clinic controls (e.g. https://clinic.example/fhir/sid/mrn) before records leave.
KAPCLINIC_FHIR_MRN_SYSTEM = env_str("KAPCLINIC_FHIR_MRN_SYSTEM", "urn:kapclinic:mrn")
KAPCLINIC_FHIR_STAFF_SYSTEM = env_str("KAPCLINIC_FHIR_STAFF_SYSTEM", "urn:kapclinic:staff")
# The SMART token endpoint's address as clients reach it (the `aud` of their assertions); empty: this server's own
# address of /fhir/auth/token as the request found it. Set it behind a proxy that rewrites the host or scheme.
KAPCLINIC_FHIR_TOKEN_URL = env_str("KAPCLINIC_FHIR_TOKEN_URL", "")
# FHIR Bulk Data export files (NDJSON, one folder per job): a folder the web server does not serve; only the
# requester downloads them, through /fhir/$export-file/, until they expire (the worker then deletes them).
KAPCLINIC_EXPORT_DIR = Path(env_str("KAPCLINIC_EXPORT_DIR", str(BASE_DIR / "var" / "exports")))
KAPCLINIC_EXPORT_HOURS = env_int("KAPCLINIC_EXPORT_HOURS", 24, minimum=1)
# 42 CFR Part 2: the clinic is a Part 2 program (federally assisted and holding itself out as treating substance use
# disorders, 42 CFR 2.11/2.12). Then the records of its patients treated or diagnosed for one leave through FHIR with
# the Part 2 security labels and the redisclosure notice (kapclinic/fhir/part2.py).
KAPCLINIC_PART2_PROGRAM = env_bool("KAPCLINIC_PART2_PROGRAM", default=False)
KAPCLINIC_PAGE_SIZE = env_int("KAPCLINIC_PAGE_SIZE", 25, minimum=1)
# Therapy notes left unsigned longer than this show on the author's home page and the director's dashboard.
KAPCLINIC_UNSIGNED_NOTE_DAYS = env_int("KAPCLINIC_UNSIGNED_NOTE_DAYS", 3, minimum=0)
# The consent a patient must have signed before dosing, and for how many days a signature holds [policy].
KAPCLINIC_CONSENT_DOCUMENT = env_str("KAPCLINIC_CONSENT_DOCUMENT", "kap-treatment")
KAPCLINIC_CONSENT_VALID_DAYS = env_int("KAPCLINIC_CONSENT_VALID_DAYS", 365, minimum=1)
# The clinic's clinical policy thresholds (eligibility, dosing, monitoring): a JSON file with one object per
# area, e.g. {"dosing": {"version": "clinic-2", "iv_max_mg_per_kg": "0.75"}}. Each area's dataclass in
# kapclinic/clinical/ holds the domain notes' defaults; a changed area must carry a new "version", which
# every decision, plan and order stores. Read by kapclinic/policy.py.
KAPCLINIC_POLICY_FILE = env_str("KAPCLINIC_POLICY_FILE", "")
# How often open monitoring alerts are re-fetched on the session screen and the prescriber's home (htmx).
KAPCLINIC_ALERT_POLL_SECONDS = env_int("KAPCLINIC_ALERT_POLL_SECONDS", 5, minimum=1)

# HTTPS: on by default in production (KAPCLINIC_DEBUG unset), off for the demo and tests on plain http.
SECURE_COOKIES = env_bool("KAPCLINIC_SECURE_COOKIES", default=not DEBUG)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
SECURE_SSL_REDIRECT = env_bool("KAPCLINIC_SSL_REDIRECT", default=not DEBUG)
# A load balancer's plain-http health checks (liveness and readiness) must not be redirected.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env_int("KAPCLINIC_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("KAPCLINIC_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("KAPCLINIC_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
CSRF_FAILURE_VIEW = "kapclinic.errorpages.csrf_failure"  # the clinic's page (Django's has inline style: CSP)
X_FRAME_OPTIONS = "DENY"
# Reverse proxies in front of the application (0: none). Each appends to X-Forwarded-For; only that many entries
# from the right are believed (kapclinic.audit.context.client_address), and X-Forwarded-Proto is trusted for https.
# KAPCLINIC_BEHIND_PROXY=true, the earlier setting, means one proxy.
KAPCLINIC_TRUSTED_PROXIES = env_int(
    "KAPCLINIC_TRUSTED_PROXIES", 1 if env_bool("KAPCLINIC_BEHIND_PROXY", default=False) else 0
)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if KAPCLINIC_TRUSTED_PROXIES else None
# Content-Security-Policy: scripts and styles only from this site's files, no inline script, style or eval;
# nothing loads from elsewhere (clinic networks may be closed, and patient pages must not call third parties).
KAPCLINIC_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# No page here uses the camera, microphone or location (telehealth video opens in the visit's own service).
KAPCLINIC_PERMISSIONS_POLICY = (
    "accelerometer=(), autoplay=(), camera=(), display-capture=(), geolocation=(), gyroscope=(), "
    "magnetometer=(), microphone=(), midi=(), payment=(), publickey-credentials-get=(), usb=(), "
    "serial=(), hid=(), screen-wake-lock=(), xr-spatial-tracking=()"
)
# The key that signs the audit log's and the ledger's hash-chain checkpoints. Keep it out of the database (an
# attacker with the database alone must not be able to re-sign a rewritten chain). Default: derived from SECRET_KEY.
KAPCLINIC_AUDIT_KEY = env_str("KAPCLINIC_AUDIT_KEY", "")

LANGUAGE_CODE = "en-us"
# A date or time a template prints without a filter reads like the clinic_words filters ("Dec 4, 2026, 14:05");
# with localisation always on, only a format module overrides the locale's own formats.
FORMAT_MODULE_PATH = ["kapclinic.formats"]
TIME_ZONE = env_str("KAPCLINIC_TIME_ZONE", "America/New_York")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
WHITENOISE_USE_FINDERS = env_bool("KAPCLINIC_STATIC_FROM_FINDERS", default=DEBUG)
# Served from the finders in development and tests; `collectstatic` fills STATIC_ROOT in production.
STATIC_ROOT = None if WHITENOISE_USE_FINDERS else Path(env_str("KAPCLINIC_STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [
    BASE_DIR / "kapclinic" / "static",
    ("vendor/htmx", BASE_DIR / "node_modules" / "htmx.org" / "dist"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
if DEBUG or env_bool("KAPCLINIC_PLAIN_STATIC", default=False):
    STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}

# Background jobs (reminders) through Django's task interface, queued in the database; `manage.py db_worker` runs them.
TASKS = {"default": {"BACKEND": env_str("KAPCLINIC_TASK_BACKEND", "django_tasks_db.DatabaseBackend")}}
# /readyz answers 503 when a task due to run has waited in that queue longer than this (the worker is down or
# behind). Reminders are queued by the hour, so minutes of delay are harmless; a stopped worker is not.
KAPCLINIC_READY_MAX_QUEUE_AGE_SECONDS = env_int("KAPCLINIC_READY_MAX_QUEUE_AGE_SECONDS", 300, minimum=1)
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend" if DEBUG else "django.core.mail.backends.smtp.EmailBackend",
)
# A provider's HTTP API instead of SMTP: EMAIL_BACKEND=anymail.backends.<provider>.EmailBackend (django-anymail,
# e.g. postmark, mailgun, amazon_ses) with the provider's settings as ANYMAIL_<NAME> variables, e.g.
# ANYMAIL_POSTMARK_SERVER_TOKEN=... (docs/deploy.md, "Email and text messages").
ANYMAIL = {name.removeprefix("ANYMAIL_"): value for name, value in os.environ.items() if name.startswith("ANYMAIL_")}
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "kapclinic <no-reply@clinic.example.test>")
# Text messages (appointment reminders): the dotted path of a class with send_text(to, body)
# (kapclinic/reminders/sms.py). Empty: the clinic sends no texts, and patients are not offered them. The demo and
# development print texts to the console; a clinic names its provider's backend.
KAPCLINIC_SMS_BACKEND = env_str("KAPCLINIC_SMS_BACKEND", "kapclinic.reminders.sms.ConsoleSmsBackend" if DEBUG else "")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # A calendar feed's address is its sign-in: request lines name its route, never the secret (logpaths.py).
    "filters": {"paths_without_secrets": {"()": "kapclinic.logpaths.PathsWithoutSecrets"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["paths_without_secrets"]}},
    "root": {"handlers": ["console"], "level": env_str("KAPCLINIC_LOG_LEVEL", "WARNING")},
}

NINJA_PAGINATION_PER_PAGE = KAPCLINIC_PAGE_SIZE

# --- Database roles (issue 12, fault 3; docs/operations.md) ---------------------------------------------
# DATABASE_URL is the application's login: on PostgreSQL a role that owns nothing and may only read and
# add rows to the append-only tables. DATABASE_OWNER_URL, when set, is the login that owns the tables:
# `manage.py migrate --database owner`, then `manage.py db_grants` (grants to KAPCLINIC_DB_APP_ROLE).
if env_str("DATABASE_OWNER_URL", ""):
    DATABASES["owner"] = dj_database_url.parse(env_str("DATABASE_OWNER_URL", ""), conn_max_age=0)
KAPCLINIC_DB_APP_ROLE = env_str("KAPCLINIC_DB_APP_ROLE", str(DATABASES["default"].get("USER") or ""))
