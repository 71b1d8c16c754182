"""Validating an X12 file with pyx12 (a maintained X12 validator with the 5010 implementation-guide maps): the 837P
files this clinic writes (in the tests and the bench) and the 835 remittances it is sent (before anything is
posted). Every error pyx12 finds is returned in words; an empty list means it accepted the file."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pyx12.params
import pyx12.x12n_document


class _Collected(logging.Handler):
    """pyx12 reports some errors (of the envelope) only through its logger: keep them."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _walk(node: Any, found: list[str]) -> None:
    if isinstance(node, dict):
        for error in node.get("errors", []) or []:
            if isinstance(error, dict) and error.get("err_str"):
                where = node.get("seg_id") or node.get("ele_ref") or ""
                found.append(f"{where} line {node.get('cur_line', '?')}: {error['err_str']}".strip())
        for value in node.values():
            if isinstance(value, list | dict):
                _walk(value, found)
    elif isinstance(node, list):
        for item in node:
            _walk(item, found)


def x12_errors(text: str) -> list[str]:
    """What pyx12 finds wrong with `text` (empty: valid)."""
    logger = logging.getLogger("pyx12")
    collected = _Collected()
    logger.addHandler(collected)
    propagate = logger.propagate
    logger.propagate = False  # the errors are returned, not printed
    report = io.StringIO()
    try:
        ok = pyx12.x12n_document.x12n_document(pyx12.params.params(), io.StringIO(text), None, None, None, report)
    except Exception as exc:  # pyx12 raises on files it cannot read at all
        return [f"Not a readable X12 file: {exc}"]
    finally:
        logger.removeHandler(collected)
        logger.propagate = propagate
    found: list[str] = []
    if report.getvalue().strip():
        _walk(json.loads(report.getvalue()), found)
    found += [
        "Not an X12 file: it does not start with an ISA header." if "does not look like an X12" in m else m
        for m in collected.messages
        if m not in found
    ]
    if not ok and not found:
        found.append("pyx12 refused the file.")
    return found
