"""Links from a violation to the user's own trace UI (Jaeger, Tempo, Grafana, …).

``--trace-url 'https://tempo.example/trace/{trace_id}'`` (or ``TRACELOGIC_TRACE_URL``)
is a template: every violation gets one link per trace id, in the text, JSON, HTML and
store reports. The template is validated once, up front, so a typo is a precise exit 2
rather than a page of dead links: it must be an absolute ``http``/``https`` URL with a
host, and hold ``{trace_id}`` (the only placeholder). Only those schemes are accepted
because the link lands in an HTML ``href``: a ``javascript:`` template would run code in
the reader's browser.
"""
from __future__ import annotations

from typing import Any, Mapping, TextIO

#: the environment variable that sets ``--trace-url`` when the flag is absent
ENV = "TRACELOGIC_TRACE_URL"
PLACEHOLDER = "{trace_id}"


class TraceUrl:
    """A validated template; :meth:`link` fills in one trace id."""

    __slots__ = ("template",)

    def __init__(self, template: str) -> None:
        self.template = check_template(template)

    def link(self, trace_id: str) -> str:
        """The URL of one trace. Trace ids are hex already; quoting keeps an odd id (from a
        hand-edited store) from changing the URL's structure."""
        from urllib.parse import quote

        return self.template.replace(PLACEHOLDER, quote(str(trace_id), safe=""))

    def links(self, trace_ids: list[str]) -> list[str]:
        return [self.link(t) for t in trace_ids]

    def __repr__(self) -> str:
        return f"TraceUrl({self.template!r})"


def check_template(template: str) -> str:
    """``template`` if it is a usable trace-URL template, else ValueError saying why."""
    from urllib.parse import urlsplit

    example = "e.g. --trace-url 'https://jaeger.example/trace/{trace_id}'"
    if PLACEHOLDER not in template:
        raise ValueError(f"the trace URL template must contain {PLACEHOLDER}, got "
                         f"{template!r}; {example}")
    probe = template.replace(PLACEHOLDER, "0" * 32)
    if "{" in probe or "}" in probe:
        raise ValueError(f"the trace URL template's only placeholder is {PLACEHOLDER}, got "
                         f"{template!r}; {example}")
    if any(c.isspace() or ord(c) < 0x20 or c in "<>\"'`\\" for c in probe):
        raise ValueError(f"the trace URL template holds a space, quote or control character: "
                         f"{template!r}; percent-encode it")
    try:
        parts = urlsplit(probe)
    except ValueError as e:
        raise ValueError(f"the trace URL template is not a URL ({e}): {template!r}; "
                         f"{example}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"the trace URL template must start with http:// or https://, got "
                         f"{template!r}; {example}")
    if not parts.netloc or not parts.hostname:
        raise ValueError(f"the trace URL template has no host: {template!r}; {example}")
    return template


def resolve(flag: str | None, environ: Mapping[str, str]) -> TraceUrl | None:
    """The template from ``--trace-url``, else from ``TRACELOGIC_TRACE_URL``, else None.
    Raises ValueError naming where a bad value came from."""
    if flag is not None:
        source, value = "--trace-url", flag
    else:
        value = environ.get(ENV, "")
        source = ENV
        if not value:
            return None
    try:
        return TraceUrl(value)
    except ValueError as e:
        raise ValueError(f"{source}: {e}") from None


def from_args(args: Any, command_name: str, err: TextIO) -> TraceUrl | None | bool:
    """The validated ``--trace-url`` (or ``TRACELOGIC_TRACE_URL``), None when neither is
    set, or False after writing why the value is wrong (the caller exits 2)."""
    import os

    try:
        return resolve(args.trace_url, os.environ)
    except ValueError as e:
        err.write(f"tracelogic {command_name}: {e}\n")
        return False


def with_links(body: dict, trace_url: TraceUrl | None) -> dict:
    """A violation's JSON with ``trace_urls`` (one per trace id, in their order) added."""
    if trace_url is None:
        return body
    return dict(body, trace_urls=trace_url.links(list(body.get("trace_ids") or [])))
