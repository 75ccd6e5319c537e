//! The sidecar's streaming run (`stream_run.rs`) as a Python class, and the span count the
//! ingest queue is bounded by. Conversions only; decoding, assembling and stepping run with
//! the GIL released (it is taken back only to render a scope key value the core cannot
//! render itself: bytes, arrays, key-value lists).

use std::collections::HashSet;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

use crate::bindings::_native::{
    columns, event_tuple, header, owned_pair, render_callback, span_tuple,
};
use crate::store::OwnedValue;
use crate::stream_run::{self, Given, SpanCopy, Tables, Witness};

/// The spans of a serialized `ExportTraceServiceRequest`, counted from its framing (None
/// when the framing above the spans is broken).
#[pyfunction]
pub fn count_spans_pb(py: Python<'_>, data: &[u8]) -> Option<usize> {
    py.detach(|| stream_run::count_spans(data))
}

/// One streaming run of a plan (`engine/native_stream.py`).
#[pyclass(module = "tracelogic._native")]
pub struct StreamRun {
    run: stream_run::StreamRun,
    /// Python's `key_text` of a raw attribute value (`native_run._render_key`)
    render: Py<PyAny>,
}

/// A span copied out of the store, as `span_tuple` gives a stored one.
fn copy_tuple<'py>(py: Python<'py>, s: &SpanCopy) -> PyResult<Bound<'py, PyTuple>> {
    let pairs = |v: &[(String, OwnedValue)]| {
        v.iter()
            .map(|(k, v)| owned_pair(py, k, v))
            .collect::<PyResult<Vec<_>>>()
    };
    PyTuple::new(
        py,
        [
            s.name.as_str().into_pyobject(py)?.into_any(),
            s.kind.into_pyobject(py)?.into_any(),
            s.status.into_pyobject(py)?.into_any(),
            s.status_message.as_str().into_pyobject(py)?.into_any(),
            s.start_ns.into_pyobject(py)?.into_any(),
            s.end_ns.into_pyobject(py)?.into_any(),
            s.service.as_str().into_pyobject(py)?.into_any(),
            s.trace_id.as_str().into_pyobject(py)?.into_any(),
            s.span_id.as_str().into_pyobject(py)?.into_any(),
            s.parent_id.as_str().into_pyobject(py)?.into_any(),
            PyList::new(py, pairs(&s.attrs)?)?.into_any(),
            PyList::new(py, pairs(&s.resource)?)?.into_any(),
            s.scope.as_str().into_pyobject(py)?.into_any(),
            PyList::new(py, &s.events)?.into_any(),
            PyList::new(py, &s.links)?.into_any(),
        ],
    )
}

fn witness_tuple<'py>(py: Python<'py>, w: &Witness) -> PyResult<Bound<'py, PyTuple>> {
    PyTuple::new(
        py,
        [
            w.time_ns.into_pyobject(py)?.into_any(),
            pyo3::types::PyBool::new(py, w.is_start)
                .to_owned()
                .into_any(),
            copy_tuple(py, &w.span)?.into_any(),
        ],
    )
}

/// What one call handed out, into `d` (a new dict when None).
fn given<'py>(
    py: Python<'py>,
    g: &Given,
    d: Option<Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyDict>> {
    let d = d.unwrap_or_else(|| PyDict::new(py));
    d.set_item("done", &g.done)?;
    d.set_item("handed", &g.handed)?;
    d.set_item("decided", g.decided)?;
    d.set_item("completed", g.completed)?;
    let opt = |x: Option<u32>| x.map_or(-1i64, i64::from);
    let violated = g
        .violated
        .iter()
        .map(|v| {
            (
                v.prop,
                v.trace,
                v.trace_id.as_str(),
                v.state,
                opt(v.decided),
                opt(v.raised),
                v.last,
            )
        })
        .collect::<Vec<_>>();
    d.set_item("violated", violated)?;
    let cross = g
        .cross_violated
        .iter()
        .map(|v| {
            let raised = match &v.raised {
                Some(w) => witness_tuple(py, w)?.into_any(),
                None => py.None().into_bound(py),
            };
            PyTuple::new(
                py,
                [
                    v.prop.into_pyobject(py)?.into_any(),
                    v.key.as_str().into_pyobject(py)?.into_any(),
                    PyList::new(py, &v.trace_ids)?.into_any(),
                    v.state.into_pyobject(py)?.into_any(),
                    raised,
                    witness_tuple(py, &v.decided)?.into_any(),
                ],
            )
        })
        .collect::<PyResult<Vec<_>>>()?;
    d.set_item("cross_violated", cross)?;
    Ok(d)
}

fn tables(verdicts: Vec<(Vec<u8>, Vec<u8>, Vec<u8>)>) -> Tables {
    verdicts.into_iter().map(|(a, b, c)| [a, b, c]).collect()
}

/// Runs `f` with the GIL released, giving it a renderer that takes the GIL back to call
/// `render`; the first exception it raised is returned after `f`.
fn with_render<T: Send>(
    py: Python<'_>,
    render: &Py<PyAny>,
    f: impl FnOnce(stream_run::Render) -> T + Send,
) -> PyResult<T> {
    let mut failed: Option<PyErr> = None;
    let out = py.detach(|| {
        let mut cb = render_callback(render, &mut failed);
        f(&mut cb)
    });
    match failed {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

#[pymethods]
impl StreamRun {
    /// `verdicts[j]` is `(per state for a whole trace, per state for a partial one, per
    /// state now)`, each a code into `VERDICTS`; `render(value)` is Python's `key_text` of
    /// a scope key value the core cannot render.
    #[new]
    #[allow(clippy::too_many_arguments)]
    fn new(
        plan: &str,
        wanted: HashSet<String>,
        max_open_traces: usize,
        idle_ns: i64,
        rootless_idle_ns: i64,
        lateness_ns: u64,
        max_instances: usize,
        verdicts: Vec<(Vec<u8>, Vec<u8>, Vec<u8>)>,
        render: Py<PyAny>,
    ) -> PyResult<Self> {
        let plan =
            crate::plan::Plan::from_json(plan).map_err(pyo3::exceptions::PyValueError::new_err)?;
        stream_run::StreamRun::new(
            plan,
            wanted,
            max_open_traces,
            idle_ns,
            rootless_idle_ns,
            lateness_ns,
            max_instances,
            tables(verdicts),
        )
        .map(|run| StreamRun { run, render })
        .map_err(pyo3::exceptions::PyValueError::new_err)
    }

    /// Switch to a reloaded spec's plan (see `StreamRun::set_plan`).
    fn set_plan(
        &mut self,
        plan: &str,
        wanted: HashSet<String>,
        verdicts: Vec<(Vec<u8>, Vec<u8>, Vec<u8>)>,
        carry: Vec<Option<u32>>,
    ) -> PyResult<()> {
        let plan =
            crate::plan::Plan::from_json(plan).map_err(pyo3::exceptions::PyValueError::new_err)?;
        self.run
            .set_plan(plan, wanted, tables(verdicts), carry)
            .map_err(pyo3::exceptions::PyValueError::new_err)
    }

    /// The verdict names, by code.
    #[staticmethod]
    fn verdict_names() -> Vec<&'static str> {
        stream_run::VERDICTS.to_vec()
    }

    /// Decode one request at clock `now` and buffer its spans (see `StreamRun::feed`): the
    /// decoder's counts and messages, `committed`, the span columns when `columns`, and
    /// what was handed out (evicted traces).
    fn feed_pb<'py>(
        &mut self,
        py: Python<'py>,
        data: &[u8],
        force: bool,
        now: i64,
        columns: bool,
    ) -> PyResult<Bound<'py, PyDict>> {
        let run = &mut self.run;
        let (batch, committed, g) = py.detach(|| run.feed(data, force, now));
        let d = if columns {
            self::columns(py, &batch)?
        } else {
            header(py, &batch)?
        };
        d.set_item("committed", committed)?;
        given(py, &g, Some(d))
    }

    /// Hand out the traces idle at `now` into the backlog; decide at most `limit` of it;
    /// release the buffered events under the watermark.
    #[pyo3(signature = (now, limit=None))]
    fn poll<'py>(
        &mut self,
        py: Python<'py>,
        now: i64,
        limit: Option<usize>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let run = &mut self.run;
        let g = with_render(py, &self.render, |r| run.poll(now, limit, r))?;
        given(py, &g, None)
    }

    /// Decide the backlog and every open trace, as at end of input; release every
    /// buffered event.
    fn finish<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let run = &mut self.run;
        let g = with_render(py, &self.render, |r| run.finish(r))?;
        given(py, &g, None)
    }

    /// Decide the backlog and release every buffered event; open traces stay open.
    fn release_all<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let run = &mut self.run;
        let g = with_render(py, &self.render, |r| run.release_all(r))?;
        given(py, &g, None)
    }

    /// `(time_ns, is_start, store row)` of event `index` of trace `trace` decided by the
    /// last call.
    fn event(&self, trace: usize, index: usize) -> PyResult<(u64, bool, u32)> {
        event_tuple(self.run.event(trace, index))
    }

    /// The span in store row `row`, as `native_otlp.span_from_fields` takes it.
    fn span<'py>(&self, py: Python<'py>, row: u32) -> PyResult<Bound<'py, PyTuple>> {
        span_tuple(py, self.run.store(), row)
    }

    /// Per plan property, the count of each verdict (by code), and the vacuous ones.
    fn verdict_counts(&self) -> (Vec<[u64; 6]>, Vec<u64>) {
        (self.run.counts.clone(), self.run.vacuous.clone())
    }

    /// The cross-trace verdicts of plan property `j`: `[(key, code)]` (see
    /// `StreamRun::verdicts_of`).
    fn verdicts(&self, j: usize) -> PyResult<Vec<(String, u8)>> {
        if j >= self.run.open_per_property().len() {
            return Err(pyo3::exceptions::PyIndexError::new_err("no such property"));
        }
        Ok(self
            .run
            .verdicts_of(j)
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect())
    }

    /// Per plan property, its open cross-trace instances.
    fn open_per_property(&self) -> Vec<usize> {
        self.run.open_per_property()
    }

    /// The assembler's counters and sizes, the backlog and the cross-trace state.
    fn counters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (k, v) in self.run.counters() {
            d.set_item(k, v)?;
        }
        d.set_item("backlog", self.run.backlog())?;
        d.set_item("late_events", self.run.late_events)?;
        d.set_item("evicted_instances", self.run.evicted_instances)?;
        d.set_item("open_instances", self.run.open_instances())?;
        d.set_item("buffered_events", self.run.buffered_events())?;
        d.set_item("watermark_ns", self.run.watermark())?;
        Ok(d)
    }

    /// Keep at most `limit` trace shapes (`StreamingMonitor`'s `shape_cache`; 0: none).
    fn set_shape_cache(&mut self, limit: usize) {
        self.run.set_shape_cache(limit);
    }

    /// The trace-shape cache's `(hits, misses)`.
    fn shape_counts(&self) -> (u64, u64) {
        self.run.shape_counts()
    }

    /// Completed traces waiting to be decided.
    #[getter]
    fn backlog(&self) -> usize {
        self.run.backlog()
    }
}
