"""The report of a monitoring run, in the contract of DESIGN.md (`tracelogic.monitor/1`).

JSON is the stable contract (add fields, never rename; schema in
docs/monitor.schema.json). Text is for people: per violation the property,
its description, the key and a timeline of the witness events. JUnit makes
each property a test case; SARIF points each violation at its property in
the spec.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from operator import attrgetter
from typing import Any, Callable, Iterator, Sequence, TextIO

from tracelogic.automata.monitor import Verdict
from tracelogic.byte_streams import utf8_buffer
from tracelogic.json_text import Verbatim
from tracelogic.spec.typed import PropertyT

FAILING = {"critical", "error"}

#: :meth:`MonitorReport.write_text` asks the core for at most this many violations' text at
#: a time (about 800 kB of it)
_CHUNK = 4096


#: the verdicts an instance ends with, numbered: the codes of :meth:`PropertyResult.add_codes`
VERDICT_NAMES = ("satisfied", "violated", "presumably_satisfied", "presumably_violated",
                 "inconclusive", "incomplete")
VERDICT_CODES = {name: code for code, name in enumerate(VERDICT_NAMES)}


def _verdict_items() -> Any:
    """The core's writer of a block of results as JSON items, or None (not built, or an
    older build): ``to_json`` then makes a dict per instance."""
    try:
        from tracelogic import _native
    except ImportError:
        return None
    if getattr(_native, "ABI_VERSION", 0) < 9:
        return None
    return getattr(_native, "verdict_items_json", None)


class PropertyResult:
    """One property's instances and their verdicts, in the report's order.

    ``results`` lists ``(key, verdict)`` per instance. Instances the native core decided
    arrive as a block (:meth:`add_codes`: the keys and one verdict code a byte) and become
    tuples only when ``results`` is read, e.g. by ``to_json``: a text report counts them
    without making an object per instance (tens of thousands per run).
    """

    def __init__(self, name: str, scope: str, instances: int = 0, vacuous: int = 0,
                 results: list[tuple[str, str]] | None = None, *, monitored: bool = True,
                 reason: str | None = None, span: Any = None) -> None:
        self.name = name
        self.scope = scope
        self.instances = instances
        self.vacuous = vacuous
        #: False when the engine refused the property (``reason`` says why, in spec
        #: syntax): it has no instances, and it counts as an unknown result
        self.monitored = monitored
        self.reason = reason
        self.span = span  # where the property is in the spec (a SourceSpan), if known
        #: of the ``inconclusive`` results, those undecided at the end only because the
        #: instance saw a partial trace (a span's parent never arrived)
        self.inconclusive_partial = 0
        #: instances undecided on a partial trace that ``partial_traces="ignore"`` left out
        #: of ``results`` (and of ``instances``)
        self.ignored_partial = 0
        self._results: list[tuple[str, str]] = [] if results is None else results
        self._blocks: list[tuple[Sequence[str], bytes]] = []  # not yet listed, in order

    @property
    def results(self) -> list[tuple[str, str]]:
        """``(key, verdict)`` per instance, in order."""
        if self._blocks:
            names = VERDICT_NAMES
            for keys, codes in self._blocks:
                self._results.extend(zip(keys, [names[c] for c in codes]))
            self._blocks.clear()
        return self._results

    def add(self, key: str, verdict: Verdict | str) -> None:
        """Count one instance; ``verdict`` is a Verdict or ``"incomplete"``."""
        self.instances += 1
        # a Verdict is a str whose text is its value: str.__str__ reads it without the
        # enum's slow `.value` descriptor (a result per instance adds up)
        self.results.append((key, str.__str__(verdict)))

    def add_codes(self, keys: Sequence[str], codes: bytes | bytearray) -> None:
        """Count one instance per key, ``codes[i]`` the verdict of ``keys[i]`` as its index
        in :data:`VERDICT_NAMES`; listed lazily (see the class docstring)."""
        if len(keys) != len(codes):
            raise ValueError(f"{len(keys)} keys but {len(codes)} verdict codes")
        self.instances += len(keys)
        if keys:
            self._blocks.append((keys, bytes(codes)))

    def count(self, verdict: str) -> int:
        code = VERDICT_CODES.get(verdict)
        listed = sum(1 for _, v in self._results if v == verdict)
        if code is None:
            return listed
        return listed + sum(codes.count(code) for _, codes in self._blocks)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PropertyResult):
            return NotImplemented
        return ((self.name, self.scope, self.instances, self.vacuous, self.results,
                 self.monitored, self.reason, self.inconclusive_partial, self.ignored_partial)
                == (other.name, other.scope, other.instances, other.vacuous, other.results,
                    other.monitored, other.reason, other.inconclusive_partial,
                    other.ignored_partial))

    def __repr__(self) -> str:
        refused = "" if self.monitored else f", monitored=False, reason={self.reason!r}"
        return (f"PropertyResult(name={self.name!r}, scope={self.scope!r}, "
                f"instances={self.instances}, vacuous={self.vacuous}, "
                f"results={self.results!r}{refused})")

    def to_json(self, *, verbatim: bool = False) -> dict:
        """The contract's entry. With ``verbatim``, for a document that is only printed (by
        ``json_report.dumps``): each block of results the core decided stays JSON text
        written by the core (:class:`~tracelogic.json_text.Verbatim`), no dict per
        instance."""
        write = _verdict_items() if verbatim and self._blocks else None
        if write is None:
            results: list = [{"key": k, "verdict": v} for k, v in self.results]
        else:
            results = [{"key": k, "verdict": v} for k, v in self._results]
            for keys, codes in self._blocks:
                try:
                    results.append(Verbatim(write(keys, codes, VERDICT_NAMES)))
                except TypeError:  # a key Rust cannot read (a lone surrogate): as dicts
                    results += [{"key": k, "verdict": VERDICT_NAMES[c]}
                                for k, c in zip(keys, codes)]
        out: dict[str, Any] = {"name": self.name, "scope": self.scope,
                               "instances": self.instances, "vacuous": self.vacuous,
                               "results": results}
        if not self.monitored:
            out["monitored"] = False
            out["reason"] = self.reason or "not monitored"
        if self.inconclusive_partial:
            out["inconclusive_partial"] = self.inconclusive_partial
        if self.ignored_partial:
            out["ignored_partial"] = self.ignored_partial
        return out


@dataclass
class Violation:
    prop: PropertyT
    key: str
    trace_ids: list[str]
    span_ids: list[str]
    message: str
    witness: list = field(default_factory=list)   # Events, for the text timeline
    values: dict | None = None
    window: tuple | None = None
    points: list | None = None
    # a bounded obligation's violation (`G[…]`, `F[…]`, `U[…]`, …): the event that opened
    # the obligation (one of ``witness``), or None
    trigger: Any = None

    def to_json(self, trace_url: Any = None) -> dict:
        """The contract's violation object; with ``trace_url`` (a
        :class:`~tracelogic.engine.trace_links.TraceUrl`) also ``trace_urls``, one link per
        trace id."""
        out: dict[str, Any] = {"property": self.prop.name, "key": self.key,
                               "trace_ids": self.trace_ids, "span_ids": self.span_ids,
                               "message": self.message, "severity": self.prop.severity}
        if trace_url is not None:
            out["trace_urls"] = trace_url.links(self.trace_ids)
        if self.prop.owner:
            out["owner"] = self.prop.owner
        if self.prop.runbook:
            out["runbook"] = self.prop.runbook
        if self.prop.description:
            out["description"] = self.prop.description
        if self.witness:
            out["events"] = [_event_json(e) for e in self.witness]
        if self.trigger is not None:
            out["trigger"] = _event_json(self.trigger)
        if self.values is not None:
            out["values"] = {k: _plain(v) for k, v in self.values.items()}
        if self.window is not None:
            out["window"] = {"start_unix_nano": self.window[0], "end_unix_nano": self.window[1]}
        if self.points is not None:
            out["points"] = self.points
        return out



#: the fields of a :class:`Violation` a :class:`DeferredViolation` builds when first read
_DEFERRED = ("trace_ids", "span_ids", "message", "witness", "values", "window", "points",
             "trigger")


def _deferred_field(name: str) -> property:
    def get(self: "DeferredViolation") -> Any:
        d = self.__dict__
        if name not in d:
            self.build()
        return d[name]

    def set_(self: "DeferredViolation", value: Any) -> None:
        self.build()
        self.__dict__[name] = value

    return property(get, set_, doc=f"``{name}``, built when first read")


class DeferredViolation(Violation):
    """A :class:`Violation` whose evidence (trace and span ids, message, witness events,
    trigger, ...) is built when one of those fields is first read.

    The native core decides thousands of violated instances a run (19% of bench_monitor's
    traces violate something); reading each one's witness spans back from the core's store
    costs more than deciding it. The property and the key are known at once, so an exit code,
    a count or a filter by property builds nothing; the JSON, text, JUnit and SARIF reports
    build what they print. Equal to a :class:`Violation` with the same fields.
    """

    @classmethod
    def deferred(cls, prop: PropertyT, key: str, build: Any,
                 at: Any = None) -> "DeferredViolation":
        """A violation of ``prop`` at ``key`` whose other fields are those of ``build()``,
        or ``build(at)`` when ``at`` is given (a :class:`Violation` of the same property
        and key), called at most once. With ``at``, one ``build`` serves many violations
        (a report of the core holds thousands; each then costs one small object: its
        attributes are set in place, no ``__dict__`` made until it is built)."""
        v = cls.__new__(cls)
        put = object.__setattr__
        put(v, "prop", prop)
        put(v, "key", key)
        put(v, "_build", build)
        if at is not None:
            put(v, "_at", at)
        return v

    @classmethod
    def many(cls, prop: PropertyT, build: Any, keys: list[str], ats: list[Any]
             ) -> list["DeferredViolation"]:
        """``deferred(prop, keys[i], build, ats[i])`` for each ``i``, without a call each:
        plain attribute stores (none of these names is a descriptor), which keep the
        values in the object itself. Reading ``v.__dict__`` here would make each one a
        dict of its own: twice the time (48 against 24 ms for 155k violations) and 64
        bytes more each."""
        new = cls.__new__
        out = []
        append = out.append
        for key, at in zip(keys, ats):
            v = new(cls)
            v.prop = prop
            v.key = key
            v._build = build
            v._at = at
            append(v)
        return out

    def build(self) -> None:
        """Build the deferred fields now (a no-op once built)."""
        d = self.__dict__
        if "_build" not in d:
            return
        v = self.built()
        del d["_build"]
        d.pop("_at", None)
        for name in _DEFERRED:
            d.setdefault(name, getattr(v, name))

    def built(self) -> Violation:
        """The plain :class:`Violation` equal to this one: built now (this object stays
        deferred) unless it was built before (then itself). A report that builds every
        violation swaps them in instead of copying each one's fields over."""
        d = self.__dict__
        build = d.get("_build")
        if build is None:
            return self
        v = build() if "_at" not in d else build(d["_at"])
        if v.prop is not self.prop or v.key != self.key:
            raise AssertionError(f"a deferred violation of {self.prop.name} at {self.key!r} "
                                 f"built one of {v.prop.name} at {v.key!r}")
        return v

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Violation):
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f) for f in ("prop", "key") + _DEFERRED)

    __hash__ = None  # type: ignore[assignment]  # as the dataclass: mutable, unhashable


for _name in _DEFERRED:
    setattr(DeferredViolation, _name, _deferred_field(_name))
del _name


class CoreBlock(partial):
    """The builder of one block of the core's deferred violations (``build(at)``, see
    :meth:`DeferredViolation.deferred`) that can also have the core write the report's
    text of many of them at once: ``text(json, style, ats, keys)``, the text report's
    blocks (``json`` False; ``style`` from :func:`text_style`) or the JSON report's objects
    (``json`` True, :func:`json_style`), in one ``str`` joined as the report joins them, or
    a list of one ``str`` per violation, None for one it leaves to Python."""

    text: Callable[[bool, tuple, list, list], str | list]


def text_style(p: PropertyT, color: bool) -> tuple[str, str, str | None, str | None, None]:
    """What ``to_text`` writes of property ``p`` around each of its violations: the text
    before and after the key, the description line and the runbook line (None: none)."""
    where = f"{p.span.file}:{p.span.line}" if p.span.line else p.span.file
    head = f"\x1b[31m✗ {p.name}\x1b[0m" if color else f"✗ {p.name}"
    runbook = f"  runbook: {p.runbook}" if p.runbook else None
    if runbook and color:
        runbook = f"\x1b[2m{runbook}\x1b[0m"
    return (f"{head} [{p.severity}] key ", f"  ({where})",
            f"  {p.description}" if p.description else None, runbook, None)


def json_style(p: PropertyT) -> tuple[str, str, str | None, str | None, str | None]:
    """What :meth:`Violation.to_json` writes of property ``p`` in each of its violations:
    name, severity, and owner, runbook and description (None: none)."""
    return p.name, p.severity, p.owner or None, p.runbook or None, p.description or None


def _event_json(e: Any) -> dict:
    if e.is_start is None:  # a log record (docs/logs.md): named by its severity and body
        from tracelogic.values.missing import MISSING

        r = e.span
        out = {"trace_id": r.trace_id, "span_id": r.span_id, "event": "log",
               "time_unix_nano": e.time_ns, "name": r.label, "service": r.service}
        if r.severity is not MISSING:
            out["severity"] = r.severity
        if isinstance(r.body, str):
            out["body"] = r.body
        return out
    return {"trace_id": e.span.trace_id, "span_id": e.span.span_id, "event": e.kind,
            "time_unix_nano": e.time_ns, "name": e.span.name, "service": e.span.service}


def trigger_text(e: Any) -> str:
    """``opened by `deploy` end (span 00…07, service api)``: a violation's trigger."""
    service = f", service {e.span.service}" if e.span.service else ""
    if e.is_start is None:
        return f"opened by {e.span.label}{service and f' ({service[2:]})'}"
    return f"opened by `{e.span.name}` {e.kind} (span {e.span.span_id}{service})"


def _plain(v: Any) -> Any:
    if isinstance(v, (int, float, str, bool)) or v is None:
        return v
    return float(v) if hasattr(v, "numerator") else str(v)


@dataclass
class MonitorReport:
    spans: int = 0
    properties: list[PropertyResult] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    late: int = 0
    incomplete: int = 0
    dropped: int = 0
    duplicates: int = 0
    warnings: list[str] = field(default_factory=list)
    logs: int = 0  # log records decoded (docs/logs.md); in the summary when some were
    input_errors: list[str] = field(default_factory=list)

    # ---------------------------------------------------------------- verdict
    def exit_code(self, *, strict: bool = False, allow_unknown: bool = False,
                  _but_partial: bool = False) -> int:
        if self.input_errors:
            return 2
        for v in self.violations:
            if v.prop.severity in FAILING or strict:
                return 1
        if not allow_unknown:
            for p in self.properties:
                inconclusive = p.count("inconclusive")
                if _but_partial:
                    inconclusive -= p.inconclusive_partial
                if not p.monitored or inconclusive or p.count("incomplete"):
                    return 1
            if self.incomplete:
                return 1
        if strict and self.warnings:
            return 1
        return 0

    def partial_hint(self, *, strict: bool = False, allow_unknown: bool = False) -> str | None:
        """One line for a run whose only failures are ``inconclusive`` verdicts from
        partial traces: what they are, a likely cause, and the option; else None."""
        if not any(p.inconclusive_partial for p in self.properties):
            return None
        if self.exit_code(strict=strict, allow_unknown=allow_unknown) != 1 or self.exit_code(
                strict=strict, allow_unknown=allow_unknown, _but_partial=True) != 0:
            return None
        n = sum(p.inconclusive_partial for p in self.properties)
        return (f"the only failures are {n} inconclusive verdict(s) on partial traces (a "
                "span's parent never arrived, as when a browser or gateway propagates "
                "traceparent without exporting its spans); --partial-traces=ignore leaves "
                "them out")

    @property
    def not_monitored(self) -> list[PropertyResult]:
        """The properties the engine refused (each with its ``reason``)."""
        return [p for p in self.properties if not p.monitored]

    def summary(self) -> dict:
        out = {"properties": len(self.properties),
               "instances": sum(p.instances for p in self.properties),
               "violated": sum(p.count("violated") for p in self.properties),
               "spans": self.spans, "late": self.late, "incomplete": self.incomplete,
               "dropped": self.dropped, "duplicates": self.duplicates,
               "warnings": list(self.warnings)}
        refused = len(self.not_monitored)
        if refused:
            out["not_monitored"] = refused
        ignored = sum(p.ignored_partial for p in self.properties)
        if ignored:
            out["ignored_partial"] = ignored
        if self.logs:
            out["logs"] = self.logs
        return out

    def build_violations(self, runs: Sequence[tuple[int, int, Any]] = ()) -> None:
        """Build every :class:`DeferredViolation` now (but those whose text ``runs`` holds,
        see :meth:`_written`), with the cyclic collector paused as ``Monitor.close`` pauses
        it: building allocates many small objects that all stay alive with the report,
        which the collector would scan again and again (measured: 0.2 s of a 40k-span
        `monitor --format json`)."""
        vs = self.violations
        todo = [k for k in self._python_writes(runs) if type(vs[k]) is DeferredViolation]
        if todo:
            from tracelogic.gc_pause import gc_paused

            with gc_paused():
                for k in todo:
                    vs[k] = vs[k].built()

    def _python_writes(self, runs: Sequence[tuple[int, int, Any]]) -> Iterator[int]:
        """The violations ``runs`` leaves to Python: those outside them, and those a run
        already written left (None). A run not written yet (a callable) is not asked: its
        declined violations are built when they are written."""
        n = len(self.violations)
        at = 0
        for start, end, texts in [*runs, (n, n, [])]:
            yield from range(at, start)
            if type(texts) is list:
                yield from (k for t, k in zip(texts, range(start, end)) if t is None)
            at = end

    def _pieces(self, runs: Sequence[tuple[int, int, Any]]
                ) -> Iterator[tuple[str | bytes | None, int]]:
        """The report's violations in order, as ``(text, k)``: a text the core wrote
        (a whole run of them at once when it gave one string), or None for violation
        ``k``, which Python writes. A run's text that is a callable is written now."""
        n = len(self.violations)
        at = 0
        for start, end, texts in [*runs, (n, n, [])]:
            for k in range(at, start):
                yield None, k
            if callable(texts):
                texts = texts()
            if type(texts) is str or type(texts) is bytes:
                yield texts, start
            else:
                yield from zip(texts, range(start, end))
            at = end

    def _written(self, json: bool, style: Callable[[PropertyT], tuple], *,
                 chunk: int | None = None, as_bytes: bool = False
                 ) -> list[tuple[int, int, Any]]:
        """The runs of violations whose text the core writes (the text report's, or with
        ``json`` the JSON report's; ``style(prop)`` as :class:`CoreBlock` says):
        ``(start, end, texts)``, violations ``start`` to ``end`` (exclusive) in one string,
        or one text (or None: Python writes it) per violation; a run per block of a
        :class:`CoreBlock`'s deferred violations. Printing thousands of the core's
        violations then builds none of them.

        With ``chunk``, a run is at most that many violations and its ``texts`` is a
        callable that writes them when called (as :meth:`_pieces` does), UTF-8 ``bytes``
        with ``as_bytes``: a report written piece by piece never holds all of its text."""
        vs = self.violations
        # attributes, not ``__dict__``: a deferred violation has none until it is built
        builds = [getattr(v, "_build", None) if type(v) is DeferredViolation else None
                  for v in vs]
        runs: list[tuple[int, int, Any]] = []
        styles: dict[int, tuple] = {}
        i, n = 0, len(vs)
        while i < n:
            block = builds[i]
            if type(block) is not CoreBlock:
                i += 1
                continue
            j = i + 1
            while j < n and builds[j] is block:
                j += 1
            p = vs[i].prop
            st = styles.get(id(p))
            if st is None:
                st = styles[id(p)] = style(p)
            for a in range(i, j, chunk or j - i):
                b = min(j, a + chunk) if chunk else j
                part = vs[a:b]
                ats, keys = [v._at for v in part], [v.key for v in part]
                runs.append((a, b, block.text(json, st, ats, keys) if not chunk
                             else partial(block.text, json, st, ats, keys, as_bytes)))
            i = j
        return runs

    def to_json(self, trace_url: Any = None, *, verbatim: bool = False) -> dict:
        """The contract's document. With ``verbatim``, for a document that is only printed
        (by ``json_report.dumps``): the violations the core can write stay JSON text
        (:class:`~tracelogic.json_text.Verbatim`, one per block), none of them built."""
        runs = self._written(True, json_style) if verbatim and trace_url is None else []
        self.build_violations(runs)
        vs = self.violations
        violations = [Verbatim(text) if text is not None else vs[k].to_json(trace_url)
                      for text, k in self._pieces(runs)]
        out = {"schema": "tracelogic.monitor/1",
               "properties": [p.to_json(verbatim=verbatim) for p in self.properties],
               "violations": violations,
               "summary": self.summary()}
        if self.input_errors:
            out["errors"] = list(self.input_errors)
        return out

    # ---------------------------------------------------------------- text
    def to_text(self, color: bool = False, trace_url: Any = None) -> str:
        """For people; with ``trace_url`` a ``trace:`` link line per violated trace."""
        return "\n".join(self._text_lines(color, trace_url)) + "\n"

    def write_text(self, out: TextIO, color: bool = False, trace_url: Any = None) -> None:
        """Write :meth:`to_text`'s text to ``out`` piece by piece, never all of it at once
        (a run's report can be tens of megabytes). To a UTF-8 text stream over a binary
        one (a file, a pipe, ``sys.stdout``), the violations the core writes go to the
        binary stream as the UTF-8 bytes it wrote: neither decoded nor encoded again
        (measured: a fifth of a large report's writing, and its page faults)."""
        binary = utf8_buffer(out)
        if binary is None:
            for piece in self._text_lines(color, trace_url, chunk=_CHUNK):
                out.write(piece)
                out.write("\n")
            return
        errors = getattr(out, "errors", None) or "strict"
        out.flush()  # what was written to `out` before goes first
        for piece in self._text_lines(color, trace_url, chunk=_CHUNK, as_bytes=True):
            binary.write(piece if type(piece) is bytes else piece.encode("utf-8", errors))
            binary.write(b"\n")
        binary.flush()

    def _text_lines(self, color: bool, trace_url: Any, *, chunk: int | None = None,
                    as_bytes: bool = False) -> Iterator[str | bytes]:
        """The text report's lines (or blocks of lines), without their last newline; the
        core's blocks of violations as ``_written(chunk, as_bytes)`` writes them."""
        red = (lambda s: f"\x1b[31m{s}\x1b[0m") if color else (lambda s: s)
        green = (lambda s: f"\x1b[32m{s}\x1b[0m") if color else (lambda s: s)
        dim = (lambda s: f"\x1b[2m{s}\x1b[0m") if color else (lambda s: s)
        runs = (self._written(False, lambda p: text_style(p, color), chunk=chunk,
                              as_bytes=as_bytes) if trace_url is None else [])
        self.build_violations(runs)
        lines: list[str] = []
        heads: dict[int, tuple] = {}  # per property: the text around the key, ...

        def write(v: Violation) -> None:
            p = v.prop
            head = heads.get(id(p))
            if head is None:
                head = heads[id(p)] = text_style(p, color)
            lines.append(f"{head[0]}{v.key}{head[1]}")
            if head[2] is not None:
                lines.append(head[2])
            lines.append(f"  {v.message}")
            if v.trigger is not None:
                lines.append(f"  bounded obligation {trigger_text(v.trigger)}")
            if v.witness:
                lines.extend("  " + row for row in timeline(v.witness))
            elif v.span_ids:
                lines.append(dim("  spans: " + ", ".join(v.span_ids)))
            if trace_url is not None:
                lines.extend(f"  trace: {u}" for u in trace_url.links(v.trace_ids))
            if head[3] is not None:
                lines.append(head[3])

        vs = self.violations
        for text, k in self._pieces(runs):
            if text is not None:
                yield text
                continue
            write(vs[k])
            yield from lines
            lines.clear()
        for p in self.properties:
            if not p.monitored:
                lines.append(f"? {p.name} ({p.scope}): not monitored: {p.reason}")
                continue
            bad = p.count("violated")
            unknown = p.count("inconclusive") + p.count("incomplete")
            mark = red("✗") if bad else ("?" if unknown else "-" if not p.instances and
                                         p.ignored_partial else green("✓"))
            extra = f", {p.vacuous} vacuous" if p.vacuous else ""
            if p.ignored_partial:
                extra += f", {p.ignored_partial} undecided on partial traces ignored"
            lines.append(f"{mark} {p.name} ({p.scope}): {p.instances} instance(s), "
                         f"{bad} violated{extra}" + (f", {unknown} undecided" if unknown else "")
                         + (f" ({p.inconclusive_partial} on partial traces)"
                            if p.inconclusive_partial else ""))
        for w in self.warnings:
            lines.append(f"warning: {w}")
        for e in self.input_errors:
            lines.append(f"error: {e}")
        s = self.summary()
        lines.append(f"{s['spans']} span(s), {s['properties']} propert(y/ies), "
                     + (f"{s['not_monitored']} not monitored, " if "not_monitored" in s
                        else "")
                     + f"{s['instances']} instance(s), {s['violated']} violated, "
                     f"{s['incomplete']} incomplete, {s['dropped']} dropped"
                     + (f", {s['ignored_partial']} partial ignored" if "ignored_partial" in s
                        else ""))
        yield from lines

    def to_junit(self, *, strict: bool = False, allow_unknown: bool = False,
                 elapsed_s: float | None = None, extra: Sequence[JUnitCase] = ()) -> str:
        """JUnit XML that agrees with :meth:`exit_code` under the same options.

        One ``<testcase>`` per property. A property fails when it has a violation that fails
        the run (severity critical/error, or any with ``strict``) or, without
        ``allow_unknown``, an undecided instance: then its one ``<failure>`` holds every such
        instance, each with its message and witness timeline. Warning-severity violations
        that do not fail the run go to the case's ``<system-out>``. A refused property is
        ``<skipped>``. What fails the run outside any property (refused properties or evicted
        traces without ``allow_unknown``, warnings with ``strict``) is one more case,
        ``(run)``; input errors are an ``<error>`` in a case ``(input)``. ``time`` is the
        run's wall-clock time (``elapsed_s``), shared equally by the monitored properties,
        which are monitored together in one pass. ``extra`` are more cases, after the
        properties': checks reported beside them (a spec's ``consistency`` checks)."""
        # imported here: xml.sax.saxutils pulls in urllib.request, http.client and ssl,
        # ~13 ms of every `monitor` start-up that only --format junit needs
        from xml.sax.saxutils import escape, quoteattr

        self.build_violations()

        total = max(elapsed_s or 0.0, 0.0)
        monitored = [p for p in self.properties if p.monitored]
        share = f"{total / len(monitored):.6f}" if monitored else "0.000000"
        by_prop: dict[str, list[Violation]] = {}
        for v in self.violations:
            by_prop.setdefault(v.prop.name, []).append(v)

        def case(name: str, inner: str, time: str) -> str:
            return (f'<testcase classname="tracelogic" name={quoteattr(name)} time="{time}">'
                    f"{inner}</testcase>")

        cases, failures, errors = [], 0, 0
        for p in self.properties:
            if not p.monitored:  # refused by the engine: not run, with the reason
                cases.append(case(p.name, "<skipped message="
                                  f"{quoteattr('not monitored: ' + str(p.reason))}/>",
                                  "0.000000"))
                continue
            vs = by_prop.get(p.name, [])
            failing = [v for v in vs if strict or v.prop.severity in FAILING]
            passing = [v for v in vs if not (strict or v.prop.severity in FAILING)]
            undecided = 0 if allow_unknown else p.count("inconclusive") + p.count("incomplete")
            inner = ""
            if failing or undecided:
                failures += 1
                parts = []
                if failing:
                    parts.append(f"{len(failing)} violated instance(s)")
                if undecided:
                    parts.append(f"{undecided} undecided instance(s)")
                severity = failing[0].prop.severity if failing else "undecided"
                body = "\n\n".join(_junit_violation(v) for v in failing)
                if undecided:
                    keys = [k for k, verdict in p.results
                            if verdict in ("inconclusive", "incomplete")]
                    body += ("\n\n" if body else "") + "undecided at the end (" + \
                        ("partial traces; " if p.inconclusive_partial else "") + \
                        "--allow-unknown accepts them): " + ", ".join(keys)
                message = f"{p.name}: " + ", ".join(parts) + f" of {p.instances}"
                inner = (f"<failure message={quoteattr(message)} type={quoteattr(severity)}>"
                         f"{escape(body)}</failure>")
            if passing:
                inner += ("<system-out>" + escape(
                    f"{len(passing)} {passing[0].prop.severity}-severity violation(s), not "
                    "failures without --strict:\n\n"
                    + "\n\n".join(_junit_violation(v) for v in passing)) + "</system-out>")
            cases.append(case(p.name, inner, share))
        for x in extra:  # more checks beside the properties, each a case of its own
            inner = ""
            if x.failure is not None:
                failures += 1
                inner = (f"<failure message={quoteattr(x.failure)} type={quoteattr(x.type)}>"
                         f"{escape(x.body)}</failure>")
            if x.system_out:
                inner += f"<system-out>{escape(x.system_out)}</system-out>"
            cases.append(f'<testcase classname={quoteattr(x.classname)} '
                         f'name={quoteattr(x.name)} time="{max(x.time_s, 0.0):.6f}">'
                         f"{inner}</testcase>")
        reasons = []
        if not allow_unknown:
            if self.not_monitored:
                reasons.append(f"{len(self.not_monitored)} propert(y/ies) not monitored: "
                               + ", ".join(p.name for p in self.not_monitored))
            if self.incomplete:
                reasons.append(f"{self.incomplete} trace(s) evicted before they completed")
        if strict and self.warnings:
            reasons += [f"warning: {w}" for w in self.warnings]
        if reasons:
            failures += 1
            cases.append(case("(run)", f"<failure message={quoteattr(reasons[0])} "
                                       f'type="run">{escape(chr(10).join(reasons))}</failure>',
                              "0.000000"))
        if self.input_errors:
            errors += 1
            cases.append(case("(input)", "<error message="
                              f"{quoteattr(f'{len(self.input_errors)} input error(s)')} "
                              f'type="input">'
                              f"{escape(chr(10).join(map(str, self.input_errors)))}</error>",
                              "0.000000"))
        return ('<?xml version="1.0" encoding="UTF-8"?>\n'
                f'<testsuite name="tracelogic monitor" tests="{len(cases)}" '
                f'failures="{failures}" errors="{errors}"'
                f' skipped="{len(self.not_monitored)}" time="{total:.6f}">'
                + "".join(cases) + "</testsuite>\n")

    def to_sarif(self, version: str) -> dict:
        from tracelogic.checkers.report import sarif_location, Location, sarif_driver, sarif_rule

        self.build_violations()

        rules, results = {}, []
        for v in self.violations:
            rule = f"tracelogic/property/{v.prop.name}"
            rules.setdefault(rule, sarif_rule(rule, "property",
                                              v.prop.description or v.prop.name))
            res = {"ruleId": rule, "level": "error" if v.prop.severity in FAILING else
                   "warning" if v.prop.severity == "warning" else "note",
                   "message": {"text": f"{v.message} (key {v.key}; spans "
                                       f"{', '.join(v.span_ids) or '-'}"
                                       + (f"; bounded obligation {trigger_text(v.trigger)}"
                                          if v.trigger is not None else "") + ")"}}
            if v.prop.span.line:
                res["locations"] = [sarif_location(Location.of(v.prop.span))]
            if v.trigger is not None:
                # the trigger is a span, not a source line: a logical location names it
                e = v.trigger
                res["relatedLocations"] = [{
                    "id": 0,
                    "message": {"text": f"trigger: bounded obligation {trigger_text(e)}"},
                    "logicalLocations": [{
                        "name": e.span.name,
                        "fullyQualifiedName": f"trace/{e.span.trace_id}/span/{e.span.span_id}"
                                              f"/{e.kind}",
                        "kind": "span"}]}]
                res["properties"] = {"trigger": _event_json(e)}
            results.append(res)
        for p in self.not_monitored:  # as `check` reports an unknown result: a warning
            rule = f"tracelogic/property/{p.name}"
            rules.setdefault(rule, sarif_rule(rule, "property", p.name))
            res = {"ruleId": rule, "level": "warning",
                   "message": {"text": f"property {p.name} was not monitored: {p.reason}"}}
            if p.span is not None and p.span.line:
                res["locations"] = [sarif_location(Location.of(p.span))]
            results.append(res)
        return {"$schema": "https://json.schemastore.org/sarif-2.1.0.json", "version": "2.1.0",
                "runs": [{"tool": {"driver": sarif_driver(version, list(rules.values()))},
                          "results": results}]}


@dataclass(frozen=True)
class JUnitCase:
    """A check reported beside the properties in :meth:`MonitorReport.to_junit` (a spec's
    ``consistency`` checks): passed when ``failure`` is None, else failed with that
    message, its ``type`` and ``body``; ``system_out`` is read either way."""

    name: str
    classname: str = "tracelogic"
    failure: str | None = None
    type: str = "violated"
    body: str = ""
    system_out: str = ""
    time_s: float = 0.0


def _junit_violation(v: Violation) -> str:
    """One violated instance in a JUnit failure body: key, message, and the witness
    timeline (or the witness span ids when there is no timeline)."""
    lines = [f"key {v.key}: {v.message}"]
    if v.trace_ids:
        lines.append("trace " + ", ".join(v.trace_ids))
    if v.witness:
        lines += timeline(v.witness, header=True)
    elif v.span_ids:
        lines.append("spans " + ", ".join(v.span_ids))
    if v.prop.runbook:
        lines.append(f"runbook: {v.prop.runbook}")
    return "\n".join(lines)


_time_ns = attrgetter("time_ns")
#: a timeline row after its offset, per (service, name, event, status): a run's
#: violations show the same few spans over and over (cleared when it grows past a bound)
_TAILS: dict[tuple, str] = {}
_ZERO = f"{0.0:>10.3f} ms  "


def timeline(events: list, header: bool = False) -> list[str]:
    """Offset ms from the first event, service, span name, start/end, status."""
    if not events:
        return []
    if len(events) > 1:
        events = sorted(events, key=_time_ns)
    t0 = events[0].time_ns
    rows = [f"{'offset ms':>13}  {'service':<16} {'span':<32} {'event':<5} status"] if header \
        else []
    for e in events:
        s = e.span
        start = e.is_start
        if start is None:  # a log record
            key = (s.service, s.label, None, None)
        else:
            key = (s.service, s.name, start, s.status)
        tail = _TAILS.get(key)
        if tail is None:
            if len(_TAILS) >= 4096:
                _TAILS.clear()
            tail = _TAILS[key] = (
                f"{s.service or '-':<16} {s.label:<32} log" if start is None
                else f"{s.service or '-':<16} {s.name:<32} {e.kind:<5} {s.status}")
        t = e.time_ns
        rows.append((_ZERO if t == t0 else f"{(t - t0) / 1e6:>10.3f} ms  ") + tail)
    return rows
