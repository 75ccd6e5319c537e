//! The Python module `tracelogic._native`: a thin layer over the pure-Rust core.
//!
//! Only conversions live here; every decision is made in the core modules, which are
//! tested without an interpreter.

#[pyo3::pymodule]
mod _native {
    use std::collections::HashSet;

    use pyo3::prelude::*;
    use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};

    use crate::otlp::{decode_traces, AnyValue, Batch, Level};

    /// The version of the plan/result boundary; see `capabilities.rs`.
    #[pymodule_export]
    const ABI_VERSION: u32 = crate::ABI_VERSION;

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
        })
    }

    /// A `(key, value)` tuple.
    fn entry<'py>(py: Python<'py>, k: &str, v: &AnyValue<'_>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, [k.into_pyobject(py)?.into_any(), value(py, v)?])
    }

    fn flat<'py, const N: usize>(py: Python<'py>, ids: &[[u8; N]]) -> Bound<'py, PyBytes> {
        PyBytes::new(py, ids.as_flattened())
    }

    fn columns<'py>(py: Python<'py>, b: &Batch<'_>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("received", b.received)?;
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

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add("__version__", env!("CARGO_PKG_VERSION"))?;
        m.add(
            "__doc__",
            "tracelogic's native core for the runtime path (docs/native.md)",
        )?;
        Ok(())
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
        let kinds = [
            "unspecified",
            "internal",
            "server",
            "client",
            "producer",
            "consumer",
        ];
        let spans = rows
            .into_iter()
            .map(|(text, ids, (start_ns, end_ns), attrs, resource, events)| {
                Ok(SimpleSpan {
                    name: text.0,
                    kind: static_name(&text.1, &kinds)?,
                    status: static_name(&text.2, &["unset", "ok", "error"])?,
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
}
