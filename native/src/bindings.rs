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
        use crate::otlp_json::{decode, parse_doc, Count, MsgPart, Outcome};
        let (doc, text_check) = match py.detach(|| parse_doc(data)) {
            Ok(parsed) => parsed,
            Err(why) => return fallback(py, why),
        };
        let empty = wanted.as_ref().is_some_and(HashSet::is_empty);
        let outcome = py.detach(|| match &wanted {
            None => decode(&doc, None, empty, text_check),
            Some(set) => decode(&doc, Some(&|k: &str| set.contains(k)), empty, text_check),
        });
        let (batch, problems, refused) = match outcome {
            Outcome::Fallback(why) => return fallback(py, why),
            Outcome::Decoded {
                batch,
                problems,
                refused,
            } => (batch, problems, refused),
        };
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
        let d = columns(py, &batch)?;
        let mut out = vec![];
        for p in &problems {
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
        let refused = match &refused {
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
                .import("tracelogic.ingest._otlp_common")?
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
    /// Python decoder's (`_otlp_common`, `text_rule`).
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
            let out = asm.close(&store);
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

    fn owned<'py>(py: Python<'py>, v: &crate::store::OwnedValue) -> PyResult<Bound<'py, PyAny>> {
        use crate::store::OwnedValue as V;
        Ok(match v {
            V::Empty => py.None().into_bound(py),
            V::Str(s) => s.into_pyobject(py)?.into_any(),
            V::Bool(b) => b.into_pyobject(py)?.to_owned().into_any(),
            V::Int(i) => i.into_pyobject(py)?.into_any(),
            V::Double(f) => f.into_pyobject(py)?.into_any(),
            V::Bytes(b) => PyBytes::new(py, b).into_any(),
            V::Array(xs) => {
                let items = xs
                    .iter()
                    .map(|x| owned(py, x))
                    .collect::<PyResult<Vec<_>>>()?;
                PyTuple::new(py, items)?.into_any()
            }
            V::KvList(xs) => {
                let items = xs
                    .iter()
                    .map(|(k, x)| {
                        PyTuple::new(py, [k.into_pyobject(py)?.into_any(), owned(py, x)?])
                    })
                    .collect::<PyResult<Vec<_>>>()?;
                PyList::new(py, items)?.into_any()
            }
            V::TooDeep => py.Ellipsis().into_bound(py),
            V::Invalid(b) => invalid(py, &b.0, b.1)?,
        })
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
            it.map(|(k, v)| PyTuple::new(py, [k.into_pyobject(py)?.into_any(), owned(py, v)?]))
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

    /// Evaluate an atom program (`atom_program.py`) on the spans of one trace, for the
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

    fn owned_pair<'py>(
        py: Python<'py>,
        k: &str,
        v: &crate::store::OwnedValue,
    ) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, [k.into_pyobject(py)?.into_any(), owned(py, v)?])
    }
    /// `(time_ns, is_start, store row)` of an event, or IndexError (also
    /// `stream_bindings.rs`'s).
    pub(crate) fn event_tuple(e: Option<crate::order::Event>) -> PyResult<(u64, bool, u32)> {
        e.map(|e| (e.time_ns, e.is_start, e.row))
            .ok_or_else(|| pyo3::exceptions::PyIndexError::new_err("no such event"))
    }

    /// The span in store row `row` of `s`, as the fields `native_otlp.span_from_fields`
    /// takes (also `stream_bindings.rs`'s).
    pub(crate) fn span_tuple<'py>(
        py: Python<'py>,
        s: &crate::store::SpanStore,
        row: u32,
    ) -> PyResult<Bound<'py, PyTuple>> {
        if row as usize >= s.len() {
            return Err(pyo3::exceptions::PyIndexError::new_err("no such span"));
        }
        let pairs = |it: &mut dyn Iterator<Item = (&str, &crate::store::OwnedValue)>| {
            it.map(|(k, v)| owned_pair(py, k, v))
                .collect::<PyResult<Vec<_>>>()
        };
        let attrs = pairs(&mut s.attrs(row))?;
        let resource = pairs(&mut s.resource_attrs(row))?;
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
                PyList::new(py, attrs)?.into_any(),
                PyList::new(py, resource)?.into_any(),
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
    }

    #[pymethods]
    impl NativeRun {
        #[new]
        fn new(plan: &str, wanted: HashSet<String>, max_open_traces: usize) -> PyResult<Self> {
            let plan = crate::plan::Plan::from_json(plan)
                .map_err(pyo3::exceptions::PyValueError::new_err)?;
            Ok(NativeRun {
                run: crate::file_run::FileRun::new(plan, wanted, max_open_traces),
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

        /// Hand out every trace and step the plan's properties (once); see `Closed`.
        /// `render(value)` is Python's `key_text` of a scope key value the core cannot
        /// render (bytes, arrays, key-value lists), given as `span` gives attributes.
        fn close<'py>(
            &mut self,
            py: Python<'py>,
            render: Bound<'py, PyAny>,
        ) -> PyResult<Bound<'py, PyDict>> {
            let run = &mut self.run;
            let render = render.unbind();
            let mut failed: Option<PyErr> = None;
            let mut cb = |v: &crate::store::OwnedValue| -> Option<String> {
                if failed.is_some() {
                    return None;
                }
                Python::attach(|py| {
                    let text = owned(py, v)
                        .and_then(|o| render.bind(py).call1((o,)))
                        .and_then(|t| t.extract::<Option<String>>());
                    text.unwrap_or_else(|e| {
                        failed = Some(e);
                        None
                    })
                })
            };
            py.detach(|| {
                run.close(&mut cb);
            });
            if let Some(e) = failed {
                return Err(e);
            }
            let counters = run.counters();
            let c = run.closed.as_ref().expect("closed above");
            let d = PyDict::new(py);
            d.set_item("traces", &c.traces)?;
            let opt = |x: Option<u32>| x.map_or(-1i64, i64::from);
            let results = c
                .results
                .iter()
                .map(|per| {
                    per.iter()
                        .map(|o| (o.state, opt(o.decided), opt(o.raised), o.trigger))
                        .collect::<Vec<_>>()
                })
                .collect::<Vec<_>>();
            d.set_item("results", results)?;
            let pair =
                |x: Option<(u32, u32)>| x.map_or((-1i64, -1i64), |(t, e)| (t.into(), e.into()));
            let cross = c
                .cross
                .iter()
                .map(|per| {
                    per.as_ref().map(|insts| {
                        insts
                            .iter()
                            .map(|i| {
                                (
                                    i.key.as_str(),
                                    i.state,
                                    pair(i.decided),
                                    pair(i.raised),
                                    i.last,
                                    i.trigger,
                                    i.traces.as_slice(),
                                    i.partial,
                                    i.events,
                                )
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect::<Vec<_>>();
            d.set_item("cross", cross)?;
            d.set_item("evicted_keys", &c.evicted_keys)?;
            d.set_item("n_events", &c.n_events)?;
            let cd = PyDict::new(py);
            for (k, v) in counters {
                cd.set_item(k, v)?;
            }
            d.set_item("counters", cd)?;
            let mm = c
                .mismatches
                .sites
                .iter()
                .map(|&(n, l, r)| (n > 0).then_some((n, l, r)))
                .collect::<Vec<_>>();
            d.set_item("mismatches", mm)?;
            Ok(d)
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
    }
}
