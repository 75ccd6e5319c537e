"""The HTML report's history view of consistency checks (engine/report_history.py), as
`monitor --format html` draws it: per violated key, every operation as a bar per client,
the longest partial linearization numbered in order, the witness marked, the model state
where the search stuck.

What the page shows is compared with the JSON report of the same run (`--format json`),
not with numbers written here. Operation values and client names are untrusted span data:
a script in them stays text in our parse and in headless Chromium's DOM (the pattern and
helpers of tests/engine/test_report_html.py), and a URL planted in them is never fetched.
"""
from __future__ import annotations

import http.server
import io
import json
import os
import shutil
import struct
import threading
from pathlib import Path

from hypothesis import given, settings, strategies as st

from engine.test_report_html import (EVIL, LONG, Dom, _Beacon, _has_colour,
                                     assert_structure_is_ours, browse)
from tracelogic.cli import run
from tracelogic.consistency.history import Operation as O
from tracelogic.consistency.jepsen import to_otlp_json
from tracelogic.engine.report_html import render

SPEC = """\
property p: G true
consistency store: linearizable register
consistency sess: sessions register
"""


def history(client: str = "c3") -> list[O]:
    """Key x: c1 writes 1, c2 writes a script-valued string, c1's write of 3 never
    returns, then ``client`` reads 1: stale, not linearizable. Key y is fine."""
    return [O(0, "write", 1, None, 1_000, 2_000, key="x", client="c1"),
            O(1, "write", EVIL, None, 3_000, 4_000, key="x", client="c2"),
            O(2, "write", 3, None, 2_500, 2_500, "indeterminate", key="x", client="c1"),
            O(3, "read", None, EVIL, 4_500, 4_800, key="x", client="c2"),
            O(4, "read", None, 1, 5_000, 6_000, key="x", client=client),
            O(5, "write", 7, None, 1_000, 2_000, key="y", client="c1"),
            O(6, "read", None, 7, 3_000, 4_000, key="y", client="c2")]


def monitor(tmp: Path, client: str = "c3", *fmt: str) -> tuple[int, str]:
    spec, traces = tmp / "s.spec", tmp / "t.json"
    spec.write_text(SPEC)
    traces.write_text(json.dumps(to_otlp_json(history(client), history="h")))
    out, err = io.StringIO(), io.StringIO()
    code = run(["monitor", str(spec), str(traces), *fmt], out, err)
    return code, out.getvalue()


def section_elements(dom: Dom, name: str) -> list[list[dict]]:
    """The elements of each section of check ``name``, in document order."""
    out, current = [], None
    for e in dom.elements:
        if e["tag"] == "section":
            current = [] if e["attrs"].get("data-consistency") == name else None
            if current is not None:
                out.append(current)
            continue
        if current is not None:
            current.append(e)
    return out


def check_page(dom: Dom, doc: dict) -> None:
    """The page's history view against the JSON report of the same run."""
    assert_structure_is_ours(dom)
    store = next(c for c in doc["consistency"] if c["name"] == "store")
    bad = [k for k in store["keys"] if k["verdict"] == "violated"]
    (section,) = section_elements(dom, "store")
    assert len(bad) == 1
    assert len(dom.find("svg", **{"class": "history"})) == \
        1 + len({v["key"] for v in next(c for c in doc["consistency"]
                                        if c["name"] == "sess")["violations"]})
    w = bad[0]["witness"]
    rows = [e["attrs"] for e in section if e["tag"] == "g" and "data-op-id" in e["attrs"]]
    # every operation of the key, once: key x has 5 (the never-returned write among them)
    assert len(rows) == len({r["data-op-id"] for r in rows}) == 5
    assert {r["data-op-id"] for r in rows if r["data-role"] == "witness"} == \
        {str(o["id"]) for o in w["operations"]}
    order = {r["data-op-id"]: int(r["data-order"]) for r in rows if "data-order" in r}
    assert sorted(order, key=order.get) == [str(o["id"]) for o in w["partial_linearization"]]
    assert sorted(order.values()) == list(range(1, len(w["partial_linearization"]) + 1))
    assert [r["data-op-id"] for r in rows if r.get("data-blocked") == "true"] == \
        [str(w["blocked"]["id"])]
    badges = [e["text"] for e in section if e["tag"] == "text" and
              e["attrs"].get("class") == "badge"]
    assert badges == [str(i) for i in range(1, len(w["partial_linearization"]) + 1)]
    stuck = [e["text"] for e in section if e["tag"] == "text" and
             e["attrs"].get("class") == "stuck"]
    assert len(stuck) == 1 and stuck[0].startswith("stuck: state ")
    state = [e["text"] for e in section if e["tag"] == "p" and
             e["attrs"].get("class") == "state"]
    assert state == [f"model state after it: {json.dumps(w['state'])}"]
    # the never-returned write: drawn, dashed to the end
    never = [e for e in section if e["tag"] == "rect" and
             "indeterminate" in e["attrs"].get("class", "")]
    assert len(never) == 1
    assert any(EVIL in e["text"] for e in section if e["tag"] == "code")
    summary = {r["attrs"]["data-consistency"]: r for r in dom.find("tr")
               if r["attrs"].get("data-consistency")}
    assert set(summary) == {"store", "sess"}
    assert "violated" in summary["store"]["text"]


def test_monitor_html_draws_each_violated_key_against_the_json(tmp_path):
    code, page = monitor(tmp_path, "c3", "--format", "html")
    assert code == 1
    _, doc = monitor(tmp_path, "c3", "--format", "json")
    dom = Dom(page)
    check_page(dom, json.loads(doc))
    bad = sum(1 for c in json.loads(doc)["consistency"] for k in c.get("keys", [])
              if k["verdict"] == "violated")
    assert f"2 consistency check(s), {bad} key(s) violated" in dom.find("p", id="meta")[0]["text"]


def test_no_consistency_no_view(tmp_path):
    page = render([], properties=[], title="t")
    assert 'id="consistency"' not in page and "svg rect.op" not in page


def test_a_cut_history_says_how_many_operations_are_not_drawn():
    ops = [{"id": i, "text": f"write({i})", "client": "c", "call_ns": i * 10,
            "return_ns": i * 10 + 5, "status": "ok"} for i in range(3)]
    page = render([], consistency=[{"name": "s", "checker": "linearizable",
                                    "model": "register", "verdict": "violated", "keys": [
                                        {"key_text": "k", "verdict": "violated",
                                         "history": ops, "history_total": 10}]}])
    assert "7 more operation(s) of this key not drawn" in page


_text = st.text(max_size=12)
_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | _text,
                     lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(_text, inner, max_size=3), max_leaves=10)
_op = st.fixed_dictionaries({"id": st.integers(0, 5), "text": _text, "client": _text,
                             "call_ns": st.integers(-2**62, 2**62)},
                            optional={"return_ns": st.integers(-2**62, 2**62) | st.none(),
                                      "span_id": _text})
_key = st.fixed_dictionaries({"verdict": st.sampled_from(["violated", "satisfied"]) | _text},
                             optional={"key_text": _text, "history": st.lists(_op, max_size=5),
                                       "history_total": _json, "reason": _text,
                                       "witness": st.fixed_dictionaries({}, optional={
                                           "operations": st.lists(_op, max_size=3),
                                           "partial_linearization": st.lists(_op, max_size=3),
                                           "state": _json, "minimal": _json,
                                           "blocked": _op | _json}) | _json,
                                       "violations": st.lists(st.fixed_dictionaries(
                                           {"guarantee": _text, "message": _text,
                                            "operations": st.lists(_op, max_size=2)}),
                                           max_size=2) | _json})
_check = st.fixed_dictionaries({}, optional={"name": _text, "checker": _text, "model": _text,
                                             "verdict": _text, "reason": _json,
                                             "operations": _json,
                                             "keys": st.lists(_key | _json, max_size=3)})


@settings(max_examples=5_000 if LONG else 200, deadline=None)
@given(st.lists(_check | _json, max_size=3) | _json)
def test_fuzz_any_consistency_json_renders_our_structure(checks):
    """A store may hold anything, a run any value: the page renders, with one section per
    violated key, and nothing from the data becomes markup."""
    page = render([], consistency=checks)
    dom = Dom(page)
    assert_structure_is_ours(dom)
    keys = [k for c in (checks if isinstance(checks, list) else []) if isinstance(c, dict)
            for k in (c.get("keys") if isinstance(c.get("keys"), list) else [])
            if isinstance(k, dict) and k.get("verdict") == "violated"]
    assert len([s for s in dom.find("section")
                if "consistency" in s["attrs"].get("class", "")]) == len(keys)


def test_chromium_renders_the_history_view(tmp_path):
    beacon = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Beacon)
    threading.Thread(target=beacon.serve_forever, daemon=True).start()
    _Beacon.hits = []
    try:
        url = f"http://127.0.0.1:{beacon.server_port}"
        client = f'c3<img src="{url}/img"><link rel=stylesheet href="{url}/css">'
        code, html = monitor(tmp_path, client, "--format", "html")
        assert code == 1
        _, doc = monitor(tmp_path, client, "--format", "json")
        page = tmp_path / "history.html"
        page.write_text(html)
        done = browse(page, tmp_path / "profile-dom", "--dump-dom")
        assert done.returncode == 0, done.stderr[-2000:]
        dom = Dom(done.stdout)
        assert not dom.find("script") and not dom.find("img") and not dom.find("link")
        check_page(dom, json.loads(doc))
        assert any(client in t["text"] for t in dom.find("title"))  # the client, as text

        shot = tmp_path / "history.png"
        done = browse(page, tmp_path / "profile-shot", f"--screenshot={shot}",
                      "--window-size=1280,1400")
        assert done.returncode == 0, done.stderr[-2000:]
        png = shot.read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        assert struct.unpack(">II", png[16:24]) == (1280, 1400)
        # drawn, not just laid out: the witness red and the partial linearization's blue
        assert _has_colour(shot, (0xD3, 0x2F, 0x2F))
        assert _has_colour(shot, (0x7F, 0xA7, 0xE0))
        keep = os.environ.get("TRACELOGIC_ARTIFACTS")
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copy(shot, Path(keep) / "report-history.png")
            shutil.copy(page, Path(keep) / "report-history.html")
        print(f"screenshot: {shot}")
    finally:
        beacon.shutdown()
        beacon.server_close()
    assert _Beacon.hits == []


def test_a_session_violation_marks_the_operations_it_involves(tmp_path):
    spec, traces = tmp_path / "s.spec", tmp_path / "t.json"
    spec.write_text("consistency sess: sessions register\n")
    # client c1 writes 5 and then reads nil: read-your-writes is broken on key z
    traces.write_text(json.dumps(to_otlp_json([
        O(0, "write", 5, None, 1_000, 2_000, key="z", client="c1"),
        O(1, "read", None, None, 3_000, 4_000, key="z", client="c1"),
        O(2, "read", None, 5, 3_000, 4_000, key="z", client="c2")], history="s")))
    out = io.StringIO()
    assert run(["monitor", str(spec), str(traces), "--format", "json"], out,
               io.StringIO()) == 1
    [v] = json.loads(out.getvalue())["consistency"][0]["violations"]
    out = io.StringIO()
    run(["monitor", str(spec), str(traces), "--format", "html"], out, io.StringIO())
    dom = Dom(out.getvalue())
    (section,) = section_elements(dom, "sess")
    rows = [e["attrs"] for e in section if e["tag"] == "g" and "data-op-id" in e["attrs"]]
    assert len(rows) == 3
    assert {r["data-op-id"] for r in rows if r["data-role"] == "witness"} == \
        {str(o["id"]) for o in v["operations"]}
    lines = [e["text"] for e in section if e["tag"] == "p" and
             e["attrs"].get("class") == "violation-line"]
    assert lines == [f"▲ {v['guarantee']}: {v['message']}"]


def test_a_witness_alone_is_drawn_without_the_history(tmp_path):
    """What a store keeps of a violated key is its JSON (`Witness.to_json`), not its
    whole history: the view draws the witness, the partial linearization and the blocked
    operation from it."""
    _, doc = monitor(tmp_path, "c3", "--format", "json")
    store = next(c for c in json.loads(doc)["consistency"] if c["name"] == "store")
    page = render([], consistency=[store])  # the JSON report's keys: no "history"
    (section,) = section_elements(Dom(page), "store")
    w = next(k for k in store["keys"] if k["verdict"] == "violated")["witness"]
    drawn = {e["attrs"]["data-op-id"] for e in section
             if e["tag"] == "g" and "data-op-id" in e["attrs"]}
    assert drawn == {str(o["id"]) for o in w["operations"] + w["partial_linearization"]
                     + [w["blocked"]]}
