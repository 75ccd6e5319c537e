"""The visual report (engine/report_html.py): `monitor --format html` and its page.

Span data is untrusted, so most of these tests are about escaping: a span named
``<script>…`` must stay text, in our own parse of the page and in a real browser's DOM
(headless Chromium, Debian's ``chromium`` package that scripts/install.sh installs; the
browser tests FAIL without it). The browser test also serves the page's would-be
resources from a loopback server and asserts it was never asked for anything: the page
is self-contained. Its screenshot is kept as a test artifact: in the test's pytest
temporary directory (pytest keeps the last three runs' under
``/tmp/pytest-of-$USER/``), and also in ``$TRACELOGIC_ARTIFACTS`` when that is set
(.ci/run may collect it); the path is printed.

The fuzz test renders seeded random violations (a few hundred; ``TRACELOGIC_LONG=1``:
5,000) and checks the page's structure never depends on the data.
"""
from __future__ import annotations

import http.server
import io
import json
import os
import shutil
import struct
import subprocess
import threading
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from tracelogic.cli import run
from tracelogic.engine.report_html import render
from tracelogic.ingest.otlp import request_to_json, spans_to_request
from tracelogic.ingest.spans import Span

LONG = os.environ.get("TRACELOGIC_LONG", "") not in ("", "0")
T0 = 1_700_000_000_000_000_000
MS = 10**6
EVIL = '<script>document.title="pwned"</script>'
EVIL_SERVICE = 'db <&> "quoted"'
TRACE_URL = "https://jaeger.example/trace/{trace_id}?from=tracelogic&view=trace"

SPEC = '''\
pred checkout = name == "POST /checkout" and kind == server

property answered "every checkout completes within 2s" runbook "https://runbooks.example/a":
  G (checkout & start -> F[<= 2s] (checkout & end))

property errors_are_leaves:
  G (status == error -> !has_child(true))

property error_budget per service window 1m:
  fraction(status == error) <= 0.5
'''


def _span(t: str, s: str, name: str, service: str, a: int, b: int, parent: str = "",
          status: str = "unset", kind: str = "internal") -> Span:
    return Span(name=name, trace_id=t * 32, span_id=s * 16, start_ns=T0 + a * MS,
                end_ns=T0 + b * MS, parent_id=parent * 16 if parent else "",
                service=service, status=status, kind=kind)


def workload(beacon: str = "") -> list[Span]:
    """Trace a: a 3 s checkout (answered, with its trigger), an error span with a child
    named like a script (errors_are_leaves); trace b: fine but for an error in `pay`,
    which with a's makes pay's error budget (an aggregate with a window) fail; trace c
    is fine. ``beacon`` (a URL) is planted in names, as an attacker would."""
    evil = EVIL + (f'<img src="{beacon}/img"><link rel=stylesheet href="{beacon}/css">'
                   if beacon else "")
    return [
        _span("a", "1", "POST /checkout", "web", 0, 3000, kind="server"),
        _span("a", "2", evil, EVIL_SERVICE, 100, 500, "1", status="error"),
        _span("a", "3", "child", EVIL_SERVICE, 150, 300, "2"),
        _span("a", "4", "charge", "pay", 600, 2900, "1", status="error"),
        _span("b", "5", "POST /checkout", "web", 10_000, 11_000, kind="server"),
        _span("b", "6", "charge", "pay", 10_100, 10_900, "5", status="error"),
        _span("c", "7", "POST /checkout", "web", 20_000, 20_500, kind="server"),
        _span("c", "8", "charge", "pay", 20_100, 20_400, "7"),
    ]


def write_inputs(tmp: Path, beacon: str = "") -> tuple[Path, Path]:
    spec, traces = tmp / "shop.spec", tmp / "traces.json"
    spec.write_text(SPEC)
    traces.write_text(json.dumps(request_to_json(spans_to_request(workload(beacon)))))
    return spec, traces


def monitor(*argv: str, stdin: str | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    if stdin is None:
        code = run(["monitor", *argv], out, err)
    else:  # stdin is read as bytes (read_raw): swap sys.stdin for a binary-backed one
        import sys

        old = sys.stdin
        sys.stdin = io.TextIOWrapper(io.BytesIO(stdin.encode()))
        try:
            code = run(["monitor", *argv], out, err)
        finally:
            sys.stdin = old
    return code, out.getvalue(), err.getvalue()


class Dom(HTMLParser):
    """Every element (tag, attributes, own text) of a page, in document order."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[dict] = []
        self._open: list[dict] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        el = {"tag": tag, "attrs": dict(attrs), "text": ""}
        self.elements.append(el)
        if tag not in ("meta", "line", "rect", "path", "br", "img", "link", "input"):
            self._open.append(el)

    def handle_startendtag(self, tag, attrs):
        self.elements.append({"tag": tag, "attrs": dict(attrs), "text": ""})

    def handle_endtag(self, tag):
        for i in range(len(self._open) - 1, -1, -1):
            if self._open[i]["tag"] == tag:
                del self._open[i:]
                break

    def handle_data(self, data):
        for el in self._open:
            el["text"] += data

    def find(self, tag: str | None = None, **attrs: str) -> list[dict]:
        return [e for e in self.elements if (tag is None or e["tag"] == tag)
                and all(e["attrs"].get(k.replace("_", "-")) == v for k, v in attrs.items())]


#: the only elements the page is made of; anything else came from the data
TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "table",
        "tr", "th", "td", "a", "section", "div", "span", "aside", "code", "i", "svg", "g",
        "text", "tspan", "line", "rect", "path",
        "tbody"}  # (which a browser adds to every table)


def assert_structure_is_ours(dom: Dom) -> None:
    assert {e["tag"] for e in dom.elements} <= TAGS
    for e in dom.elements:
        assert not [a for a in e["attrs"] if a.startswith("on")], e
        href = e["attrs"].get("href")
        if href is not None:
            assert href.startswith(("#", "https://", "http://")), href


# ----------------------------------------------------------------------- the page

@pytest.mark.parametrize("engine", ["python", "native"])
def test_monitor_html_shows_summary_timelines_trigger_window_and_links(tmp_path, engine):
    spec, traces = write_inputs(tmp_path)
    code, page, err = monitor(str(spec), str(traces), "--format", "html",
                              "--trace-url", TRACE_URL, "--engine", engine)
    assert code == 1, err                     # the same exit code as every other format
    dom = Dom(page)
    assert_structure_is_ours(dom)
    # the summary: one row per property, with its verdict counts
    rows = {r["attrs"]["data-property"]: r["text"] for r in dom.find("tr")
            if "data-property" in r["attrs"]}
    assert set(rows) == {"answered", "errors_are_leaves", "error_budget"}
    assert all("violated" in t for t in rows.values())
    # one section per violation, each with a chart of the whole trace(s)
    sections = dom.find("section")
    assert [s["attrs"]["data-property"] for s in sections] == \
        ["answered", "errors_are_leaves", "error_budget"]
    roles = {(r["attrs"]["data-span-id"][0], r["attrs"]["data-role"]) for r in dom.find("g")
             if "data-role" in r["attrs"]}
    # answered: the trigger (checkout start) and the witness (charge end), plus the rest
    # of trace a; errors_are_leaves: the script-named span; error_budget: both charges
    assert ("1", "trigger") in roles and ("4", "witness") in roles and ("2", "witness") in roles
    assert ("6", "witness") in roles and ("3", "span") in roles
    assert not any(sid == "7" for sid, _ in roles)   # trace c had no violation: not drawn
    assert len(dom.find("path", **{"class": "trigger-mark"})) == 1
    assert len(dom.find("rect", **{"class": "window"})) == 1
    # the message beside each chart, and the aggregate's values and window
    asides = [a["text"] for a in dom.find("aside")]
    assert "2.9s after its trigger" in asides[0] and "bounded obligation" in asides[0]
    assert "fraction(status == error)" in asides[2] and "window 2023-11-14T22:13:00.000Z" \
        in asides[2]
    # links: one per trace, escaped in the attribute, exactly the template filled in
    hrefs = [a["attrs"]["href"] for a in dom.find("a", **{"class": "trace-link"})]
    want = [TRACE_URL.replace("{trace_id}", t * 32) for t in "a" "a" "ab"]
    assert hrefs == want
    assert "tracelogic&amp;view=trace" in page and "tracelogic&view" not in page
    # the untrusted span name is text, never markup
    assert not dom.find("script") and "<script" not in page.lower()
    assert EVIL in "".join(e["text"] for e in dom.find("aside"))
    assert EVIL_SERVICE in {g["attrs"].get("data-service") for g in dom.find("g")}


def test_many_violations_are_capped_with_a_note(monkeypatch):
    import tracelogic.engine.report_html as report_html

    monkeypatch.setattr(report_html, "MAX_VIOLATIONS", 2)
    vs = [{"property": f"p{i}", "key": "k", "trace_ids": [], "span_ids": [], "message": "m",
           "severity": "error"} for i in range(5)]
    dom = Dom(report_html.render(vs))
    assert len(dom.find("section")) == 2
    assert "3 more violation(s) not drawn" in dom.find("p", id="more")[0]["text"]
    assert len([r for r in dom.find("tr") if "data-property" in r["attrs"]]) == 5


def test_only_web_links_become_hrefs():
    """A store's body may hold trace_urls of its own (hand-edited, or another version):
    only http(s) ones are linked; a javascript: URL is dropped."""
    v = {"property": "p", "key": "k", "trace_ids": ["a" * 32, "b" * 32, "c" * 32],
         "span_ids": [], "message": "m", "severity": "error",
         "trace_urls": ["javascript:alert(1)", "https://ok.example/t", " data:x"]}
    dom = Dom(render([v]))
    links = dom.find("a", **{"class": "trace-link"})
    assert [a["attrs"]["href"] for a in links] == ["https://ok.example/t"]
    assert links[0]["text"] == "open trace " + "b" * 32     # still beside its own trace


def test_html_is_self_contained():
    page = render([], properties=[], summary={})
    dom = Dom(page)
    csp = dom.find("meta", http_equiv="Content-Security-Policy")[0]["attrs"]["content"]
    assert "default-src 'none'" in csp and "script-src" not in csp
    assert not dom.find("script") and not dom.find("link") and not dom.find("img")
    assert "no violations" in page and "http://" not in page.split("<svg")[0].replace(
        "http://www.w3.org", "")


def test_monitor_html_reads_stdin_back_for_the_timelines(tmp_path):
    spec, traces = write_inputs(tmp_path)
    code, page, _ = monitor(str(spec), "-", "--format", "html", stdin=traces.read_text())
    assert code == 1
    drawn = {r["attrs"]["data-span-id"] for r in Dom(page).find("g")
             if "data-span-id" in r["attrs"]}
    assert {"1" * 16, "2" * 16, "3" * 16, "4" * 16, "5" * 16, "6" * 16} == drawn
    assert "the witness spans only" not in page


def test_text_and_json_carry_the_trace_links_and_env_sets_them(tmp_path, monkeypatch):
    spec, traces = write_inputs(tmp_path)
    monkeypatch.setenv("TRACELOGIC_TRACE_URL", "https://tempo.example/t/{trace_id}")
    _, text, _ = monitor(str(spec), str(traces))
    assert f"  trace: https://tempo.example/t/{'b' * 32}" in text.splitlines()
    _, out, _ = monitor(str(spec), str(traces), "--format", "json")
    doc = json.loads(out)
    import jsonschema

    jsonschema.validate(doc, json.loads(
        (Path(__file__).parents[2] / "docs" / "monitor.schema.json").read_text()))
    for v in doc["violations"]:
        assert v["trace_urls"] == [f"https://tempo.example/t/{t}" for t in v["trace_ids"]]
    monkeypatch.delenv("TRACELOGIC_TRACE_URL")
    _, out, _ = monitor(str(spec), str(traces), "--format", "json")
    assert all("trace_urls" not in v for v in json.loads(out)["violations"])


@pytest.mark.parametrize("value", ["https://j.example/trace/", "file:///{trace_id}",
                                   "javascript:alert(1)//{trace_id}"])
def test_a_bad_trace_url_is_exit_2_before_any_work(tmp_path, monkeypatch, value):
    spec, traces = write_inputs(tmp_path)
    code, out, err = monitor(str(spec), str(traces), "--trace-url", value)
    assert code == 2 and out == "" and "--trace-url" in err
    monkeypatch.setenv("TRACELOGIC_TRACE_URL", value)
    code, out, err = monitor(str(spec), str(traces), "--format", "html")
    assert code == 2 and out == "" and "TRACELOGIC_TRACE_URL" in err


# ----------------------------------------------------------------------- fuzz

_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)),
                max_size=30) | st.sampled_from(
    [EVIL, "</svg><script>x</script>", '"><img src=x onerror=alert(1)>', "&amp;", "]]>",
     "<!--", "javascript:alert(1)", "</textarea>", "{trace_id}"])
_hex32 = st.text("0123456789abcdef", min_size=32, max_size=32)
_hex16 = st.text("0123456789abcdef", min_size=16, max_size=16)
_event = st.fixed_dictionaries({
    "trace_id": _hex32, "span_id": _hex16, "event": st.sampled_from(["start", "end"]),
    "time_unix_nano": st.integers(0, 2**62), "name": _text, "service": _text})
_violation = st.fixed_dictionaries({
    "property": _text, "key": _text, "trace_ids": st.lists(_hex32, max_size=3),
    "span_ids": st.lists(_hex16, max_size=4), "message": _text,
    "severity": _text | st.sampled_from(["error", "warning"]),
}, optional={
    "events": st.lists(_event, max_size=4), "trigger": _event, "description": _text,
    "runbook": _text, "owner": _text, "values": st.dictionaries(_text, _text, max_size=3),
    "window": st.fixed_dictionaries({"start_unix_nano": st.integers(0, 2**62),
                                     "end_unix_nano": st.integers(0, 2**62)}),
    "points": st.lists(st.dictionaries(_text, _text, max_size=2), max_size=2),
    "trace_urls": st.lists(st.just("https://j.example/t"), max_size=3),
})


@settings(max_examples=5_000 if LONG else 200, deadline=None)
@given(st.lists(_violation, max_size=4),
       st.dictionaries(_hex32, st.lists(st.fixed_dictionaries({
           "span_id": _hex16, "name": _text, "service": _text,
           "start": st.integers(0, 2**62), "end": st.integers(0, 2**62),
           "status": _text}), max_size=4), max_size=3))
def test_fuzz_the_page_structure_never_depends_on_the_data(violations, spans):
    page = render(violations, spans=spans, title="t")
    dom = Dom(page)
    assert_structure_is_ours(dom)
    assert len(dom.find("section")) == len(violations)
    assert len(dom.find("svg")) + page.count("has a known time") == len(violations)


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | _text,
                     lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(_text, inner, max_size=3), max_leaves=8)
_KEYS = ["property", "key", "trace_ids", "span_ids", "message", "severity", "events",
         "trigger", "window", "values", "points", "trace_urls", "id", "recorded_unix_nano",
         "description", "runbook", "owner"]


@settings(max_examples=5_000 if LONG else 200, deadline=None)
@given(st.lists(_json | st.dictionaries(st.sampled_from(_KEYS), _json), max_size=3),
       _json, st.lists(_json, max_size=2) | st.none())
def test_fuzz_any_json_in_a_store_renders_a_page(violations, spans, properties):
    """A hand-edited store may hold anything: the page still renders, with our structure."""
    page = render(violations, spans=spans, properties=properties)
    dom = Dom(page)
    assert_structure_is_ours(dom)
    assert len(dom.find("section")) == len(violations)


# ----------------------------------------------------------------------- the browser

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--hide-scrollbars"]


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    assert path, ("headless Chromium is missing: scripts/install.sh installs Debian's "
                  "`chromium` package")
    return path


def browse(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess:
    """One headless Chromium run over a file, with a fresh profile."""
    return subprocess.run([chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args,
                           page.as_uri()], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, HOME=str(profile)))


class _Beacon(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):  # noqa: N802
        _Beacon.hits.append(self.path)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_chromium_renders_the_page_dom_and_screenshot(tmp_path):
    beacon = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Beacon)
    threading.Thread(target=beacon.serve_forever, daemon=True).start()
    _Beacon.hits = []
    try:
        spec, traces = write_inputs(tmp_path, beacon=f"http://127.0.0.1:{beacon.server_port}")
        code, html, _ = monitor(str(spec), str(traces), "--format", "html",
                                "--trace-url", TRACE_URL)
        assert code == 1
        page = tmp_path / "report.html"
        page.write_text(html)
        done = browse(page, tmp_path / "profile-dom", "--dump-dom")
        assert done.returncode == 0, done.stderr[-2000:]
        dom = Dom(done.stdout)
        # the browser's DOM: our structure, the script-named span as text, no script ran
        assert_structure_is_ours(dom)
        assert not dom.find("script") and not dom.find("img") and not dom.find("link")
        assert dom.find("title")[0]["text"] == "tracelogic monitor"
        assert len(dom.find("section")) == 3
        assert len(dom.find("svg", **{"class": "gantt"})) == 3
        assert any(EVIL in t["text"] for t in dom.find("text"))
        assert [a["attrs"]["href"] for a in dom.find("a", **{"class": "trace-link"})] == \
            [TRACE_URL.replace("{trace_id}", t * 32) for t in "aaab"]
        witness = [g for g in dom.find("g") if g["attrs"].get("data-role") == "witness"]
        assert {g["attrs"]["data-span-id"] for g in witness} == \
            {"4" * 16, "2" * 16, "6" * 16}

        shot = tmp_path / "report.png"
        done = browse(page, tmp_path / "profile-shot", f"--screenshot={shot}",
                      "--window-size=1280,1600")
        assert done.returncode == 0, done.stderr[-2000:]
        png = shot.read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        assert struct.unpack(">II", png[16:24]) == (1280, 1600)
        # the witness red is on screen: the chart was drawn, not just laid out
        assert _has_colour(shot, (0xD3, 0x2F, 0x2F))
        keep = os.environ.get("TRACELOGIC_ARTIFACTS")
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copy(shot, Path(keep) / "report-monitor.png")
            shutil.copy(page, Path(keep) / "report-monitor.html")
        print(f"screenshot: {shot}")
    finally:
        beacon.shutdown()
        beacon.server_close()
    assert _Beacon.hits == []      # nothing fetched: not the planted img/css, not a CDN


def _has_colour(png: Path, rgb: tuple[int, int, int]) -> bool:
    """Whether a pixel of this exact colour is in the (8-bit RGB/RGBA, non-interlaced)
    PNG: decoded here with zlib, to need no imaging package."""
    import zlib

    data = png.read_bytes()
    pos, idat, width, bpp = 8, b"", 0, 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            width, _, depth, ctype = struct.unpack(">IIBB", chunk[:10])
            assert depth == 8 and ctype in (2, 6), (depth, ctype)
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = width * bpp
    prev = bytearray(stride)
    want = bytes(rgb)
    for row in range(len(raw) // (stride + 1)):
        f = raw[row * (stride + 1)]
        line = bytearray(raw[row * (stride + 1) + 1:(row + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) \
                    & 255
        for i in range(0, stride, bpp):
            if line[i:i + 3] == want:
                return True
        prev = line
    return False
