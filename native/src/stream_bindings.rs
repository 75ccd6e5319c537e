//! The sidecar's streaming run (`stream_run.rs`) as a Python class, and the span count the
//! ingest queue is bounded by. Conversions only; decoding, assembling and stepping run with
//! the GIL released.

use std::collections::HashSet;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use crate::bindings::_native::{columns, event_tuple, header, span_tuple};
use crate::stream_run::{self, Given};

/// The spans of a serialized `ExportTraceServiceRequest`, counted from its framing (None
/// when the framing above the spans is broken).
#[pyfunction]
pub fn count_spans_pb(py: Python<'_>, data: &[u8]) -> Option<usize> {
    py.detach(|| stream_run::count_spans(data))
}

/// One streaming run of a plan of per-trace properties (`engine/native_stream.py`).
#[pyclass(module = "tracelogic._native")]
pub struct StreamRun {
    run: stream_run::StreamRun,
}

/// What one call handed out, into `d` (a new dict when None).
fn given<'py>(
    py: Python<'py>,
    g: &Given,
    d: Option<Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyDict>> {
    let d = d.unwrap_or_else(|| PyDict::new(py));
    d.set_item("done", &g.done)?;
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
    Ok(d)
}

#[pymethods]
impl StreamRun {
    /// `verdicts[j]` is `(per state for a whole trace, per state for a partial one)`, each a
    /// code into `VERDICTS`.
    #[new]
    fn new(
        plan: &str,
        wanted: HashSet<String>,
        max_open_traces: usize,
        idle_ns: i64,
        rootless_idle_ns: i64,
        verdicts: Vec<(Vec<u8>, Vec<u8>)>,
    ) -> PyResult<Self> {
        let plan =
            crate::plan::Plan::from_json(plan).map_err(pyo3::exceptions::PyValueError::new_err)?;
        let verdicts = verdicts.into_iter().map(|(a, b)| [a, b]).collect();
        stream_run::StreamRun::new(
            plan,
            wanted,
            max_open_traces,
            idle_ns,
            rootless_idle_ns,
            verdicts,
        )
        .map(|run| StreamRun { run })
        .map_err(pyo3::exceptions::PyValueError::new_err)
    }

    /// Switch to a reloaded spec's plan (see `StreamRun::set_plan`).
    fn set_plan(
        &mut self,
        plan: &str,
        wanted: HashSet<String>,
        verdicts: Vec<(Vec<u8>, Vec<u8>)>,
    ) -> PyResult<()> {
        let plan =
            crate::plan::Plan::from_json(plan).map_err(pyo3::exceptions::PyValueError::new_err)?;
        let verdicts = verdicts.into_iter().map(|(a, b)| [a, b]).collect();
        self.run
            .set_plan(plan, wanted, verdicts)
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

    /// Hand out the traces idle at `now` into the backlog; decide at most `limit` of it.
    #[pyo3(signature = (now, limit=None))]
    fn poll<'py>(
        &mut self,
        py: Python<'py>,
        now: i64,
        limit: Option<usize>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let run = &mut self.run;
        let g = py.detach(|| run.poll(now, limit));
        given(py, &g, None)
    }

    /// Decide the backlog and every open trace, as at end of input.
    fn finish<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let run = &mut self.run;
        let g = py.detach(|| run.finish());
        given(py, &g, None)
    }

    /// Decide the backlog; open traces stay open.
    fn release_all<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let run = &mut self.run;
        let g = py.detach(|| run.release_all());
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

    /// The assembler's counters and sizes, and the backlog.
    fn counters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (k, v) in self.run.counters() {
            d.set_item(k, v)?;
        }
        d.set_item("backlog", self.run.backlog())?;
        Ok(d)
    }

    /// Completed traces waiting to be decided.
    #[getter]
    fn backlog(&self) -> usize {
        self.run.backlog()
    }
}
