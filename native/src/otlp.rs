//! OTLP protobuf (`ExportTraceServiceRequest`) decoded into columns.
//!
//! The rules are the Python decoder's (`tracelogic.ingest.otlp.decode_traces_pb`,
//! docs/otlp-input.md), word for word: it is the reference this module is tested against.
//! The decoder works in the Python decoder's two steps:
//!
//! 1. **Which parts are valid.** When upb (the Python decoder's parser) would accept the
//!    whole request ([`check::upb_check`]: framing, UTF-8 in every string field, at most
//!    100 nested messages) and it is at most 1 MiB (so no string can be over the text
//!    rule's limit), all of it is. Otherwise the *slow path* ([`salvage`]) re-frames the
//!    request down to its spans as `_salvage_traces` does: a resource spans or scope spans
//!    message upb accepts on its own (and of at most 1 MiB) is kept whole; else a bad
//!    resource or scope rejects all of its spans and a bad span only itself, each with the
//!    Python decoder's reason and byte offset. Broken framing above the spans refuses the
//!    whole request ([`Batch::error`]).
//! 2. **Decoding the valid parts** into columns. Strings borrow from the input, and only
//!    the projected attributes (`wanted`) become values. A kept span is *rejected* for a
//!    missing or malformed trace, span or parent id, and *repaired* with a warning for an
//!    all-zero parent id (a root), an end before its start, an unknown kind or status code,
//!    a malformed link (dropped). Repeated fields append, a scalar seen twice keeps the last
//!    value, and a message seen twice is merged, as protobuf parsers do.
//!
//! Messages are returned in parts (where, the span's name, then the text after them), so
//! the Python side formats them exactly as its own decoder does; the step-1 messages come
//! first, as in the Python decoder.

use std::cell::Cell;

use crate::check::{
    pb_fields, pb_part, upb_check, upb_check_nested, utf8_problem, MAX_DEPTH, MAX_STRING_BYTES,
};
use crate::schema::{
    Kind, ANY_VALUE, ARRAY_VALUE, EVENT, KEY_VALUE, KV_LIST, LINK, REQUEST, RESOURCE,
    RESOURCE_SPANS, SCHEMA, SCOPE, SCOPE_SPANS, SPAN, STATUS,
};
use crate::wire::{Fields, Value};

/// `AnyValue` nesting the Python decoder converts (`otlp_common.MAX_DEPTH`); deeper arrays
/// and lists are `TooDeep`.
pub const MAX_VALUE_DEPTH: u32 = 64;

/// An attribute value, borrowing from the input.
#[derive(Debug, Clone, PartialEq)]
pub enum AnyValue<'a> {
    Empty,
    Str(&'a str),
    Bool(bool),
    Int(i64),
    Double(f64),
    Bytes(&'a [u8]),
    Array(Vec<AnyValue<'a>>),
    KvList(Vec<(&'a str, AnyValue<'a>)>),
    /// an array or key-value list nested deeper than [`MAX_VALUE_DEPTH`]
    TooDeep,
    /// OTLP/JSON only: a value spelled wrongly, e.g. `{"intValue": "12x"}` (Python's
    /// `InvalidValue(raw, reason)`): the raw JSON value and the reason
    Invalid(&'a crate::json::JValue, &'static str),
}

/// Which attribute keys to convert: `None` converts all.
pub type Wanted<'w> = Option<&'w (dyn Fn(&str) -> bool + Sync)>;

/// What a message is about: its path is `resourceSpans[resource]`, then
/// `.scopeSpans[scope]`, `.spans[span]` and `.links[j]` as deep as the level says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Resource,
    Scope,
    Span,
    Link(usize),
}

/// A rejection or a repair, with the counts it adds to `DecodeStats`.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub level: Level,
    pub resource: usize,
    pub scope: usize,
    pub span: usize,
    /// the span's name, quoted after the path (`repr`), when the message names it
    pub name: Option<String>,
    /// what follows the path (and name), e.g. `: trace id is missing; span skipped`
    pub text: String,
    /// a warning (`DecodeStats.warn`), else a rejection of `rejected` spans
    pub warning: bool,
    pub rejected: usize,
    /// spans this problem adds to `received` (the slow path's rejections: their spans are
    /// not in the columns' `received`)
    pub received: usize,
}

/// The resource of a group of spans.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Resource<'a> {
    /// the string value of the first `service.name` attribute ("" if absent or not a string)
    pub service: &'a str,
    /// the projected attributes, in input order (a later duplicate key wins)
    pub attrs: Vec<(&'a str, AnyValue<'a>)>,
}

/// Decoded spans as columns: span `i` is row `i` of every per-span column. Attributes,
/// events and links are sparse: `(span row, ...)` in input order.
#[derive(Debug, Default)]
pub struct Batch<'a> {
    /// spans in the valid parts of the input, rejected ones included
    pub received: usize,
    pub trace_id: Vec<[u8; 16]>,
    pub span_id: Vec<[u8; 8]>,
    /// all zeros for a root span
    pub parent_id: Vec<[u8; 8]>,
    pub name: Vec<&'a str>,
    /// the raw enum numbers (int32); the Python side maps them to names
    pub kind: Vec<i32>,
    pub status_code: Vec<i32>,
    pub status_message: Vec<&'a str>,
    pub start_ns: Vec<u64>,
    pub end_ns: Vec<u64>,
    /// index into `resources` / `scopes`
    pub resource: Vec<u32>,
    pub scope: Vec<u32>,
    pub resources: Vec<Resource<'a>>,
    pub scopes: Vec<&'a str>,
    pub attr_span: Vec<u32>,
    pub attr_key: Vec<&'a str>,
    pub attr_value: Vec<AnyValue<'a>>,
    pub event_span: Vec<u32>,
    pub event_name: Vec<&'a str>,
    pub link_span: Vec<u32>,
    pub link_trace_id: Vec<[u8; 16]>,
    pub link_span_id: Vec<[u8; 8]>,
    /// rejections and warnings, in the order the Python decoder reports them
    pub problems: Vec<Problem>,
    /// upb would refuse the whole request (the Python decoder then first asks whether it
    /// is a metrics request, to say so)
    pub upb_refused: bool,
    /// broken framing above the spans: `(byte offset, reason)`; the whole request is
    /// refused, after the problems found before it
    pub error: Option<(usize, String)>,
}

/// One decoded span, ready to become a row of a [`Batch`] (both decoders build these).
pub struct SpanRow<'a> {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub parent_id: [u8; 8],
    pub name: &'a str,
    pub kind: i32,
    pub status_code: i32,
    pub status_message: &'a str,
    pub start_ns: u64,
    pub end_ns: u64,
    pub resource: u32,
    pub scope: u32,
    pub attrs: Vec<(&'a str, AnyValue<'a>)>,
    pub events: Vec<&'a str>,
    pub links: Vec<([u8; 16], [u8; 8])>,
}

impl<'a> Batch<'a> {
    /// Append one span: a row of every per-span column, its attributes, events and links.
    pub fn push_span(&mut self, s: SpanRow<'a>) {
        let row = self.name.len() as u32;
        self.trace_id.push(s.trace_id);
        self.span_id.push(s.span_id);
        self.parent_id.push(s.parent_id);
        self.name.push(s.name);
        self.kind.push(s.kind);
        self.status_code.push(s.status_code);
        self.status_message.push(s.status_message);
        self.start_ns.push(s.start_ns);
        self.end_ns.push(s.end_ns);
        self.resource.push(s.resource);
        self.scope.push(s.scope);
        for (key, value) in s.attrs {
            self.attr_span.push(row);
            self.attr_key.push(key);
            self.attr_value.push(value);
        }
        for name in s.events {
            self.event_span.push(row);
            self.event_name.push(name);
        }
        for (t, i) in s.links {
            self.link_span.push(row);
            self.link_trace_id.push(t);
            self.link_span_id.push(i);
        }
    }

    pub fn len(&self) -> usize {
        self.name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.name.is_empty()
    }
}

const SERVICE: &str = "service.name";

/// How the decode functions read their bytes.
///
/// On the slow path (`check` false) they read parts already found valid, leniently. On the
/// one-pass fast path (`check` true) they check, while decoding, everything
/// [`upb_check`] would (framing as upb reads it, UTF-8 in every string field of the schema,
/// the nesting limit), walking with [`upb_check_nested`] the parts they do not decode; at
/// the first problem they set `bad` and the caller throws the batch away and decodes again
/// on the slow path. A doubt (a group, a nesting near the limit) is a problem too: the slow
/// path then decides exactly, so the fast path only ever returns what it would.
struct Cx<'w> {
    wanted: Wanted<'w>,
    /// bit [`key_sig`] of every key that may be wanted (see [`decode_traces_sigs`]); a
    /// key whose bit is not set is not wanted, without asking `wanted`
    sigs: u64,
    check: bool,
    bad: Cell<bool>,
}

impl Cx<'_> {
    /// A string field (UTF-8 is checked on the fast path; on the slow path it was checked
    /// in step 1, and what is not UTF-8 is never read).
    fn text<'a>(&self, b: &'a [u8]) -> &'a str {
        match std::str::from_utf8(b) {
            Ok(s) => s,
            Err(_) => {
                self.bad.set(true);
                ""
            }
        }
    }

    /// Whether a key may convert: `service.name` always does, another key if `wanted`
    /// says so. The key's bytes are UTF-8 when this is asked (checked by the caller).
    #[inline]
    fn may_want(&self, kb: &[u8]) -> bool {
        self.sigs >> key_sig(kb) & 1 == 1 || kb == SERVICE.as_bytes()
    }

    /// An `AnyValue` field (of a `KeyValue` at `depth`) the decoder does not convert: on
    /// the fast path, checked as upb would, as [`Cx::skip`] does; the usual shapes (one
    /// string or scalar field) without the general walk.
    #[inline]
    fn skip_any_value(&self, b: &[u8], depth: usize) {
        if self.check
            && !(depth < MAX_DEPTH
                && match flat_any_value(b) {
                    Some(sound) => sound,
                    None => upb_check_nested(b, ANY_VALUE, depth + 1),
                })
        {
            self.bad.set(true);
        }
    }

    /// The fields of message `msg` at nesting `depth` (the request is 0).
    #[inline]
    fn fields<'a, 's>(&'s self, buf: &'a [u8], base: usize, depth: usize) -> Reader<'a, 's> {
        if self.check {
            if depth > MAX_DEPTH {
                self.bad.set(true);
            }
            Reader::Strict {
                buf,
                pos: if self.bad.get() { buf.len() } else { 0 },
                base,
                bad: &self.bad,
            }
        } else {
            Reader::Lenient(Fields::new(buf, base))
        }
    }

    /// A field of message `msg` (at `depth`) the decoder does not read: on the fast path,
    /// checked as upb would (a string's UTF-8, a submessage walked).
    fn skip(&self, msg: usize, number: u32, value: Value<'_>, depth: usize) {
        if !self.check {
            return;
        }
        let Value::Bytes(b, _) = value else {
            return;
        };
        let sound = match SCHEMA[msg].field(u128::from(number)).map(|f| f.kind) {
            Some(Kind::Str) => utf8_ok(b),
            Some(Kind::Msg(t)) => depth < MAX_DEPTH && upb_check_nested(b, t, depth + 1),
            None => true,
        };
        if !sound {
            self.bad.set(true);
        }
    }
}

/// Whether `b` is UTF-8. Most strings of OTLP are short and ASCII: `is_ascii` reads them
/// a word at a time, where `from_utf8` goes a byte at a time below 16 bytes. Used where the
/// decoder only checks a string it does not keep (the crate has no `unsafe` to make a
/// `str` of ASCII without `from_utf8`).
#[inline]
pub(crate) fn utf8_ok(b: &[u8]) -> bool {
    b.is_ascii() || std::str::from_utf8(b).is_ok()
}

/// upb's verdict on an `AnyValue` of one of the usual shapes, without the general walk
/// ([`upb_check_nested`]): empty, or one field with a one-byte tag covering all of it
/// (`string_value` of a one-byte length, `bool_value`/`int_value` varint, `double_value`).
/// None for any other shape.
#[inline]
pub(crate) fn flat_any_value(b: &[u8]) -> Option<bool> {
    match b {
        [] => Some(true),
        [0x0a, n, s @ ..] if *n < 0x80 && s.len() == usize::from(*n) => Some(utf8_ok(s)),
        // a varint of at most 10 bytes that ends exactly at the end
        [0x10 | 0x18, x @ .., last]
            if x.len() < 10 && *last < 0x80 && x.iter().all(|&c| c >= 0x80) =>
        {
            Some(true)
        }
        [0x21, x @ ..] if x.len() == 8 => Some(true),
        _ => None,
    }
}

/// A `KeyValue` of the usual shape, `0a <key length> <key> 12 <value length> <value>` with
/// both lengths of one byte and nothing else: (key, value, the value's input offset).
#[inline]
fn kv_shape(buf: &[u8], base: usize) -> Option<(&[u8], &[u8], usize)> {
    let [0x0a, kl, rest @ ..] = buf else {
        return None;
    };
    let kl = usize::from(*kl);
    if kl >= 0x80 || rest.len() < kl + 2 {
        return None;
    }
    let (kb, rest) = rest.split_at(kl);
    let [0x12, vl, vb @ ..] = rest else {
        return None;
    };
    if *vl >= 0x80 || vb.len() != usize::from(*vl) {
        return None;
    }
    Some((kb, vb, base + buf.len() - vb.len()))
}

/// The fields of one message: leniently on the slow path (the framing was checked; a
/// group is skipped), strictly on the fast path (see [`Cx`]).
enum Reader<'a, 's> {
    Lenient(Fields<'a>),
    Strict {
        buf: &'a [u8],
        pos: usize,
        base: usize,
        bad: &'s Cell<bool>,
    },
}

/// upb's varint at `pos`: at most 10 bytes, the low 64 bits kept; None when truncated or
/// longer.
#[inline]
fn strict_varint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    // most varints of OTLP (keys, lengths, kinds) are one byte
    if let Some(&b) = buf.get(*pos) {
        if b < 0x80 {
            *pos += 1;
            return Some(u64::from(b));
        }
    }
    let mut v: u64 = 0;
    for i in 0..10 {
        let b = *buf.get(*pos)?;
        *pos += 1;
        v |= u64::from(b & 0x7f).wrapping_shl(7 * i);
        if b < 0x80 {
            return Some(v);
        }
    }
    None
}

impl<'a> Reader<'a, '_> {
    /// One field as `check::walk` reads it (outside groups); None at a problem.
    #[inline(always)]
    fn strict(buf: &'a [u8], pos: &mut usize, base: usize) -> Option<(u32, Value<'a>)> {
        let start = *pos;
        let key = strict_varint(buf, pos)?;
        if *pos - start > 5 || key > u64::from(u32::MAX) {
            return None;
        }
        let number = (key >> 3) as u32;
        if number == 0 {
            return None;
        }
        let value = match key & 7 {
            0 => Value::Varint(strict_varint(buf, pos)?),
            1 => {
                let b = buf.get(*pos..*pos + 8)?;
                *pos += 8;
                Value::Fixed64(u64::from_le_bytes(b.try_into().ok()?))
            }
            5 => {
                let b = buf.get(*pos..*pos + 4)?;
                *pos += 4;
                Value::Fixed32(u32::from_le_bytes(b.try_into().ok()?))
            }
            2 => {
                let n = usize::try_from(strict_varint(buf, pos)?).ok()?;
                if n > buf.len() - *pos {
                    return None;
                }
                let off = *pos;
                *pos += n;
                Value::Bytes(&buf[off..off + n], base + off)
            }
            // a group: upb may accept it, but the slow path decides
            _ => return None,
        };
        Some((number, value))
    }
}

impl<'a> Iterator for Reader<'a, '_> {
    type Item = (u32, Value<'a>);

    // inlined into each loop over a message's fields: a call per field cost about 30
    // instructions of moving the 32-byte item through memory
    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Reader::Lenient(f) => match f.next()? {
                Ok(x) => Some(x),
                Err(_) => {
                    // as `map_while(Result::ok)`: nothing after the first error
                    *f = Fields::new(&[], 0);
                    None
                }
            },
            Reader::Strict {
                buf,
                pos,
                base,
                bad,
            } => {
                if *pos >= buf.len() {
                    return None;
                }
                match Self::strict(buf, pos, *base) {
                    Some(x) => Some(x),
                    None => {
                        bad.set(true);
                        *pos = buf.len();
                        None
                    }
                }
            }
        }
    }
}

/// The valid parts of one `ResourceSpans`: its resource's occurrences (merged) and scopes.
#[derive(Default)]
struct Rs<'a> {
    resource: Vec<(&'a [u8], usize)>,
    scopes: Vec<Ss<'a>>,
}

/// The valid parts of one `ScopeSpans`: its scope's occurrences and its kept spans, each
/// with its index in the input.
#[derive(Default)]
struct Ss<'a> {
    scope: Vec<&'a [u8]>,
    spans: Vec<(usize, &'a [u8], usize)>,
}

/// A `ResourceSpans` at depth 1 (its parts are checked where they are decoded).
fn whole_rs<'a>(cx: &Cx<'_>, buf: &'a [u8], base: usize) -> Rs<'a> {
    let mut rs = Rs::default();
    for field in cx.fields(buf, base, 1) {
        match field {
            (1, Value::Bytes(b, off)) => rs.resource.push((b, off)),
            (2, Value::Bytes(b, off)) => rs.scopes.push(whole_ss(cx, b, off)),
            (n, v) => cx.skip(RESOURCE_SPANS, n, v, 1),
        }
    }
    rs
}

/// A `ScopeSpans` at depth 2.
fn whole_ss<'a>(cx: &Cx<'_>, buf: &'a [u8], base: usize) -> Ss<'a> {
    let mut ss = Ss::default();
    for field in cx.fields(buf, base, 2) {
        match field {
            (1, Value::Bytes(b, _)) => ss.scope.push(b),
            (2, Value::Bytes(b, off)) => ss.spans.push((ss.spans.len(), b, off)),
            (n, v) => cx.skip(SCOPE_SPANS, n, v, 2),
        }
    }
    ss
}

fn reject(
    batch: &mut Batch<'_>,
    level: Level,
    (resource, scope, span): (usize, usize, usize),
    text: String,
    n: usize,
) {
    batch.problems.push(Problem {
        level,
        resource,
        scope,
        span,
        name: None,
        text,
        warning: false,
        rejected: n,
        received: n,
    });
}

/// `_salvage_traces`: the valid parts of a request upb refuses (or that is over 1 MiB).
fn salvage<'a>(
    cx: &Cx<'_>,
    data: &'a [u8],
    batch: &mut Batch<'a>,
) -> Result<Vec<Rs<'a>>, (usize, String)> {
    let mut out = vec![];
    let top = pb_fields(data, 0, data.len())?;
    for (ri, rsf) in top.iter().filter(|f| f.is(1)).enumerate() {
        let (a, b) = (rsf.start, rsf.end);
        if b - a <= MAX_STRING_BYTES && upb_check(&data[a..b], RESOURCE_SPANS).is_ok() {
            out.push(whole_rs(cx, &data[a..b], a));
            continue;
        }
        let rs_fields = pb_fields(data, a, b)?;
        let ss_parts: Vec<_> = rs_fields.iter().filter(|f| f.is(2)).collect();
        let mut span_parts = vec![];
        for ss in &ss_parts {
            let spans = pb_fields(data, ss.start, ss.end)?;
            span_parts.push(spans.into_iter().filter(|f| f.is(2)).collect::<Vec<_>>());
        }
        let mut rs = Rs::default();
        let mut bad = None;
        for f in &rs_fields {
            if f.is(1) {
                bad = pb_part(RESOURCE, data, f.start, f.end);
                if bad.is_none() {
                    rs.resource.push((&data[f.start..f.end], f.start));
                }
            } else if f.is(3) {
                bad = utf8_problem(data, f.start, f.end, "schema_url");
            }
            if bad.is_some() {
                break;
            }
        }
        if let Some(bad) = bad {
            let n = span_parts.iter().map(Vec::len).sum();
            let text = format!(": the resource {bad}; its {n} spans skipped");
            reject(batch, Level::Resource, (ri, 0, 0), text, n);
            rs.scopes = ss_parts.iter().map(|_| Ss::default()).collect();
            out.push(rs);
            continue;
        }
        for (si, (ssf, parts)) in ss_parts.iter().zip(&span_parts).enumerate() {
            let (c, d) = (ssf.start, ssf.end);
            if d - c <= MAX_STRING_BYTES && upb_check(&data[c..d], SCOPE_SPANS).is_ok() {
                rs.scopes.push(whole_ss(cx, &data[c..d], c));
                continue;
            }
            let mut ss = Ss::default();
            let mut bad = None;
            for f in pb_fields(data, c, d)? {
                if f.is(1) {
                    bad = pb_part(SCOPE, data, f.start, f.end);
                    if bad.is_none() {
                        ss.scope.push(&data[f.start..f.end]);
                    }
                } else if f.is(3) {
                    bad = utf8_problem(data, f.start, f.end, "schema_url");
                }
                if bad.is_some() {
                    break;
                }
            }
            if let Some(bad) = bad {
                let n = parts.len();
                let text = format!(": the scope {bad}; its {n} spans skipped");
                reject(batch, Level::Scope, (ri, si, 0), text, n);
                rs.scopes.push(Ss::default());
                continue;
            }
            for (k, f) in parts.iter().enumerate() {
                match pb_part(SPAN, data, f.start, f.end) {
                    Some(why) => {
                        let text = format!(": {why}; span skipped");
                        reject(batch, Level::Span, (ri, si, k), text, 1);
                    }
                    None => ss.spans.push((k, &data[f.start..f.end], f.start)),
                }
            }
            rs.scopes.push(ss);
        }
        out.push(rs);
    }
    Ok(out)
}

/// Decode one `ExportTraceServiceRequest`.
pub fn decode_traces<'a>(data: &'a [u8], wanted: Wanted<'_>) -> Batch<'a> {
    decode_traces_sigs(data, wanted, !0)
}

/// A key's bit in the `sigs` of [`decode_traces_sigs`]: its length and last byte, mixed
/// into 0..64.
#[inline]
pub fn key_sig(key: &[u8]) -> u32 {
    let last = key.last().copied().unwrap_or(0);
    (key.len() as u32)
        .wrapping_mul(7)
        .wrapping_add(u32::from(last))
        & 63
}

/// [`decode_traces`], told which keys `wanted` may want: bit [`key_sig`] of `sigs` is set
/// for each of them. A key whose bit is not set is then not wanted, without asking
/// `wanted` (or making its bytes a `str`): most keys of an input are not wanted, and their
/// length and last byte alone tell.
pub fn decode_traces_sigs<'a>(data: &'a [u8], wanted: Wanted<'_>, sigs: u64) -> Batch<'a> {
    let sigs = if wanted.is_none() { !0 } else { sigs };
    if data.len() <= MAX_STRING_BYTES {
        // one pass: decode and check together; at a problem, the two steps below
        let cx = Cx {
            wanted,
            sigs,
            check: true,
            bad: Cell::new(false),
        };
        let mut batch = Batch::default();
        let parts: Vec<Rs<'a>> = cx
            .fields(data, 0, 0)
            .filter_map(|f| match f {
                (1, Value::Bytes(b, off)) => Some(whole_rs(&cx, b, off)),
                (n, v) => {
                    cx.skip(REQUEST, n, v, 0);
                    None
                }
            })
            .collect();
        if !cx.bad.get() {
            decode_parts(&cx, &parts, &mut batch);
            if !cx.bad.get() {
                return batch;
            }
        }
    }
    decode_checked_sigs(data, wanted, sigs)
}

/// [`decode_traces`] in the Python decoder's two steps: which parts are valid, then
/// decoding them (the fast path's fallback, and its reference in the fuzz tests).
pub fn decode_checked<'a>(data: &'a [u8], wanted: Wanted<'_>) -> Batch<'a> {
    decode_checked_sigs(data, wanted, !0)
}

/// [`decode_checked`] told which keys may be wanted, as [`decode_traces_sigs`].
fn decode_checked_sigs<'a>(data: &'a [u8], wanted: Wanted<'_>, sigs: u64) -> Batch<'a> {
    let sigs = if wanted.is_none() { !0 } else { sigs };
    let cx = Cx {
        wanted,
        sigs,
        check: false,
        bad: Cell::new(false),
    };
    let mut batch = Batch::default();
    let whole = upb_check(data, REQUEST).is_ok();
    let parts = if whole && data.len() <= MAX_STRING_BYTES {
        cx.fields(data, 0, 0)
            .filter_map(|f| match f {
                (1, Value::Bytes(b, off)) => Some(whole_rs(&cx, b, off)),
                _ => None,
            })
            .collect()
    } else {
        batch.upb_refused = !whole;
        match salvage(&cx, data, &mut batch) {
            Ok(parts) => parts,
            Err(e) => {
                batch.error = Some(e);
                return batch;
            }
        }
    };
    decode_parts(&cx, &parts, &mut batch);
    batch
}

/// Decode the valid parts into the batch's columns.
fn decode_parts<'a>(cx: &Cx<'_>, parts: &[Rs<'a>], batch: &mut Batch<'a>) {
    for (ri, rs) in parts.iter().enumerate() {
        let res_index = batch.resources.len() as u32;
        let res = resource(cx, &rs.resource);
        batch.resources.push(res);
        for (si, ss) in rs.scopes.iter().enumerate() {
            let mut name = "";
            for b in &ss.scope {
                for f in cx.fields(b, 0, 3) {
                    match f {
                        (1, Value::Bytes(s, _)) => name = cx.text(s),
                        (n, v) => cx.skip(SCOPE, n, v, 3),
                    }
                }
            }
            let scope_index = batch.scopes.len() as u32;
            batch.scopes.push(name);
            batch.received += ss.spans.len();
            for &(k, b, off) in &ss.spans {
                span(cx, batch, b, off, (ri, si, k), (res_index, scope_index));
            }
        }
    }
}

/// The resource (depth 2): attributes of every occurrence, in order (a merge).
fn resource<'a>(cx: &Cx<'_>, parts: &[(&'a [u8], usize)]) -> Resource<'a> {
    let mut res = Resource::default();
    let mut service_seen = false;
    for &(b, off) in parts {
        for field in cx.fields(b, off, 2) {
            match field {
                (1, Value::Bytes(kb, koff)) => {
                    // `service.name` always converts
                    let Some((key, value, wanted)) = key_value(cx, kb, koff, 3) else {
                        continue;
                    };
                    if key == SERVICE && !service_seen {
                        service_seen = true;
                        res.service = match value {
                            AnyValue::Str(s) => s,
                            _ => "",
                        };
                    }
                    if wanted {
                        res.attrs.push((key, value));
                    }
                }
                (n, v) => cx.skip(RESOURCE, n, v, 2),
            }
        }
    }
    res
}

/// A `KeyValue` at `depth`: (key, value, whether `wanted` wants it) when it converts, i.e.
/// for a wanted key and `service.name`; None for the others.
fn key_value<'a>(
    cx: &Cx<'_>,
    buf: &'a [u8],
    base: usize,
    depth: usize,
) -> Option<(&'a str, AnyValue<'a>, bool)> {
    // the usual shape read directly, on the fast path (the general reader below checks
    // the nesting depth too)
    if cx.check && depth <= MAX_DEPTH {
        if let Some((kb, vb, voff)) = kv_shape(buf, base) {
            return convert_kv(cx, kb, std::iter::once((vb, voff)), depth);
        }
    }
    let mut kb: &[u8] = b"";
    // most attributes have one value field: no allocation for it
    let mut first: Option<(&'a [u8], usize)> = None;
    let mut more: Vec<(&'a [u8], usize)> = vec![];
    for field in cx.fields(buf, base, depth) {
        match field {
            (1, Value::Bytes(b, _)) => {
                // a key seen twice: the last one is the key, each must be UTF-8
                if cx.check && !utf8_ok(kb) {
                    cx.bad.set(true);
                }
                kb = b;
            }
            (2, Value::Bytes(b, off)) => {
                if first.is_none() {
                    first = Some((b, off));
                } else {
                    more.push((b, off));
                }
            }
            (n, v) => cx.skip(KEY_VALUE, n, v, depth),
        }
    }
    convert_kv(cx, kb, first.into_iter().chain(more), depth)
}

/// A `KeyValue`'s key (the last occurrence's bytes) and value fields (merged), as
/// [`key_value`] returns them. A key that does not convert is only checked, never made a
/// `str`; its value only checked.
#[inline]
fn convert_kv<'a>(
    cx: &Cx<'_>,
    kb: &'a [u8],
    values: impl Iterator<Item = (&'a [u8], usize)>,
    depth: usize,
) -> Option<(&'a str, AnyValue<'a>, bool)> {
    let converts = if cx.may_want(kb) {
        let key = cx.text(kb);
        let wanted = cx.wanted.is_none_or(|w| w(key));
        (wanted || key == SERVICE).then_some((key, wanted))
    } else {
        if cx.check && !utf8_ok(kb) {
            cx.bad.set(true);
        }
        None
    };
    let Some((key, wanted)) = converts else {
        for (b, _) in values {
            cx.skip_any_value(b, depth);
        }
        return None;
    };
    let mut value = AnyValue::Empty;
    for (b, off) in values {
        value = any_value(cx, b, off, 0, value, depth + 1);
    }
    Some((key, value, wanted))
}

/// An `AnyValue` at `depth` merged into `into` (protobuf's merge of a field seen twice).
/// `level` is the Python decoder's value depth.
fn any_value<'a>(
    cx: &Cx<'_>,
    buf: &'a [u8],
    base: usize,
    level: u32,
    into: AnyValue<'a>,
    depth: usize,
) -> AnyValue<'a> {
    let mut v = into;
    for field in cx.fields(buf, base, depth) {
        match field {
            (1, Value::Bytes(b, _)) => v = AnyValue::Str(cx.text(b)),
            (2, Value::Varint(x)) => v = AnyValue::Bool(x != 0),
            (3, Value::Varint(x)) => v = AnyValue::Int(x as i64),
            (4, Value::Fixed64(x)) => v = AnyValue::Double(f64::from_bits(x)),
            (7, Value::Bytes(b, _)) => v = AnyValue::Bytes(b),
            // string_value_strindex: the Python decoder reads it as the int it is
            (8, Value::Varint(x)) => v = AnyValue::Int(i64::from(x as u32 as i32)),
            (n @ (5 | 6), Value::Bytes(b, off)) => {
                let mut items = match (n, v) {
                    (5, AnyValue::Array(items)) => Some(Ok(items)),
                    (6, AnyValue::KvList(items)) => Some(Err(items)),
                    _ => None,
                };
                let list = if n == 5 { ARRAY_VALUE } else { KV_LIST };
                for f in cx.fields(b, off, depth + 1) {
                    match f {
                        (1, Value::Bytes(eb, eoff)) => {
                            if n == 5 {
                                let e =
                                    any_value(cx, eb, eoff, level + 1, AnyValue::Empty, depth + 2);
                                match &mut items {
                                    Some(Ok(xs)) => xs.push(e),
                                    _ => items = Some(Ok(vec![e])),
                                }
                            } else {
                                let (k, e) = nested_kv(cx, eb, eoff, level + 1, depth + 2);
                                match &mut items {
                                    Some(Err(xs)) => xs.push((k, e)),
                                    _ => items = Some(Err(vec![(k, e)])),
                                }
                            }
                        }
                        (fnum, fv) => cx.skip(list, fnum, fv, depth + 1),
                    }
                }
                v = match items {
                    _ if level >= MAX_VALUE_DEPTH => AnyValue::TooDeep,
                    Some(Ok(xs)) => AnyValue::Array(xs),
                    Some(Err(xs)) => AnyValue::KvList(xs),
                    None if n == 5 => AnyValue::Array(vec![]),
                    None => AnyValue::KvList(vec![]),
                };
            }
            (n, fv) => cx.skip(ANY_VALUE, n, fv, depth),
        }
    }
    v
}

/// A `KeyValue` at `depth` inside a key-value list value.
fn nested_kv<'a>(
    cx: &Cx<'_>,
    buf: &'a [u8],
    base: usize,
    level: u32,
    depth: usize,
) -> (&'a str, AnyValue<'a>) {
    let mut key = "";
    let mut value = AnyValue::Empty;
    for field in cx.fields(buf, base, depth) {
        match field {
            (1, Value::Bytes(b, _)) => key = cx.text(b),
            (2, Value::Bytes(b, off)) => value = any_value(cx, b, off, level, value, depth + 1),
            (n, v) => cx.skip(KEY_VALUE, n, v, depth),
        }
    }
    (key, value)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Why an id is unusable (the Python decoder's `pb_id`): None if it is fine or empty.
fn id_problem(b: &[u8], n: usize, what: &str) -> Option<String> {
    if b.is_empty() {
        None
    } else if b.len() != n {
        Some(format!(
            "{what} has {} bytes, expected {n} (hex '{}')",
            b.len(),
            hex(b)
        ))
    } else if b.iter().all(|&x| x == 0) {
        Some(format!(
            "{what} is all zeros, which OpenTelemetry defines as invalid"
        ))
    } else {
        None
    }
}

/// A span (depth 3).
fn span<'a>(
    cx: &Cx<'_>,
    batch: &mut Batch<'a>,
    buf: &'a [u8],
    base: usize,
    (ri, si, k): (usize, usize, usize),
    (res_index, scope_index): (u32, u32),
) {
    let (mut tid, mut sid, mut pid): (&[u8], &[u8], &[u8]) = (b"", b"", b"");
    let mut name: &str = "";
    let (mut kind, mut code) = (0i32, 0i32);
    let mut message: &str = "";
    let (mut start, mut end) = (0u64, 0u64);
    // the attributes go to the batch's columns as they are read (no Vec per span), as
    // `push_span` would put them; a skipped span takes them back
    let (row, attrs_from) = (batch.name.len() as u32, batch.attr_span.len());
    let mut events: Vec<&'a str> = vec![];
    let mut links: Vec<(&'a [u8], &'a [u8])> = vec![];
    for field in cx.fields(buf, base, 3) {
        match field {
            (1, Value::Bytes(b, _)) => tid = b,
            (2, Value::Bytes(b, _)) => sid = b,
            (4, Value::Bytes(b, _)) => pid = b,
            (5, Value::Bytes(b, _)) => name = cx.text(b),
            (6, Value::Varint(x)) => kind = x as u32 as i32,
            (7, Value::Fixed64(x)) => start = x,
            (8, Value::Fixed64(x)) => end = x,
            (9, Value::Bytes(b, off)) => {
                if let Some((key, value, true)) = key_value(cx, b, off, 4) {
                    batch.attr_span.push(row);
                    batch.attr_key.push(key);
                    batch.attr_value.push(value);
                }
            }
            (11, Value::Bytes(b, off)) => {
                let mut ev_name = "";
                for f in cx.fields(b, off, 4) {
                    match f {
                        (2, Value::Bytes(s, _)) => ev_name = cx.text(s),
                        (n, v) => cx.skip(EVENT, n, v, 4),
                    }
                }
                events.push(ev_name);
            }
            (13, Value::Bytes(b, off)) => {
                let (mut lt, mut ls): (&[u8], &[u8]) = (b"", b"");
                for f in cx.fields(b, off, 4) {
                    match f {
                        (1, Value::Bytes(x, _)) => lt = x,
                        (2, Value::Bytes(x, _)) => ls = x,
                        (n, v) => cx.skip(LINK, n, v, 4),
                    }
                }
                links.push((lt, ls));
            }
            (15, Value::Bytes(b, off)) => {
                for f in cx.fields(b, off, 4) {
                    match f {
                        (2, Value::Bytes(s, _)) => message = cx.text(s),
                        (3, Value::Varint(x)) => code = x as u32 as i32,
                        (n, v) => cx.skip(STATUS, n, v, 4),
                    }
                }
            }
            (n, v) => cx.skip(SPAN, n, v, 3),
        }
    }
    let problem = |level: Level, text: String, rejected: bool| Problem {
        level,
        resource: ri,
        scope: si,
        span: k,
        name: match level {
            Level::Link(_) => None,
            _ => Some(name.to_owned()),
        },
        text,
        warning: !rejected,
        rejected: usize::from(rejected),
        received: 0,
    };
    // ids first, as the Python decoder checks them
    let mut root = pid.is_empty();
    let bad_ids = tid.len() != 16
        || sid.len() != 8
        || tid.iter().all(|&x| x == 0)
        || sid.iter().all(|&x| x == 0)
        || (!pid.is_empty() && (pid.len() != 8 || pid.iter().all(|&x| x == 0)));
    if bad_ids {
        let mut why = None;
        for (what, b, n) in [
            ("trace id", tid, 16),
            ("span id", sid, 8),
            ("parent span id", pid, 8),
        ] {
            if let Some(w) = id_problem(b, n, what) {
                why = Some((what, w));
                break;
            }
            if b.is_empty() && what != "parent span id" {
                why = Some((what, format!("{what} is missing")));
                break;
            }
        }
        match why {
            Some(("parent span id", _)) if pid.len() == 8 => {
                batch.problems.push(problem(
                    Level::Span,
                    ": parent span id is all zeros; read as a root span".into(),
                    false,
                ));
                root = true;
            }
            Some((_, why)) => {
                batch
                    .problems
                    .push(problem(Level::Span, format!(": {why}; span skipped"), true));
                batch.attr_span.truncate(attrs_from);
                batch.attr_key.truncate(attrs_from);
                batch.attr_value.truncate(attrs_from);
                return;
            }
            None => {}
        }
    }
    if end < start {
        batch.problems.push(problem(
            Level::Span,
            format!(
                ": ends ({end}) before it starts ({start}); its duration is negative and its \
                 end event is placed at its start"
            ),
            false,
        ));
    }
    if !(0..=5).contains(&kind) {
        batch.problems.push(problem(
            Level::Span,
            format!(": unknown span kind {kind}; read as unspecified"),
            false,
        ));
    }
    if !(0..=2).contains(&code) {
        batch.problems.push(problem(
            Level::Span,
            format!(": unknown status code {code}; read as unset"),
            false,
        ));
    }
    let mut kept = Vec::with_capacity(links.len());
    for (j, (lt, ls)) in links.into_iter().enumerate() {
        let tw = id_problem(lt, 16, "link trace id");
        let sw = id_problem(ls, 8, "link span id");
        if lt.is_empty() || ls.is_empty() || tw.is_some() || sw.is_some() {
            let why = tw.or(sw).unwrap_or_else(|| "link id is missing".into());
            batch.problems.push(problem(
                Level::Link(j),
                format!(": {why}; link dropped"),
                false,
            ));
        } else {
            kept.push((
                lt.try_into().expect("16 bytes"),
                ls.try_into().expect("8 bytes"),
            ));
        }
    }
    batch.push_span(SpanRow {
        trace_id: tid.try_into().expect("16 bytes"),
        span_id: sid.try_into().expect("8 bytes"),
        parent_id: if root {
            [0; 8]
        } else {
            pid.try_into().expect("8 bytes")
        },
        name,
        kind,
        status_code: code,
        status_message: message,
        start_ns: start,
        end_ns: end,
        resource: res_index,
        scope: scope_index,
        attrs: vec![], // already in the columns
        events,
        links: kept,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(mut n: u64, out: &mut Vec<u8>) {
        loop {
            let b = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }

    /// A length-delimited field.
    fn ld(field: u32, body: &[u8]) -> Vec<u8> {
        let mut out = vec![];
        varint(u64::from(field << 3 | 2), &mut out);
        varint(body.len() as u64, &mut out);
        out.extend_from_slice(body);
        out
    }

    fn vi(field: u32, v: u64) -> Vec<u8> {
        let mut out = vec![];
        varint(u64::from(field << 3), &mut out);
        varint(v, &mut out);
        out
    }

    fn fixed64(field: u32, v: u64) -> Vec<u8> {
        let mut out = vec![];
        varint(u64::from(field << 3 | 1), &mut out);
        out.extend_from_slice(&v.to_le_bytes());
        out
    }

    fn kv(key: &str, value: &[u8]) -> Vec<u8> {
        [ld(1, key.as_bytes()), ld(2, value)].concat()
    }

    const TID: [u8; 16] = [1; 16];

    fn span(sid: u8, extra: &[u8]) -> Vec<u8> {
        [ld(1, &TID), ld(2, &[sid; 8]), extra.to_vec()].concat()
    }

    fn request(resource: &[u8], spans: &[Vec<u8>]) -> Vec<u8> {
        let scope: Vec<u8> = spans.iter().flat_map(|s| ld(2, s)).collect();
        ld(1, &[ld(1, resource), ld(2, &scope)].concat())
    }

    fn texts(b: &Batch<'_>) -> Vec<(Level, String, usize)> {
        b.problems
            .iter()
            .map(|p| (p.level, p.text.clone(), p.rejected))
            .collect()
    }

    #[test]
    fn decodes_fields_and_projects_attributes() {
        let res = ld(1, &kv("service.name", &ld(1, b"shop")));
        let s = span(
            2,
            &[
                ld(5, b"GET /"),
                vi(6, 2),
                fixed64(7, 10),
                fixed64(8, 30),
                ld(9, &kv("k", &vi(3, u64::MAX))), // int -1
                ld(9, &kv("skip", &ld(1, b"x"))),
                ld(11, &ld(2, b"exception")),
                ld(15, &[ld(2, b"boom"), vi(3, 2)].concat()),
            ]
            .concat(),
        );
        let data = request(&res, &[s]);
        let want = |k: &str| k == "k";
        let b = decode_traces(&data, Some(&want));
        assert_eq!((b.received, b.len(), b.upb_refused), (1, 1, false));
        assert_eq!(b.name, ["GET /"]);
        assert_eq!(
            (b.kind[0], b.status_code[0], b.status_message[0]),
            (2, 2, "boom")
        );
        assert_eq!((b.start_ns[0], b.end_ns[0]), (10, 30));
        assert_eq!(b.attr_key, ["k"]);
        assert_eq!(b.attr_value, [AnyValue::Int(-1)]);
        assert_eq!(b.resources[0].service, "shop");
        assert!(
            b.resources[0].attrs.is_empty(),
            "service.name is not wanted"
        );
        assert_eq!(b.event_name, ["exception"]);
        assert_eq!(b.parent_id[0], [0; 8]);
        assert!(b.problems.is_empty());
    }

    #[test]
    fn a_skipped_span_leaves_no_attributes_behind() {
        let attr = |v: u64| ld(9, &kv("k", &vi(3, v)));
        let spans = [
            span(1, &attr(1)),
            [attr(2), ld(2, &[2; 8]), attr(3)].concat(), // no trace id: skipped
            span(3, &[attr(4), attr(5)].concat()),
        ];
        let data = request(b"", &spans);
        let b = decode_traces(&data, None);
        assert_eq!((b.received, b.len()), (3, 2));
        assert_eq!(b.attr_span, [0, 1, 1]);
        assert_eq!(
            b.attr_value,
            [AnyValue::Int(1), AnyValue::Int(4), AnyValue::Int(5)]
        );
    }

    #[test]
    fn bad_ids_reject_the_span_with_the_python_decoders_words() {
        let spans = [
            [ld(2, &[2; 8])].concat(),
            [ld(1, &[0; 16]), ld(2, &[2; 8])].concat(),
            span(3, &ld(4, &[7; 3])),
            span(4, &ld(4, &[0; 8])),
        ];
        let data = request(b"", &spans);
        let b = decode_traces(&data, None);
        let span = Level::Span;
        assert_eq!(
            texts(&b),
            [
                (span, ": trace id is missing; span skipped".into(), 1),
                (
                    span,
                    ": trace id is all zeros, which OpenTelemetry defines as invalid; span \
                     skipped"
                        .into(),
                    1
                ),
                (
                    span,
                    ": parent span id has 3 bytes, expected 8 (hex '070707'); span skipped".into(),
                    1
                ),
                (
                    span,
                    ": parent span id is all zeros; read as a root span".into(),
                    0
                ),
            ]
        );
        assert_eq!((b.received, b.len()), (4, 1));
    }

    #[test]
    fn the_one_pass_decoder_sees_what_upb_check_sees() {
        // each request is refused by upb somewhere the decoder does not decode (an unwanted
        // attribute's value, an event's attribute, a trace state, a scope version, an unknown
        // field, a group, a six-byte tag), or is valid; the one pass must agree with the two
        // steps, and the projected decode must still refuse what upb refuses
        let bad_str = ld(1, b"\xff");
        let ok = span(3, &ld(5, b"ok"));
        let long_tag = [0xaa, 0x80, 0x80, 0x80, 0x80, 0x00, 0];
        let cases: Vec<(Vec<u8>, bool)> = vec![
            (request(b"", std::slice::from_ref(&ok)), false),
            (
                request(b"", &[span(2, &ld(9, &kv("skip", &bad_str))), ok.clone()]),
                true,
            ),
            (
                request(b"", &[span(2, &ld(9, &kv("keep", &bad_str))), ok.clone()]),
                true,
            ),
            (
                request(b"", &[span(2, &ld(11, &ld(3, &kv("e", &bad_str))))]),
                true,
            ),
            (request(b"", &[span(2, &ld(3, b"\xc3"))]), true),
            (request(b"", &[span(2, &ld(15, &ld(2, b"\xe2\x82")))]), true),
            (request(b"", &[span(2, &[0x0b, 0x10, 1, 0x0c])]), false),
            (request(b"", &[span(2, &long_tag)]), true),
            (request(b"", &[span(2, &ld(99, b"\xff"))]), false),
            (
                request(
                    &ld(1, &kv("skip", &ld(5, &ld(1, &bad_str)))),
                    std::slice::from_ref(&ok),
                ),
                true,
            ),
            (
                request(
                    &ld(1, &kv("keep", &ld(6, &ld(1, &kv("x", &bad_str))))),
                    &[ok],
                ),
                true,
            ),
        ];
        let keep = |k: &str| k == "keep";
        for (i, (data, refused)) in cases.iter().enumerate() {
            for wanted in [None, Some(&keep as &(dyn Fn(&str) -> bool + Sync))] {
                let one = decode_traces(data, wanted);
                assert_eq!(one.upb_refused, *refused, "case {i}");
                assert_eq!(
                    format!("{one:?}"),
                    format!("{:?}", decode_checked(data, wanted)),
                    "case {i}"
                );
            }
        }
        // nesting: an unwanted value 97 arrays deep is within upb's limit, 98 is not
        // (request 0, resource spans 1, scope spans 2, span 3, key value 4, then two
        // levels per array)
        for (levels, refused) in [(47, false), (48, true)] {
            let mut v = ld(3, &[0x18, 1]); // AnyValue{int_value: 1}
            for _ in 0..levels {
                v = ld(5, &ld(1, &v)); // AnyValue{array_value: ArrayValue{values: [v]}}
            }
            let data = request(b"", &[span(2, &ld(9, &kv("skip", &v)))]);
            let one = decode_traces(&data, Some(&keep));
            assert_eq!(one.upb_refused, refused, "{levels} levels");
            assert_eq!(
                format!("{one:?}"),
                format!("{:?}", decode_checked(&data, Some(&keep))),
                "{levels} levels"
            );
        }
    }

    use crate::test_rng::Rng;

    /// The fast-path tests' random bytes.
    impl Rng {
        /// bytes mostly ASCII, sometimes a multi-byte character, a lone continuation byte
        /// or a truncated sequence
        fn text(&mut self, max: usize) -> Vec<u8> {
            let pieces: [&[u8]; 8] = [
                b"a",
                b"Z",
                b".",
                b"\xc3\xa9",
                b"\xe2\x82\xac",
                b"\x80",
                b"\xe2\x82",
                b"\xf0\x9f\x98\x80",
            ];
            let mut out = vec![];
            let n = self.index(max + 1);
            while out.len() < n {
                let k = self.index(40);
                out.extend_from_slice(pieces[if k < 8 { k } else { k % 3 }]);
            }
            out
        }
    }

    /// Strings: ASCII of every length around the word sizes, then valid and invalid
    /// non-ASCII ones, each also at every position of a longer ASCII string.
    fn utf8_cases() -> Vec<Vec<u8>> {
        let mut cases: Vec<Vec<u8>> = (0..40).map(|n| vec![b'k'; n]).collect();
        let odd: [&[u8]; 7] = [
            b"\xc3\xa9",
            b"\xe2\x82\xac",
            b"\xff",
            b"\x80",
            b"\xe2\x82",
            b"\xed\xa0\x80",
            b"\x7f",
        ];
        for o in odd {
            for at in [0, 1, 7, 8, 15, 16, 31] {
                let mut s = vec![b'a'; 32];
                s.splice(at..at, o.iter().copied());
                cases.push(s[..at + o.len()].to_vec());
                cases.push(s);
            }
        }
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        cases.extend((0..2000).map(|_| rng.text(40)));
        cases
    }

    #[test]
    fn utf8_ok_agrees_with_from_utf8() {
        let cases = utf8_cases();
        let ascii = cases.iter().filter(|c| c.is_ascii()).count();
        let invalid = cases
            .iter()
            .filter(|c| std::str::from_utf8(c).is_err())
            .count();
        assert!(ascii > 40 && invalid > 100 && cases.len() - ascii - invalid > 100);
        for c in &cases {
            assert_eq!(utf8_ok(c), std::str::from_utf8(c).is_ok(), "{c:?}");
        }
    }

    /// `AnyValue` bytes: the shapes the flat check decides and their near misses.
    fn any_value_cases() -> Vec<Vec<u8>> {
        let mut cases = vec![vec![]];
        for s in utf8_cases().into_iter().take(150) {
            cases.push(ld(1, &s));
            cases.push(ld(7, &s)); // bytes_value: not a string
        }
        cases.push(ld(1, &[b'x'; 127]));
        cases.push(ld(1, &[b'x'; 128])); // a two-byte length
        cases.push(ld(1, &[0xff; 130]));
        cases.push([0x0a, 0x81, 0x00, b'a'].to_vec()); // a length of two bytes for 1
        for tag in [0x10, 0x18, 0x40] {
            for n in 0..=11 {
                let mut v = vec![tag];
                v.extend(std::iter::repeat_n(0x80, n));
                cases.push(v.clone()); // truncated
                v.push(0x01);
                cases.push(v.clone());
                v.push(0x18);
                cases.push(v); // a second, broken field
            }
        }
        for n in [0, 7, 8, 9, 16] {
            cases.push([vec![0x21], vec![3; n]].concat());
        }
        cases.push(ld(5, &ld(1, &vi(3, 1))));
        cases.push(ld(6, &ld(1, &kv("k", &ld(1, b"\xff")))));
        cases.push(vec![0x0b, 0x0c]); // a group
        cases.push(vec![0x0e]);
        let mut rng = Rng(7);
        for _ in 0..3000 {
            let head = [0x0a, 0x10, 0x18, 0x21, 0x2a, 0x3a][rng.index(6)];
            let mut v = vec![head];
            let n = rng.index(12);
            v.extend((0..n).map(|_| [0x80, 0x01, 0x7f, 0xff, b'a', 0xc3, 0xa9, 0][rng.index(8)]));
            cases.push(v);
        }
        cases
    }

    #[test]
    fn the_flat_any_value_check_agrees_with_the_walk() {
        let (mut flat, mut unsound, mut walked) = (0, 0, 0);
        for (i, c) in any_value_cases().iter().enumerate() {
            let walk = upb_check_nested(c, ANY_VALUE, 5);
            match flat_any_value(c) {
                Some(sound) => {
                    flat += 1;
                    unsound += usize::from(!sound);
                    assert_eq!(sound, walk, "case {i}: {c:?}");
                }
                None => walked += 1,
            }
        }
        // both sides of the fast path are exercised, with sound and unsound values
        assert!(
            flat > 250 && unsound > 50 && walked > 500,
            "{flat} {unsound} {walked}"
        );
        assert_eq!(flat_any_value(&ld(1, b"\xff")), Some(false));
        assert_eq!(flat_any_value(&ld(1, "é".as_bytes())), Some(true));
        assert_eq!(flat_any_value(&vi(3, u64::MAX)), Some(true));
        assert_eq!(flat_any_value(&ld(5, b"")), None);
    }

    #[test]
    fn usual_and_other_key_values_decode_alike() {
        // every value of any_value_cases under keys of the wanted length and others, in the
        // usual shape (read directly) and in others (the general reader): a two-byte key
        // length, the value before the key, the key twice; the one pass must agree with
        // the two steps, and all shapes with each other
        let wanted = |k: &str| k == "db.rows" || k == "keep";
        let sigs = 1 << key_sig(b"db.rows") | 1 << key_sig(b"keep");
        let values = any_value_cases();
        // "xx.rows" and "ke\xffp" share the bit of a wanted key (they are made a str, or
        // refused, and asked about); "db.name" and "k\xff" do not (only checked)
        let keys: [&[u8]; 8] = [
            b"db.rows",
            b"db.name",
            b"keep",
            b"order.id",
            b"service.name",
            b"k\xff",
            b"xx.rows",
            b"ke\xffp",
        ];
        assert_eq!(key_sig(b"xx.rows"), key_sig(b"db.rows"));
        assert_eq!(key_sig(b"ke\xffp"), key_sig(b"keep"));
        assert_ne!(sigs >> key_sig(b"db.name") & 1, 1);
        assert_ne!(sigs >> key_sig(b"k\xff") & 1, 1);
        let mut rng = Rng(99);
        let (mut refused, mut decoded) = (0, 0);
        for (i, v) in values.iter().enumerate() {
            let key = keys[i % keys.len()];
            let usual = [ld(1, key), ld(2, v)].concat();
            let mut long_len = vec![0x0a, 0x80 | key.len() as u8, 0x00];
            long_len.extend_from_slice(key);
            long_len.extend(ld(2, v));
            let shapes = [
                usual,
                long_len,
                [ld(2, v), ld(1, key)].concat(),
                [ld(1, keys[rng.index(keys.len())]), ld(1, key), ld(2, v)].concat(),
            ];
            let mut seen = vec![];
            for (j, attr) in shapes.iter().enumerate() {
                let res = if i % 7 == 0 { ld(1, attr) } else { vec![] };
                let data = request(&res, &[span(2, &ld(9, attr)), span(3, &ld(5, b"ok"))]);
                let one = decode_traces_sigs(&data, Some(&wanted), sigs);
                let two = decode_checked(&data, Some(&wanted));
                assert_eq!(format!("{one:?}"), format!("{two:?}"), "case {i} shape {j}");
                assert_eq!(
                    format!("{one:?}"),
                    format!("{:?}", decode_traces(&data, Some(&wanted))),
                    "case {i} shape {j}"
                );
                if one.upb_refused {
                    refused += 1;
                } else {
                    decoded += 1;
                }
                if j != 3 {
                    seen.push(format!(
                        "{} {:?} {:?} {:?}",
                        one.upb_refused, one.attr_key, one.attr_value, one.resources
                    ));
                }
            }
            assert!(seen.iter().all(|x| *x == seen[0]), "case {i}: {seen:?}");
        }
        assert!(refused > 500 && decoded > 500, "{refused} {decoded}");
    }

    #[test]
    fn invalid_utf8_rejects_only_its_span_with_the_offset() {
        let spans = [span(2, &ld(5, b"\xff")), span(3, &ld(5, b"ok"))];
        let data = request(b"", &spans);
        let b = decode_traces(&data, None);
        assert!(b.upb_refused && b.error.is_none());
        assert_eq!(b.name, ["ok"]);
        // the offset of the bad byte in the whole request (the Python decoder gives 38 too)
        assert_eq!(
            texts(&b),
            [(
                Level::Span,
                ": string field 'name' is not valid UTF-8 at byte offset 38; span skipped".into(),
                1
            )]
        );
        assert_eq!((b.problems[0].received, b.received), (1, 1));
        // in the resource: every span under it, counted in one message
        let res = ld(1, &kv("r", &ld(1, b"\xed\xa0\x80")));
        let data = request(&res, &spans[1..]);
        let b = decode_traces(&data, None);
        assert!(b.is_empty() && b.problems.len() == 1);
        assert_eq!(b.problems[0].level, Level::Resource);
        assert!(b.problems[0].text.ends_with("; its 1 spans skipped"));
        assert_eq!(b.problems[0].rejected, 1);
    }

    #[test]
    fn nesting_is_counted_from_the_part_upb_parses() {
        // request > resource spans > scope spans > span > key value > any value: 5 levels,
        // then 2 per array. The whole request takes 47 arrays; the slow path parses the
        // resource spans (48), the scope spans (49) or the span (50 is too many) on its own
        let nested = |arrays: usize| {
            let mut v = ld(1, b"x");
            for _ in 0..arrays {
                v = ld(5, &ld(1, &v));
            }
            request(b"", &[span(2, &ld(9, &kv("k", &v)))])
        };
        for (arrays, refused, kept) in [(47, false, 1), (48, true, 1), (49, true, 1), (50, true, 0)]
        {
            let data = nested(arrays);
            let b = decode_traces(&data, None);
            assert_eq!((b.upb_refused, b.len()), (refused, kept), "{arrays}");
        }
        let data = nested(50);
        let b = decode_traces(&data, None);
        assert!(
            b.problems[0]
                .text
                .starts_with(": messages nested deeper than 100 at byte offset "),
            "{:?}",
            b.problems
        );
    }

    #[test]
    fn broken_framing_above_the_spans_refuses_the_request() {
        let b = decode_traces(b"\x0a\x05\x12\x03", None);
        assert_eq!(
            b.error,
            Some((
                0,
                "field 1 says it is 5 bytes long, but only 2 remain in its message (truncated \
                 input?)"
                    .into()
            ))
        );
        let b = decode_traces(b"\x0b", None);
        assert_eq!(
            b.error,
            Some((0, "wire type 3 in field 1 (not used by OTLP)".into()))
        );
    }

    #[test]
    fn a_long_string_rejects_its_span() {
        let long = vec![b'a'; MAX_STRING_BYTES + 1];
        let spans = [span(2, &ld(5, &long)), span(3, &ld(5, b"ok"))];
        let data = request(b"", &spans);
        let b = decode_traces(&data, None);
        assert!(!b.upb_refused);
        assert_eq!(b.name, ["ok"]);
        assert!(b.problems[0]
            .text
            .starts_with(": string field 'name' of 1048577 bytes is over the limit of 1048576"));
        // at the limit it is kept
        let ok = vec![b'a'; MAX_STRING_BYTES];
        let data = request(b"", &[span(2, &ld(5, &ok))]);
        let b = decode_traces(&data, None);
        assert_eq!((b.len(), b.problems.len()), (1, 0));
    }

    #[test]
    fn groups_upb_accepts_are_skipped_to_the_end() {
        // 100 nested groups (field 99) in a span, then its name: upb takes them
        let mut groups = vec![];
        for _ in 0..100 {
            groups.extend([0x9b, 0x06]);
        }
        for _ in 0..100 {
            groups.extend([0x9c, 0x06]);
        }
        let s = span(2, &[groups.clone(), ld(5, b"after")].concat());
        let data = request(b"", &[s]);
        let b = decode_traces(&data, None);
        assert_eq!(
            (b.upb_refused, b.len()),
            (true, 1),
            "slow path: 100 below the span"
        );
        assert_eq!(b.name, ["after"]);
        let deeper = [vec![0x9b, 0x06], groups, vec![0x9c, 0x06]].concat();
        let data = request(b"", &[span(2, &deeper)]);
        let b = decode_traces(&data, None);
        assert_eq!((b.len(), b.problems.len()), (0, 1), "101 below the span");
    }

    #[test]
    fn merges_like_protobuf_and_skips_mismatched_wire_types() {
        let s = span(
            2,
            &[
                vi(5, 7), // name as a varint: an unknown field
                ld(15, &vi(3, 1)),
                ld(15, &ld(2, b"later")),
                ld(9, &kv("a", &ld(5, &ld(1, &vi(2, 1))))),
                ld(9, &[ld(1, b"a"), ld(2, &ld(5, &ld(1, &vi(3, 5))))].concat()),
            ]
            .concat(),
        );
        let data = request(b"", &[s]);
        let b = decode_traces(&data, None);
        assert_eq!(b.name, [""]);
        assert_eq!((b.status_code[0], b.status_message[0]), (1, "later"));
        assert_eq!(
            b.attr_value[1],
            AnyValue::Array(vec![AnyValue::Int(5)]),
            "a second attribute is a second entry"
        );
    }
}
