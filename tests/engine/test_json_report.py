"""tracelogic/engine/json_report.py, through the core's ``dumps_indent2``
(native/src/json_py.rs), writes what ``json.dumps(obj, indent=2)`` writes, byte for byte:
the standard library is the oracle, on generated documents with everything the fast path
hands back to Python (subclasses, enum members, non-string keys, lone surrogates, big
integers, floats in every spelling, nesting past the core's depth limit)."""
from __future__ import annotations

import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.test_json_text import REFUSED, documents
from tracelogic import _native
from tracelogic.engine.json_report import dump, dumps


def test_the_core_writes_it():
    # the fast path is what this file tests: a build without it would test json_text only
    assert callable(getattr(_native, "dumps_indent2", None))


@settings(max_examples=400)
@given(documents)
def test_same_text_as_json_dumps(doc):
    assert dumps(doc) == json.dumps(doc, indent=2)


def _dumped(doc: object, encoding: str | None) -> str:
    """``dump(doc)`` between two lines, to a StringIO (``encoding`` None) or to a text
    stream of ``encoding`` over bytes, read back."""
    raw = io.BytesIO()
    out = io.StringIO() if encoding is None else io.TextIOWrapper(raw, encoding=encoding)
    out.write("before\n")
    dump(doc, out)
    out.write("after\n")
    if encoding is None:
        return out.getvalue()
    out.flush()
    return raw.getvalue().decode(encoding)


@settings(max_examples=100)
@given(documents)
def test_dump_writes_dumps_and_a_newline(doc):
    for encoding in (None, "utf-8", "latin-1"):
        assert _dumped(doc, encoding) == f"before\n{json.dumps(doc, indent=2)}\nafter\n"


def test_dump_hands_a_large_text_over_in_pieces():
    """Past a megabyte the core hands the text to the binary stream in pieces (a
    Verbatim's lines included), none empty, which read as the whole text."""
    from tracelogic.json_text import Verbatim

    rows = [{"key": f"k{i}", "verdict": "violated", "n": i, "x": i / 7} for i in range(40000)]
    doc = {"a": rows, "b": [Verbatim(_verbatim_items(rows[:20000]))], "c": [rows[:5]]}
    want = json.dumps({"a": rows, "b": rows[:20000], "c": [rows[:5]]}, indent=2) + "\n"
    assert len(want) > 4 << 20

    class Pieces(io.BytesIO):
        sizes: list[int] = []

        def write(self, b):  # type: ignore[override]
            self.sizes.append(len(b))
            return super().write(b)

    raw = Pieces()
    out = io.TextIOWrapper(raw, encoding="utf-8")
    dump(doc, out)
    out.flush()
    assert raw.getvalue().decode() == want
    assert len(raw.sizes) > 4 and 0 not in raw.sizes
    assert max(raw.sizes) < 2 << 20  # a piece, not the whole


def test_dump_stops_at_an_error_of_write_or_of_the_document():
    class Refusing(io.BytesIO):
        def write(self, b):  # type: ignore[override]
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        dump({"a": ["x" * 100] * 20000}, io.TextIOWrapper(Refusing(), encoding="utf-8"))
    with pytest.raises(TypeError):
        dump({"a": [object()]}, io.TextIOWrapper(io.BytesIO(), encoding="utf-8"))


def test_control_and_non_ascii_characters():
    s = "".join(map(chr, range(0, 0x100))) + "\u2028\uffff\U0001f600\U0010ffff"
    doc = {s: [s, {"k": s}]}
    assert dumps(doc) == json.dumps(doc, indent=2)


def test_deeper_than_the_core_writes_itself():
    doc: object = "leaf"
    for i in range(300):  # the core's limit is 256 levels; the rest is json.dumps's
        doc = [doc] if i % 2 else {"k": doc}
    assert dumps(doc) == json.dumps(doc, indent=2)


@pytest.mark.parametrize("bad", REFUSED)
def test_refuses_what_json_refuses(bad):
    with pytest.raises(TypeError):
        dumps(bad)


def test_a_cycle_is_an_error_not_a_crash():
    doc: list = []
    doc.append(doc)
    with pytest.raises((ValueError, RecursionError)):
        json.dumps(doc, indent=2)
    with pytest.raises((ValueError, RecursionError)):
        dumps(doc)


def _verbatim_items(items: list) -> str:
    """JSON items as ``json.dumps`` writes them at depth 0, joined as a Verbatim holds them."""
    return ",\n".join(json.dumps(x, indent=2) for x in items)


@settings(max_examples=200)
@given(documents, documents, st.integers(0, 4))
def test_verbatim_text_is_indented_where_it_stands(a, b, depth):
    # a Verbatim holding items a and b, nested `depth` levels deep, reads as those items
    from tracelogic.json_text import Verbatim

    inner: object = [Verbatim(_verbatim_items([a, b])), "after"]
    plain: object = [a, b, "after"]
    for i in range(depth):
        inner, plain = ({"k": inner}, {"k": plain}) if i % 2 else ([inner], [plain])
    assert dumps(inner) == json.dumps(plain, indent=2)


results = st.lists(st.tuples(st.text(), st.integers(0, 5)), max_size=20)


@settings(max_examples=200)
@given(results)
def test_a_block_of_results_is_the_dicts_text(rows):
    from tracelogic.engine.report import VERDICT_NAMES

    keys = [k for k, _ in rows]
    codes = bytes(c for _, c in rows)
    items = [{"key": k, "verdict": VERDICT_NAMES[c]} for k, c in rows]
    assert _native.verdict_items_json(keys, codes, list(VERDICT_NAMES)) == _verbatim_items(items)


def test_a_block_of_results_refuses_what_does_not_match():
    names = ["satisfied", "violated"]
    with pytest.raises(ValueError):
        _native.verdict_items_json(["a", "b"], b"\x00", names)  # more keys than codes
    with pytest.raises(ValueError):
        _native.verdict_items_json(["a"], b"\x00\x01", names)  # fewer keys than codes
    with pytest.raises(ValueError):
        _native.verdict_items_json(["a"], b"\x07", names)  # no such verdict
    with pytest.raises(TypeError):
        _native.verdict_items_json([3], b"\x00", names)  # a key that is not a str


@settings(max_examples=100)
@given(st.lists(results, max_size=4), results)
def test_property_results_in_blocks_print_as_listed(blocks, listed):
    # PropertyResult.to_json(verbatim=True) keeps the core's blocks as text; printed, it
    # is the document of the listed results
    from tracelogic.engine.report import VERDICT_NAMES, PropertyResult

    def made() -> PropertyResult:
        p = PropertyResult("p", "trace", results=[(k, VERDICT_NAMES[c]) for k, c in listed])
        p.instances = len(listed)
        for rows in blocks:
            p.add_codes([k for k, _ in rows], bytes(c for _, c in rows))
        return p

    assert dumps(made().to_json(verbatim=True)) == json.dumps(made().to_json(), indent=2)


def test_a_block_with_a_key_rust_cannot_read_prints_as_dicts():
    # a lone surrogate (a key made with surrogateescape) is json.dumps's to escape: the
    # block falls back to dicts, and the document is the same
    from tracelogic.engine.report import PropertyResult

    p = PropertyResult("p", "attr")
    p.add_codes(["ok", "bad\udcff"], b"\x00\x01")
    assert dumps(p.to_json(verbatim=True)) == json.dumps(p.to_json(), indent=2)
