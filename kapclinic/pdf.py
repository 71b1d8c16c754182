"""Printable records as PDF, rendered by WeasyPrint from a print template."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string


def pdf_from_html(html: str) -> bytes:
    """Return `html` as PDF bytes, fetching nothing: a print template carries its own CSS and no images."""
    # Imported here: WeasyPrint loads Pango and fonts, which only PDF requests need.
    import weasyprint  # type: ignore[import-untyped]

    # No protocol allowed: text typed by users (a reason, a supplier's name) can never make the
    # server fetch a URL or read a local file while rendering.
    fetcher = weasyprint.URLFetcher(allowed_protocols=(), allow_redirects=False)
    pdf: bytes = weasyprint.HTML(string=html, url_fetcher=fetcher).write_pdf()
    return pdf


def pdf_response(request: HttpRequest, template: str, context: dict[str, Any], *, filename: str) -> HttpResponse:
    """Render `template` and answer with the PDF as a download named `filename`."""
    html = render_to_string(template, context, request=request)
    response = HttpResponse(pdf_from_html(html), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
