"""`tracelogic violations --format html` and `--trace-url` over a real store.

The store is filled with the violations `tracelogic monitor --format json` reports for
the visual report's workload (tests/engine/test_report_html.py), so the bodies carry
every field the page draws: events, a trigger, an aggregate's window and values.
"""
from __future__ import annotations

import io
import json

import pytest

from tracelogic.cli import run
from tracelogic.sidecar.store import Store

from engine.test_report_html import EVIL, Dom, assert_structure_is_ours, write_inputs

URL = "https://tempo.example/trace/{trace_id}"


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def store(tmp_path):
    spec, traces = write_inputs(tmp_path)
    _, out, _ = cli("monitor", str(spec), str(traces), "--format", "json")
    bodies = json.loads(out)["violations"]
    s = Store(str(tmp_path / "v.db"))
    s.add_violations(bodies)
    s.close()
    return str(tmp_path / "v.db"), bodies


def test_html_from_a_store_draws_the_witness_events(store):
    path, bodies = store
    code, page, err = cli("violations", "--store", path, "--format", "html",
                          "--trace-url", URL)
    assert code == 1, err
    dom = Dom(page)
    assert_structure_is_ours(dom)
    sections = dom.find("section")
    assert [s["attrs"]["data-property"] for s in sections] == [b["property"] for b in bodies]
    # the summary counts violations per property (a store has no verdict counts)
    assert {r["attrs"]["data-property"] for r in dom.find("tr")
            if "data-property" in r["attrs"]} == {b["property"] for b in bodies}
    # no spans of decided traces in a store: the rows are the witness and trigger spans
    drawn = {g["attrs"]["data-span-id"] for g in dom.find("g") if "data-span-id" in g["attrs"]}
    witnessed = {e["span_id"] for b in bodies for e in b.get("events", [])} | \
        {b["trigger"]["span_id"] for b in bodies if "trigger" in b}
    assert drawn == witnessed
    assert page.count("the witness spans only") == len(bodies)
    assert len(dom.find("path", **{"class": "trigger-mark"})) == 1
    assert len(dom.find("rect", **{"class": "window"})) == 1
    assert "<script" not in page.lower() and any(EVIL in a["text"] for a in dom.find("aside"))
    assert [a["attrs"]["href"] for a in dom.find("a", **{"class": "trace-link"})] == \
        [URL.replace("{trace_id}", t) for b in bodies for t in b["trace_ids"]]
    # the row ids and recording times of the store are on the page
    assert "#1" in sections[0]["text"] and "recorded" in sections[0]["text"]


def test_text_and_json_from_a_store_carry_the_links(store, monkeypatch):
    path, bodies = store
    code, out, _ = cli("violations", "--store", path, "--trace-url", URL)
    assert code == 1
    links = [line.strip() for line in out.splitlines() if line.startswith("  trace: ")]
    assert links == ["trace: " + URL.replace("{trace_id}", t)
                     for b in bodies for t in b["trace_ids"]]
    monkeypatch.setenv("TRACELOGIC_TRACE_URL", URL)
    _, out, _ = cli("violations", "--store", path, "--format", "json")
    for row in json.loads(out):
        assert row["trace_urls"] == [URL.replace("{trace_id}", t) for t in row["trace_ids"]]
    # the store itself is unchanged: links are rendered, never stored
    assert all("trace_urls" not in r.body for r in Store(path).violations())


def test_empty_store_page_and_bad_trace_url(tmp_path, store):
    empty = tmp_path / "empty.db"
    Store(str(empty)).close()
    code, page, _ = cli("violations", "--store", str(empty), "--format", "html")
    assert code == 0 and "no violations" in page
    code, out, err = cli("violations", "--store", store[0], "--trace-url", "https://x/")
    assert code == 2 and out == "" and "{trace_id}" in err
