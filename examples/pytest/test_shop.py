"""Examples: the tracelogic pytest plugin on a real OpenTelemetry-instrumented service.

Run with `pytest examples/pytest`. The plugin is registered by installing
tracelogic (entry point `pytest11`); no conftest is needed.
"""
from __future__ import annotations

import io
import json
from wsgiref.util import setup_testing_defaults

import pytest

from tracelogic.testing import SpecViolation

import checkout_service as shop


def post(order: str, amount: int) -> tuple[str, dict]:
    body = json.dumps({"order": order, "amount": amount}).encode()
    environ: dict = {}
    setup_testing_defaults(environ)
    environ.update(REQUEST_METHOD="POST", PATH_INFO="/checkout", CONTENT_LENGTH=str(len(body)),
                   **{"wsgi.input": io.BytesIO(body)})
    status: list[str] = []
    out = b"".join(shop.app(environ, lambda s, h: status.append(s)))
    return status[0], json.loads(out)


@pytest.mark.spec("shop.spec")
def test_checkout_satisfies_every_property():
    status, body = post("o-1", 40)
    assert status.startswith("200") and body == {"result": "ok"}


@pytest.mark.spec("shop.spec")
def test_declined_payment_is_not_charged():
    status, body = post("o-2", 5000)
    assert status.startswith("402")


def test_the_fixture_sees_this_tests_spans(otel_spans):
    shop.checkout("o-3", 10)
    assert otel_spans.names() == ["authorize", "charge", "POST /checkout"]
    otel_spans.satisfy("shop.spec::auth_before_charge")


@pytest.mark.xfail(strict=True, raises=SpecViolation, reason="deliberately broken: charges without authorizing; "
                   "tracelogic must report auth_before_charge")
@pytest.mark.spec("shop.spec::auth_before_charge")
def test_the_bug_is_caught():
    shop.checkout("o-4", 10, skip_authorize=True)
