//! What the core can run, as the names the Python engine registry understands.
//!
//! The registry (`tracelogic.engine.registry`) routes a property to the native engine
//! only if every capability it needs is listed here; otherwise the property runs in the Python
//! reference engine, and `monitor --verbose` says which capability was missing. Adding a
//! property kind to the core ends with adding its name here, in the same commit as the
//! differential tests that show both engines agree on it.

/// The version of the Python <-> core boundary (the plan format and the result layout).
/// The Python side refuses a core whose version it does not know, rather than misreading it.
pub const ABI_VERSION: u32 = 11; // 11: violations' text as UTF-8 bytes (as_bytes), dumps_indent2 hands its text to a `write`; 10: aggregate windows cut and valued in the core (sample_windows, sample_rows); 9: dumps_indent2 writes json_text.Verbatim, verdict_items_json; 8: NativeRun writes its violations' text; 7: close() gives aggregate samples as rows; 6: close() names the opener of a broken bounded obligation; 5: packed results, feed_json, feed_spans

/// The capabilities the core covers, sorted.
///
/// Steps 3 and 4 of the native core (docs/native.md): temporal properties per trace and
/// across traces (`per attr[...]`, `per service`, `global`), untimed or with time bounds,
/// with `prev`/`last` registers; aggregate properties' samples (Python computes the
/// aggregates). The plan (`engine/plan.py`) narrows this further: ones whose atoms (and
/// scope key, and registers) the atom program holds and, if timed, without past operators;
/// the others fall back with the plan's reason.
pub fn capabilities() -> &'static [&'static str] {
    &[
        "kind:aggregate",
        "kind:formula",
        "registers",
        "scope:cross-trace",
        "scope:trace",
        "timed",
    ]
}

#[cfg(test)]
mod tests {
    use super::capabilities;

    #[test]
    fn capabilities_are_sorted_and_unique() {
        let caps = capabilities();
        assert!(caps.windows(2).all(|w| w[0] < w[1]), "{caps:?}");
    }
}
