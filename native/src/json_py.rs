//! `json.dumps(obj, indent=2)`'s text, written in Rust for the reports' JSON.
//!
//! With `indent`, CPython's `json` module leaves its C encoder for a pure-Python one, and
//! even `tracelogic.json_text` (the same text from one Python loop) spends a bytecode
//! dispatch per token: on `monitor --format json` over 800k spans (639k per-instance
//! results and 155k violations, 150 MB of text) that was 4.7 s of a 15 s run. This walks
//! the same objects and writes the same bytes. It takes the fast path only for the exact
//! built-in types the reports are made of (`dict`, `list`, `tuple`, `str`, `int`, `float`,
//! `bool`, `None`); anything else (a subclass, an enum member, a key that is not a string,
//! a string with a lone surrogate, nesting deeper than [`MAX_DEPTH`]) is handed to the
//! Python callables the caller passes, which are `json_text`'s own, so the text stays
//! exactly the standard library's (tests/engine/test_json_dump.py checks it with
//! Hypothesis against `json.dumps`).

use std::fmt::Write as _;

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

/// Deeper than this, a value is written by `fallback` (Python's own recursion limit then
/// decides, as it does for `json.dumps`), so a cyclic document cannot exhaust the stack.
const MAX_DEPTH: usize = 256;

/// The callables for what the fast path does not write itself.
struct Slow<'a, 'py> {
    /// `(value, newline_and_indent) -> str`: a value's text, indented
    fallback: &'a Bound<'py, PyAny>,
    /// `key -> str`: a key that is not an exact `str`, as `json.dumps` turns it into one
    key: &'a Bound<'py, PyAny>,
    /// `str -> str`: `json.encoder.encode_basestring_ascii`, for a string Rust cannot read
    escape: &'a Bound<'py, PyAny>,
    /// `json_text.Verbatim`, if given: JSON text written already at depth 0 (its `text`),
    /// put in place here with its lines indented to where it stands
    verbatim: Option<&'a Bound<'py, PyAny>>,
    /// `dumps_indent2`'s `write`: given the text as UTF-8 bytes whenever [`SPILL`] bytes
    /// of it are ready (None: the text is returned whole)
    sink: Option<&'a Bound<'py, PyAny>>,
}

/// How much of the text `dumps_indent2` gathers before handing it to `write`: a report is
/// never whole in memory (at 800k spans the JSON report is 160 MB), yet `write` is called
/// a few hundred times, not once per item.
const SPILL: usize = 1 << 20;

/// Hand what `out` holds to the sink once it is at least `at` bytes (with a sink).
fn spill(out: &mut String, slow: &Slow<'_, '_>, at: usize) -> PyResult<()> {
    if let Some(sink) = slow.sink {
        if out.len() >= at {
            sink.call1((pyo3::types::PyBytes::new(sink.py(), out.as_bytes()),))?;
            out.clear();
        }
    }
    Ok(())
}

fn write_str(s: &Bound<'_, PyString>, slow: &Slow<'_, '_>, out: &mut String) -> PyResult<()> {
    match s.to_str() {
        Ok(text) => crate::json::escape_ascii(text, out),
        // a lone surrogate (e.g. from `surrogateescape`): the json module's own escaper
        Err(_) => out.push_str(slow.escape.call1((s,))?.cast::<PyString>()?.to_str()?),
    }
    Ok(())
}

fn newline(out: &mut String, depth: usize) {
    out.push('\n');
    for _ in 0..depth {
        out.push_str("  ");
    }
}

fn write(
    o: &Bound<'_, PyAny>,
    depth: usize,
    slow: &Slow<'_, '_>,
    out: &mut String,
) -> PyResult<()> {
    if let Ok(s) = o.cast_exact::<PyString>() {
        return write_str(s, slow, out);
    }
    if depth < MAX_DEPTH {
        if let Ok(d) = o.cast_exact::<PyDict>() {
            if d.is_empty() {
                out.push_str("{}");
                return Ok(());
            }
            let mut first = true;
            for (k, v) in d.iter() {
                out.push_str(if first { "{" } else { "," });
                first = false;
                newline(out, depth + 1);
                match k.cast_exact::<PyString>() {
                    Ok(s) => write_str(s, slow, out)?,
                    Err(_) => write_str(slow.key.call1((k,))?.cast::<PyString>()?, slow, out)?,
                }
                out.push_str(": ");
                write(&v, depth + 1, slow, out)?;
                spill(out, slow, SPILL)?;
            }
            newline(out, depth);
            out.push('}');
            return Ok(());
        }
        if let Ok(l) = o.cast_exact::<PyList>() {
            return write_items(l.iter(), depth, slow, out);
        }
        if let Ok(t) = o.cast_exact::<PyTuple>() {
            return write_items(t.iter(), depth, slow, out);
        }
    }
    if o.is_none() {
        out.push_str("null");
    } else if let Ok(b) = o.cast_exact::<PyBool>() {
        out.push_str(if b.is_true() { "true" } else { "false" });
    } else if let Ok(i) = o.cast_exact::<PyInt>() {
        match i.extract::<i64>() {
            Ok(n) => {
                let _ = write!(out, "{n}");
            }
            Err(_) => out.push_str(i.repr()?.to_str()?),
        }
    } else if let Ok(f) = o.cast_exact::<PyFloat>() {
        let x = f.value();
        if x.is_nan() {
            out.push_str("NaN");
        } else if x.is_infinite() {
            out.push_str(if x > 0.0 { "Infinity" } else { "-Infinity" });
        } else {
            // Python's shortest round-trip repr, which Rust's formatting does not spell
            // the same way (`1e+16`, `1e-05`)
            out.push_str(f.repr()?.to_str()?);
        }
    } else if let Some(text) = verbatim_text(o, slow)? {
        // `json_text.indented`'s text: every newline in JSON text is one the encoder wrote
        let mut lines = text.to_str()?.split('\n');
        out.push_str(lines.next().unwrap_or(""));
        for line in lines {
            newline(out, depth);
            out.push_str(line);
            spill(out, slow, SPILL)?;
        }
    } else {
        let mut nl = String::with_capacity(1 + 2 * depth);
        newline(&mut nl, depth);
        let text = slow.fallback.call1((o, nl))?;
        out.push_str(text.cast::<PyString>()?.to_str()?);
    }
    Ok(())
}

/// The text of `o` if it is exactly the `Verbatim` type the caller named.
fn verbatim_text<'py>(
    o: &Bound<'py, PyAny>,
    slow: &Slow<'_, 'py>,
) -> PyResult<Option<Bound<'py, PyString>>> {
    match slow.verbatim {
        Some(t) if o.get_type().is(t) => Ok(Some(
            o.getattr(pyo3::intern!(o.py(), "text"))?
                .cast_into::<PyString>()?,
        )),
        _ => Ok(None),
    }
}

/// A list's or tuple's items as a JSON array.
fn write_items<'py>(
    items: impl Iterator<Item = Bound<'py, PyAny>>,
    depth: usize,
    slow: &Slow<'_, '_>,
    out: &mut String,
) -> PyResult<()> {
    let mut first = true;
    for v in items {
        out.push_str(if first { "[" } else { "," });
        first = false;
        newline(out, depth + 1);
        write(&v, depth + 1, slow, out)?;
        spill(out, slow, SPILL)?;
    }
    if first {
        out.push_str("[]");
    } else {
        newline(out, depth);
        out.push(']');
    }
    Ok(())
}

/// `json.dumps(obj, indent=2)`'s text. `fallback(value, newline_and_indent)`,
/// `key(key)` and `escape(str)` write what the fast path leaves to Python (see the module
/// documentation); their errors (a `TypeError` for what JSON cannot hold) propagate.
/// `verbatim` (`json_text.Verbatim`) is the type of JSON text written already, which
/// `fallback` would indent (the text is not checked: the core wrote it).
///
/// With `write`, the text is handed to it as UTF-8 bytes, a megabyte or so at a time (the
/// last piece may be shorter, and none is empty), and None returned: for a report written
/// to a binary stream, never whole in memory, never decoded or encoded. An error raised by
/// `write` propagates; what was written before it stays written.
#[pyfunction]
#[pyo3(signature = (obj, fallback, key, escape, verbatim=None, write=None))]
pub fn dumps_indent2(
    obj: &Bound<'_, PyAny>,
    fallback: &Bound<'_, PyAny>,
    key: &Bound<'_, PyAny>,
    escape: &Bound<'_, PyAny>,
    verbatim: Option<&Bound<'_, PyAny>>,
    write: Option<&Bound<'_, PyAny>>,
) -> PyResult<Option<String>> {
    let slow = Slow {
        fallback,
        key,
        escape,
        verbatim,
        sink: write,
    };
    let mut out = String::new();
    self::write(obj, 0, &slow, &mut out)?;
    if slow.sink.is_none() {
        return Ok(Some(out));
    }
    spill(&mut out, &slow, 1)?;
    Ok(None)
}

/// The items of a report's `results` list, `{"key": key, "verdict": names[code]}` per
/// instance, as `json.dumps(indent=2)` writes them at depth 0, joined by `",\n"` (one
/// `json_text.Verbatim` for a block of results the core decided: hundreds of thousands of
/// instances in a run, no dict each).
#[pyfunction]
pub fn verdict_items_json(
    keys: &Bound<'_, PyAny>,
    codes: &[u8],
    names: Vec<String>,
) -> PyResult<String> {
    let mut out = String::with_capacity(codes.len() * 64);
    let mut n = 0;
    for (i, key) in keys.try_iter()?.enumerate() {
        let code = *codes.get(i).ok_or_else(|| {
            pyo3::exceptions::PyValueError::new_err("more keys than verdict codes")
        })?;
        let name = names.get(usize::from(code)).ok_or_else(|| {
            pyo3::exceptions::PyValueError::new_err(format!("no verdict name for code {code}"))
        })?;
        out.push_str(if i == 0 {
            "{\n  \"key\": "
        } else {
            ",\n{\n  \"key\": "
        });
        let key = key?;
        match key.cast_exact::<PyString>().map(|s| s.to_str()) {
            Ok(Ok(text)) => crate::json::escape_ascii(text, &mut out),
            _ => {
                return Err(pyo3::exceptions::PyTypeError::new_err(
                    "a result key is not a str Rust can read",
                ))
            }
        }
        out.push_str(",\n  \"verdict\": ");
        crate::json::escape_ascii(name, &mut out);
        out.push_str("\n}");
        n = i + 1;
    }
    if n != codes.len() {
        return Err(pyo3::exceptions::PyValueError::new_err(
            "fewer keys than verdict codes",
        ));
    }
    Ok(out)
}
