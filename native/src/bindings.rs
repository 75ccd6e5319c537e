//! The Python module `tracelogic._native`: a thin layer over the pure-Rust core.
//!
//! Only conversions live here; every decision is made in the core modules, which are
//! tested without an interpreter.

#[pyo3::pymodule]
pub(crate) mod _native {
    use std::collections::HashSet;

    use pyo3::prelude::*;
    use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};

    use crate::otlp::{decode_traces, AnyValue, Batch, Level};
    use crate::timed::{Anchor, Oracle, StateInfo, TState, Transition, Verdict};

    /// The past stage, stepped by masks or by rows of columns (`past_py.rs`).
    #[pymodule_export]
    use crate::past_py::PastMonitor;

    /// `json.dumps(obj, indent=2)`'s text for the reports, or handed to a `write` piece by
    /// piece as UTF-8 bytes (`json_py.rs`).
    #[pymodule_export]
    use crate::json_py::dumps_indent2;

    /// A block of per-instance results as JSON items (`json_py.rs`).
    #[pymodule_export]
    use crate::json_py::verdict_items_json;

    /// The version of the plan/result boundary; see `capabilities.rs`.
    #[pymodule_export]
    const ABI_VERSION: u32 = crate::ABI_VERSION;

    /// `monitor.key_text` of a float scope key, as the core renders it (for the test that
    /// it is Python's text).
    #[pyfunction]
    fn float_key_text(f: f64) -> String {
        crate::cross::float_key_text(f)
    }

    /// The capabilities the core covers (names the engine registry understands).
    #[pyfunction]
    fn capabilities() -> Vec<&'static str> {
        crate::capabilities().to_vec()
    }

    /// Decode one serialized `ExportTraceServiceRequest` into columns (a dict), with the
    /// GIL released while decoding. `wanted`: the attribute keys to convert (None: all).
    /// Never raises for bad input: `error` is `(offset, reason)` when the framing above the
    /// spans is broken, and `upb_refused` says upb would refuse the whole request.
    #[pyfunction]
    #[pyo3(signature = (data, wanted=None))]
    fn decode_traces_pb<'py>(
        py: Python<'py>,
        data: &[u8],
        wanted: Option<HashSet<String>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let batch = py.detach(|| match &wanted {
            None => decode_traces(data, None),
            Some(set) => decode_traces(data, Some(&|k: &str| set.contains(k))),
        });
        columns(py, &batch)
    }

    /// Decode one OTLP/JSON trace request (the bytes of one document) into the same columns
    /// as `decode_traces_pb`, with the GIL released while parsing and decoding. Never raises
    /// for bad input. Beside the columns: `fallback`, the reason the core leaves the whole
    /// document to the Python decoder (then nothing else is set); `refused`, `(message
    /// parts, value)` of the error that refuses the whole document; `problems` as
    /// `decode_traces_pb`'s, with the message as parts (a str, or a 1-tuple holding an input
    /// value to write with `repr`) and a seventh item, the value of an `InputError` the
    /// problem records (`errors`) or None.
    #[pyfunction]
    #[pyo3(signature = (data, wanted=None))]
    fn decode_traces_json<'py>(
        py: Python<'py>,
        data: &[u8],
        wanted: Option<HashSet<String>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        use crate::otlp_json::{decode, parse_doc, Outcome};
        let (doc, text_check) = match py.detach(|| parse_doc(data)) {
            Ok(parsed) => parsed,
            Err(why) => return fallback(py, why),
        };
        let empty = wanted.as_ref().is_some_and(HashSet::is_empty);
        let outcome = py.detach(|| match &wanted {
            None => decode(&doc, None, empty, text_check),
            Some(set) => decode(&doc, Some(&|k: &str| set.contains(k)), empty, text_check),
        });
        match outcome {
            Outcome::Fallback(why) => fallback(py, why),
            Outcome::Decoded {
                batch,
                problems,
                refused,
            } => json_columns(py, &batch, &problems, &refused, true),
        }
    }

    /// The columns of a decoded OTLP/JSON document (only the counts and messages unless
    /// `columns`), with `problems` and `refused` as `decode_traces_json` documents them.
    fn json_columns<'py>(
        py: Python<'py>,
        batch: &Batch<'_>,
        problems: &[crate::otlp_json::JProblem<'_>],
        refused: &crate::otlp_json::Refusal<'_>,
        columns: bool,
    ) -> PyResult<Bound<'py, PyDict>> {
        use crate::otlp_json::{Count, MsgPart};
        let parts = |ps: &[MsgPart<'_>]| -> PyResult<Bound<'py, PyList>> {
            let items = ps
                .iter()
                .map(|p| match p {
                    MsgPart::Text(s) => Ok(s.into_pyobject(py)?.into_any()),
                    MsgPart::Repr(v) => Ok(PyTuple::new(py, [json_value(py, v)?])?.into_any()),
                })
                .collect::<PyResult<Vec<_>>>()?;
            PyList::new(py, items)
        };
        let d = if columns {
            self::columns(py, batch)?
        } else {
            header(py, batch)?
        };
        let mut out = vec![];
        for p in problems {
            let (level, link) = match p.level {
                Level::Resource => (0, None),
                Level::Scope => (1, None),
                Level::Span => (2, None),
                Level::Link(j) => (3, Some(j)),
            };
            let (warning, rejected, value) = match p.count {
                Count::Warn => (true, 0, None),
                Count::Reject(n) => (false, n, None),
                Count::Error(n, v) => (false, n, Some(json_value(py, v)?)),
            };
            out.push(PyTuple::new(
                py,
                [
                    (level, p.resource, p.scope, p.span, link)
                        .into_pyobject(py)?
                        .into_any(),
                    py.None().into_bound(py),
                    parts(&p.parts)?.into_any(),
                    warning.into_pyobject(py)?.to_owned().into_any(),
                    rejected.into_pyobject(py)?.into_any(),
                    p.received.into_pyobject(py)?.into_any(),
                    (value.is_some(), value).into_pyobject(py)?.into_any(),
                ],
            )?);
        }
        d.set_item("problems", out)?;
        let refused = match refused {
            None => None,
            Some((ps, v)) => Some((
                parts(ps)?,
                match v {
                    Some(v) => json_value(py, v)?,
                    None => py.None().into_bound(py),
                },
            )),
        };
        d.set_item("refused", refused)?;
        d.set_item("fallback", py.None())?;
        Ok(d)
    }

    fn fallback<'py>(py: Python<'py>, why: &str) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("fallback", why)?;
        Ok(d)
    }

    /// `spans.InvalidValue(raw, reason)`.
    fn invalid<'py>(
        py: Python<'py>,
        raw: &crate::json::JValue,
        why: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        py.import("tracelogic.ingest.spans")?
            .getattr("InvalidValue")?
            .call1((json_value(py, raw)?, why))
    }

    /// A parsed JSON value as Python's json module gives it.
    fn json_value<'py>(py: Python<'py>, v: &crate::json::JValue) -> PyResult<Bound<'py, PyAny>> {
        use crate::json::JValue;
        Ok(match v {
            JValue::Null => py.None().into_bound(py),
            JValue::Bool(b) => b.into_pyobject(py)?.to_owned().into_any(),
            JValue::Int(i) => i.into_pyobject(py)?.into_any(),
            JValue::LongInt(n) => py
                .import("tracelogic.ingest.otlp_common")?
                .getattr("LongInt")?
                .call1((*n,))?,
            JValue::Float(f) => f.into_pyobject(py)?.into_any(),
            // a lone surrogate: Python's json module reads the literal as it did
            JValue::Str(crate::json::JStr { raw: Some(raw), .. }) => py
                .import("json")?
                .call_method1("loads", (format!("\"{raw}\""),))?,
            JValue::Str(s) => s.s.as_str().into_pyobject(py)?.into_any(),
            JValue::Array(xs) => {
                let items = xs
                    .iter()
                    .map(|x| json_value(py, x))
                    .collect::<PyResult<Vec<_>>>()?;
                PyList::new(py, items)?.into_any()
            }
            JValue::Object(kvs) => {
                let d = PyDict::new(py);
                for (k, x) in kvs {
                    d.set_item(k, json_value(py, x)?)?;
                }
                d.into_any()
            }
        })
    }

    /// The limits the decoder applies: {name: value}, for the test that they are the
    /// Python decoder's (`otlp_common`, `text_rule`).
    #[pyfunction]
    fn limits() -> Vec<(&'static str, usize)> {
        vec![
            ("MAX_STRING_BYTES", crate::check::MAX_STRING_BYTES),
            ("MAX_VALUE_DEPTH", crate::otlp::MAX_VALUE_DEPTH as usize),
            ("MAX_PROTOBUF_DEPTH", crate::check::MAX_DEPTH),
        ]
    }

    /// (number, name, kind) of one string or message field
    type SchemaField = (u32, &'static str, &'static str);

    /// The schema the validator walks: (message full name, [(number, name, kind)]) with
    /// kind "string" or the full name of the message type, for the test against the
    /// protobuf descriptors.
    #[pyfunction]
    fn trace_schema() -> Vec<(&'static str, Vec<SchemaField>)> {
        use crate::schema::{Kind, SCHEMA};
        SCHEMA
            .iter()
            .map(|m| {
                let fields = m
                    .fields
                    .iter()
                    .map(|f| {
                        let kind = match f.kind {
                            Kind::Str => "string",
                            Kind::Msg(t) => SCHEMA[t].full_name,
                        };
                        (f.number, f.name, kind)
                    })
                    .collect();
                (m.full_name, fields)
            })
            .collect()
    }

    fn value<'py>(py: Python<'py>, v: &AnyValue<'_>) -> PyResult<Bound<'py, PyAny>> {
        Ok(match v {
            AnyValue::Empty => py.None().into_bound(py),
            AnyValue::Str(s) => s.into_pyobject(py)?.into_any(),
            AnyValue::Bool(b) => b.into_pyobject(py)?.to_owned().into_any(),
            AnyValue::Int(i) => i.into_pyobject(py)?.into_any(),
            AnyValue::Double(f) => f.into_pyobject(py)?.into_any(),
            AnyValue::Bytes(b) => PyBytes::new(py, b).into_any(),
            AnyValue::Array(xs) => {
                let items = xs
                    .iter()
                    .map(|x| value(py, x))
                    .collect::<PyResult<Vec<_>>>()?;
                PyTuple::new(py, items)?.into_any()
            }
            AnyValue::KvList(xs) => {
                let items = xs
                    .iter()
                    .map(|(k, x)| entry(py, k, x))
                    .collect::<PyResult<Vec<_>>>()?;
                PyList::new(py, items)?.into_any()
            }
            AnyValue::TooDeep => py.Ellipsis().into_bound(py),
            AnyValue::Invalid(raw, why) => invalid(py, raw, why)?,
        })
    }

    /// A `(key, value)` tuple.
    fn entry<'py>(py: Python<'py>, k: &str, v: &AnyValue<'_>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, [k.into_pyobject(py)?.into_any(), value(py, v)?])
    }

    fn flat<'py, const N: usize>(py: Python<'py>, ids: &[[u8; N]]) -> Bound<'py, PyBytes> {
        PyBytes::new(py, ids.as_flattened())
    }

    pub(crate) fn columns<'py>(py: Python<'py>, b: &Batch<'_>) -> PyResult<Bound<'py, PyDict>> {
        let d = header(py, b)?;
        d.set_item("trace_id", flat(py, &b.trace_id))?;
        d.set_item("span_id", flat(py, &b.span_id))?;
        d.set_item("parent_id", flat(py, &b.parent_id))?;
        d.set_item("name", &b.name)?;
        d.set_item("kind", &b.kind)?;
        d.set_item("status_code", &b.status_code)?;
        d.set_item("status_message", &b.status_message)?;
        d.set_item("start_ns", &b.start_ns)?;
        d.set_item("end_ns", &b.end_ns)?;
        d.set_item("resource", &b.resource)?;
        d.set_item("scope", &b.scope)?;
        let resources = b
            .resources
            .iter()
            .map(|r| {
                let attrs = r
                    .attrs
                    .iter()
                    .map(|(k, v)| entry(py, k, v))
                    .collect::<PyResult<Vec<_>>>()?;
                PyTuple::new(
                    py,
                    [
                        r.service.into_pyobject(py)?.into_any(),
                        PyList::new(py, attrs)?.into_any(),
                    ],
                )
            })
            .collect::<PyResult<Vec<_>>>()?;
        d.set_item("resources", resources)?;
        d.set_item("scopes", &b.scopes)?;
        d.set_item("attr_span", &b.attr_span)?;
        d.set_item("attr_key", &b.attr_key)?;
        let values = b
            .attr_value
            .iter()
            .map(|v| value(py, v))
            .collect::<PyResult<Vec<_>>>()?;
        d.set_item("attr_value", values)?;
        d.set_item("event_span", &b.event_span)?;
        d.set_item("event_name", &b.event_name)?;
        d.set_item("link_span", &b.link_span)?;
        d.set_item("link_trace_id", flat(py, &b.link_trace_id))?;
        d.set_item("link_span_id", flat(py, &b.link_span_id))?;
        Ok(d)
    }

    /// What the decoder counted and said about a batch, without its span columns.
    pub(crate) fn header<'py>(py: Python<'py>, b: &Batch<'_>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("received", b.received)?;
        d.set_item("decoded", b.len())?;
        let problems = b
            .problems
            .iter()
            .map(|p| {
                let (level, link) = match p.level {
                    Level::Resource => (0, None),
                    Level::Scope => (1, None),
                    Level::Span => (2, None),
                    Level::Link(j) => (3, Some(j)),
                };
                (
                    (level, p.resource, p.scope, p.span, link),
                    p.name.as_deref(),
                    p.text.as_str(),
                    p.warning,
                    p.rejected,
                    p.received,
                )
            })
            .collect::<Vec<_>>();
        d.set_item("problems", problems)?;
        d.set_item("upb_refused", b.upb_refused)?;
        d.set_item("error", b.error.as_ref().map(|(o, w)| (*o, w.as_str())))?;
        Ok(d)
    }

    /// The streaming run of the sidecar (`stream_bindings.rs`).
    #[pymodule_export]
    use crate::stream_bindings::{count_spans_pb, StreamRun};

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add("__version__", env!("CARGO_PKG_VERSION"))?;
        m.add(
            "__doc__",
            "tracelogic's native core for the runtime path (docs/native.md)",
        )?;
        Ok(())
    }

    /// One event: (span id hex, is_start, time_ns).
    type EventTuple = (String, bool, u64);
    /// One span of a trace: (span id hex, parent present in the trace (hex) or None,
    /// children (hex, by span id)).
    type SpanTuple = (String, Option<String>, Vec<String>);
    /// One handed-out trace: (trace id hex, outcome, reason, is_partial, events, spans in
    /// the trace's order).
    type TraceTuple = (
        String,
        &'static str,
        String,
        bool,
        Vec<EventTuple>,
        Vec<SpanTuple>,
    );

    /// File-mode assembly of serialized `ExportTraceServiceRequest`s, one `add` per request
    /// then `close` (Python's `Assembler` with a constant clock, then `Trace.events`), with
    /// the GIL released: the evicted traces and then the closed ones, and the counters
    /// {duplicates, evicted, late, completed} and `held_rows` (rows the store still holds
    /// at the end, each trace's rows released once converted: 0). For the differential
    /// test against Python.
    /// A request whose framing is broken raises ValueError (Python's decoder refuses it).
    #[pyfunction]
    #[pyo3(signature = (requests, max_open_traces, wanted=None))]
    fn assemble_pb(
        py: Python<'_>,
        requests: Vec<Bound<'_, PyBytes>>,
        max_open_traces: usize,
        wanted: Option<HashSet<String>>,
    ) -> PyResult<(
        Vec<TraceTuple>,
        std::collections::HashMap<&'static str, u64>,
    )> {
        use crate::assembly::FileAssembler;
        use crate::store::{hex, SpanStore};
        if max_open_traces < 1 {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "max_open_traces={max_open_traces} must be an int >= 1"
            )));
        }
        let data: Vec<&[u8]> = requests.iter().map(|b| b.as_bytes()).collect();
        // one handed-out trace as tuples; its rows are released right after, as a
        // monitor would once it stepped the trace
        fn convert(store: &SpanStore, a: crate::assembly::Assembled) -> TraceTuple {
            let t = &a.trace;
            let events = t
                .events
                .iter()
                .map(|e| (store.span_id_hex(e.row), e.is_start, e.time_ns))
                .collect();
            let spans = t
                .rows
                .iter()
                .map(|&r| {
                    let children = t.children(r).iter();
                    (
                        store.span_id_hex(r),
                        t.parent(r).map(|p| store.span_id_hex(p)),
                        children.map(|&c| store.span_id_hex(c)).collect(),
                    )
                })
                .collect();
            let (tid, partial) = (hex(&t.trace_id), t.is_partial());
            (tid, a.outcome.name(), a.reason, partial, events, spans)
        }
        let result = py.detach(|| {
            let mut store = SpanStore::new();
            let mut asm = FileAssembler::new(max_open_traces);
            let mut traces: Vec<TraceTuple> = vec![];
            let mut hand_out = |store: &mut SpanStore, out: Vec<crate::assembly::Assembled>| {
                for a in out {
                    let rows = a.trace.rows.clone();
                    traces.push(convert(store, a));
                    store.release(rows);
                }
            };
            for (i, d) in data.iter().enumerate() {
                let batch = match &wanted {
                    None => decode_traces(d, None),
                    Some(set) => decode_traces(d, Some(&|k: &str| set.contains(k))),
                };
                if let Some((offset, reason)) = &batch.error {
                    return Err(format!("request {i}: {reason} at byte offset {offset}"));
                }
                let rows = store.add_batch(&batch);
                let out = asm.add(&mut store, rows);
                hand_out(&mut store, out);
            }
            let out = asm.close(&mut store);
            hand_out(&mut store, out);
            let counters = std::collections::HashMap::from([
                ("duplicates", asm.duplicates),
                ("evicted", asm.evicted),
                ("late", asm.late),
                ("completed", asm.completed),
                ("held_rows", store.held() as u64),
            ]);
            Ok((traces, counters))
        });
        result.map_err(pyo3::exceptions::PyValueError::new_err)
    }

    /// Samples `lo..hi` of one instance (sorted by time once its windows are cut), a row
    /// per sample `(time, at, values)` as `Monitor.aggregate` reads them: `at` is `trace <<
    /// 32 | event` (the sample's span, read back only for a violated window) and `values` a
    /// tuple per aggregate of `(value, where)`.
    fn sample_rows_py<'py>(
        py: Python<'py>,
        s: &crate::samples::Samples,
        lo: usize,
        hi: usize,
    ) -> PyResult<Bound<'py, PyList>> {
        use crate::samples::Sampled;
        let per = s.n_aggs();
        let value = |v: &Sampled| -> PyResult<Bound<'py, PyAny>> {
            Ok(match v {
                Sampled::None => py.None().into_bound(py),
                Sampled::Bool(b) => b.into_pyobject(py)?.to_owned().into_any(),
                Sampled::Int(i) => i.into_pyobject(py)?.into_any(),
                Sampled::Big(i) => (**i).into_pyobject(py)?.into_any(),
                Sampled::Float(f) => f.into_pyobject(py)?.into_any(),
                Sampled::Str(x) => x.as_str().into_pyobject(py)?.into_any(),
                Sampled::Raw(v) => owned(py, v)?,
            })
        };
        let rows = (lo..hi.min(s.time.len()))
            .map(|k| {
                let items = s.values[k * per..(k + 1) * per]
                    .iter()
                    .map(|(v, w)| {
                        PyTuple::new(py, [value(v)?, w.into_pyobject(py)?.to_owned().into_any()])
                    })
                    .collect::<PyResult<Vec<_>>>()?;
                let at = u64::from(s.trace[k]) << 32 | u64::from(s.event[k]);
                PyTuple::new(
                    py,
                    [
                        s.time[k].into_pyobject(py)?.into_any(),
                        at.into_pyobject(py)?.into_any(),
                        PyTuple::new(py, items)?.into_any(),
                    ],
                )
            })
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, rows)
    }

    /// The windows of samples handed in, as `NativeRun.sample_windows` gives an instance's
    /// (for the differential test against `monitor.window_values`): per sample its time
    /// and per aggregate `(value, where)`, a value None, a bool, an int (of `i128`), a
    /// float or a str; anything else stands for a value the core only holds (a `raw`
    /// bytes, array or key-value list attribute). Returns `(windows, order)`: the windows
    /// (None when the core declines) and the samples' indices in time order.
    #[pyfunction]
    #[pyo3(signature = (times, values, aggs, window, plain_float_sum))]
    fn aggregate_windows<'py>(
        py: Python<'py>,
        times: Vec<u64>,
        values: Vec<Vec<(Bound<'py, PyAny>, bool)>>,
        aggs: Vec<String>,
        window: Option<(u128, bool)>,
        plain_float_sum: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        use crate::samples::{Exactness, Sampled, Samples};
        use pyo3::types::{PyBool, PyFloat, PyInt, PyString};
        if values.len() != times.len() || values.iter().any(|v| v.len() != aggs.len()) {
            return Err(pyo3::exceptions::PyValueError::new_err(
                "a value tuple per sample, a (value, where) per aggregate",
            ));
        }
        let mut s = Samples::default();
        for (k, (t, vs)) in times.iter().zip(&values).enumerate() {
            s.time.push(*t);
            s.trace.push(0);
            s.event.push(k as u32);
            for (v, w) in vs {
                let v = if v.is_none() {
                    Sampled::None
                } else if v.is_instance_of::<PyBool>() {
                    Sampled::Bool(v.extract()?)
                } else if v.is_instance_of::<PyInt>() {
                    Sampled::int(v.extract()?)
                } else if v.is_instance_of::<PyFloat>() {
                    Sampled::Float(v.extract()?)
                } else if v.is_instance_of::<PyString>() {
                    Sampled::text(v.extract()?)
                } else {
                    Sampled::Raw(Box::new(crate::store::OwnedValue::Bytes(
                        v.str()?.to_string().into_bytes().into(),
                    )))
                };
                s.values.push((v, *w));
            }
        }
        let ex = Exactness { plain_float_sum };
        let windows = match agg_spec(&aggs, window) {
            Some((fns, cut)) => s.windows(&fns, cut, ex).ok(),
            None => None,
        };
        s.sort_by_time();
        let windows = match windows {
            Some(ws) => windows_py(py, &ws)?.into_any(),
            None => py.None().into_bound(py),
        };
        // the samples' order after the core's sort (their indices in `times`)
        PyTuple::new(py, [windows, s.event.into_pyobject(py)?.into_any()]).map(Bound::into_any)
    }

    /// The aggregate functions named `aggs` and the cut of `window` (`(size, sliding)`),
    /// or None when the core computes no such thing (an unknown name, a size out of
    /// 1..=2^100).
    fn agg_spec(
        aggs: &[String],
        window: Option<(u128, bool)>,
    ) -> Option<(Vec<crate::samples::AggFn>, crate::samples::Cut)> {
        use crate::samples::{AggFn, Cut};
        let fns: Vec<AggFn> = aggs
            .iter()
            .map(|a| AggFn::parse(a))
            .collect::<Option<_>>()?;
        let cut = match window {
            None => Cut::Whole,
            Some((size, sliding)) if (1..=1u128 << 100).contains(&size) => {
                if sliding {
                    Cut::Sliding(size)
                } else {
                    Cut::Tumbling(size)
                }
            }
            Some(_) => return None,
        };
        Some((fns, cut))
    }

    /// An instance's windows as Python reads them (see `NativeRun.sample_windows`).
    fn windows_py<'py>(
        py: Python<'py>,
        ws: &[crate::samples::Window],
    ) -> PyResult<Bound<'py, PyList>> {
        PyList::new(
            py,
            ws.iter()
                .map(|w| window_py(py, w))
                .collect::<PyResult<Vec<_>>>()?,
        )
    }

    /// One window as Python reads it: `(lo, hi, bounds, values)` (see
    /// `NativeRun.sample_windows`).
    fn window_py<'py>(
        py: Python<'py>,
        w: &crate::samples::Window,
    ) -> PyResult<Bound<'py, PyTuple>> {
        use crate::samples::AggValue;
        let values = w
            .values
            .iter()
            .map(|v| -> PyResult<Bound<'py, PyAny>> {
                Ok(match v {
                    AggValue::Int(i) => i.into_pyobject(py)?.into_any(),
                    AggValue::Float(f) => f.into_pyobject(py)?.into_any(),
                    AggValue::Str(x) => x.into_pyobject(py)?.into_any(),
                })
            })
            .collect::<PyResult<Vec<_>>>()?;
        let bounds = match w.bounds {
            Some((a, b)) => PyTuple::new(
                py,
                [
                    a.into_pyobject(py)?.into_any(),
                    b.into_pyobject(py)?.into_any(),
                ],
            )?
            .into_any(),
            None => py.None().into_bound(py),
        };
        PyTuple::new(
            py,
            [
                w.lo.into_pyobject(py)?.into_any(),
                w.hi.into_pyobject(py)?.into_any(),
                bounds,
                PyTuple::new(py, values)?.into_any(),
            ],
        )
    }

    /// The core's renderer of a key value it cannot render itself: takes the GIL back to
    /// call Python's `render(value)`. The first exception is kept in `failed` (and later
    /// values give `None`), to be raised once the core has returned.
    pub(crate) fn render_callback<'a>(
        render: &'a Py<PyAny>,
        failed: &'a mut Option<PyErr>,
    ) -> impl FnMut(&crate::store::OwnedValue) -> Option<String> + 'a {
        move |v| {
            if failed.is_some() {
                return None;
            }
            Python::attach(|py| {
                let text = owned(py, v)
                    .and_then(|o| render.bind(py).call1((o,)))
                    .and_then(|t| t.extract::<Option<String>>());
                text.unwrap_or_else(|e| {
                    *failed = Some(e);
                    None
                })
            })
        }
    }

    pub(crate) fn owned<'py>(
        py: Python<'py>,
        v: &crate::store::OwnedValue,
    ) -> PyResult<Bound<'py, PyAny>> {
        value(py, &v.as_any())
    }

    /// The span store's rows for one request, read through its accessors (for the test
    /// that they answer as the Python Span): per row a dict of the fields, `attr`,
    /// `resource_attr` (`(value,)`, None for MISSING) and `has_event` for each of `keys`,
    /// the span's own
    /// and its resource's attributes, event names and links (hex pairs). Values as
    /// `decode_traces_pb` columns give them (kvlists as pair lists, Ellipsis too deep).
    #[pyfunction]
    #[pyo3(signature = (data, keys, wanted=None))]
    fn store_rows_pb<'py>(
        py: Python<'py>,
        data: &[u8],
        keys: Vec<String>,
        wanted: Option<HashSet<String>>,
    ) -> PyResult<Vec<Bound<'py, PyDict>>> {
        use crate::store::{hex, SpanStore};
        let batch = match &wanted {
            None => decode_traces(data, None),
            Some(set) => decode_traces(data, Some(&|k: &str| set.contains(k))),
        };
        let mut st = SpanStore::new();
        let rows = st.add_batch(&batch);
        let pairs = |it: &mut dyn Iterator<Item = (&str, &crate::store::OwnedValue)>| {
            it.map(|(k, v)| owned_pair(py, k, v))
                .collect::<PyResult<Vec<_>>>()
        };
        let mut out = vec![];
        for r in rows {
            let d = PyDict::new(py);
            d.set_item("name", st.name(r))?;
            d.set_item("kind", st.kind(r))?;
            d.set_item("status", st.status(r))?;
            d.set_item("status_message", st.status_message(r))?;
            d.set_item("service", st.service(r))?;
            d.set_item("scope_name", st.scope_name(r))?;
            d.set_item("trace_id", st.trace_id_hex(r))?;
            d.set_item("span_id", st.span_id_hex(r))?;
            d.set_item("parent_id", st.parent_id_hex(r))?;
            d.set_item("start_ns", st.start_ns(r))?;
            d.set_item("end_ns", st.end_ns(r))?;
            d.set_item("is_root", st.is_root(r))?;
            let mut attr = vec![];
            let mut res = vec![];
            let mut has = vec![];
            for k in &keys {
                // (value,) when present, None for MISSING (a value may itself be None)
                let one = |v: &crate::store::OwnedValue| PyTuple::new(py, [owned(py, v)?]);
                attr.push(st.attr(r, k).map(one).transpose()?);
                res.push(st.resource_attr(r, k).map(one).transpose()?);
                has.push(st.has_event(r, k));
            }
            d.set_item("attr", attr)?;
            d.set_item("resource_attr", res)?;
            d.set_item("has_event", has)?;
            d.set_item(
                "attr_types",
                keys.iter()
                    .map(|k| st.attr(r, k).map(|v| v.type_name()))
                    .collect::<Vec<_>>(),
            )?;
            d.set_item("attrs", pairs(&mut st.attrs(r))?)?;
            d.set_item("resource", pairs(&mut st.resource_attrs(r))?)?;
            d.set_item("event_names", st.event_names(r).collect::<Vec<_>>())?;
            let links = st
                .links(r)
                .iter()
                .map(|(t, s)| (hex(t), hex(s)))
                .collect::<Vec<_>>();
            d.set_item("links", links)?;
            out.push(d);
        }
        Ok(out)
    }

    // ------------------------------------------------------------ atom program (tests)

    /// One attribute value of a test row, as `Span.attr` would hold it.
    fn owned_attr(v: &Bound<'_, PyAny>) -> PyResult<crate::atoms::OwnedAttr> {
        use crate::atoms::OwnedAttr;
        use pyo3::types::{PyBool, PyFloat, PyInt, PyString};
        Ok(if v.is_instance_of::<PyBool>() {
            OwnedAttr::Bool(v.extract()?)
        } else if v.is_instance_of::<PyInt>() {
            OwnedAttr::Int(v.extract()?)
        } else if v.is_instance_of::<PyFloat>() {
            OwnedAttr::Double(v.extract()?)
        } else if v.is_instance_of::<PyString>() {
            OwnedAttr::Str(v.extract()?)
        } else {
            let name = v.get_type().name()?.to_string();
            OwnedAttr::Other(
                ["NoneType", "bytes", "tuple", "mappingproxy", "InvalidValue"]
                    .into_iter()
                    .find(|n| *n == name)
                    .ok_or_else(|| {
                        pyo3::exceptions::PyTypeError::new_err(format!(
                            "an attribute value of type {name}"
                        ))
                    })?,
            )
        })
    }

    fn owned_attrs(d: &Bound<'_, PyDict>) -> PyResult<Vec<(String, crate::atoms::OwnedAttr)>> {
        d.iter()
            .map(|(k, v)| Ok((k.extract()?, owned_attr(&v)?)))
            .collect()
    }

    fn static_name(s: &str, names: &[&'static str]) -> PyResult<&'static str> {
        names.iter().copied().find(|n| *n == s).ok_or_else(|| {
            pyo3::exceptions::PyValueError::new_err(format!("unknown kind or status {s:?}"))
        })
    }

    /// A test row: ((name, kind, status, status_message, service, scope_name),
    /// (trace_id, span_id, parent_id), (start_ns, end_ns), attrs, resource, event names).
    type Row<'py> = (
        (String, String, String, String, String, String),
        (String, String, String),
        (u64, u64),
        Bound<'py, PyDict>,
        Bound<'py, PyDict>,
        Vec<String>,
    );

    /// Evaluate an atom program (`semantics/atoms.py`) on the spans of one trace, for the
    /// differential test against the generated Python: per row in order, the letter at its
    /// start then at its end (words of 64 bits), and the mismatch counts per site
    /// `(count, first left type, first right type)`. Raises ValueError for a bad program.
    #[pyfunction]
    #[allow(clippy::type_complexity)]
    fn eval_atoms(
        program_json: &str,
        rows: Vec<Row<'_>>,
    ) -> PyResult<(
        Vec<(Vec<u64>, Vec<u64>)>,
        Vec<(u64, &'static str, &'static str)>,
    )> {
        use crate::atoms::{Program, SimpleSpan, SimpleTrace};
        let program =
            Program::from_json(program_json).map_err(pyo3::exceptions::PyValueError::new_err)?;
        let spans = rows
            .into_iter()
            .map(|(text, ids, (start_ns, end_ns), attrs, resource, events)| {
                Ok(SimpleSpan {
                    name: text.0,
                    kind: static_name(&text.1, &crate::store::KIND_NAMES)?,
                    status: static_name(&text.2, &crate::store::STATUS_NAMES)?,
                    status_message: text.3,
                    service: text.4,
                    scope_name: text.5,
                    trace_id: ids.0,
                    span_id: ids.1,
                    parent_id: ids.2,
                    start_ns,
                    end_ns,
                    attrs: owned_attrs(&attrs)?,
                    resource: owned_attrs(&resource)?,
                    events,
                })
            })
            .collect::<PyResult<Vec<_>>>()?;
        let trace = SimpleTrace::new(spans);
        let mut mismatches = program.mismatches();
        let mut letters = Vec::new();
        for r in 0..trace.spans.len() as u32 {
            let mut start = vec![0; program.n_words()];
            let mut end = vec![0; program.n_words()];
            program.eval(&trace, r, true, &mut start, &mut mismatches);
            program.eval(&trace, r, false, &mut end, &mut mismatches);
            letters.push((start, end));
        }
        Ok((letters, mismatches.sites))
    }

    pub(crate) fn owned_pair<'py>(
        py: Python<'py>,
        k: &str,
        v: &crate::store::OwnedValue,
    ) -> PyResult<Bound<'py, PyTuple>> {
        entry(py, k, &v.as_any())
    }
    /// The timed properties' oracle: a Python object (`native_run.TimedOracle`) whose
    /// `state(prop, sid)` describes a state as `(relevant, [(slot, lo, hi|None)], n_slots,
    /// verdict, accepting)` (verdict 0 satisfied, 1 violated, 2 presumably satisfied, 3
    /// presumably violated) and whose `successor(prop, sid, mask, sides, eq)` gives
    /// `(next sid, register update)`. Called with the GIL attached, on cache misses only.
    struct PyOracle {
        obj: Option<Py<PyAny>>,
        /// the first exception the object raised
        failed: Option<PyErr>,
    }

    impl PyOracle {
        fn call<T>(
            &mut self,
            what: &str,
            args: impl for<'py> FnOnce(Python<'py>) -> PyResult<Bound<'py, PyTuple>>,
            convert: impl for<'py> FnOnce(Bound<'py, PyAny>) -> PyResult<T>,
        ) -> Result<T, String> {
            let Some(obj) = &self.obj else {
                return Err("a timed property and no oracle for it".into());
            };
            if self.failed.is_some() {
                return Err("the oracle failed".into());
            }
            Python::attach(|py| {
                let r = args(py)
                    .and_then(|a| obj.bind(py).call_method1(what, a))
                    .and_then(convert);
                r.map_err(|e| {
                    let msg = e.to_string();
                    self.failed = Some(e);
                    msg
                })
            })
        }
    }

    impl Oracle for PyOracle {
        fn state(&mut self, prop: usize, sid: u32) -> Result<StateInfo, String> {
            type Info = (u64, Vec<(u32, i128, Option<i128>)>, u32, u8, bool);
            let (relevant, anchors, n_slots, verdict, accepting) = self.call(
                "state",
                |py| PyTuple::new(py, [prop as u64, u64::from(sid)]),
                |r| r.extract::<Info>(),
            )?;
            let verdict = match verdict {
                0 => Verdict::Satisfied,
                1 => Verdict::Violated,
                2 => Verdict::PresumablySatisfied,
                3 => Verdict::PresumablyViolated,
                v => return Err(format!("state {sid}: verdict {v}")),
            };
            Ok(StateInfo {
                relevant,
                anchors: anchors
                    .into_iter()
                    .map(|(slot, lo, hi)| Anchor { slot, lo, hi })
                    .collect(),
                n_slots,
                verdict,
                accepting,
            })
        }

        fn successor(
            &mut self,
            prop: usize,
            sid: u32,
            mask: u64,
            sides: &[u8],
            eq: bool,
        ) -> Result<Transition, String> {
            self.call(
                "successor",
                |py| {
                    PyTuple::new(
                        py,
                        [
                            (prop as u64).into_pyobject(py)?.into_any(),
                            sid.into_pyobject(py)?.into_any(),
                            mask.into_pyobject(py)?.into_any(),
                            PyTuple::new(py, sides)?.into_any(),
                            eq.into_pyobject(py)?.to_owned().into_any(),
                        ],
                    )
                },
                |r| r.extract::<Transition>(),
            )
        }
    }

    fn id<const N: usize>(hex: &str) -> PyResult<[u8; N]> {
        let mut out = [0u8; N];
        if hex.is_empty() {
            return Ok(out); // no parent: a root
        }
        let bad = || pyo3::exceptions::PyValueError::new_err(format!("not an id: {hex:?}"));
        if hex.len() != 2 * N {
            return Err(bad());
        }
        for (i, o) in out.iter_mut().enumerate() {
            *o = u8::from_str_radix(hex.get(2 * i..2 * i + 2).ok_or_else(bad)?, 16)
                .map_err(|_| bad())?;
        }
        Ok(out)
    }

    /// A Python Span's attribute value as the store keeps it.
    fn owned_of(v: &Bound<'_, PyAny>) -> PyResult<crate::store::OwnedValue> {
        use crate::store::OwnedValue as V;
        use pyo3::types::{PyBool, PyFloat, PyInt, PyString};
        Ok(if v.is_none() {
            V::Empty
        } else if v.is_instance_of::<PyBool>() {
            V::Bool(v.extract()?)
        } else if v.is_instance_of::<PyInt>() {
            V::Int(v.extract()?)
        } else if v.is_instance_of::<PyFloat>() {
            V::Double(v.extract()?)
        } else if v.is_instance_of::<PyString>() {
            V::Str(v.extract::<String>()?.into())
        } else if let Ok(b) = v.cast::<PyBytes>() {
            V::Bytes(b.as_bytes().into())
        } else if let Ok(t) = v.cast::<PyTuple>() {
            V::Array(t.iter().map(|x| owned_of(&x)).collect::<PyResult<_>>()?)
        } else if v.hasattr("reason")? && v.hasattr("raw")? {
            let reason: String = v.getattr("reason")?.extract()?;
            let raw = v.getattr("raw")?;
            if reason == format!("nested deeper than {} levels", crate::otlp::MAX_VALUE_DEPTH)
                && raw.extract::<String>().is_ok_and(|r| r == "...")
            {
                V::TooDeep
            } else {
                let why = crate::otlp_json::INVALID
                    .into_iter()
                    .find(|w| *w == reason)
                    .ok_or_else(|| {
                        pyo3::exceptions::PyValueError::new_err(format!(
                            "an InvalidValue the JSON decoder does not make: {reason:?}"
                        ))
                    })?;
                V::Invalid(Box::new((json_of(&raw)?, why)))
            }
        } else {
            // a mapping (a key-value list)
            let pairs = pairs_of(&v.call_method0("items")?)?;
            V::KvList(pairs.into_iter().map(|(k, x)| (k.into(), x)).collect())
        })
    }

    /// A value of Python's json module (an `InvalidValue`'s raw value) as the parser's.
    fn json_of(v: &Bound<'_, PyAny>) -> PyResult<crate::json::JValue> {
        use crate::json::{JStr, JValue};
        use pyo3::types::{PyBool, PyFloat, PyInt, PyString};
        Ok(if v.is_none() {
            JValue::Null
        } else if v.is_instance_of::<PyBool>() {
            JValue::Bool(v.extract()?)
        } else if v.is_instance_of::<PyInt>() {
            JValue::Int(v.extract()?)
        } else if v.is_instance_of::<PyFloat>() {
            JValue::Float(v.extract()?)
        } else if v.is_instance_of::<PyString>() {
            // a kept span holds no lone surrogate (the text rule rejects it)
            JValue::Str(JStr {
                s: v.extract()?,
                lone: None,
                raw: None,
                b64: Default::default(),
            })
        } else if let Ok(xs) = v.cast::<PyList>() {
            JValue::Array(xs.iter().map(|x| json_of(&x)).collect::<PyResult<_>>()?)
        } else if let Ok(d) = v.cast::<PyDict>() {
            JValue::Object(
                d.iter()
                    .map(|(k, x)| Ok((k.extract()?, json_of(&x)?)))
                    .collect::<PyResult<_>>()?,
            )
        } else {
            JValue::LongInt(v.getattr("digits")?.extract()?) // otlp_common.LongInt
        })
    }

    fn pairs_of(v: &Bound<'_, PyAny>) -> PyResult<Vec<(String, crate::store::OwnedValue)>> {
        v.try_iter()?
            .map(|kv| {
                let (k, x): (String, Bound<'_, PyAny>) = kv?.extract()?;
                Ok((k, owned_of(&x)?))
            })
            .collect()
    }

    /// A span from its fields (`native_otlp.span_fields`: those `NativeRun.span` gives).
    fn span_in(f: &Bound<'_, PyAny>) -> PyResult<crate::file_run::SpanIn> {
        use crate::store::{KIND_NAMES, STATUS_NAMES};
        let t = f.cast::<PyTuple>()?;
        let get = |i: usize| t.get_item(i);
        let name_of = |names: &[&str], s: String| -> PyResult<i32> {
            names
                .iter()
                .position(|n| *n == s)
                .map(|i| i as i32)
                .ok_or_else(|| {
                    pyo3::exceptions::PyValueError::new_err(format!("unknown kind or status {s:?}"))
                })
        };
        let links = get(14)?
            .try_iter()?
            .map(|l| {
                let (t, s): (String, String) = l?.extract()?;
                Ok((id::<16>(&t)?, id::<8>(&s)?))
            })
            .collect::<PyResult<_>>()?;
        Ok(crate::file_run::SpanIn {
            name: get(0)?.extract()?,
            kind: name_of(&KIND_NAMES, get(1)?.extract()?)?,
            status_code: name_of(&STATUS_NAMES, get(2)?.extract()?)?,
            status_message: get(3)?.extract()?,
            start_ns: get(4)?.extract()?,
            end_ns: get(5)?.extract()?,
            service: get(6)?.extract()?,
            trace_id: id::<16>(&get(7)?.extract::<String>()?)?,
            span_id: id::<8>(&get(8)?.extract::<String>()?)?,
            parent_id: id::<8>(&get(9)?.extract::<String>()?)?,
            attrs: pairs_of(&get(10)?)?,
            resource: pairs_of(&get(11)?)?,
            scope: get(12)?.extract()?,
            events: get(13)?.extract()?,
            links,
        })
    }

    /// A timed property's state after stepping its timed monitor, as Python reads it:
    /// `(sid, registers)`, sid -1 for the infeasible state; None where the instance was
    /// stepped on the untimed twin (its state is then in the `state` column).
    fn timed_state(py: Python<'_>, t: Option<&TState>) -> PyResult<Py<PyAny>> {
        Ok(match t {
            None => py.None(),
            Some(TState::Infeasible) => (-1i64, PyTuple::empty(py))
                .into_pyobject(py)?
                .into_any()
                .unbind(),
            Some(TState::Live { sid, regs }) => (i64::from(*sid), PyTuple::new(py, regs)?)
                .into_pyobject(py)?
                .into_any()
                .unbind(),
        })
    }

    /// `Closed`'s results as `packed.rs` lays them out, into `d` (docs/native.md, "the
    /// boundary": `complete_ids`, `complete_partial`, `n_events`, `others`, `results`,
    /// `cross`); a `bytes` per column, no object per instance but the scope keys.
    fn packed(py: Python<'_>, c: &crate::file_run::Closed, d: &Bound<'_, PyDict>) -> PyResult<()> {
        let b = |v: &[u8]| PyBytes::new(py, v);
        let t = crate::packed::trace_list(c);
        d.set_item("complete_ids", t.complete_ids)?;
        d.set_item("complete_partial", b(&t.complete_partial))?;
        d.set_item("n_events", b(&t.n_events))?;
        d.set_item("others", t.others)?;
        let results = PyList::empty(py);
        for (per, cross) in c.results.iter().zip(&c.cross) {
            if cross.is_some() {
                results.append(py.None())?;
                continue;
            }
            let p = crate::packed::trace_columns(per);
            let r = PyDict::new(py);
            r.set_item("state", b(&p.state))?;
            r.set_item("state_width", p.state_width)?;
            r.set_item("decided", b(&p.decided))?;
            r.set_item("raised", b(&p.raised))?;
            r.set_item("trigger", b(&p.trigger))?;
            if !p.opened.is_empty() {
                r.set_item("opened", b(&p.opened))?;
            }
            if per.iter().any(|o| o.timed.is_some()) {
                let timed = per
                    .iter()
                    .map(|o| timed_state(py, o.timed.as_deref()))
                    .collect::<PyResult<Vec<_>>>()?;
                r.set_item("timed", timed)?;
            }
            results.append(r)?;
        }
        d.set_item("results", results)?;
        let cross = PyList::empty(py);
        for per in &c.cross {
            let Some(insts) = per else {
                cross.append(py.None())?;
                continue;
            };
            let p = insts;
            let r = PyDict::new(py);
            r.set_item("keys", PyList::new(py, p.keys.iter())?)?;
            r.set_item("state_width", p.state_width)?;
            for (name, col) in [
                ("state", &p.state),
                ("decided_trace", &p.decided_trace),
                ("decided_event", &p.decided_event),
                ("raised_trace", &p.raised_trace),
                ("raised_event", &p.raised_event),
                ("last_trace", &p.last_trace),
                ("last_event", &p.last_event),
                ("trigger", &p.trigger),
                ("partial", &p.partial),
                ("events", &p.events),
                ("trace_offsets", &p.trace_offsets),
                ("traces", &p.traces),
            ] {
                r.set_item(name, b(col))?;
            }
            if !p.opened_trace.is_empty() {
                r.set_item("opened_trace", b(&p.opened_trace))?;
                r.set_item("opened_event", b(&p.opened_event))?;
            }
            if !p.timed.is_empty() {
                let timed = p
                    .timed
                    .iter()
                    .map(|t| timed_state(py, t.as_ref()))
                    .collect::<PyResult<Vec<_>>>()?;
                r.set_item("timed", timed)?;
            }
            cross.append(r)?;
        }
        d.set_item("cross", cross)
    }

    /// `(time_ns, is_start, store row)` of an event, or IndexError (also
    /// `stream_bindings.rs`'s).
    pub(crate) fn event_tuple(e: Option<crate::order::Event>) -> PyResult<(u64, bool, u32)> {
        e.map(|e| (e.time_ns, e.is_start, e.row))
            .ok_or_else(|| pyo3::exceptions::PyIndexError::new_err("no such event"))
    }

    /// The span in store row `row` of `s`, as the fields `native_otlp.span_from_fields`
    /// takes (also `stream_bindings.rs`'s); attributes and resource as a dict, or as
    /// `(key, value)` pairs when a value needs converting (arrays, key-value lists).
    pub(crate) fn span_tuple<'py>(
        py: Python<'py>,
        s: &crate::store::SpanStore,
        row: u32,
    ) -> PyResult<Bound<'py, PyTuple>> {
        if !s.contains(row) {
            return Err(pyo3::exceptions::PyIndexError::new_err("no such span"));
        }
        // a dict when every value is final as the core gives it (what `_mapping` would
        // build itself, keys being unique), else the pairs for `_mapping` to convert
        let mapping = |it: &mut dyn Iterator<Item = (&str, &crate::store::OwnedValue)>| {
            use crate::store::OwnedValue as V;
            let pairs: Vec<_> = it.collect();
            let plain = pairs.iter().all(|(_, v)| {
                matches!(
                    v,
                    V::Empty | V::Str(_) | V::Bool(_) | V::Int(_) | V::Double(_) | V::Bytes(_)
                )
            });
            Ok::<_, PyErr>(if plain {
                let d = PyDict::new(py);
                for (k, v) in pairs {
                    d.set_item(k, owned(py, v)?)?;
                }
                d.into_any()
            } else {
                let items = pairs
                    .into_iter()
                    .map(|(k, v)| owned_pair(py, k, v))
                    .collect::<PyResult<Vec<_>>>()?;
                PyList::new(py, items)?.into_any()
            })
        };
        let attrs = mapping(&mut s.attrs(row))?;
        let resource = mapping(&mut s.resource_attrs(row))?;
        let events: Vec<&str> = s.event_names(row).collect();
        let links: Vec<(String, String)> = s
            .links(row)
            .iter()
            .map(|(t, i)| (crate::store::hex(t), crate::store::hex(i)))
            .collect();
        PyTuple::new(
            py,
            [
                s.name(row).into_pyobject(py)?.into_any(),
                s.kind(row).into_pyobject(py)?.into_any(),
                s.status(row).into_pyobject(py)?.into_any(),
                s.status_message(row).into_pyobject(py)?.into_any(),
                s.start_ns(row).into_pyobject(py)?.into_any(),
                s.end_ns(row).into_pyobject(py)?.into_any(),
                s.service(row).into_pyobject(py)?.into_any(),
                s.trace_id_hex(row).into_pyobject(py)?.into_any(),
                s.span_id_hex(row).into_pyobject(py)?.into_any(),
                s.parent_id_hex(row).into_pyobject(py)?.into_any(),
                attrs,
                resource,
                s.scope_name(row).into_pyobject(py)?.into_any(),
                PyList::new(py, events)?.into_any(),
                PyList::new(py, links)?.into_any(),
            ],
        )
    }

    /// One file-mode run of a plan (`engine/native_run.py`): requests in,
    /// per-trace and cross-trace results out. Decoding and closing run with the GIL released.
    #[pyclass(module = "tracelogic._native")]
    struct NativeRun {
        run: crate::file_run::FileRun,
        /// what `close` returned: the core's copy of the results is freed once they are
        /// handed over, so a second `close` returns this
        closed: Option<Py<PyDict>>,
    }

    #[pymethods]
    impl NativeRun {
        #[new]
        fn new(plan: &str, wanted: HashSet<String>, max_open_traces: usize) -> PyResult<Self> {
            let plan = crate::plan::Plan::from_json(plan)
                .map_err(pyo3::exceptions::PyValueError::new_err)?;
            Ok(NativeRun {
                run: crate::file_run::FileRun::new(plan, wanted, max_open_traces),
                closed: None,
            })
        }

        /// Decode and keep one request (see `FileRun::feed`): the decoder's counts and
        /// messages, `committed`, and the span columns when `columns`.
        fn feed_pb<'py>(
            &mut self,
            py: Python<'py>,
            data: &[u8],
            force: bool,
            columns: bool,
        ) -> PyResult<Bound<'py, PyDict>> {
            let run = &mut self.run;
            let (batch, committed) = py.detach(|| run.feed(data, force));
            let d = if columns {
                self::columns(py, &batch)?
            } else {
                header(py, &batch)?
            };
            d.set_item("committed", committed)?;
            Ok(d)
        }

        /// Split OTLP/JSON input (one document or JSON Lines, `crate::jsonl`) and keep the
        /// spans of each trace request, parsing and decoding with the GIL released. For each
        /// document in order, `on_doc(line, start, end, what, columns)` is called: `what` is
        /// `"traces"` with the decoder's counts, messages, `refused` and `committed` (the
        /// span columns too when `columns`), or `"python"` for a trace request the core leaves
        /// to the Python decoder (`fallback` says why), `"metrics"` or `"other"`, with the
        /// document's bytes `data[start:end]` and None. For "python", `on_doc` returns the
        /// decoded spans as `span_fields` tuples, which are kept in their place. Returns
        /// `(bad lines, whole_error)` as `Splitter` gives them.
        fn feed_json<'py>(
            &mut self,
            py: Python<'py>,
            data: &[u8],
            columns: bool,
            on_doc: Bound<'py, PyAny>,
        ) -> PyResult<(Vec<usize>, bool)> {
            use crate::jsonl::{sniff, Signal, Splitter};
            use crate::otlp_json::{text_check, Outcome};
            let mut split = Splitter::new(data);
            loop {
                let Some(doc) = py.detach(|| split.next()) else {
                    break;
                };
                let at = (doc.line, doc.start, doc.end);
                let mut fallback = None;
                match (sniff(&doc.value), text_check(&doc.found)) {
                    (Signal::Traces, Ok(check)) => {
                        let run = &mut self.run;
                        let (out, kept) = py.detach(|| run.feed_json(&doc.value, check));
                        match out {
                            Outcome::Decoded {
                                batch,
                                problems,
                                refused,
                            } => {
                                let d = json_columns(py, &batch, &problems, &refused, columns)?;
                                d.set_item("committed", kept)?;
                                on_doc.call1((at.0, at.1, at.2, "traces", d))?;
                            }
                            Outcome::Fallback(why) => fallback = Some(why),
                        }
                    }
                    (Signal::Traces, Err(why)) => fallback = Some(why),
                    (Signal::Metrics, _) => {
                        on_doc.call1((at.0, at.1, at.2, "metrics", py.None()))?;
                    }
                    (Signal::Other, _) => {
                        on_doc.call1((at.0, at.1, at.2, "other", py.None()))?;
                    }
                }
                if let Some(why) = fallback {
                    let spans = on_doc.call1((at.0, at.1, at.2, "python", why))?;
                    self.feed_spans(py, spans)?;
                }
            }
            self.run.assemble(); // the input's spans, as one batch
            Ok((std::mem::take(&mut split.bad), split.whole_error))
        }

        /// Keep spans decoded by the Python decoder, in their place in the input: each as
        /// `native_otlp.span_fields` gives it (the fields `span` returns, attribute values as
        /// the Python Span holds them).
        fn feed_spans(&mut self, py: Python<'_>, spans: Bound<'_, PyAny>) -> PyResult<()> {
            let spans = spans
                .try_iter()?
                .map(|f| span_in(&f?))
                .collect::<PyResult<Vec<_>>>()?;
            let run = &mut self.run;
            py.detach(|| run.feed_spans(&spans));
            Ok(())
        }

        /// Hand out every trace and step the plan's properties (once); see `Closed`.
        /// `render(value)` is Python's `key_text` of a scope key value the core cannot
        /// render (bytes, arrays, key-value lists), given as `span` gives attributes.
        /// `timed` answers for the timed properties' states and transitions (see
        /// `PyOracle`). A timed property's state in `results` and `cross` is the twin's
        /// table state (an int) or `(sid, registers)`, `sid` -1 for the infeasible state.
        #[pyo3(signature = (render, timed=None))]
        fn close<'py>(
            &mut self,
            py: Python<'py>,
            render: Bound<'py, PyAny>,
            timed: Option<Bound<'py, PyAny>>,
        ) -> PyResult<Bound<'py, PyDict>> {
            if let Some(d) = &self.closed {
                return Ok(d.bind(py).clone());
            }
            let run = &mut self.run;
            let render = render.unbind();
            let mut failed: Option<PyErr> = None;
            let mut oracle = PyOracle {
                obj: timed.map(Bound::unbind),
                failed: None,
            };
            py.detach(|| {
                let mut cb = render_callback(&render, &mut failed);
                run.close(&mut cb, &mut oracle);
            });
            if let Some(e) = failed.or(oracle.failed) {
                return Err(e);
            }
            let counters = run.counters();
            let c = run.closed.as_ref().expect("closed above");
            if let Some(e) = &c.oracle_error {
                return Err(pyo3::exceptions::PyRuntimeError::new_err(format!(
                    "timed stepping: {e}"
                )));
            }
            let d = PyDict::new(py);
            packed(py, c, &d)?;
            d.set_item("evicted_keys", &c.evicted_keys)?;
            let cd = PyDict::new(py);
            for (k, v) in counters {
                cd.set_item(k, v)?;
            }
            d.set_item("counters", cd)?;
            let sites = |m: &crate::atoms::Mismatches| {
                m.sites
                    .iter()
                    .map(|&(n, l, r)| (n > 0).then_some((n, l, r)))
                    .collect::<Vec<_>>()
            };
            d.set_item("mismatches", sites(&c.mismatches))?;
            d.set_item("reg_mismatches", sites(&c.reg_mismatches))?;
            // per aggregate property its instances' keys; their windows and samples stay
            // in the core (`sample_windows`, `sample_rows`)
            let samples = c
                .samples
                .iter()
                .map(|per| {
                    per.as_ref().map(|insts| {
                        insts
                            .iter()
                            .map(|(key, _)| key.as_str())
                            .collect::<Vec<_>>()
                    })
                })
                .collect::<Vec<_>>();
            d.set_item("samples", samples)?;
            // the results live on as these Python objects: free the core's copy (a run
            // may have millions of instances)
            self.run.forget_results();
            self.closed = Some(d.clone().unbind());
            Ok(d)
        }

        /// The windows of every instance of aggregate plan property `j` (in `close()`'s
        /// `samples[j]` order), cut and valued in the core as `Monitor.aggregate` and
        /// `aggregate_value` do (`samples::Samples::windows`): per instance a list of
        /// `(lo, hi, bounds, values)`, one per window with a value for every aggregate
        /// (`lo..hi` its samples for `sample_rows`, `bounds` None without `window`), or
        /// None when the core declines the instance (Python computes it from
        /// `sample_rows`). `aggs` are the aggregates' names, `window` the property's
        /// `(size, sliding)`; `plain_float_sum` says the interpreter's `sum` adds floats
        /// left to right (CPython before 3.12).
        #[pyo3(signature = (j, aggs, window, plain_float_sum))]
        fn sample_windows<'py>(
            &mut self,
            py: Python<'py>,
            j: usize,
            aggs: Vec<String>,
            window: Option<(u128, bool)>,
            plain_float_sum: bool,
        ) -> PyResult<Bound<'py, PyList>> {
            use crate::samples::Exactness;
            let ex = Exactness { plain_float_sum };
            let c = self.run.closed.as_mut().ok_or_else(not_closed)?;
            let insts = c
                .samples
                .get_mut(j)
                .and_then(Option::as_mut)
                .ok_or_else(|| {
                    pyo3::exceptions::PyValueError::new_err(format!(
                        "plan property {j} is not an aggregate"
                    ))
                })?;
            let windows = match agg_spec(&aggs, window) {
                Some((fns, cut)) => py.detach(|| {
                    insts
                        .iter_mut()
                        .map(|(_, s)| {
                            let fits = s.time.is_empty() || s.n_aggs() == fns.len();
                            fits.then(|| s.windows(&fns, cut, ex).ok()).flatten()
                        })
                        .collect::<Vec<_>>()
                }),
                _ => vec![None; insts.len()],
            };
            // a declined instance's rows come sorted too: as Python's sort leaves them
            insts.iter_mut().for_each(|(_, s)| s.sort_by_time());
            let items = windows
                .iter()
                .map(|w| match w {
                    None => Ok(py.None().into_bound(py)),
                    Some(ws) => Ok(windows_py(py, ws)?.into_any()),
                })
                .collect::<PyResult<Vec<_>>>()?;
            PyList::new(py, items)
        }

        /// Samples `lo..hi` of instance `i` of aggregate plan property `j` as rows (see
        /// `sample_rows_py`): the whole instance for one the core declined, a violated
        /// window's for the report.
        fn sample_rows<'py>(
            &self,
            py: Python<'py>,
            j: usize,
            i: usize,
            lo: usize,
            hi: usize,
        ) -> PyResult<Bound<'py, PyList>> {
            let c = self.run.closed.as_ref().ok_or_else(not_closed)?;
            let s = c
                .samples
                .get(j)
                .and_then(Option::as_ref)
                .and_then(|insts| insts.get(i))
                .ok_or_else(|| pyo3::exceptions::PyIndexError::new_err("no such instance"))?;
            sample_rows_py(py, &s.1, lo, hi)
        }

        /// `(time_ns, is_start, store row)` of event `index` of complete trace `trace`.
        fn event(&self, trace: usize, index: usize) -> PyResult<(u64, bool, u32)> {
            event_tuple(self.run.event(trace, index))
        }

        /// The span in store row `row`, as the fields `native_run._span` takes.
        fn span<'py>(&self, py: Python<'py>, row: u32) -> PyResult<Bound<'py, PyTuple>> {
            span_tuple(py, self.run.store(), row)
        }

        /// The wanted attribute keys some kept span (or its resource) carried.
        fn seen_keys(&self) -> Vec<String> {
            self.run.seen_keys()
        }

        /// The report's text of each violation of a per-trace property: complete trace
        /// `ats[i]` at key `keys[i]`, its deciding, raising and opening events read from the
        /// property's columns as `close` gave them (`decided`, `raised`, `opened`: i32
        /// event indices, -1 for none). The text report's block, or with `json` the JSON
        /// report's object; `style` and `rules` as [`Written`] reads them; see [`Texts`].
        #[allow(clippy::too_many_arguments)]
        #[pyo3(signature = (json, style, rules, ats, keys, decided, raised, opened, as_bytes = false))]
        fn trace_violation_text(
            &self,
            py: Python<'_>,
            json: bool,
            style: StyleArgs,
            rules: RulesArgs,
            ats: Vec<usize>,
            keys: Vec<String>,
            decided: &[u8],
            raised: &[u8],
            opened: Option<&[u8]>,
            as_bytes: bool,
        ) -> PyResult<Texts> {
            let run = &self.run;
            let n_events = &run.closed.as_ref().ok_or_else(not_closed)?.n_events;
            let at = |t: usize, i: i32| (i >= 0).then(|| event_at(run, t, i)).transpose();
            let evidence = ats
                .iter()
                .map(|&t| {
                    let d = column(decided, t)?;
                    let last = n_events.get(t).copied().unwrap_or(0);
                    Ok(crate::violation_text::Evidence {
                        decided: at(t, d)?,
                        raised: at(t, column(raised, t)?)?,
                        opened: opened.map(|o| at(t, column(o, t)?)).transpose()?.flatten(),
                        last: if d < 0 { at(t, last as i32 - 1)? } else { None },
                    })
                })
                .collect::<PyResult<Vec<_>>>()?;
            // a trace's violation names its trace (`[key] if key else []`)
            let trace_ids: Vec<Vec<String>> = keys
                .iter()
                .map(|k| (!k.is_empty()).then(|| k.clone()).into_iter().collect())
                .collect();
            let w = Written::new(json, &style, &rules);
            Ok(py.detach(|| w.all(&keys, &trace_ids, &evidence, run.store(), as_bytes)))
        }

        /// `trace_violation_text` for a cross-trace property: instance `ats[i]` at key
        /// `keys[i]`, its events as (trace, event) column pairs (`opened` None when the
        /// property has no time bounds), its complete traces
        /// `traces[offsets[i]:offsets[i + 1]]` (u32 columns).
        #[allow(clippy::too_many_arguments)]
        #[pyo3(signature = (json, style, rules, ats, keys, decided, raised, last, opened, traces, as_bytes = false))]
        fn cross_violation_text(
            &self,
            py: Python<'_>,
            json: bool,
            style: StyleArgs,
            rules: RulesArgs,
            ats: Vec<usize>,
            keys: Vec<String>,
            decided: (&[u8], &[u8]),
            raised: (&[u8], &[u8]),
            last: (&[u8], &[u8]),
            opened: Option<(&[u8], &[u8])>,
            traces: (&[u8], &[u8]),
            as_bytes: bool,
        ) -> PyResult<Texts> {
            let run = &self.run;
            let at = |cols: (&[u8], &[u8]), i: usize| -> PyResult<Option<crate::order::Event>> {
                let t = column(cols.0, i)?;
                (t >= 0)
                    .then(|| event_at(run, t as usize, column(cols.1, i)?))
                    .transpose()
            };
            let evidence = ats
                .iter()
                .map(|&i| {
                    Ok(crate::violation_text::Evidence {
                        decided: at(decided, i)?,
                        raised: at(raised, i)?,
                        opened: opened.map(|o| at(o, i)).transpose()?.flatten(),
                        last: at(last, i)?,
                    })
                })
                .collect::<PyResult<Vec<_>>>()?;
            let mut trace_ids = Vec::new();
            if json {
                // the instance's distinct trace ids, in order (`_core_cross_violation`)
                for &i in &ats {
                    let (lo, hi) = (column(traces.1, i)?, column(traces.1, i + 1)?);
                    let mut ids: Vec<String> = Vec::new();
                    for k in lo..hi {
                        let t = column(traces.0, k as usize)? as usize;
                        let e = run.event(t, 0);
                        let id = run.store().trace_id_hex(event_tuple(e)?.2);
                        if !ids.contains(&id) {
                            ids.push(id);
                        }
                    }
                    trace_ids.push(ids);
                }
            }
            let w = Written::new(json, &style, &rules);
            Ok(py.detach(|| w.all(&keys, &trace_ids, &evidence, run.store(), as_bytes)))
        }
    }

    /// What is the same for every violation of a property, as `report.text_style` gives
    /// it for the text report (head, tail, description line, runbook line, None) or
    /// `report.json_style` for the JSON report (name, severity, owner, runbook,
    /// description).
    type StyleArgs = (
        String,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
    );

    /// `violation_text::Rules`: `prop.scope`, whether it is a `follows` property, whether it
    /// has time bounds.
    type RulesArgs = (String, bool, bool);

    /// The violations' texts: all in one string, joined as the report joins them (a
    /// newline between text blocks, a comma and a newline between JSON objects; one
    /// Python string for thousands: decoding each alone cost more than writing it), or
    /// when some is left to Python one string or None each.
    enum Texts {
        /// with `true`, as UTF-8 `bytes` (`as_bytes`: for a report written to a binary
        /// stream, neither decoded nor encoded again)
        Whole(String, bool),
        Each(Vec<Option<String>>),
    }

    impl<'py> IntoPyObject<'py> for Texts {
        type Target = PyAny;
        type Output = Bound<'py, PyAny>;
        type Error = PyErr;

        fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
            match self {
                Texts::Whole(s, false) => Ok(s.into_pyobject(py)?.into_any()),
                Texts::Whole(s, true) => Ok(PyBytes::new(py, s.as_bytes()).into_any()),
                Texts::Each(v) => Ok(v.into_pyobject(py)?.into_any()),
            }
        }
    }

    /// A writer of one format for one property's violations.
    enum Written<'a> {
        Text(crate::violation_text::Style<'a>),
        Json(crate::violation_text::JsonStyle<'a>),
    }

    impl<'a> Written<'a> {
        fn new(json: bool, style: &'a StyleArgs, rules: &'a RulesArgs) -> Self {
            use crate::violation_text::{JsonStyle, Rules, Scope, Style};
            let (a, b, c, d, e) = style;
            let rules = Rules {
                scope: Scope::parse(&rules.0),
                follows: rules.1,
                bounded: rules.2,
            };
            if json {
                Written::Json(JsonStyle {
                    name: a,
                    severity: b,
                    owner: c.as_deref(),
                    runbook: d.as_deref(),
                    description: e.as_deref(),
                    rules,
                })
            } else {
                Written::Text(Style {
                    head: a,
                    tail: b,
                    description: c.as_deref(),
                    runbook: d.as_deref(),
                    rules,
                })
            }
        }

        fn one(
            &self,
            out: &mut String,
            key: &str,
            trace_ids: Option<&Vec<String>>,
            ev: &crate::violation_text::Evidence,
            store: &crate::store::SpanStore,
        ) -> bool {
            match self {
                Written::Text(st) => crate::violation_text::write(out, st, key, ev, store),
                Written::Json(st) => crate::violation_text::write_json(
                    out,
                    st,
                    key,
                    trace_ids.map_or(&[], Vec::as_slice),
                    ev,
                    store,
                ),
            }
        }

        fn all(
            &self,
            keys: &[String],
            trace_ids: &[Vec<String>],
            evidence: &[crate::violation_text::Evidence],
            store: &crate::store::SpanStore,
            as_bytes: bool,
        ) -> Texts {
            let sep = match self {
                Written::Text(_) => "\n",
                Written::Json(_) => ",\n",
            };
            let mut whole = String::new();
            for (i, (key, ev)) in keys.iter().zip(evidence).enumerate() {
                if i > 0 {
                    whole.push_str(sep);
                }
                if !self.one(&mut whole, key, trace_ids.get(i), ev, store) {
                    return Texts::Each(
                        keys.iter()
                            .zip(evidence)
                            .enumerate()
                            .map(|(i, (key, ev))| {
                                let mut out = String::new();
                                self.one(&mut out, key, trace_ids.get(i), ev, store)
                                    .then_some(out)
                            })
                            .collect(),
                    );
                }
            }
            Texts::Whole(whole, as_bytes)
        }
    }

    /// Event `e` of complete trace `t` (as `NativeRun.event`), or an IndexError.
    fn event_at(run: &crate::file_run::FileRun, t: usize, e: i32) -> PyResult<crate::order::Event> {
        let e = usize::try_from(e).ok().and_then(|e| run.event(t, e));
        event_tuple(e)?;
        Ok(e.expect("event_tuple checked it"))
    }

    /// Item `i` of a machine-order i32 column (`packed.rs`).
    fn column(data: &[u8], i: usize) -> PyResult<i32> {
        data.get(4 * i..4 * i + 4)
            .map(|b| i32::from_ne_bytes(b.try_into().expect("four bytes")))
            .ok_or_else(|| pyo3::exceptions::PyIndexError::new_err("no such instance"))
    }

    fn not_closed() -> PyErr {
        pyo3::exceptions::PyRuntimeError::new_err("the run is not closed")
    }
}
