"""{% url %} with its answers kept (kapclinic/urlcache.py): the same paths as Django's tag, each reversed once."""

from __future__ import annotations

from unittest import mock

import pytest
from django.template import Context, Template, engines
from django.urls import NoReverseMatch, reverse, set_script_prefix

from kapclinic import urlcache


def render(source: str, **context: object) -> str:
    return Template(source).render(Context(context))


def test_every_template_gets_the_kept_url_tag() -> None:
    template = engines["django"].from_string("{% url 'home:home' %}")
    nodes = template.template.nodelist  # type: ignore[attr-defined]
    assert isinstance(nodes[0], urlcache.KeptURLNode)


def test_the_same_paths_as_reverse_each_reversed_once() -> None:
    urlcache._reversed.cache_clear()
    source = "{% url 'home:home' %} {% url 'chart:patient' pk %} {% url 'chart:patient' patient_id=pk %}"
    with mock.patch.object(urlcache, "reverse", wraps=reverse) as reversing:
        first = render(source, pk=7)
        again = render(source, pk=7)
        other = render(source, pk=8)
    assert (
        first
        == again
        == f"{reverse('home:home')} {reverse('chart:patient', args=[7])} "
        + reverse("chart:patient", kwargs={"patient_id": 7})
    )
    assert other.split()[1] == reverse("chart:patient", args=[8])
    assert reversing.call_count == 5  # three paths, then two more for the other patient; none for the repeat


def test_what_is_not_plain_text_or_an_integer_is_reversed_every_time() -> None:
    # True equals 1 as a key, yet a path converter may write it otherwise: never served from what 1 left.
    urlcache._reversed.cache_clear()
    with mock.patch.object(urlcache, "reverse", wraps=reverse) as reversing:
        assert render("{% url 'chart:patient' pk %}", pk=1) == reverse("chart:patient", args=[1])
        for _ in range(2):
            assert render("{% url 'chart:patient' pk %}", pk=True) == reverse("chart:patient", args=[True])
    assert reversing.call_count == 1  # the plain 1 only: True went to Django's own tag, both times


def test_the_script_prefix_is_part_of_the_key_and_a_failure_is_not_kept() -> None:
    urlcache._reversed.cache_clear()
    try:
        set_script_prefix("/clinic/")
        assert render("{% url 'home:home' %}") == "/clinic/"
    finally:
        set_script_prefix("/")
    assert render("{% url 'home:home' %}") == "/"
    assert render("{% url 'no:such' as missing %}[{{ missing }}]") == "[]"
    with pytest.raises(NoReverseMatch):
        render("{% url 'no:such' %}")
