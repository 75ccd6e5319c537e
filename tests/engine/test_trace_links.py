"""`--trace-url` templates (engine/trace_links.py): validation, links, and a seeded fuzz.

The default run draws a few hundred templates; ``TRACELOGIC_LONG=1`` draws 20,000.
"""
from __future__ import annotations

import os
from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings, strategies as st

from tracelogic.engine.trace_links import ENV, TraceUrl, check_template, resolve, with_links

LONG = os.environ.get("TRACELOGIC_LONG", "") not in ("", "0")
TID = "5b8efff798038103d269b633813fc60c"


@pytest.mark.parametrize("template, url", [
    ("https://jaeger.example/trace/{trace_id}", f"https://jaeger.example/trace/{TID}"),
    ("http://localhost:16686/trace/{trace_id}?uiEmbed=v0",
     f"http://localhost:16686/trace/{TID}?uiEmbed=v0"),
    ("HTTPS://grafana.example/explore?left=%7B%22query%22:%22{trace_id}%22%7D",
     f"HTTPS://grafana.example/explore?left=%7B%22query%22:%22{TID}%22%7D"),
    ("https://tempo.example/{trace_id}/{trace_id}", f"https://tempo.example/{TID}/{TID}"),
])
def test_a_good_template_links_each_trace(template, url):
    assert TraceUrl(template).link(TID) == url


@pytest.mark.parametrize("template, why", [
    ("https://jaeger.example/trace/", "must contain {trace_id}"),
    ("https://jaeger.example/trace/{traceid}", "must contain {trace_id}"),
    ("https://j.example/{trace_id}/{span_id}", "only placeholder"),
    ("ftp://j.example/{trace_id}", "http:// or https://"),
    ("javascript:alert(1)//{trace_id}", "http:// or https://"),
    ("data:text/html,{trace_id}", "http:// or https://"),
    ("/trace/{trace_id}", "http:// or https://"),
    ("jaeger.example/trace/{trace_id}", "http:// or https://"),
    ("https:///trace/{trace_id}", "no host"),
    ("https://j.example/a b/{trace_id}", "space, quote or control"),
    ('https://j.example/"><x/{trace_id}', "space, quote or control"),
    ("https://[::1/{trace_id}", "not a URL"),
])
def test_a_bad_template_says_why(template, why):
    with pytest.raises(ValueError, match=why.replace("{", r"\{").replace("}", r"\}")
                       .replace("(", r"\(").replace("?", r"\?")):
        check_template(template)


def test_an_odd_trace_id_cannot_change_the_urls_structure():
    """Ids from a hand-edited store go in percent-encoded: no new path, query or host."""
    url = TraceUrl("https://j.example/trace/{trace_id}").link("../x?y=1#z @evil")
    parts = urlsplit(url)
    assert parts.netloc == "j.example" and parts.query == "" and parts.fragment == ""
    assert parts.path == "/trace/..%2Fx%3Fy%3D1%23z%20%40evil"


def test_the_flag_wins_over_the_environment_and_each_names_its_source():
    env = {ENV: "https://env.example/{trace_id}"}
    assert resolve(None, env).template == "https://env.example/{trace_id}"
    assert resolve("https://flag.example/{trace_id}", env).template == \
        "https://flag.example/{trace_id}"
    assert resolve(None, {}) is None and resolve(None, {ENV: ""}) is None
    with pytest.raises(ValueError, match=f"^{ENV}: "):
        resolve(None, {ENV: "https://env.example/"})
    with pytest.raises(ValueError, match="^--trace-url: "):
        resolve("nope", env)


def test_with_links_adds_one_url_per_trace_id_in_order():
    body = {"property": "p", "trace_ids": ["a" * 32, "b" * 32]}
    out = with_links(body, TraceUrl("https://j.example/{trace_id}"))
    assert out["trace_urls"] == ["https://j.example/" + "a" * 32, "https://j.example/" + "b" * 32]
    assert "trace_urls" not in body                      # a new dict; the store row is untouched
    assert with_links(body, None) is body


@settings(max_examples=20_000 if LONG else 400, deadline=None)
@given(st.one_of(
    st.text(),
    st.builds(lambda a, b, c: f"{a}://{b}/{{trace_id}}{c}",
              st.sampled_from(["http", "https", "HTTP", "ftp", "javascript", ""]),
              st.text(max_size=20), st.text(max_size=20)),
), st.text(max_size=40))
def test_fuzz_templates_are_accepted_safely_or_refused_with_a_message(template, trace_id):
    try:
        t = TraceUrl(template)
    except ValueError as e:
        assert str(e)
        return
    url = t.link(trace_id)
    parts = urlsplit(url)
    assert parts.scheme.lower() in ("http", "https") and parts.hostname
    assert not any(c.isspace() or c in "<>\"'`" for c in url)
