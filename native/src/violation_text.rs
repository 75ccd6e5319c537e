//! The text report's block for one violation the core decided (`engine/report.py`'s
//! `MonitorReport.to_text`), written from its evidence without a Python object per event.
//!
//! A run of bench_monitor's workload violates about one trace in five: at 800k spans the
//! Python engine built 155k `Violation`s (their witness spans read back from the store, a
//! message, a timeline) only to print them, more CPU than the core spent deciding them. Here
//! the same text is written from the deciding, raising and opening events the core kept.
//!
//! The rules are `Monitor.witness_violation` (which events are the witness, the message,
//! the trigger) and `report.timeline` (the rows), written a second time on purpose: the
//! Python writer stays the oracle (tests/native compare both engines' text reports, and the
//! text of a report before and after its violations are built). What this module cannot
//! write exactly (a time difference past 2^53 ns, where Python's division of integers
//! rounds once and a float's twice) it declines, and Python writes that violation.

use crate::order::Event;
use std::fmt::Write;

/// What a violation's text reads of a span (the store's rows; a table in tests).
pub trait SpanText {
    fn name(&self, row: u32) -> &str;
    fn service(&self, row: u32) -> &str;
    fn status(&self, row: u32) -> &str;
    fn span_id_hex(&self, row: u32) -> String;
    fn trace_id_hex(&self, row: u32) -> String;
    /// `span_id_hex` appended to `out`
    fn write_span_id(&self, row: u32, out: &mut String) {
        out.push_str(&self.span_id_hex(row));
    }
    /// `trace_id_hex` appended to `out`
    fn write_trace_id(&self, row: u32, out: &mut String) {
        out.push_str(&self.trace_id_hex(row));
    }
}

impl SpanText for crate::store::SpanStore {
    fn name(&self, row: u32) -> &str {
        crate::store::SpanStore::name(self, row)
    }
    fn service(&self, row: u32) -> &str {
        crate::store::SpanStore::service(self, row)
    }
    fn status(&self, row: u32) -> &str {
        crate::store::SpanStore::status(self, row)
    }
    fn span_id_hex(&self, row: u32) -> String {
        crate::store::SpanStore::span_id_hex(self, row)
    }
    fn trace_id_hex(&self, row: u32) -> String {
        crate::store::SpanStore::trace_id_hex(self, row)
    }
    fn write_span_id(&self, row: u32, out: &mut String) {
        crate::store::hex_into(self.span_id(row), out);
    }
    fn write_trace_id(&self, row: u32, out: &mut String) {
        crate::store::hex_into(self.trace_id(row), out);
    }
}

/// The scope's words for an obligation open at the end (`_default_message`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Trace,
    Key,
    Global,
}

impl Scope {
    /// `PropertyT.scope` as `_default_message` reads it: anything else reads as a trace.
    pub fn parse(scope: &str) -> Scope {
        match scope {
            "key" => Scope::Key,
            "global" => Scope::Global,
            _ => Scope::Trace,
        }
    }
}

/// What the witness rules and the message ask of a property.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    pub scope: Scope,
    /// `prop.kind == "follows"`: the bad value first
    pub follows: bool,
    /// the property has time bounds (`CompiledProperty.bounded`)
    pub bounded: bool,
}

/// What is the same for every violation of a property in the text report: the text around
/// its key (colour included), its description and runbook lines as `to_text` writes them.
pub struct Style<'a> {
    pub head: &'a str,
    pub tail: &'a str,
    pub description: Option<&'a str>,
    pub runbook: Option<&'a str>,
    pub rules: Rules,
}

/// What is the same for every violation of a property in the JSON report
/// (`Violation.to_json`): its name, severity, and owner, runbook and description if any.
pub struct JsonStyle<'a> {
    pub name: &'a str,
    pub severity: &'a str,
    pub owner: Option<&'a str>,
    pub runbook: Option<&'a str>,
    pub description: Option<&'a str>,
    pub rules: Rules,
}

/// An instance's evidence, as the core kept it (`Monitor.witness_violation`'s arguments).
#[derive(Debug, Clone, Copy, Default)]
pub struct Evidence {
    pub decided: Option<Event>,
    pub raised: Option<Event>,
    pub opened: Option<Event>,
    pub last: Option<Event>,
}

/// The largest time difference a float holds exactly (Python divides the integer).
const EXACT: u64 = 1 << 53;

/// Append the violation's lines (joined by newlines, none after the last) to `out`; false,
/// with `out` unchanged, for what Python must write (see the module's note).
pub fn write(
    out: &mut String,
    st: &Style,
    key: &str,
    ev: &Evidence,
    spans: &impl SpanText,
) -> bool {
    whole(out, |out| write_lines(out, st, key, ev, spans))
}

/// `write(out)`, or when it declines (None), `out` as it was.
fn whole(out: &mut String, write: impl FnOnce(&mut String) -> Option<()>) -> bool {
    let start = out.len();
    let done = write(out).is_some();
    if !done {
        out.truncate(start);
    }
    done
}

fn write_lines(
    out: &mut String,
    st: &Style,
    key: &str,
    ev: &Evidence,
    spans: &impl SpanText,
) -> Option<()> {
    let (witness, opened) = witness(st.rules, ev);
    out.push_str(st.head);
    out.push_str(key);
    out.push_str(st.tail);
    if let Some(d) = st.description {
        out.push('\n');
        out.push_str(d);
    }
    out.push_str("\n  ");
    message(out, st.rules, &witness, ev, opened, spans)?;
    if let Some(t) = trigger(st.rules, ev, opened) {
        let _ = write!(
            out,
            "\n  bounded obligation opened by `{}` {} (span {}",
            spans.name(t.row),
            kind(t),
            spans.span_id_hex(t.row)
        );
        let service = spans.service(t.row);
        if !service.is_empty() {
            let _ = write!(out, ", service {service}");
        }
        out.push(')');
    }
    timeline(out, &witness, spans)?;
    if let Some(r) = st.runbook {
        out.push('\n');
        out.push_str(r);
    }
    Some(())
}

/// The witness events and the opener of the bounded obligation, by
/// `Monitor.witness_violation`'s rules (events are equal when they are the same event:
/// one row, one side, one time, as the Python `Span`s of two rows are never equal).
fn witness(rules: Rules, ev: &Evidence) -> (Vec<Event>, Option<Event>) {
    let (mut w, opened) = match ev.decided {
        Some(d) => {
            let mut w = match ev.raised {
                None => vec![d],
                Some(r) => vec![r, d],
            };
            if rules.follows {
                w.reverse();
            }
            (w, ev.opened)
        }
        None => (ev.raised.into_iter().chain(ev.last).collect(), None),
    };
    if let Some(o) = opened {
        if !w.contains(&o) {
            w.insert(0, o);
            w.sort_by_key(|e| e.time_ns); // stable, as `sorted`
        }
    }
    if w.len() > 1 {
        let mut seen = Vec::with_capacity(w.len());
        w.retain(|e| {
            let fresh = !seen.contains(e);
            seen.push(*e);
            fresh
        });
    }
    (w, opened)
}

/// The event that opened the bounded obligation the violation broke, or for an
/// obligation open at the end of a bounded property, its raiser.
fn trigger(rules: Rules, ev: &Evidence, opened: Option<Event>) -> Option<Event> {
    match opened {
        None if rules.bounded && ev.decided.is_none() => ev.raised,
        _ => opened,
    }
}

fn kind(e: Event) -> &'static str {
    if e.is_start {
        "start"
    } else {
        "end"
    }
}

/// `_what`: how a message names an event.
fn what(out: &mut String, e: Event, spans: &impl SpanText) {
    out.push('`');
    out.push_str(spans.name(e.row));
    out.push_str("` ");
    out.push_str(kind(e));
}

/// `_default_message` (a property with a `message` clause is never written here).
fn message(
    out: &mut String,
    rules: Rules,
    witness: &[Event],
    ev: &Evidence,
    opened: Option<Event>,
    spans: &impl SpanText,
) -> Option<()> {
    let (Some(&first), Some(&last)) = (witness.first(), witness.last()) else {
        out.push_str("violated");
        return Some(());
    };
    let open_at_end = ev.decided.is_none();
    if let (Some(o), false) = (opened, open_at_end) {
        out.push_str("violated at ");
        what(out, last, spans);
        out.push_str(", ");
        approx_duration(out, i128::from(last.time_ns) - i128::from(o.time_ns))?;
        out.push_str(" after its trigger ");
        what(out, o, spans);
        if let Some(r) = ev.raised {
            if r != o && r != last {
                out.push_str("; an obligation was raised at ");
                what(out, r, spans);
            }
        }
    } else if open_at_end {
        if witness.len() == 1 {
            out.push_str(match rules.scope {
                Scope::Trace => "the trace ended",
                Scope::Key => "the instance ended at the end of input",
                Scope::Global => "the input ended",
            });
            out.push_str(" with an obligation open (");
            what(out, first, spans);
            out.push(')');
        } else {
            out.push_str("obligation raised at ");
            what(out, first, spans);
            out.push_str(" was still open ");
            out.push_str(match rules.scope {
                Scope::Trace => "when the trace ended at ",
                Scope::Key => "when the instance ended at the end of input (its last event: ",
                Scope::Global => "at the end of input (the last event: ",
            });
            what(out, last, spans);
            if rules.scope != Scope::Trace {
                out.push(')');
            }
        }
    } else {
        out.push_str("violated at ");
        what(out, last, spans);
        if witness.len() > 1 {
            out.push_str("; the obligation was raised at ");
            what(out, first, spans);
        }
    }
    Some(())
}

/// `lexicon.approx_duration`: 6 significant digits in the largest unit it reaches.
fn approx_duration(out: &mut String, ns: i128) -> Option<()> {
    if ns.unsigned_abs() >= u128::from(EXACT) {
        return None;
    }
    let v = ns as f64; // exact: |ns| < 2^53
    for (unit, size) in [("s", 1e9), ("ms", 1e6), ("us", 1e3)] {
        if v.abs() >= size {
            general6(out, v / size);
            out.push_str(unit);
            return Some(());
        }
    }
    general6(out, v);
    out.push_str("ns");
    Some(())
}

/// Python's `format(v, ".6g")` of a finite float.
fn general6(out: &mut String, v: f64) {
    const P: i32 = 6;
    if v == 0.0 {
        out.push_str(if v.is_sign_negative() { "-0" } else { "0" });
        return;
    }
    // the exponent after rounding to P significant digits, as %g decides by it
    let sci = format!("{:.*e}", (P - 1) as usize, v);
    let (mantissa, exp) = sci.split_once('e').expect("LowerExp writes an exponent");
    let exp: i32 = exp.parse().expect("LowerExp writes an integer exponent");
    if (-4..P).contains(&exp) {
        let fixed = format!("{:.*}", (P - 1 - exp) as usize, v);
        out.push_str(strip_zeros(&fixed));
    } else {
        let _ = write!(
            out,
            "{}e{}{:02}",
            strip_zeros(mantissa),
            if exp < 0 { '-' } else { '+' },
            exp.abs()
        );
    }
}

/// `1.500` → `1.5`, `2.000` → `2`, `120` stays (no point, no fraction).
fn strip_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// `report.timeline` without its header, each row after two spaces: the offset in ms from
/// the first event, service, span name, start/end, status.
fn timeline(out: &mut String, events: &[Event], spans: &impl SpanText) -> Option<()> {
    let mut sorted;
    let events = if events.len() > 1 {
        sorted = events.to_vec();
        sorted.sort_by_key(|e| e.time_ns);
        &sorted[..]
    } else {
        events
    };
    let Some(t0) = events.first().map(|e| e.time_ns) else {
        return Some(());
    };
    let mut offset = String::new();
    for e in events {
        let d = e.time_ns - t0;
        if d >= EXACT {
            return None;
        }
        offset.clear();
        millis(&mut offset, d);
        out.push_str("\n  ");
        pad(out, "", 10usize.saturating_sub(offset.len())); // right-aligned: ASCII digits
        out.push_str(&offset);
        out.push_str(" ms  ");
        let service = spans.service(e.row);
        pad(out, if service.is_empty() { "-" } else { service }, 16);
        out.push(' ');
        pad(out, spans.name(e.row), 32);
        out.push(' ');
        pad(out, kind(*e), 5);
        out.push(' ');
        out.push_str(spans.status(e.row));
    }
    Some(())
}

/// `f"{d / 1e6:.3f}"`: `d` nanoseconds (below [`EXACT`]) in milliseconds to three
/// places. A whole number of microseconds (what SDKs with a millisecond or microsecond
/// clock give) is that exact decimal, written from the integer: the float is within far
/// less than half a microsecond of it, so rounding gives it too. The rest formats the float.
fn millis(out: &mut String, d: u64) {
    if d % 1000 != 0 {
        let _ = write!(out, "{:.3}", d as f64 / 1e6);
        return;
    }
    let us = d / 1000;
    let _ = write!(out, "{}.", us / 1000);
    let frac = us % 1000;
    out.push(char::from(b'0' + (frac / 100) as u8));
    out.push(char::from(b'0' + (frac / 10 % 10) as u8));
    out.push(char::from(b'0' + (frac % 10) as u8));
}

/// `s` left-aligned in `width` characters (code points, as Python's `:<width`), what
/// `{:<width}` writes without the formatter's character at a time.
fn pad(out: &mut String, s: &str, width: usize) {
    const SPACES: &str = "                                ";
    out.push_str(s);
    let mut n = width.saturating_sub(if s.is_ascii() {
        s.len()
    } else {
        s.chars().count()
    });
    while n > 0 {
        let k = n.min(SPACES.len());
        out.push_str(&SPACES[..k]);
        n -= k;
    }
}

/// Append the violation's JSON object as `json.dumps(v.to_json(), indent=2)` writes it (at
/// depth 0: the caller indents it) to `out`; false, with `out` unchanged, for what Python
/// must write. `trace_ids` are the instance's, as `Violation.trace_ids` lists them.
pub fn write_json(
    out: &mut String,
    st: &JsonStyle,
    key: &str,
    trace_ids: &[String],
    ev: &Evidence,
    spans: &impl SpanText,
) -> bool {
    whole(out, |out| json_lines(out, st, key, trace_ids, ev, spans))
}

fn json_lines(
    out: &mut String,
    st: &JsonStyle,
    key: &str,
    trace_ids: &[String],
    ev: &Evidence,
    spans: &impl SpanText,
) -> Option<()> {
    use crate::json::escape_ascii;
    let (witness, opened) = witness(st.rules, ev);
    let mut text = String::new();
    message(&mut text, st.rules, &witness, ev, opened, spans)?;
    let field = |out: &mut String, name: &str| {
        out.push_str(",\n  \"");
        out.push_str(name);
        out.push_str("\": ");
    };
    out.push_str("{\n  \"property\": ");
    escape_ascii(st.name, out);
    field(out, "key");
    escape_ascii(key, out);
    field(out, "trace_ids");
    strings(out, trace_ids.iter().map(String::as_str));
    field(out, "span_ids");
    let mut rows: Vec<u32> = Vec::with_capacity(witness.len());
    for e in &witness {
        if !rows.contains(&e.row) {
            rows.push(e.row);
        }
    }
    // hex ids, which JSON never escapes, written in place
    for (i, &r) in rows.iter().enumerate() {
        out.push_str(if i == 0 { "[\n    \"" } else { "\",\n    \"" });
        spans.write_span_id(r, out);
    }
    out.push_str(if rows.is_empty() { "[]" } else { "\"\n  ]" });
    field(out, "message");
    escape_ascii(&text, out);
    field(out, "severity");
    escape_ascii(st.severity, out);
    for (name, value) in [
        ("owner", st.owner),
        ("runbook", st.runbook),
        ("description", st.description),
    ] {
        if let Some(v) = value {
            field(out, name);
            escape_ascii(v, out);
        }
    }
    if !witness.is_empty() {
        field(out, "events");
        out.push('[');
        for (i, e) in witness.iter().enumerate() {
            out.push_str(if i == 0 { "\n    " } else { ",\n    " });
            event_json(out, *e, ("\n    ", "\n      "), spans);
        }
        out.push_str("\n  ]");
    }
    if let Some(t) = trigger(st.rules, ev, opened) {
        field(out, "trigger");
        event_json(out, t, ("\n  ", "\n    "), spans);
    }
    out.push_str("\n}");
    Some(())
}

/// A list of strings at depth 1: `[]`, or one a line.
fn strings<'a>(out: &mut String, items: impl Iterator<Item = &'a str>) {
    let mut first = true;
    for s in items {
        out.push_str(if first { "[\n    " } else { ",\n    " });
        crate::json::escape_ascii(s, out);
        first = false;
    }
    out.push_str(if first { "[]" } else { "\n  ]" });
}

/// `report._event_json(e)`, its braces at the indentation `nl.0` ends with, its fields at
/// `nl.1`'s (two more spaces).
fn event_json(out: &mut String, e: Event, nl: (&str, &str), spans: &impl SpanText) {
    use crate::json::escape_ascii;
    let (outer, inner) = nl;
    let field = |out: &mut String, first: bool, name: &str| {
        if !first {
            out.push(',');
        }
        out.push_str(inner);
        out.push('"');
        out.push_str(name);
        out.push_str("\": ");
    };
    out.push('{');
    // hex ids, which JSON never escapes, written in place
    field(out, true, "trace_id");
    out.push('"');
    spans.write_trace_id(e.row, out);
    out.push('"');
    field(out, false, "span_id");
    out.push('"');
    spans.write_span_id(e.row, out);
    out.push('"');
    field(out, false, "event");
    out.push('"');
    out.push_str(kind(e));
    out.push('"');
    field(out, false, "time_unix_nano");
    let _ = write!(out, "{}", e.time_ns);
    field(out, false, "name");
    escape_ascii(spans.name(e.row), out);
    field(out, false, "service");
    escape_ascii(spans.service(e.row), out);
    out.push_str(outer);
    out.push('}');
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Milliseconds to three places as the float formatting writes them: whole
    /// microseconds (written from the integer) and the rest, generated (seeded) up to
    /// [`EXACT`], with the edges.
    #[test]
    fn millis_writes_what_the_float_formatting_writes() {
        let mut rng = crate::test_rng::Rng(0x3_1415);
        let mut cases = vec![
            0,
            1,
            999,
            1000,
            1500,
            999_999,
            1_000_000,
            EXACT - 1,
            EXACT - 1000,
        ];
        for _ in 0..20_000 {
            let d = rng.below(EXACT) >> rng.below(53);
            cases.extend([d, d - d % 1000, d | 1]);
        }
        for d in cases.into_iter().filter(|&d| d < EXACT) {
            let mut got = String::new();
            millis(&mut got, d);
            assert_eq!(got, format!("{:.3}", d as f64 / 1e6), "{d}");
        }
    }

    fn g(v: f64) -> String {
        let mut s = String::new();
        general6(&mut s, v);
        s
    }

    fn dur(ns: i128) -> String {
        let mut s = String::new();
        approx_duration(&mut s, ns).unwrap();
        s
    }

    #[test]
    fn general_format_is_pythons() {
        // each expected value is Python's format(v, ".6g")
        let cases = [
            (1.369261, "1.36926"),
            (1.0, "1"),
            (2.5, "2.5"),
            (999999.5, "1e+06"),
            (123456.0, "123456"),
            (1234567.0, "1.23457e+06"),
            (0.0001, "0.0001"),
            (0.00001234, "1.234e-05"),
            (-0.5, "-0.5"),
            (-1500000.0, "-1.5e+06"),
            (100.0, "100"),
            (0.1, "0.1"),
            (9.9999995, "10"),
            (1e22, "1e+22"),
            (1.5e-300, "1.5e-300"),
        ];
        for (v, want) in cases {
            assert_eq!(g(v), want, "{v}");
        }
    }

    #[test]
    fn durations_read_as_lexicon_approx_duration() {
        // lexicon.approx_duration's outputs
        assert_eq!(dur(1_369_261), "1.36926ms");
        assert_eq!(dur(2_000_000_000), "2s");
        assert_eq!(dur(999), "999ns");
        assert_eq!(dur(0), "0ns");
        assert_eq!(dur(-1500), "-1.5us");
        assert_eq!(dur(86_400_000_000_000), "86400s");
        assert_eq!(dur(1_000_000_000_000_000), "1e+06s");
        let mut s = String::new();
        assert!(approx_duration(&mut s, 1 << 53).is_none());
    }

    #[test]
    fn padding_counts_characters_as_the_formatter_does() {
        for (s, w) in [("", 10), ("abc", 2), ("é✗x", 5), ("a", 40), ("ab", 32)] {
            let mut out = String::new();
            pad(&mut out, s, w);
            assert_eq!(out, format!("{s:<w$}"));
        }
    }

    struct Table(Vec<(&'static str, &'static str, &'static str)>);

    impl SpanText for Table {
        fn name(&self, row: u32) -> &str {
            self.0[row as usize].0
        }
        fn service(&self, row: u32) -> &str {
            self.0[row as usize].1
        }
        fn status(&self, row: u32) -> &str {
            self.0[row as usize].2
        }
        fn span_id_hex(&self, row: u32) -> String {
            format!("{row:016x}")
        }
        fn trace_id_hex(&self, _row: u32) -> String {
            "ab".repeat(16)
        }
    }

    fn at(row: u32, is_start: bool, time_ns: u64) -> Event {
        Event {
            row,
            is_start,
            time_ns,
        }
    }

    fn style(bounded: bool) -> Style<'static> {
        Style {
            head: "✗ p [error] key ",
            tail: "  (s.spec:1)",
            description: None,
            runbook: Some("  runbook: r"),
            rules: Rules {
                scope: Scope::Trace,
                follows: false,
                bounded,
            },
        }
    }

    #[test]
    fn a_bounded_violation_reads_as_the_python_writer_writes_it() {
        let spans = Table(vec![("charge", "pay", "ok"), ("authorize", "", "error")]);
        let ev = Evidence {
            decided: Some(at(0, true, 3_500_000)),
            raised: None,
            opened: Some(at(1, false, 1_000_000)),
            last: None,
        };
        let mut out = String::from("x");
        assert!(write(&mut out, &style(true), "k1", &ev, &spans));
        // what to_text printed for this violation (Python 3.11)
        let want = [
            "x✗ p [error] key k1  (s.spec:1)",
            "  violated at `charge` start, 2.5ms after its trigger `authorize` end",
            "  bounded obligation opened by `authorize` end (span 0000000000000001)",
            "       0.000 ms  -                authorize                        end   error",
            "       2.500 ms  pay              charge                           start ok",
            "  runbook: r",
        ]
        .join("\n");
        assert_eq!(out, want);
    }

    #[test]
    fn an_obligation_open_at_the_end_names_its_raiser_and_the_last_event() {
        let spans = Table(vec![("a", "s", "unset"), ("b", "s", "unset")]);
        let ev = Evidence {
            decided: None,
            raised: Some(at(0, true, 5)),
            opened: None,
            last: Some(at(1, false, 2_000_005)),
        };
        for (scope, words) in [
            (Scope::Trace, "when the trace ended at `b` end"),
            (
                Scope::Key,
                "when the instance ended at the end of input (its last event: `b` end)",
            ),
            (
                Scope::Global,
                "at the end of input (the last event: `b` end)",
            ),
        ] {
            let mut st = style(false);
            st.rules.scope = scope;
            let mut out = String::new();
            assert!(write(&mut out, &st, "k", &ev, &spans));
            let line = out.lines().nth(1).unwrap();
            assert_eq!(
                line,
                format!("  obligation raised at `a` start was still open {words}")
            );
            assert!(!out.contains("bounded obligation"));
        }
        // bounded: the raiser opened the obligation left open
        let mut out = String::new();
        assert!(write(&mut out, &style(true), "k", &ev, &spans));
        assert!(out.contains(
            "\n  bounded obligation opened by `a` start (span 0000000000000000, service s)"
        ));
    }

    #[test]
    fn a_difference_a_float_cannot_hold_is_left_to_python() {
        let spans = Table(vec![("a", "s", "ok"), ("b", "s", "ok")]);
        let ev = Evidence {
            decided: Some(at(1, true, 1 << 60)),
            raised: Some(at(0, true, 0)),
            opened: None,
            last: None,
        };
        let mut out = String::from("kept");
        assert!(!write(&mut out, &style(false), "k", &ev, &spans));
        assert_eq!(out, "kept");
    }
}
