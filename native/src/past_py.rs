//! The past stage from Python (`engine/past_plan.py`): a [`PastPlan`] with one state, fed
//! letter masks or rows of columns. Conversions only; the stepping is [`crate::past`]'s.

use pyo3::buffer::PyBuffer;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};

use crate::past::{first_decrease, masks_from_columns, PastPlan, PastState};

/// A past stage (the document of `engine.past_plan.past_document`) and one instance's
/// state. `columns` names the input column each atom reads, atom `i` holding at a row
/// where column `columns[i]` is true (Python's `bool(value)`); without it the stage takes
/// letter masks only.
///
/// * `step(t, row)`: one row (a dict by column name, or a tuple or list in the order of
///   `columns`) at time `t` (ns): output 0 at that row, a bool;
/// * `step_mask(mask, t)`: one event by its letter mask: every output bit
///   (`PastStage.step`);
/// * `values(times, columns)`: a whole trace from the initial state (the streaming state
///   is left alone), with the GIL released: output 0 at every row as bytes of 0/1;
/// * `run_masks(masks, times)`: the same over letter masks, every output bit per event.
///
/// Times must not decrease (a `ValueError` names the event otherwise, and `step` leaves
/// the state as it was).
#[pyclass(module = "tracelogic._native")]
pub struct PastMonitor {
    plan: PastPlan,
    state: PastState,
    last: Option<i64>,
    names: Vec<String>,
    keys: Vec<Py<PyString>>,
}

fn value_error(msg: String) -> PyErr {
    PyValueError::new_err(msg)
}

/// A column name as Python's `repr` writes a plain str (messages read like Python's).
fn quoted(name: &str) -> String {
    format!("'{name}'")
}

/// The column names as Python writes a list of them.
fn listed(names: &[String]) -> String {
    let items: Vec<String> = names.iter().map(|n| quoted(n)).collect();
    format!("[{}]", items.join(", "))
}

fn decrease_error(i: usize, t: i64, prev: i64) -> PyErr {
    value_error(format!(
        "timestamps must be non-decreasing: event {i} has t={t} after t={prev}"
    ))
}

/// A column's values as bools: a one-dimensional buffer of integers or floats (bytes,
/// bytearray, array.array, a numpy array) is copied at once; anything else is iterated and
/// each item read with Python's truth test.
fn truth_column(py: Python<'_>, obj: &Bound<'_, PyAny>, name: &str) -> PyResult<Vec<bool>> {
    macro_rules! from_buffer {
        ($($t:ty),*) => {$(
            if let Ok(b) = PyBuffer::<$t>::get(obj) {
                if b.dimensions() != 1 {
                    return Err(value_error(format!(
                        "column {} has {} dimensions (give one value per row)",
                        quoted(name),
                        b.dimensions()
                    )));
                }
                #[allow(clippy::float_cmp)]
                return Ok(b.to_vec(py)?.into_iter().map(|x| x != (0 as $t)).collect());
            }
        )*};
    }
    from_buffer!(u8, i8, i64, u64, i32, u32, i16, u16, f64, f32);
    if obj.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(format!(
            "column {} is a str; give a sequence of values, one per row",
            quoted(name)
        )));
    }
    obj.try_iter()
        .map_err(|_| {
            PyTypeError::new_err(format!(
                "column {} is a {}; give a sequence or buffer of values, one per row",
                quoted(name),
                obj.get_type().name().map_or("?".into(), |n| n.to_string())
            ))
        })?
        .map(|x| x?.is_truthy())
        .collect()
}

/// Timestamps: a one-dimensional buffer of int64 copied at once, else a sequence of ints.
fn time_column(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<Vec<i64>> {
    if let Ok(b) = PyBuffer::<i64>::get(obj) {
        if b.dimensions() == 1 {
            return b.to_vec(py);
        }
    }
    obj.extract::<Vec<i64>>()
}

impl PastMonitor {
    /// The columns in atom order from `columns` (a dict by name, or a sequence in order).
    fn input_columns(
        &self,
        py: Python<'_>,
        columns: &Bound<'_, PyAny>,
    ) -> PyResult<Vec<Vec<bool>>> {
        if let Ok(d) = columns.cast::<PyDict>() {
            self.names
                .iter()
                .map(|name| match d.get_item(name)? {
                    Some(c) => truth_column(py, &c, name),
                    None => Err(value_error(format!(
                        "no column {} (the atoms read the columns {})",
                        quoted(name),
                        listed(&self.names)
                    ))),
                })
                .collect()
        } else {
            let cols: Vec<Bound<'_, PyAny>> = columns.extract()?;
            if cols.len() != self.names.len() {
                return Err(value_error(format!(
                    "{} columns for the atoms' {} columns {}",
                    cols.len(),
                    self.names.len(),
                    listed(&self.names)
                )));
            }
            cols.iter()
                .zip(&self.names)
                .map(|(c, name)| truth_column(py, c, name))
                .collect()
        }
    }

    /// The mask of a row given as values in column order.
    fn positional<'py>(
        &self,
        len: usize,
        values: impl Iterator<Item = Bound<'py, PyAny>>,
    ) -> PyResult<u64> {
        if len != self.keys.len() {
            return Err(value_error(format!(
                "a row of {len} values for the columns {}",
                listed(&self.names)
            )));
        }
        let mut mask = 0u64;
        for (i, v) in values.enumerate() {
            mask |= (v.is_truthy()? as u64) << i;
        }
        Ok(mask)
    }

    fn check_time(&self, t: i64) -> PyResult<()> {
        match self.last {
            Some(prev) if t < prev => Err(value_error(format!(
                "timestamps must be non-decreasing: t={t} after t={prev}"
            ))),
            _ => Ok(()),
        }
    }
}

#[pymethods]
impl PastMonitor {
    #[new]
    #[pyo3(signature = (document, columns=None))]
    fn new(py: Python<'_>, document: &str, columns: Option<Vec<String>>) -> PyResult<Self> {
        let doc: serde_json::Value = serde_json::from_str(document)
            .map_err(|e| value_error(format!("past stage document: {e}")))?;
        let plan = PastPlan::from_json(&doc).map_err(value_error)?;
        let names = columns.unwrap_or_default();
        if !names.is_empty() && names.len() != plan.n_atoms() as usize {
            return Err(value_error(format!(
                "{} columns for {} atoms",
                names.len(),
                plan.n_atoms()
            )));
        }
        let keys = names
            .iter()
            .map(|n| PyString::intern(py, n).unbind())
            .collect();
        let state = plan.initial();
        Ok(PastMonitor {
            plan,
            state,
            last: None,
            names,
            keys,
        })
    }

    /// The column each atom reads, in atom order.
    #[getter]
    fn columns(&self) -> Vec<String> {
        self.names.clone()
    }

    /// Every output bit at the last event (`PastStage.value_bits`).
    #[getter]
    fn value_bits(&self) -> u64 {
        self.plan.value_bits(&self.state)
    }

    /// Timestamps the units' registers hold now.
    #[getter]
    fn registers(&self) -> usize {
        self.state.register_count()
    }

    /// Back to the state before the first event.
    fn reset(&mut self) {
        self.state = self.plan.initial();
        self.last = None;
    }

    /// One event by its letter mask (bit i: atom i holds) at time `t`: every output bit.
    fn step_mask(&mut self, mask: u64, t: i64) -> PyResult<u64> {
        self.check_time(t)?;
        self.last = Some(t);
        Ok(self.plan.step(&mut self.state, mask, t))
    }

    /// One row at time `t`: output 0, the atoms read from the row's columns.
    fn step(&mut self, t: i64, row: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.check_time(t)?;
        let py = row.py();
        let mut mask = 0u64;
        if let Ok(d) = row.cast::<PyDict>() {
            for (i, key) in self.keys.iter().enumerate() {
                match d.get_item(key.bind(py))? {
                    Some(v) => mask |= (v.is_truthy()? as u64) << i,
                    None => {
                        return Err(value_error(format!(
                            "the row has no column {} (the atoms read {})",
                            quoted(&self.names[i]),
                            listed(&self.names)
                        )))
                    }
                }
            }
        } else if let Ok(tup) = row.cast::<PyTuple>() {
            mask = self.positional(tup.len(), tup.iter())?;
        } else if let Ok(list) = row.cast::<PyList>() {
            mask = self.positional(list.len(), list.iter())?;
        } else {
            return Err(PyTypeError::new_err(format!(
                "a row is a dict by column name or a tuple in the order {}",
                listed(&self.names)
            )));
        }
        self.last = Some(t);
        Ok(self.plan.step(&mut self.state, mask, t) & 1 != 0)
    }

    /// Every event from the initial state: the output bits after each (GIL released).
    fn run_masks(&self, py: Python<'_>, masks: Vec<u64>, times: Vec<i64>) -> PyResult<Vec<u64>> {
        if masks.len() != times.len() {
            return Err(value_error(format!(
                "masks and times differ in length ({} != {})",
                masks.len(),
                times.len()
            )));
        }
        if let Some((i, t, prev)) = first_decrease(&times) {
            return Err(decrease_error(i, t, prev));
        }
        let plan = &self.plan;
        Ok(py.detach(|| plan.run(&masks, &times)))
    }

    /// A whole trace from the initial state, columns in: output 0 at every row, as bytes
    /// of 0/1. `columns` is a dict by column name (other keys are ignored) or a sequence in
    /// the order of `columns`; the atoms and the stepping run with the GIL released.
    fn values<'py>(
        &self,
        py: Python<'py>,
        times: &Bound<'py, PyAny>,
        columns: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let times = time_column(py, times)?;
        let cols = self.input_columns(py, columns)?;
        let n = times.len();
        if let Some((c, name)) = cols.iter().zip(&self.names).find(|(c, _)| c.len() != n) {
            return Err(value_error(format!(
                "column {} has {} rows and times {n}",
                quoted(name),
                c.len()
            )));
        }
        let plan = &self.plan;
        let out = py.detach(|| {
            if let Some((i, t, prev)) = first_decrease(&times) {
                return Err((i, t, prev));
            }
            let masks = masks_from_columns(&cols, n);
            let mut st = plan.initial();
            Ok(masks
                .iter()
                .zip(&times)
                .map(|(&m, &t)| (plan.step(&mut st, m, t) & 1) as u8)
                .collect::<Vec<u8>>())
        });
        match out {
            Ok(v) => Ok(PyBytes::new(py, &v)),
            Err((i, t, prev)) => Err(decrease_error(i, t, prev)),
        }
    }
}
