//! What fuzzing checks of the decoders and the JSON Lines splitter, shared by the cargo-fuzz
//! targets (`native/fuzz/`, coverage-guided, the long test job) and the seeded mutation
//! run of `cargo test` (a few seconds in every test run; see docs/native.md, "Fuzzing").
//!
//! Each `check_*` takes arbitrary bytes and panics when an invariant breaks; the decoders
//! themselves must never panic, whatever the bytes:
//! - every decoded span has non-zero ids (the id columns have their size by type), every
//!   per-span column has one row per span, every sparse row and every resource and scope
//!   index points at something, and every decoded string keeps the text rule's size limit;
//! - a batch refused whole holds no span;
//! - a request re-encoded from its decoded spans (protobuf) or re-serialized (JSON) decodes
//!   to the same spans again;
//! - the splitter's documents are in order, inside the input, apart from each other and
//!   from its malformed lines, and each parses again from its bytes to the same value.

use std::fmt::Write as _;

use crate::check::MAX_STRING_BYTES;
use crate::json::{parse, JValue};
use crate::jsonl::Splitter;
use crate::otlp::{decode_checked, decode_traces, AnyValue, Batch};
use crate::otlp_json::{decode, parse_doc, Outcome};

/// Panics unless the columns of `b` hang together (see the module documentation).
pub fn check_batch(b: &Batch<'_>) {
    let n = b.len();
    assert!(b.received >= n, "more spans decoded than received");
    if b.error.is_some() {
        assert_eq!(n, 0, "a request refused whole holds no span");
    }
    for len in [
        b.trace_id.len(),
        b.span_id.len(),
        b.parent_id.len(),
        b.kind.len(),
        b.status_code.len(),
        b.status_message.len(),
        b.start_ns.len(),
        b.end_ns.len(),
        b.resource.len(),
        b.scope.len(),
    ] {
        assert_eq!(len, n, "a per-span column of another length");
    }
    for i in 0..n {
        assert_ne!(
            b.trace_id[i], [0; 16],
            "span {i}: an all-zero trace id was kept"
        );
        assert_ne!(
            b.span_id[i], [0; 8],
            "span {i}: an all-zero span id was kept"
        );
        assert!((b.resource[i] as usize) < b.resources.len());
        assert!((b.scope[i] as usize) < b.scopes.len());
        assert!(b.name[i].len() <= MAX_STRING_BYTES);
        assert!(b.status_message[i].len() <= MAX_STRING_BYTES);
    }
    for rows in [&b.attr_span, &b.event_span, &b.link_span] {
        assert!(
            rows.windows(2).all(|w| w[0] <= w[1]),
            "sparse rows out of order"
        );
        assert!(
            rows.iter().all(|&r| (r as usize) < n),
            "a sparse row past the spans"
        );
    }
    assert_eq!(b.attr_key.len(), b.attr_span.len());
    assert_eq!(b.attr_value.len(), b.attr_span.len());
    assert_eq!(b.event_name.len(), b.event_span.len());
    assert_eq!(b.link_trace_id.len(), b.link_span.len());
    assert_eq!(b.link_span_id.len(), b.link_span.len());
    for v in &b.attr_value {
        assert!(text_ok(v), "an attribute string over the limit");
    }
}

fn text_ok(v: &AnyValue<'_>) -> bool {
    match v {
        AnyValue::Str(s) => s.len() <= MAX_STRING_BYTES,
        AnyValue::Array(xs) => xs.iter().all(text_ok),
        AnyValue::KvList(xs) => xs
            .iter()
            .all(|(k, x)| k.len() <= MAX_STRING_BYTES && text_ok(x)),
        _ => true,
    }
}

/// Each span of `b` as text, with its resource, scope, attributes, events and links (the
/// indices resolved): what must survive re-encoding.
pub fn spans_text(b: &Batch<'_>) -> Vec<String> {
    let mut out: Vec<String> = (0..b.len())
        .map(|i| {
            let r = &b.resources[b.resource[i] as usize];
            format!(
                "{:?} {:?} {:?} {:?} {} {} {:?} {} {} res {:?} {:?} scope {:?} |",
                b.trace_id[i],
                b.span_id[i],
                b.parent_id[i],
                b.name[i],
                b.kind[i],
                b.status_code[i],
                b.status_message[i],
                b.start_ns[i],
                b.end_ns[i],
                r.service,
                r.attrs,
                b.scopes[b.scope[i] as usize],
            )
        })
        .collect();
    for (j, &i) in b.attr_span.iter().enumerate() {
        let _ = write!(
            out[i as usize],
            " {:?}={:?}",
            b.attr_key[j], b.attr_value[j]
        );
    }
    for (j, &i) in b.event_span.iter().enumerate() {
        let _ = write!(out[i as usize], " event {:?}", b.event_name[j]);
    }
    for (j, &i) in b.link_span.iter().enumerate() {
        let _ = write!(
            out[i as usize],
            " link {:?} {:?}",
            b.link_trace_id[j], b.link_span_id[j]
        );
    }
    out
}

/// Whether every value of `b` can be written back as it was read (not the too-deep marker
/// nor a wrongly spelled OTLP/JSON value, which stand for something else).
fn encodable(b: &Batch<'_>) -> bool {
    fn ok(v: &AnyValue<'_>) -> bool {
        match v {
            AnyValue::TooDeep | AnyValue::Invalid(..) => false,
            AnyValue::Array(xs) => xs.iter().all(ok),
            AnyValue::KvList(xs) => xs.iter().all(|(_, x)| ok(x)),
            _ => true,
        }
    }
    b.attr_value.iter().all(ok)
        && b.resources
            .iter()
            .all(|r| r.attrs.iter().map(|(_, v)| v).all(ok))
}

// ------------------------------------------------------------------ protobuf

/// A serialized `ExportTraceServiceRequest` holding the spans of `b`: one resource spans
/// (with its resource's attributes) and one scope spans per span. For the re-encoding
/// check and to make a protobuf corpus from JSON documents.
pub fn encode_pb(b: &Batch<'_>) -> Vec<u8> {
    let mut req = vec![];
    for i in 0..b.len() {
        let r = &b.resources[b.resource[i] as usize];
        let mut resource = vec![];
        for (k, v) in &r.attrs {
            msg(&mut resource, 1, &key_value(k, v));
        }
        let mut span = vec![];
        bytes(&mut span, 1, &b.trace_id[i]);
        bytes(&mut span, 2, &b.span_id[i]);
        if b.parent_id[i] != [0; 8] {
            bytes(&mut span, 4, &b.parent_id[i]);
        }
        bytes(&mut span, 5, b.name[i].as_bytes());
        tag(&mut span, 6, 0);
        varint(&mut span, b.kind[i] as i64 as u64);
        fixed64(&mut span, 7, b.start_ns[i]);
        fixed64(&mut span, 8, b.end_ns[i]);
        for (j, _) in b
            .attr_span
            .iter()
            .enumerate()
            .filter(|(_, &s)| s as usize == i)
        {
            msg(&mut span, 9, &key_value(b.attr_key[j], &b.attr_value[j]));
        }
        for (j, _) in b
            .event_span
            .iter()
            .enumerate()
            .filter(|(_, &s)| s as usize == i)
        {
            let mut ev = vec![];
            bytes(&mut ev, 2, b.event_name[j].as_bytes());
            msg(&mut span, 11, &ev);
        }
        for (j, _) in b
            .link_span
            .iter()
            .enumerate()
            .filter(|(_, &s)| s as usize == i)
        {
            let mut link = vec![];
            bytes(&mut link, 1, &b.link_trace_id[j]);
            bytes(&mut link, 2, &b.link_span_id[j]);
            msg(&mut span, 13, &link);
        }
        let mut status = vec![];
        bytes(&mut status, 2, b.status_message[i].as_bytes());
        tag(&mut status, 3, 0);
        varint(&mut status, b.status_code[i] as i64 as u64);
        msg(&mut span, 15, &status);
        let mut scope = vec![];
        bytes(&mut scope, 1, b.scopes[b.scope[i] as usize].as_bytes());
        let mut ss = vec![];
        msg(&mut ss, 1, &scope);
        msg(&mut ss, 2, &span);
        let mut rs = vec![];
        msg(&mut rs, 1, &resource);
        msg(&mut rs, 2, &ss);
        msg(&mut req, 1, &rs);
    }
    req
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn tag(out: &mut Vec<u8>, field: u32, wire: u8) {
    varint(out, u64::from(field) << 3 | u64::from(wire));
}

fn bytes(out: &mut Vec<u8>, field: u32, b: &[u8]) {
    tag(out, field, 2);
    varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn msg(out: &mut Vec<u8>, field: u32, m: &[u8]) {
    bytes(out, field, m);
}

fn fixed64(out: &mut Vec<u8>, field: u32, v: u64) {
    tag(out, field, 1);
    out.extend_from_slice(&v.to_le_bytes());
}

fn key_value(k: &str, v: &AnyValue<'_>) -> Vec<u8> {
    let mut kv = vec![];
    bytes(&mut kv, 1, k.as_bytes());
    msg(&mut kv, 2, &any_value(v));
    kv
}

fn any_value(v: &AnyValue<'_>) -> Vec<u8> {
    let mut out = vec![];
    match v {
        AnyValue::Empty | AnyValue::TooDeep | AnyValue::Invalid(..) => {}
        AnyValue::Str(s) => bytes(&mut out, 1, s.as_bytes()),
        AnyValue::Bool(b) => {
            tag(&mut out, 2, 0);
            varint(&mut out, u64::from(*b));
        }
        AnyValue::Int(i) => {
            tag(&mut out, 3, 0);
            varint(&mut out, *i as u64);
        }
        AnyValue::Double(f) => fixed64(&mut out, 4, f.to_bits()),
        AnyValue::Array(xs) => {
            let mut arr = vec![];
            for x in xs {
                msg(&mut arr, 1, &any_value(x));
            }
            msg(&mut out, 5, &arr);
        }
        AnyValue::KvList(xs) => {
            let mut list = vec![];
            for (k, x) in xs {
                msg(&mut list, 1, &key_value(k, x));
            }
            msg(&mut out, 6, &list);
        }
        AnyValue::Bytes(b) => bytes(&mut out, 7, b),
    }
    out
}

/// The protobuf decoder on arbitrary bytes: no panic, [`check_batch`], and a request it
/// accepts whole decodes, re-encoded, to the same spans.
pub fn check_decode_pb(data: &[u8]) {
    let b = decode_traces(data, None);
    check_batch(&b);
    let some = |k: &str| k.len() % 2 == 0; // a projection too
    let projected = decode_traces(data, Some(&some));
    check_batch(&projected);
    // the one-pass decoder gives exactly what the two steps (check, then decode) give
    assert_eq!(
        format!("{b:?}"),
        format!("{:?}", decode_checked(data, None)),
        "one pass and two steps differ"
    );
    assert_eq!(
        format!("{projected:?}"),
        format!("{:?}", decode_checked(data, Some(&some))),
        "one pass and two steps differ (projected)"
    );
    if b.error.is_none() && !b.upb_refused && encodable(&b) {
        let again = encode_pb(&b);
        let b2 = decode_traces(&again, None);
        assert!(
            b2.error.is_none() && !b2.upb_refused,
            "a re-encoded request is refused"
        );
        assert_eq!(
            spans_text(&b),
            spans_text(&b2),
            "re-encoding changed the spans"
        );
    }
}

// ------------------------------------------------------------------ OTLP/JSON

/// `v` as JSON text that the parser reads back to `v` (a lone surrogate as written).
pub fn write_json(v: &JValue, out: &mut String) {
    fn text(s: &str, out: &mut String) {
        out.push('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                c if (c as u32) < 0x20 => {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                }
                c => out.push(c),
            }
        }
        out.push('"');
    }
    match v {
        JValue::Null => out.push_str("null"),
        JValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        JValue::Int(i) => {
            let _ = write!(out, "{i}");
        }
        JValue::LongInt(n) => out.push_str(&"9".repeat(*n)),
        JValue::Float(f) if f.is_nan() => out.push_str("NaN"),
        JValue::Float(f) if f.is_infinite() => {
            out.push_str(if *f > 0.0 { "Infinity" } else { "-Infinity" })
        }
        JValue::Float(f) => {
            let _ = write!(out, "{f:?}"); // shortest round trip, with a point or exponent
        }
        JValue::Str(s) => match &s.raw {
            Some(raw) => {
                out.push('"');
                out.push_str(raw);
                out.push('"');
            }
            None => text(&s.s, out),
        },
        JValue::Array(xs) => {
            out.push('[');
            for (i, x) in xs.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(x, out);
            }
            out.push(']');
        }
        JValue::Object(kvs) => {
            out.push('{');
            for (i, (k, x)) in kvs.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                text(k, out);
                out.push(':');
                write_json(x, out);
            }
            out.push('}');
        }
    }
}

fn value_bytes(v: &JValue) -> Vec<u8> {
    let mut out = vec![];
    v.encode(&mut out);
    out
}

/// The OTLP/JSON parser and decoder on arbitrary bytes (one document): no panic,
/// [`check_batch`], and a document that parses, written back, parses to the same value
/// and decodes to the same spans.
pub fn check_decode_json(data: &[u8]) {
    let Ok((doc, text_check)) = parse_doc(data) else {
        return; // left to Python: nothing to decode here
    };
    let out = decode(&doc, None, false, text_check);
    if let Outcome::Decoded { batch, .. } = &out {
        check_batch(batch);
    }
    let mut again = String::new();
    write_json(&doc, &mut again);
    let (doc2, check2) = parse_doc(again.as_bytes()).expect("a written document parses");
    assert_eq!(
        value_bytes(&doc),
        value_bytes(&doc2),
        "writing changed the document"
    );
    if let (Outcome::Decoded { batch: b1, .. }, Outcome::Decoded { batch: b2, .. }) =
        (&out, &decode(&doc2, None, false, check2))
    {
        assert_eq!(spans_text(b1), spans_text(b2), "writing changed the spans");
    }
}

// ------------------------------------------------------------------ JSON Lines

/// The splitter on arbitrary bytes: no panic, and its documents and malformed lines
/// hang together (see the module documentation).
pub fn check_split(data: &[u8]) {
    let mut split = Splitter::new(data);
    let mut last: Option<(usize, usize)> = None;
    let mut lines = vec![];
    for d in split.by_ref() {
        assert!(
            d.start <= d.end && d.end <= data.len(),
            "a document outside the input"
        );
        if let Some((line, end)) = last {
            assert!(
                d.line > line && d.start > end,
                "documents out of order or overlapping"
            );
        }
        last = Some((d.line, d.end));
        lines.push(d.line);
        let (v, _) = parse(&data[d.start..d.end]).expect("a document parses from its bytes");
        assert_eq!(value_bytes(&v), value_bytes(&d.value));
    }
    if split.whole_error {
        assert!(lines.is_empty() && split.bad.is_empty());
    }
    assert!(split.bad.windows(2).all(|w| w[0] < w[1]));
    assert!(split.bad.iter().all(|l| !lines.contains(l)));
}

// ------------------------------------------------------------------ seeded mutation

/// A small seeded generator (xorshift64*): the same seed gives the same run.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

const INTERESTING: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b",",
    b":",
    b"\\",
    b"\\ud800",
    b"\\udc00",
    b"\n",
    b"\r\n",
    b"\xef\xbb\xbf",
    b"\xff",
    b"\xc3",
    b"\xed\xa0\x80",
    b"\x00",
    b"\x80\x80\x80\x80\x80\x80",
    b"NaN",
    b"1e999",
    b"99999999999999999999999",
    b"-0",
    b"null",
    b"\x0a\x7f",
    b"\x12\x00",
    b"\x08\x96\x01",
    b"\x1a",
    b"\x0b",
    b"\x0c",
];

/// One mutation of `seed`: bytes flipped, inserted, deleted, duplicated, or spliced from
/// `other`.
pub fn mutate(rng: &mut Rng, seed: &[u8], other: &[u8]) -> Vec<u8> {
    let mut d = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(d.len() + 1);
        match rng.below(6) {
            0 if !d.is_empty() => {
                let i = at.min(d.len() - 1);
                d[i] ^= 1 << rng.below(8);
            }
            1 => {
                let ins = INTERESTING[rng.below(INTERESTING.len())];
                d.splice(at..at, ins.iter().copied());
            }
            2 => {
                let end = (at + 1 + rng.below(8)).min(d.len());
                d.drain(at.min(end)..end);
            }
            3 => {
                let end = (at + 1 + rng.below(32)).min(d.len());
                let piece = d[at.min(end)..end].to_vec();
                d.splice(at..at, piece);
            }
            4 if !other.is_empty() => {
                let from = rng.below(other.len());
                let end = (from + 1 + rng.below(64)).min(other.len());
                d.splice(at..at, other[from..end].iter().copied());
            }
            _ => {
                if !d.is_empty() {
                    let i = at.min(d.len() - 1);
                    d[i] = rng.next_u64() as u8;
                }
            }
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// The OTLP/JSON test data: every file, and every line of it.
    fn json_seeds() -> Vec<Vec<u8>> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join("tests");
        let mut out = vec![];
        for dir in ["ingest/data", "engine/data/monitor"] {
            let mut paths: Vec<_> = std::fs::read_dir(root.join(dir))
                .expect("the test data")
                .map(|e| e.expect("a directory entry").path())
                .filter(|p| p.to_string_lossy().contains(".json"))
                .collect();
            paths.sort();
            for p in paths {
                let data = std::fs::read(&p).expect("a test file");
                out.extend(data.split(|&b| b == b'\n').map(<[u8]>::to_vec));
                out.push(data);
            }
        }
        assert!(out.len() > 20, "the test data is missing");
        out
    }

    /// The documents' spans as protobuf requests.
    fn pb_seeds(json: &[Vec<u8>]) -> Vec<Vec<u8>> {
        json.iter()
            .filter_map(|d| {
                let (doc, check) = parse_doc(d).ok()?;
                match decode(&doc, None, false, check) {
                    Outcome::Decoded { batch, .. } if !batch.is_empty() => Some(encode_pb(&batch)),
                    _ => None,
                }
            })
            .collect()
    }

    /// A seeded mutation run of each check over the test data: a few seconds of fuzzing
    /// in every `cargo test` (the coverage-guided targets run in the long test job).
    #[test]
    fn seeded_fuzz_of_each_decoder_and_the_splitter() {
        let json = json_seeds();
        let pb = pb_seeds(&json);
        assert!(pb.len() > 10);
        type Run<'a> = (&'a [Vec<u8>], fn(&[u8]));
        let runs: [Run<'_>; 3] = [
            (&pb, check_decode_pb),
            (&json, check_decode_json),
            (&json, check_split),
        ];
        for (k, (seeds, check)) in runs.into_iter().enumerate() {
            let mut rng = Rng::new(0x7ace_1091c + k as u64);
            for s in seeds {
                check(s);
            }
            for _ in 0..10_000 {
                let seed = &seeds[rng.below(seeds.len())];
                let other = &seeds[rng.below(seeds.len())];
                check(&mutate(&mut rng, seed, other));
            }
        }
    }

    #[test]
    fn reencoding_is_checked() {
        // the check would see a change: a batch and its re-encoding agree span for span
        let json = json_seeds();
        let pb = pb_seeds(&json);
        let b = decode_traces(&pb[0], None);
        assert!(!b.is_empty());
        assert_eq!(
            spans_text(&b),
            spans_text(&decode_traces(&encode_pb(&b), None))
        );
        let mut other = encode_pb(&b);
        let at = other.len() - 1;
        other[at] ^= 1; // the last status code
        assert_ne!(spans_text(&b), spans_text(&decode_traces(&other, None)));
    }
}
