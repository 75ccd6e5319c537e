"""A gzip file inflates to at most MAX_FILE_DECOMPRESSED_BYTES (issue 15, bug c): a bomb
given to `monitor` or `analyze` stops at the limit with a precise message and exit 2,
like a gzip request body at `serve`'s --max-request-bytes."""
from __future__ import annotations

import gzip
import io
import zlib
from pathlib import Path

import pytest

from tracelogic import cli
from tracelogic.errors import InputError
from tracelogic.ingest import compression
from tracelogic.ingest.compression import gunzip_file
from tracelogic.ingest.otlp import read_bytes

DATA = Path(__file__).parent / "data"
LIMIT = 1 << 20


def bomb(size: int) -> bytes:
    """``size`` zero bytes, gzipped in pieces (32 MiB of them, about 32 KiB)."""
    c = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1 << 20)
    parts = [c.compress(zeros) for _ in range(size >> 20)]
    return b"".join(parts) + c.flush()


@pytest.fixture()
def small_limit(monkeypatch):
    monkeypatch.setattr(compression, "MAX_FILE_DECOMPRESSED_BYTES", LIMIT)


def test_the_bomb_is_small_and_stops_at_the_limit(small_limit):
    data = bomb(32 << 20)
    assert len(data) < 64 << 10  # 1000 times smaller
    with pytest.raises(InputError) as e:
        gunzip_file(data, "b.json.gz")
    assert "b.json.gz: gzip data inflates to more than 1048576 bytes (1 MiB)" in e.value.message
    assert "gunzip -k" in e.value.hint
    # at the limit it is read; one byte over is refused
    assert gunzip_file(gzip.compress(bytes(LIMIT)), "x") == bytes(LIMIT)
    with pytest.raises(InputError):
        gunzip_file(gzip.compress(bytes(LIMIT + 1)), "x")


def test_read_bytes_records_the_bomb_as_an_input_error(small_limit):
    got = read_bytes(bomb(4 << 20), source="b.gz")
    assert not got.stats.ok
    assert any("inflates to more than" in str(e) for e in got.stats.errors)


def test_corrupt_gzip_is_still_reported_as_corrupt():
    got = read_bytes(gzip.compress(b'{"resourceSpans": []}')[:-4], source="c.gz")
    assert any("corrupt gzip data" in str(e) for e in got.stats.errors)


@pytest.mark.parametrize("engine", ["python", "native"])
def test_monitor_refuses_a_bomb_with_exit_2(small_limit, tmp_path, engine):
    (tmp_path / "p.spec").write_text('property p: G !(name == "x")\n')
    (tmp_path / "bomb.json.gz").write_bytes(bomb(4 << 20))
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(["monitor", "--engine", engine, str(tmp_path / "p.spec"),
                    str(tmp_path / "bomb.json.gz")], out, err)
    assert code == 2, (out.getvalue(), err.getvalue())
    assert "inflates to more than 1048576 bytes" in out.getvalue() + err.getvalue()


def test_analyze_refuses_a_bomb_with_exit_2(small_limit, tmp_path):
    (tmp_path / "bomb.json.gz").write_bytes(bomb(4 << 20))
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(["analyze", "--critical-path", str(tmp_path / "bomb.json.gz")], out, err)
    assert code == 2, (out.getvalue(), err.getvalue())
    assert "inflates to more than 1048576 bytes" in err.getvalue()


def test_a_gzipped_file_under_the_limit_is_read(tmp_path):
    p = tmp_path / "t.json.gz"
    p.write_bytes(gzip.compress((DATA / "out_of_order.json").read_bytes()))
    out, err = io.StringIO(), io.StringIO()
    (tmp_path / "p.spec").write_text('property p: G !(name == "no such span")\n')
    assert cli.run(["monitor", str(tmp_path / "p.spec"), str(p)], out, err) == 0, \
        err.getvalue()
