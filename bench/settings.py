"""The clinic's settings with the bench's URLs (bench/urls.py: the clinic's pages plus the bare floor view).

bench/load.py serves this through the production server (gunicorn) so the mix and the floor share its workers.
"""

from __future__ import annotations

from kapclinic.settings import *  # noqa: F403  (every production setting, read from the environment as in service)

ROOT_URLCONF = "bench.urls"
