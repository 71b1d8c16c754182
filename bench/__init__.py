"""The benchmarks (bench/run.py); each workload sets Django up in its own process with django_setup."""

from __future__ import annotations

import os


def django_setup(**environ: str) -> None:
    """Set Django up with the clinic's settings (the configured database), `environ` set first."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kapclinic.settings")
    os.environ.update(environ)
    import django

    django.setup()
