//! The Python module `tracelogic._native`: a thin layer over the pure-Rust core.
//!
//! Only conversions live here; every decision is made in the core modules, which are
//! tested without an interpreter.

#[pyo3::pymodule]
mod _native {
    use pyo3::prelude::*;

    /// The version of the plan/result boundary; see `capabilities.rs`.
    #[pymodule_export]
    const ABI_VERSION: u32 = crate::ABI_VERSION;

    /// The capabilities the core covers (names the engine registry understands).
    #[pyfunction]
    fn capabilities() -> Vec<&'static str> {
        crate::capabilities().to_vec()
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
}
