//! OTLP protobuf (`ExportTraceServiceRequest`) decoded into columns.
//!
//! One pass over the bytes with the zero-copy [`wire`](crate::wire) reader: strings borrow
//! from the input, and only the projected attributes (`wanted`) become values; the others
//! are walked only to check them. The rules are those of the Python decoder
//! (`tracelogic.runtime_monitor.otlp.decode_traces_pb`, docs/otlp-input.md), the reference
//! this module is tested against:
//!
//! - the whole request is refused (a [`WireError`] with its byte offset) when upb would
//!   refuse it: corrupt wire format, or submessages nested deeper than upb's limit;
//! - a span is **rejected** (skipped, counted, with a message) for a missing or malformed
//!   trace, span or parent id, or for invalid UTF-8 in any string field it holds or is held
//!   in (its resource's and scope's too). upb refuses the whole request for invalid UTF-8;
//!   the hardening issue makes it per span, and this decoder does that already;
//! - a kept span is **repaired** with a warning: an all-zero parent id (a root), an end
//!   before its start, an unknown kind or status code, a malformed link (dropped);
//! - repeated fields append, a scalar field seen twice keeps the last value, and a
//!   submessage seen twice is merged, as protobuf parsers do.
//!
//! Messages are returned in parts (the span's path and name, then the text after them), so
//! the Python side can format them exactly as its own decoder does.

use crate::wire::{Fields, Value, WireError, MAX_DEPTH};

/// `AnyValue` nesting the Python decoder converts; deeper arrays and lists are `TooDeep`.
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
}

/// Which attribute keys to convert: `None` converts all.
pub type Wanted<'w> = Option<&'w (dyn Fn(&str) -> bool + Sync)>;

/// A rejected span or a repair inside a kept one.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem<'a> {
    pub resource: usize,
    pub scope: usize,
    pub span: usize,
    /// for a dropped link, its index; the message is then about the link, not the span
    pub link: Option<usize>,
    /// the span's name (lossy when it is not UTF-8)
    pub name: String,
    /// what follows the path (and name), e.g. `: trace id is missing; span skipped`
    pub text: String,
    pub rejected: bool,
    _input: std::marker::PhantomData<&'a ()>,
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
    /// spans in the input, rejected ones included
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
    pub problems: Vec<Problem<'a>>,
}

impl Batch<'_> {
    pub fn len(&self) -> usize {
        self.name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.name.is_empty()
    }
}

const SERVICE: &str = "service.name";

fn deeper(depth: u32, at: usize) -> Result<u32, WireError> {
    if depth >= MAX_DEPTH {
        return Err(WireError {
            offset: at,
            what: "messages nested deeper than 100 levels",
        });
    }
    Ok(depth + 1)
}

/// A string field: the text, or None when it is not UTF-8 (the caller rejects the span).
fn text(b: &[u8]) -> Option<&str> {
    std::str::from_utf8(b).ok()
}

/// Decode one `ExportTraceServiceRequest`.
pub fn decode_traces<'a>(data: &'a [u8], wanted: Wanted<'_>) -> Result<Batch<'a>, WireError> {
    let mut batch = Batch::default();
    let mut ri = 0;
    for field in Fields::new(data, 0) {
        if let (1, Value::Bytes(b, off)) = field? {
            resource_spans(&mut batch, b, off, deeper(0, off)?, ri, wanted)?;
            ri += 1;
        }
    }
    Ok(batch)
}

/// Everything in one `ResourceSpans` or `ScopeSpans` outside the spans themselves.
struct Envelope<'a> {
    utf8: bool,
    parts: Vec<(&'a [u8], usize)>,
}

fn resource_spans<'a>(
    batch: &mut Batch<'a>,
    buf: &'a [u8],
    base: usize,
    depth: u32,
    ri: usize,
    wanted: Wanted<'_>,
) -> Result<(), WireError> {
    let mut resource = Envelope {
        utf8: true,
        parts: vec![],
    };
    let mut scope_spans = vec![];
    for field in Fields::new(buf, base) {
        match field? {
            (1, Value::Bytes(b, off)) => resource.parts.push((b, off)),
            (2, Value::Bytes(b, off)) => scope_spans.push((b, off)),
            (3, Value::Bytes(b, _)) => resource.utf8 &= text(b).is_some(),
            _ => {}
        }
    }
    // the resource: attributes of every occurrence, in order (a merge)
    let mut res = Resource::default();
    let mut service_seen = false;
    for &(b, off) in &resource.parts {
        let d = deeper(depth, off)?;
        for field in Fields::new(b, off) {
            let (kb, koff) = match field? {
                (1, Value::Bytes(kb, koff)) => (kb, koff),
                (3, Value::Bytes(eb, eoff)) => {
                    // an EntityRef: four string fields, checked as upb checks them
                    deeper(d, eoff)?;
                    for f in Fields::new(eb, eoff) {
                        if let (1..=4, Value::Bytes(s, _)) = f? {
                            resource.utf8 &= text(s).is_some();
                        }
                    }
                    continue;
                }
                _ => continue,
            };
            {
                let (key, value, ok) = key_value(kb, koff, deeper(d, koff)?, wanted, true)?;
                resource.utf8 &= ok;
                if key == Some(SERVICE) && !service_seen {
                    service_seen = true;
                    res.service = match value {
                        Some(AnyValue::Str(s)) => s,
                        _ => "",
                    };
                }
                if let (Some(k), Some(v)) = (key, value) {
                    if wanted.is_none_or(|w| w(k)) {
                        res.attrs.push((k, v));
                    }
                }
            }
        }
    }
    let res_index = batch.resources.len() as u32;
    batch.resources.push(res);
    for (si, &(b, off)) in scope_spans.iter().enumerate() {
        let d = deeper(depth, off)?;
        scope_spans_(batch, b, off, d, (ri, si), res_index, resource.utf8, wanted)?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn scope_spans_<'a>(
    batch: &mut Batch<'a>,
    buf: &'a [u8],
    base: usize,
    depth: u32,
    (ri, si): (usize, usize),
    res_index: u32,
    resource_utf8: bool,
    wanted: Wanted<'_>,
) -> Result<(), WireError> {
    let mut utf8 = resource_utf8;
    let mut name: &str = "";
    let mut spans = vec![];
    for field in Fields::new(buf, base) {
        match field? {
            (1, Value::Bytes(b, off)) => {
                let d = deeper(depth, off)?;
                for f in Fields::new(b, off) {
                    match f? {
                        (1, Value::Bytes(s, _)) => match text(s) {
                            Some(s) => name = s,
                            None => {
                                utf8 = false;
                                name = "";
                            }
                        },
                        (2, Value::Bytes(s, _)) => utf8 &= text(s).is_some(),
                        (3, Value::Bytes(kb, koff)) => {
                            utf8 &= key_value(kb, koff, deeper(d, koff)?, None, false)?.2;
                        }
                        _ => {}
                    }
                }
            }
            (2, Value::Bytes(b, off)) => spans.push((b, off)),
            (3, Value::Bytes(b, _)) => utf8 &= text(b).is_some(),
            _ => {}
        }
    }
    let scope_index = batch.scopes.len() as u32;
    batch.scopes.push(name);
    batch.received += spans.len();
    for (k, &(b, off)) in spans.iter().enumerate() {
        let d = deeper(depth, off)?;
        span(
            batch,
            b,
            off,
            d,
            (ri, si, k),
            (res_index, scope_index),
            utf8,
            wanted,
        )?;
    }
    Ok(())
}

/// A `KeyValue`: (key, value if converted, every string valid UTF-8). With `wanted` None
/// and `convert` false the value is only checked; with `wanted`, only wanted keys convert.
fn key_value<'a>(
    buf: &'a [u8],
    base: usize,
    depth: u32,
    wanted: Wanted<'_>,
    convert: bool,
) -> Result<(Option<&'a str>, Option<AnyValue<'a>>, bool), WireError> {
    let mut ok = true;
    let mut key: Option<&'a str> = Some("");
    let mut values = vec![];
    for field in Fields::new(buf, base) {
        match field? {
            (1, Value::Bytes(b, _)) => {
                key = text(b);
                ok &= key.is_some();
            }
            (2, Value::Bytes(b, off)) => values.push((b, off)),
            _ => {}
        }
    }
    let keep = convert && key.is_some_and(|k| wanted.is_none_or(|w| w(k)) || k == SERVICE);
    let mut value = AnyValue::Empty;
    for &(b, off) in &values {
        let (v, fine) = any_value(b, off, deeper(depth, off)?, 0, keep, value)?;
        value = v;
        ok &= fine;
    }
    Ok((key, if keep { Some(value) } else { None }, ok))
}

/// An `AnyValue` merged into `into` (protobuf's merge of a field seen twice):
/// (the value, every string valid UTF-8). `level` is the Python decoder's value depth.
fn any_value<'a>(
    buf: &'a [u8],
    base: usize,
    depth: u32,
    level: u32,
    keep: bool,
    into: AnyValue<'a>,
) -> Result<(AnyValue<'a>, bool), WireError> {
    if depth > MAX_DEPTH {
        return Err(WireError {
            offset: base,
            what: "messages nested deeper than 100 levels",
        });
    }
    let mut ok = true;
    let mut v = into;
    for field in Fields::new(buf, base) {
        match field? {
            (1, Value::Bytes(b, _)) => {
                let s = text(b);
                ok &= s.is_some();
                v = AnyValue::Str(s.unwrap_or(""));
            }
            (2, Value::Varint(x)) => v = AnyValue::Bool(x != 0),
            (3, Value::Varint(x)) => v = AnyValue::Int(x as i64),
            (4, Value::Fixed64(x)) => v = AnyValue::Double(f64::from_bits(x)),
            (7, Value::Bytes(b, _)) => v = AnyValue::Bytes(b),
            // string_value_strindex: the Python decoder reads it as the int it is
            (8, Value::Varint(x)) => v = AnyValue::Int(i64::from(x as u32 as i32)),
            (n @ (5 | 6), Value::Bytes(b, off)) => {
                let d = deeper(depth, off)?;
                let mut items = match (n, v) {
                    (5, AnyValue::Array(items)) => Some(Ok(items)),
                    (6, AnyValue::KvList(items)) => Some(Err(items)),
                    _ => None,
                };
                for f in Fields::new(b, off) {
                    if let (1, Value::Bytes(eb, eoff)) = f? {
                        if n == 5 {
                            let (e, fine) = any_value(
                                eb,
                                eoff,
                                deeper(d, eoff)?,
                                level + 1,
                                keep,
                                AnyValue::Empty,
                            )?;
                            ok &= fine;
                            if keep {
                                match &mut items {
                                    Some(Ok(xs)) => xs.push(e),
                                    _ => items = Some(Ok(vec![e])),
                                }
                            }
                        } else {
                            let (k, e, fine) =
                                nested_kv(eb, eoff, deeper(d, eoff)?, level + 1, keep)?;
                            ok &= fine;
                            if keep {
                                match &mut items {
                                    Some(Err(xs)) => xs.push((k, e)),
                                    _ => items = Some(Err(vec![(k, e)])),
                                }
                            }
                        }
                    }
                }
                v = match items {
                    _ if keep && level >= MAX_VALUE_DEPTH => AnyValue::TooDeep,
                    Some(Ok(xs)) => AnyValue::Array(xs),
                    Some(Err(xs)) => AnyValue::KvList(xs),
                    None if n == 5 => AnyValue::Array(vec![]),
                    None => AnyValue::KvList(vec![]),
                };
            }
            _ => {}
        }
    }
    Ok((v, ok))
}

/// A `KeyValue` inside a key-value list value.
fn nested_kv<'a>(
    buf: &'a [u8],
    base: usize,
    depth: u32,
    level: u32,
    keep: bool,
) -> Result<(&'a str, AnyValue<'a>, bool), WireError> {
    let mut ok = true;
    let mut key = "";
    let mut value = AnyValue::Empty;
    for field in Fields::new(buf, base) {
        match field? {
            (1, Value::Bytes(b, _)) => match text(b) {
                Some(s) => key = s,
                None => ok = false,
            },
            (2, Value::Bytes(b, off)) => {
                let (v, fine) = any_value(b, off, deeper(depth, off)?, level, keep, value)?;
                value = v;
                ok &= fine;
            }
            _ => {}
        }
    }
    Ok((key, value, ok))
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

#[allow(clippy::too_many_arguments)]
fn span<'a>(
    batch: &mut Batch<'a>,
    buf: &'a [u8],
    base: usize,
    depth: u32,
    (ri, si, k): (usize, usize, usize),
    (res_index, scope_index): (u32, u32),
    envelope_utf8: bool,
    wanted: Wanted<'_>,
) -> Result<(), WireError> {
    let mut utf8 = envelope_utf8;
    let (mut tid, mut sid, mut pid): (&[u8], &[u8], &[u8]) = (b"", b"", b"");
    let mut name: &[u8] = b"";
    let (mut kind, mut code) = (0i32, 0i32);
    let mut message: &str = "";
    let (mut start, mut end) = (0u64, 0u64);
    let mut attrs: Vec<(&'a str, AnyValue<'a>)> = vec![];
    let mut events: Vec<&'a str> = vec![];
    let mut links: Vec<(&'a [u8], &'a [u8])> = vec![];
    for field in Fields::new(buf, base) {
        match field? {
            (1, Value::Bytes(b, _)) => tid = b,
            (2, Value::Bytes(b, _)) => sid = b,
            (3, Value::Bytes(b, _)) => utf8 &= text(b).is_some(),
            (4, Value::Bytes(b, _)) => pid = b,
            (5, Value::Bytes(b, _)) => name = b,
            (6, Value::Varint(x)) => kind = x as u32 as i32,
            (7, Value::Fixed64(x)) => start = x,
            (8, Value::Fixed64(x)) => end = x,
            (9, Value::Bytes(b, off)) => {
                let (key, value, ok) = key_value(b, off, deeper(depth, off)?, wanted, true)?;
                utf8 &= ok;
                if let (Some(key), Some(value)) = (key, value) {
                    if wanted.is_none_or(|w| w(key)) {
                        attrs.push((key, value));
                    }
                }
            }
            (11, Value::Bytes(b, off)) => {
                let d = deeper(depth, off)?;
                let mut ev_name = "";
                for f in Fields::new(b, off) {
                    match f? {
                        (2, Value::Bytes(s, _)) => match text(s) {
                            Some(s) => ev_name = s,
                            None => utf8 = false,
                        },
                        (3, Value::Bytes(kb, koff)) => {
                            utf8 &= key_value(kb, koff, deeper(d, koff)?, None, false)?.2;
                        }
                        _ => {}
                    }
                }
                events.push(ev_name);
            }
            (13, Value::Bytes(b, off)) => {
                let d = deeper(depth, off)?;
                let (mut lt, mut ls): (&[u8], &[u8]) = (b"", b"");
                for f in Fields::new(b, off) {
                    match f? {
                        (1, Value::Bytes(x, _)) => lt = x,
                        (2, Value::Bytes(x, _)) => ls = x,
                        (3, Value::Bytes(s, _)) => utf8 &= text(s).is_some(),
                        (4, Value::Bytes(kb, koff)) => {
                            utf8 &= key_value(kb, koff, deeper(d, koff)?, None, false)?.2;
                        }
                        _ => {}
                    }
                }
                links.push((lt, ls));
            }
            (15, Value::Bytes(b, off)) => {
                deeper(depth, off)?;
                for f in Fields::new(b, off) {
                    match f? {
                        (2, Value::Bytes(s, _)) => match text(s) {
                            Some(s) => message = s,
                            None => utf8 = false,
                        },
                        (3, Value::Varint(x)) => code = x as u32 as i32,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    let name_text = text(name);
    utf8 &= name_text.is_some();
    let lossy = String::from_utf8_lossy(name).into_owned();
    let mut problem = |link: Option<usize>, text: String, rejected: bool| {
        batch.problems.push(Problem {
            resource: ri,
            scope: si,
            span: k,
            link,
            name: lossy.clone(),
            text,
            rejected,
            _input: std::marker::PhantomData,
        })
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
                problem(
                    None,
                    ": parent span id is all zeros; read as a root span".into(),
                    false,
                );
                root = true;
            }
            Some((_, why)) => {
                problem(None, format!(": {why}; span skipped"), true);
                return Ok(());
            }
            None => {}
        }
    }
    if !utf8 {
        // a zero-parent warning above belongs to a span that is now rejected: drop it
        if root && !pid.is_empty() {
            batch.problems.pop();
        }
        let mut p = |text: String| {
            batch.problems.push(Problem {
                resource: ri,
                scope: si,
                span: k,
                link: None,
                name: String::from_utf8_lossy(name).into_owned(),
                text,
                rejected: true,
                _input: std::marker::PhantomData,
            })
        };
        p(
            ": a string in the span, its resource or its scope is not valid UTF-8; span skipped"
                .into(),
        );
        return Ok(());
    }
    let name = name_text.unwrap_or("");
    let mut warn = |link: Option<usize>, text: String| {
        batch.problems.push(Problem {
            resource: ri,
            scope: si,
            span: k,
            link,
            name: name.to_owned(),
            text,
            rejected: false,
            _input: std::marker::PhantomData,
        })
    };
    if end < start {
        warn(
            None,
            format!(
                ": ends ({end}) before it starts ({start}); its duration is negative and its \
                 end event is placed at its start"
            ),
        );
    }
    if !(0..=5).contains(&kind) {
        warn(
            None,
            format!(": unknown span kind {kind}; read as unspecified"),
        );
    }
    if !(0..=2).contains(&code) {
        warn(None, format!(": unknown status code {code}; read as unset"));
    }
    let row = batch.name.len() as u32;
    for (j, (lt, ls)) in links.into_iter().enumerate() {
        let tw = id_problem(lt, 16, "link trace id");
        let sw = id_problem(ls, 8, "link span id");
        if lt.is_empty() || ls.is_empty() || tw.is_some() || sw.is_some() {
            let why = tw.or(sw).unwrap_or_else(|| "link id is missing".into());
            warn(Some(j), format!(": {why}; link dropped"));
        } else {
            batch.link_span.push(row);
            batch.link_trace_id.push(lt.try_into().expect("16 bytes"));
            batch.link_span_id.push(ls.try_into().expect("8 bytes"));
        }
    }
    batch.trace_id.push(tid.try_into().expect("16 bytes"));
    batch.span_id.push(sid.try_into().expect("8 bytes"));
    batch.parent_id.push(if root {
        [0; 8]
    } else {
        pid.try_into().expect("8 bytes")
    });
    batch.name.push(name);
    batch.kind.push(kind);
    batch.status_code.push(code);
    batch.status_message.push(message);
    batch.start_ns.push(start);
    batch.end_ns.push(end);
    batch.resource.push(res_index);
    batch.scope.push(scope_index);
    for (key, value) in attrs {
        batch.attr_span.push(row);
        batch.attr_key.push(key);
        batch.attr_value.push(value);
    }
    for ev in events {
        batch.event_span.push(row);
        batch.event_name.push(ev);
    }
    Ok(())
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
        let b = decode_traces(&data, Some(&want)).unwrap();
        assert_eq!((b.received, b.len()), (1, 1));
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
    fn bad_ids_reject_the_span_with_the_python_decoders_words() {
        let spans = [
            [ld(2, &[2; 8])].concat(),
            [ld(1, &[0; 16]), ld(2, &[2; 8])].concat(),
            span(3, &ld(4, &[7; 3])),
            span(4, &ld(4, &[0; 8])),
        ];
        let data = request(b"", &spans);
        let b = decode_traces(&data, None).unwrap();
        let texts: Vec<_> = b
            .problems
            .iter()
            .map(|p| (p.text.as_str(), p.rejected))
            .collect();
        assert_eq!(
            texts,
            [
                (": trace id is missing; span skipped", true),
                (
                    ": trace id is all zeros, which OpenTelemetry defines as invalid; span skipped",
                    true
                ),
                (
                    ": parent span id has 3 bytes, expected 8 (hex '070707'); span skipped",
                    true
                ),
                (": parent span id is all zeros; read as a root span", false),
            ]
        );
        assert_eq!((b.received, b.len()), (4, 1));
    }

    #[test]
    fn invalid_utf8_rejects_only_its_span() {
        let spans = [span(2, &ld(5, b"\xff")), span(3, &ld(5, b"ok"))];
        let data = request(b"", &spans);
        let b = decode_traces(&data, None).unwrap();
        assert_eq!(b.name, ["ok"]);
        assert!(b.problems[0].rejected && b.problems[0].text.contains("not valid UTF-8"));
        // in the resource: every span under it
        let res = ld(1, &kv("r", &ld(1, b"\xed\xa0\x80")));
        let data = request(&res, &spans[1..]);
        let b = decode_traces(&data, None).unwrap();
        assert!(b.is_empty() && b.problems.len() == 1);
    }

    #[test]
    fn nesting_stops_where_upbs_does() {
        // request > resource spans > scope spans > span > key value > any value: 5 levels,
        // then 2 per array; 100 decode, 101 do not
        let nested = |arrays: usize, inner: Vec<u8>| {
            let mut v = inner;
            for _ in 0..arrays {
                v = ld(5, &ld(1, &v));
            }
            request(b"", &[span(2, &ld(9, &kv("k", &v)))])
        };
        assert!(decode_traces(&nested(47, ld(5, b"")), None).is_ok()); // 100
        let err = decode_traces(&nested(48, vec![]), None).unwrap_err(); // 101
        assert_eq!(err.what, "messages nested deeper than 100 levels");
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
        let b = decode_traces(&data, None).unwrap();
        assert_eq!(b.name, [""]);
        assert_eq!((b.status_code[0], b.status_message[0]), (1, "later"));
        assert_eq!(
            b.attr_value[1],
            AnyValue::Array(vec![AnyValue::Int(5)]),
            "a second attribute is a second entry"
        );
    }
}
