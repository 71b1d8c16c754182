"""The rule core is pure: no module under kapclinic/clinical/ imports Django or an app of the house.

Each module is imported alone in a fresh process, so what it pulls in is its own doing (directly or through
anything it imports), whatever the rest of the suite has loaded: one interpreter that has imported nothing of
the house forks a child per module. The modules are found on disk, so a package split into subpackages is walked
too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import kapclinic.clinical

PACKAGE = Path(kapclinic.clinical.__file__).resolve().parent
ROOT = PACKAGE.parent.parent

# Run in a fresh interpreter with the module names as arguments; prints {module: modules loaded, or the error}.
# Only the standard library is loaded before the fork (the children share it: it has no bearing on the check).
_IMPORT_EACH_ALONE = """
import dataclasses, datetime, decimal, enum, importlib, json, os, re, sys, traceback, typing
found = {}
for name in sys.argv[1:]:
    read, write = os.pipe()
    if os.fork() == 0:
        try:
            importlib.import_module(name)
            answer = list(sys.modules)
        except BaseException:
            answer = traceback.format_exc()
        with os.fdopen(write, "w") as pipe:
            pipe.write(json.dumps(answer))
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        found[name] = json.loads(pipe.read())
    os.wait()
print(json.dumps(found))
"""


def clinical_modules() -> list[str]:
    """Every module and package under kapclinic/clinical/, by dotted name, found on disk (nothing imported)."""
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if "__pycache__" in parts:
            continue
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def forbidden(loaded: list[str]) -> list[str]:
    """The loaded modules the rule core may not use: Django's, and the house's outside kapclinic.clinical."""
    return [
        name
        for name in loaded
        if name == "django"
        or name.startswith("django.")
        or (name.startswith("kapclinic.") and not (name + ".").startswith("kapclinic.clinical."))
    ]


def test_no_clinical_module_imports_django_or_an_app() -> None:
    modules = clinical_modules()
    assert {"kapclinic.clinical", "kapclinic.clinical.dosing", "kapclinic.clinical.monitoring"} <= set(modules)
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "PYTHONSTARTUP")}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(  # noqa: S603 - this interpreter, a fixed script, module names found on disk
        [sys.executable, "-c", _IMPORT_EACH_ALONE, *modules], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    problems = []
    for module, loaded in json.loads(done.stdout).items():
        if isinstance(loaded, str):
            problems.append(f"{module} does not import on its own:\n{loaded}")
        elif forbidden(loaded):
            # By package: "django", "kapclinic.roles", "kapclinic.patients", not every submodule.
            named = sorted(
                {"django" if n.startswith("django") else ".".join(n.split(".")[:2]) for n in forbidden(loaded)}
            )
            problems.append(f"{module} imports {', '.join(named)}")
    assert not problems, "\n".join(problems)


def test_the_purity_check_names_what_is_forbidden() -> None:
    loaded = ["json", "django", "django.db", "djangoish", "kapclinic", "kapclinic.clinical.dosing", "kapclinic.roles"]
    assert forbidden(loaded) == ["django", "django.db", "kapclinic.roles"]
    assert forbidden(["kapclinic.clinicalx"]) == ["kapclinic.clinicalx"]
