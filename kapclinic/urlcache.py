"""`{% url %}` with its answers kept: the same name and arguments give the same path, so each is reversed once per
process (issue 15, item 3: base.html's 22 names were half of its rendering time, on every page).

A builtin library (settings TEMPLATES "builtins", after Django's own), so its `url` takes the place of Django's in
every template: the same syntax, errors and output. A path is kept under everything reverse() reads besides the
URLconf's patterns, which do not change while a process runs: the URLconf, the script prefix and the current
application namespace, with the name and the argument values; only when every one of those is plain text or an
integer (a quoted name in a template is safe text; anything else is reversed every time, as before). No URL is
translated (no i18n_patterns), so the language is no part of it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django import template
from django.template.base import Parser, Token
from django.template.defaulttags import URLNode
from django.template.defaulttags import url as django_url
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString

register = template.Library()


@lru_cache(maxsize=4096)
def _reversed(
    view_name: str,
    args: tuple[str | int, ...],
    kwargs: tuple[tuple[str, str | int], ...],
    current_app: str | None,
    urlconf: Any,
    script_prefix: str,
) -> str:
    # urlconf and script_prefix are in the key only: reverse() reads the same ones itself.
    return reverse(view_name, args=args, kwargs=dict(kwargs), current_app=current_app)


# Exact types: a bool or an enum member equals a plain value (True == 1) yet reverses to other text.
_PLAIN = frozenset({str, SafeString, int})


def _plain(value: object) -> bool:
    return type(value) in _PLAIN


class KeptURLNode(URLNode):
    def render(self, context: template.Context) -> str:
        view_name = self.view_name.resolve(context)
        args = tuple(arg.resolve(context) for arg in self.args)
        kwargs = tuple((name, value.resolve(context)) for name, value in self.kwargs.items())
        if not (_plain(view_name) and all(_plain(v) for v in args) and all(_plain(v) for _, v in kwargs)):
            return str(super().render(context))
        # The current application as Django's tag finds it.
        try:
            current_app = context.request.current_app  # type: ignore[attr-defined]
        except AttributeError:
            try:
                current_app = context.request.resolver_match.namespace  # type: ignore[attr-defined]
            except AttributeError:
                current_app = None
        url = ""
        try:
            url = _reversed(view_name, args, kwargs, current_app, get_urlconf(), get_script_prefix())
        except NoReverseMatch:
            if self.asvar is None:
                raise
        if self.asvar:
            context[self.asvar] = url
            return ""
        return str(conditional_escape(url)) if context.autoescape else url


@register.tag
def url(parser: Parser, token: Token) -> KeptURLNode:
    """Django's {% url %} (same syntax), its answers kept."""
    node = django_url(parser, token)
    return KeptURLNode(node.view_name, node.args, node.kwargs, node.asvar)
