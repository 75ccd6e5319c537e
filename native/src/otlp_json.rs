//! OTLP/JSON (`ExportTraceServiceRequest`) decoded into the same columns as protobuf
//! ([`crate::otlp::Batch`]).
//!
//! The rules are the Python decoder's (`tracelogic.ingest.otlp.decode_traces_json` after
//! `otlp_common.loads_json`, docs/otlp-input.md), step for step: hex ids in any case,
//! lowerCamelCase keys with snake_case accepted where `jget` accepts them, enums as numbers
//! or names, 64-bit integers as decimal strings (at most 20 digits) or numbers, unknown
//! fields ignored, the same rejections and repairs in the same order with the same counts.
//! Messages that quote input are returned as [`MsgPart`]s: the Python side writes each quoted
//! value with `repr`, so they are the Python decoder's words exactly.
//!
//! **What the core leaves to Python** ([`Outcome::Fallback`]): a whole document whose
//! decoding needs something the columns or this module do not express. The Python decoder
//! then decodes it (the same result, only slower):
//! - what the parser refuses ([`crate::json::Refused`]): malformed JSON, bytes that are not
//!   UTF-8, nesting deeper than 256;
//! - a key that breaks the text rule (a lone surrogate, over 1 MiB);
//! - a `doubleValue` string that is not ASCII (Python's `float()` reads Unicode digits and
//!   spaces).

use crate::check::MAX_STRING_BYTES;
use crate::json::{parse, Found, JStr, JValue, Refused};
use crate::otlp::{AnyValue, Batch, Level, Resource, SpanRow, Wanted, MAX_VALUE_DEPTH};

/// How a problem counts in `DecodeStats`.
#[derive(Debug, Clone, Copy)]
pub enum Count<'a> {
    /// `stats.warn`
    Warn,
    /// `stats.reject_many(n, ...)`
    Reject(usize),
    /// `stats.rejected += n` and `stats.error(InputError(message, value=...))`
    Error(usize, &'a JValue),
}

/// A rejection, repair or part-level error: its path (as [`crate::otlp::Problem`]), what
/// follows the path, and how it counts. `received`: spans it adds to `received`.
#[derive(Debug, Clone)]
pub struct JProblem<'a> {
    pub level: Level,
    pub resource: usize,
    pub scope: usize,
    pub span: usize,
    pub parts: Vec<MsgPart<'a>>,
    pub count: Count<'a>,
    pub received: usize,
}

/// A piece of a message: text, or an input value the Python side writes with `repr`.
#[derive(Debug, Clone)]
pub enum MsgPart<'a> {
    Text(String),
    Repr(&'a JValue),
}

/// The error that refuses a whole document: its message parts and value (see [`Outcome`]).
pub type Refusal<'a> = Option<(Vec<MsgPart<'a>>, Option<&'a JValue>)>;

/// The decoded document. (One per document: the size of the variants does not matter.)
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Outcome<'a> {
    /// the columns (their `problems` are empty: see `problems`), the problems in the
    /// Python decoder's order, and the error that refuses the whole document, if any
    /// (`InputError(f"{loc}{message}", value=...)`; `None` as the value is Python's None)
    Decoded {
        batch: Batch<'a>,
        problems: Vec<JProblem<'a>>,
        refused: Refusal<'a>,
    },
    /// the whole document is left to the Python decoder, for this reason
    Fallback(&'static str),
}

/// Parse one document: the value and whether a string in it breaks the text rule (a lone
/// surrogate, over 1 MiB); see [`decode`].
pub fn parse_doc(data: &[u8]) -> Result<(JValue, bool), &'static str> {
    match parse(data) {
        Ok((v, found)) => text_check(&found).map(|check| (v, check)),
        Err(Refused::Malformed) => Err("malformed JSON or not UTF-8"),
        Err(Refused::TooDeep) => Err("nested deeper than the JSON limit"),
    }
}

/// Of a parsed document: whether a string in it breaks the text rule (the `text_check` of
/// [`decode`]), or why the core leaves it to Python (a key that breaks the rule).
pub fn text_check(found: &Found) -> Result<bool, &'static str> {
    if found.lone_key || found.longest_key > MAX_STRING_BYTES {
        return Err(KEY);
    }
    Ok(found.lone_surrogate || found.longest_string > MAX_STRING_BYTES)
}

const KEY: &str = "a key that breaks the text rule";

/// `text_rule.string_problem`.
fn string_problem(s: &JStr) -> Option<String> {
    if let Some((at, u)) = s.lone {
        return Some(format!(
            "holds a lone surrogate U+{u:04X} at character {at} (OTLP strings must be valid \
             UTF-8; \\ud800-\\udfff escapes are allowed in JSON only as surrogate pairs)"
        ));
    }
    let n = s.s.len();
    (n > MAX_STRING_BYTES).then(|| {
        format!("holds a string of {n} bytes, over the limit of {MAX_STRING_BYTES} bytes of UTF-8")
    })
}

/// `text_rule.text_problem`: the path below `v` and the reason of the first string, in
/// document order, that breaks the text rule (keys cannot: the parser refuses them).
/// `skip`: keys of `v` itself not to look into.
fn text_problem(v: &JValue, skip: &[&str]) -> Option<String> {
    match v {
        JValue::Str(s) => string_problem(s).map(|why| format!(": {why}")),
        JValue::Array(xs) => xs
            .iter()
            .enumerate()
            .find_map(|(i, x)| text_problem(x, &[]).map(|rest| format!("[{i}]{rest}"))),
        JValue::Object(kvs) => kvs
            .iter()
            .filter(|(k, _)| !skip.contains(&k.as_str()))
            .find_map(|(k, x)| text_problem(x, &[]).map(|rest| format!(".{k}{rest}"))),
        _ => None,
    }
}

const KIND_ENUM: [&str; 6] = [
    "SPAN_KIND_UNSPECIFIED",
    "SPAN_KIND_INTERNAL",
    "SPAN_KIND_SERVER",
    "SPAN_KIND_CLIENT",
    "SPAN_KIND_PRODUCER",
    "SPAN_KIND_CONSUMER",
];
const STATUS_ENUM: [&str; 3] = ["STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"];
const INT64_MIN: i128 = i64::MIN as i128;
const INT64_MAX: i128 = i64::MAX as i128;
const UINT64_MAX: i128 = u64::MAX as i128;

type Fallback = &'static str;

/// `jget`: `obj[camel]`, else `obj[snake]`; null is absent.
fn jget<'a>(obj: &'a JValue, camel: &str, snake: &str) -> Option<&'a JValue> {
    match obj.get(camel) {
        None | Some(JValue::Null) if snake != camel => obj.get(snake),
        v => v,
    }
    .filter(|v| !matches!(v, JValue::Null))
}

fn t(s: impl Into<String>) -> MsgPart<'static> {
    MsgPart::Text(s.into())
}

/// `jlist`/`jobj`: the value if of the kind, None when absent, else the ValueError text.
fn jkind<'a>(
    obj: &'a JValue,
    camel: &str,
    snake: &str,
    where_: &str,
    list: bool,
) -> Result<Option<&'a JValue>, String> {
    match jget(obj, camel, snake) {
        None => Ok(None),
        Some(v @ JValue::Array(_)) if list => Ok(Some(v)),
        Some(v @ JValue::Object(_)) if !list => Ok(Some(v)),
        Some(v) => Err(format!(
            "{where_}.{camel} must be a JSON {}, not {}",
            if list { "array" } else { "object" },
            v.type_name()
        )),
    }
}

fn items(v: Option<&JValue>) -> &[JValue] {
    match v {
        Some(JValue::Array(xs)) => xs,
        _ => &[],
    }
}

/// `json_int`: a decimal string of at most 21 characters or an integral number, in range.
fn json_int(x: &JValue, lo: i128, hi: i128) -> Option<i128> {
    let v = match x {
        JValue::Str(s) => {
            let s = s.s.as_str();
            let digits = s.strip_prefix('-').unwrap_or(s);
            if s.len() > 21 || digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            s.parse::<i128>().ok()?
        }
        JValue::Int(i) => *i,
        JValue::Float(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e30 => *f as i128,
        _ => return None,
    };
    (lo..=hi).contains(&v).then_some(v)
}

/// `json_enum`: None (absent) is 0, an integer is itself, a string a name or a decimal.
fn json_enum(x: Option<&JValue>, names: &[&str]) -> Option<i128> {
    match x {
        None | Some(JValue::Null) => Some(0),
        Some(JValue::Int(i)) => Some(*i),
        Some(v @ JValue::Str(s)) => match names.iter().position(|n| *n == s.s) {
            Some(i) => Some(i as i128),
            None => json_int(v, INT64_MIN, UINT64_MAX),
        },
        _ => None,
    }
}

enum Id<N> {
    Absent,
    Ok(N),
    Bad(Vec<MsgPart<'static>>, Option<String>),
}

/// `json_id`: a hex id of `N` bytes; the reason as (text before the value, text after).
fn json_id<'a, const N: usize>(
    x: Option<&'a JValue>,
    what: &str,
) -> (Id<[u8; N]>, Option<&'a JValue>) {
    let x = match x {
        None | Some(JValue::Null) => return (Id::Absent, None),
        Some(JValue::Str(s)) if s.s.is_empty() => return (Id::Absent, None),
        Some(x) => x,
    };
    if let JValue::Str(JStr { s, .. }) = x {
        if s.len() == 2 * N && s.bytes().all(|c| c.is_ascii_hexdigit()) {
            let mut out = [0u8; N];
            for (i, o) in out.iter_mut().enumerate() {
                *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap_or(0);
            }
            if out.iter().all(|&b| b == 0) {
                let after = " is all zeros, which OpenTelemetry defines as invalid".to_string();
                return (Id::Bad(vec![t(format!("{what} "))], Some(after)), Some(x));
            }
            return (Id::Ok(out), Some(x));
        }
    }
    let mut hint = "";
    if let JValue::Str(JStr { s, .. }) = x {
        if s.chars().count() == if N == 16 { 24 } else { 12 } && s.ends_with('=') {
            hint = "; it looks base64-encoded, as protobuf's generic JSON mapping writes \
                    ids, but OTLP/JSON ids are hex: re-export with an OTLP/JSON exporter";
        }
    }
    let after = format!(" is not {} hex digits ({N} bytes){hint}", 2 * N);
    (Id::Bad(vec![t(format!("{what} "))], Some(after)), Some(x))
}

/// The reason of a bad [`Id`] as message parts.
fn id_why<'a>(
    pre: Vec<MsgPart<'static>>,
    after: Option<String>,
    x: &'a JValue,
) -> Vec<MsgPart<'a>> {
    let mut out: Vec<MsgPart<'a>> = pre;
    out.push(MsgPart::Repr(x));
    out.extend(after.map(MsgPart::Text));
    out
}

/// `base64.b64decode(x.replace("-", "+").replace("_", "/") + "=" * (-len(x) % 4),
/// validate=True)`: the URL-safe alphabet too, padding added, at most two `=` at the
/// end, leftover bits ignored (binascii's non-strict mode).
fn b64(s: &str) -> Option<Vec<u8>> {
    let n = s.chars().count();
    let mut v: Vec<u8> = s
        .bytes()
        .map(|c| match c {
            b'-' => b'+',
            b'_' => b'/',
            c => c,
        })
        .collect();
    v.extend(std::iter::repeat_n(b'=', (4 - n % 4) % 4));
    let body = v.iter().position(|&c| c == b'=').unwrap_or(v.len());
    if v.len() - body > 2 || v[body..].iter().any(|&c| c != b'=') {
        return None;
    }
    let mut out = Vec::with_capacity(body * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for &c in &v[..body] {
        let d = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | d as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Python's `float(s)` on an ASCII string: `Ok(Some(x))`, `Ok(None)` where it raises
/// ValueError, `Err` for a non-ASCII string (Python reads Unicode digits and spaces too; left
/// to Python). Surrounding ASCII whitespace (`Py_ISSPACE`) is ignored, `_` is allowed between
/// digits, `inf`, `infinity` and `nan` in any case with a sign.
fn py_float(s: &str) -> Result<Option<f64>, Fallback> {
    if !s.is_ascii() {
        return Err("a non-ASCII doubleValue string");
    }
    let t = s.trim_matches(|c: char| matches!(c, ' ' | '\t'..='\r'));
    let b = t.as_bytes();
    let mut clean = String::with_capacity(t.len());
    for (i, &c) in b.iter().enumerate() {
        if c == b'_' {
            let digit = |j: Option<usize>| j.and_then(|j| b.get(j)).is_some_and(u8::is_ascii_digit);
            if !digit(i.checked_sub(1)) || !digit(Some(i + 1)) {
                return Ok(None);
            }
        } else {
            clean.push(c as char);
        }
    }
    let unsigned = clean.strip_prefix(['+', '-']).unwrap_or(&clean);
    let negative = clean.starts_with('-');
    let special = match unsigned.to_ascii_lowercase().as_str() {
        "inf" | "infinity" => Some(f64::INFINITY),
        "nan" => Some(f64::NAN),
        _ => None,
    };
    if let Some(x) = special {
        return Ok(Some(if negative { -x } else { x }));
    }
    Ok(plain_decimal(&clean).then(|| clean.parse().ok()).flatten())
}

/// A decimal as Python's `float()` and Rust both read it: `[+-]?(d+[.d*]|.d+)([eE][+-]?d+)?`.
fn plain_decimal(s: &str) -> bool {
    let b = s.strip_prefix(['+', '-']).unwrap_or(s).as_bytes();
    let mut i = 0;
    let int = b.iter().take_while(|c| c.is_ascii_digit()).count();
    i += int;
    let mut frac = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        frac = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        i += frac;
    }
    if int + frac == 0 {
        return false;
    }
    if let Some(b'e' | b'E') = b.get(i) {
        i += 1;
        if let Some(b'+' | b'-') = b.get(i) {
            i += 1;
        }
        let e = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if e == 0 {
            return false;
        }
        i += e;
    }
    i == b.len()
}

/// `any_json`: the value of an OTLP/JSON `AnyValue`, [`AnyValue::Invalid`] for a wrong
/// spelling. A non-ASCII `doubleValue` string falls back.
fn any_json(v: &JValue, depth: u32) -> Result<AnyValue<'_>, Fallback> {
    let JValue::Object(kvs) = v else {
        let why = INVALID[0];
        return Ok(AnyValue::Invalid(v, why));
    };
    for (k, x) in kvs {
        let kind = match k.as_str() {
            "stringValue" | "string_value" => 0,
            "boolValue" | "bool_value" => 1,
            "intValue" | "int_value" => 2,
            "doubleValue" | "double_value" => 3,
            "arrayValue" | "array_value" => 4,
            "kvlistValue" | "kvlist_value" => 5,
            "bytesValue" | "bytes_value" => 6,
            _ => continue,
        };
        let bad = |why| Ok(AnyValue::Invalid(x, why));
        return match (kind, x) {
            (0, JValue::Str(s)) => Ok(AnyValue::Str(&s.s)),
            (0, _) => bad(INVALID[1]),
            (1, JValue::Bool(b)) => Ok(AnyValue::Bool(*b)),
            (1, _) => bad(INVALID[2]),
            (2, x) => match json_int(x, INT64_MIN, INT64_MAX) {
                Some(i) => Ok(AnyValue::Int(i as i64)),
                None => bad(INVALID[3]),
            },
            (3, JValue::Int(i)) => Ok(AnyValue::Double(*i as f64)),
            (3, JValue::Float(f)) => Ok(AnyValue::Double(*f)),
            (3, JValue::Str(s)) => match s.s.as_str() {
                "NaN" => Ok(AnyValue::Double(f64::NAN)),
                "Infinity" => Ok(AnyValue::Double(f64::INFINITY)),
                "-Infinity" => Ok(AnyValue::Double(f64::NEG_INFINITY)),
                d => match py_float(d)? {
                    Some(f) => Ok(AnyValue::Double(f)),
                    None => bad(INVALID[4]),
                },
            },
            (3, _) => bad(INVALID[4]),
            (6, JValue::Str(s)) => match s.b64.get_or_init(|| b64(&s.s)) {
                Some(b) => Ok(AnyValue::Bytes(b)),
                None => bad(INVALID[5]),
            },
            (6, _) => bad(INVALID[5]),
            (_, x) => {
                if depth >= MAX_VALUE_DEPTH {
                    return Ok(AnyValue::TooDeep);
                }
                let values = match x {
                    JValue::Object(_) => match jget(x, "values", "values") {
                        None => &[][..],
                        Some(JValue::Array(xs)) => xs,
                        Some(_) => return bad(LIST),
                    },
                    _ => return bad(LIST),
                };
                if kind == 4 {
                    let xs = values.iter().map(|e| any_json(e, depth + 1));
                    Ok(AnyValue::Array(xs.collect::<Result<_, _>>()?))
                } else {
                    let mut out = vec![];
                    for kv in values {
                        if let Some(JValue::Str(key)) = kv.get("key") {
                            let value = match kv.get("value") {
                                None => AnyValue::Empty,
                                Some(v) => any_json(v, depth + 1)?,
                            };
                            out.push((key.s.as_str(), value));
                        }
                    }
                    Ok(AnyValue::KvList(out))
                }
            }
        };
    }
    Ok(AnyValue::Empty)
}

const LIST: &str = INVALID[6];

/// Every reason of an [`AnyValue::Invalid`] (Python's `InvalidValue.reason` in `any_json`).
pub const INVALID: [&str; 7] = [
    "an AnyValue must be a JSON object such as {\"stringValue\": \"x\"}",
    "stringValue is not a string",
    "boolValue is not true/false",
    "intValue is not an integer in the 64-bit range",
    "doubleValue is not a number",
    "bytesValue is not base64",
    "arrayValue/kvlistValue must be {\"values\": [...]}",
];

/// `attrs_json`: the wanted entries, or the ValueError's message.
#[allow(clippy::type_complexity)]
fn attrs_json<'a>(
    lst: Option<&'a JValue>,
    wanted: Wanted<'_>,
    empty_wanted: bool,
) -> Result<Result<Vec<(&'a str, AnyValue<'a>)>, Vec<MsgPart<'a>>>, Fallback> {
    let mut out = vec![];
    let lst = match lst {
        Some(v) if v.truthy() && !empty_wanted => v,
        _ => return Ok(Ok(out)),
    };
    let JValue::Array(kvs) = lst else {
        return Ok(Err(vec![t(
            "attributes must be a JSON array of {\"key\": ..., \"value\": ...}",
        )]));
    };
    for kv in kvs {
        let Some(JValue::Str(k)) = kv.get("key") else {
            return Ok(Err(vec![
                t("attribute entry "),
                MsgPart::Repr(kv),
                t(" has no string \"key\""),
            ]));
        };
        if wanted.is_none_or(|w| w(&k.s)) {
            let v = match kv.get("value") {
                None => AnyValue::Empty,
                Some(v) => any_json(v, 0)?,
            };
            out.push((k.s.as_str(), v));
        }
    }
    Ok(Ok(out))
}

/// `_service_json`: the first `service.name` entry's string value, else "".
fn service_json(rkvs: Option<&JValue>) -> &str {
    for kv in items(rkvs) {
        if kv.get("key").and_then(JValue::as_str) == Some("service.name") {
            return match kv.get("value") {
                Some(v @ JValue::Object(_)) => jget(v, "stringValue", "string_value")
                    .and_then(JValue::as_str)
                    .unwrap_or(""),
                _ => "",
            };
        }
    }
    ""
}

/// `_count_json_spans` of a resource spans object.
fn count_rs(rs: &JValue) -> usize {
    let scopes = match jget(rs, "scopeSpans", "scope_spans") {
        None => jget(
            rs,
            "instrumentationLibrarySpans",
            "instrumentation_library_spans",
        ),
        s => s,
    };
    items(scopes).iter().map(count_ss).sum()
}

fn count_ss(ss: &JValue) -> usize {
    match ss.get("spans") {
        Some(JValue::Array(xs)) => xs.len(),
        _ => 0,
    }
}

/// Decode one parsed OTLP/JSON trace request. `empty_wanted`: `wanted` accepts no key
/// (the Python decoder then skips checking attribute lists).
/// `text_check`: a string in the document breaks the text rule ([`parse_doc`]).
pub fn decode<'a>(
    doc: &'a JValue,
    wanted: Wanted<'_>,
    empty_wanted: bool,
    text_check: bool,
) -> Outcome<'a> {
    match decode_inner(doc, wanted, empty_wanted, text_check) {
        Ok(o) => o,
        Err(why) => Outcome::Fallback(why),
    }
}

struct Dec<'a> {
    batch: Batch<'a>,
    problems: Vec<JProblem<'a>>,
}

impl<'a> Dec<'a> {
    fn say(
        &mut self,
        at: (Level, usize, usize, usize),
        parts: Vec<MsgPart<'a>>,
        count: Count<'a>,
        received: usize,
    ) {
        self.problems.push(JProblem {
            level: at.0,
            resource: at.1,
            scope: at.2,
            span: at.3,
            parts,
            count,
            received,
        });
    }
}

fn decode_inner<'a>(
    doc: &'a JValue,
    wanted: Wanted<'_>,
    empty_wanted: bool,
    text_check: bool,
) -> Result<Outcome<'a>, Fallback> {
    let refuse = |parts: Vec<MsgPart<'a>>, value: Option<&'a JValue>| Outcome::Decoded {
        batch: Batch::default(),
        problems: vec![],
        refused: Some((parts, value)),
    };
    if !matches!(doc, JValue::Object(_)) {
        let text = format!(
            ": expected an OTLP/JSON object with \"resourceSpans\", got a JSON {}",
            doc.type_name()
        );
        return Ok(refuse(vec![t(text)], Some(doc)));
    }
    let rss = match jkind(doc, "resourceSpans", "resource_spans", "request", true) {
        Ok(v) => items(v),
        Err(e) => return Ok(refuse(vec![t(format!(": {e}"))], doc.get("resourceSpans"))),
    };
    let mut d = Dec {
        batch: Batch::default(),
        problems: vec![],
    };
    for (ri, rs) in rss.iter().enumerate() {
        if text_check {
            let skip = [
                "scopeSpans",
                "scope_spans",
                "instrumentationLibrarySpans",
                "instrumentation_library_spans",
            ];
            if let Some(why) = text_problem(rs, &skip) {
                let n = count_rs(rs);
                let parts = vec![t(format!("{why}; its {n} spans skipped"))];
                d.say((Level::Resource, ri, 0, 0), parts, Count::Reject(n), n);
                continue;
            }
        }
        let head = (|| -> Result<Result<_, Vec<MsgPart<'a>>>, Fallback> {
            if !matches!(rs, JValue::Object(_)) {
                return Ok(Err(vec![t("must be a JSON object")]));
            }
            let res = match jkind(rs, "resource", "resource", "resourceSpans[]", false) {
                Ok(r) => r,
                Err(e) => return Ok(Err(vec![t(e)])),
            };
            let rkvs = res.and_then(|r| r.get("attributes"));
            let attrs = match attrs_json(rkvs, wanted, empty_wanted)? {
                Ok(a) => a,
                Err(e) => return Ok(Err(e)),
            };
            let service = service_json(rkvs);
            let mut legacy = false;
            let scopes = match jget(rs, "scopeSpans", "scope_spans") {
                None => {
                    legacy = true;
                    jget(
                        rs,
                        "instrumentationLibrarySpans",
                        "instrumentation_library_spans",
                    )
                }
                s => s,
            };
            if scopes.is_some_and(|s| !matches!(s, JValue::Array(_))) {
                return Ok(Err(vec![t("scopeSpans must be a JSON array")]));
            }
            Ok(Ok((Resource { service, attrs }, items(scopes), legacy)))
        })()?;
        let (resource, scopes, legacy) = match head {
            Ok(h) => h,
            Err(mut parts) => {
                let n = match rs {
                    JValue::Object(_) => count_rs(rs),
                    _ => 0,
                };
                parts.insert(0, t(": "));
                parts.push(t(format!("; its {n} spans skipped")));
                d.say((Level::Resource, ri, 0, 0), parts, Count::Error(n, rs), n);
                continue;
            }
        };
        let res_index = d.batch.resources.len() as u32;
        d.batch.resources.push(resource);
        for (si, ss) in scopes.iter().enumerate() {
            if text_check {
                if let Some(why) = text_problem(ss, &["spans"]) {
                    let n = count_ss(ss);
                    let parts = vec![t(format!("{why}; its {n} spans skipped"))];
                    d.say((Level::Scope, ri, si, 0), parts, Count::Reject(n), n);
                    continue;
                }
            }
            let head = (|| -> Result<(&'a str, &'a [JValue]), Vec<MsgPart<'a>>> {
                if !matches!(ss, JValue::Object(_)) {
                    return Err(vec![t("must be a JSON object")]);
                }
                let sc = if legacy {
                    jkind(
                        ss,
                        "instrumentationLibrary",
                        "instrumentation_library",
                        "scopeSpans[]",
                        false,
                    )
                } else {
                    jkind(ss, "scope", "scope", "scopeSpans[]", false)
                }
                .map_err(|e| vec![t(e)])?;
                let name = match sc.and_then(|s| s.get("name")) {
                    None => "",
                    Some(JValue::Str(s)) => &s.s,
                    Some(_) => return Err(vec![t("scope.name must be a string")]),
                };
                let spans =
                    jkind(ss, "spans", "spans", "scopeSpans[]", true).map_err(|e| vec![t(e)])?;
                Ok((name, items(spans)))
            })();
            let (scope_name, spans) = match head {
                Ok(h) => h,
                Err(mut parts) => {
                    let n = match ss {
                        JValue::Object(_) => count_ss(ss),
                        _ => 0,
                    };
                    parts.insert(0, t(": "));
                    parts.push(t(format!("; its {n} spans skipped")));
                    d.say((Level::Scope, ri, si, 0), parts, Count::Error(n, ss), n);
                    continue;
                }
            };
            let scope_index = d.batch.scopes.len() as u32;
            d.batch.scopes.push(scope_name);
            d.batch.received += spans.len();
            for (k, sp) in spans.iter().enumerate() {
                if text_check {
                    if let Some(why) = text_problem(sp, &[]) {
                        let parts = vec![t(format!("{why}; span skipped"))];
                        d.say((Level::Span, ri, si, k), parts, Count::Reject(1), 0);
                        continue;
                    }
                }
                span(
                    &mut d,
                    sp,
                    (ri, si, k),
                    (res_index, scope_index),
                    wanted,
                    empty_wanted,
                )?;
            }
        }
    }
    Ok(Outcome::Decoded {
        batch: d.batch,
        problems: d.problems,
        refused: None,
    })
}

/// `_span_json`: one span into the columns, or rejected; its repairs warned.
fn span<'a>(
    d: &mut Dec<'a>,
    sp: &'a JValue,
    (ri, si, k): (usize, usize, usize),
    (res_index, scope_index): (u32, u32),
    wanted: Wanted<'_>,
    empty_wanted: bool,
) -> Result<(), Fallback> {
    let at = (Level::Span, ri, si, k);
    if !matches!(sp, JValue::Object(_)) {
        let text = format!(
            ": a span must be a JSON object, not {}; span skipped",
            sp.type_name()
        );
        d.say(at, vec![t(text)], Count::Reject(1), 0);
        return Ok(());
    }
    let name_v = sp.get("name");
    let name_part = || match name_v {
        Some(v) => MsgPart::Repr(v),
        None => t("''"),
    };
    // the message after the path and the span's name
    let named = |mut parts: Vec<MsgPart<'a>>| {
        let mut out = vec![t(" "), name_part()];
        out.append(&mut parts);
        out
    };
    let reject = |d: &mut Dec<'a>, mut why: Vec<MsgPart<'a>>| -> Result<(), Fallback> {
        why.insert(0, t(": "));
        why.push(t("; span skipped"));
        d.say(at, named(why), Count::Reject(1), 0);
        Ok(())
    };
    let (tid, tx) = json_id::<16>(jget(sp, "traceId", "trace_id"), "trace id");
    let tid = match tid {
        Id::Ok(b) => b,
        Id::Absent => return reject(d, vec![t("trace id is missing")]),
        Id::Bad(pre, after) => return reject(d, id_why(pre, after, tx.unwrap_or(sp))),
    };
    let (sid, sx) = json_id::<8>(jget(sp, "spanId", "span_id"), "span id");
    let sid = match sid {
        Id::Ok(b) => b,
        Id::Absent => return reject(d, vec![t("span id is missing")]),
        Id::Bad(pre, after) => return reject(d, id_why(pre, after, sx.unwrap_or(sp))),
    };
    let raw_pid = jget(sp, "parentSpanId", "parent_span_id");
    let (pid, px) = json_id::<8>(raw_pid, "parent span id");
    let pid = match pid {
        Id::Ok(b) => b,
        Id::Absent => [0; 8],
        Id::Bad(..) if raw_pid.and_then(JValue::as_str) == Some("0000000000000000") => {
            let text = ": parent span id is all zeros; read as a root span";
            d.say(at, named(vec![t(text)]), Count::Warn, 0);
            [0; 8]
        }
        Id::Bad(pre, after) => return reject(d, id_why(pre, after, px.unwrap_or(sp))),
    };
    let name = match name_v {
        None => "",
        Some(JValue::Str(s)) => s.s.as_str(),
        Some(v) => {
            return reject(d, vec![t("name "), MsgPart::Repr(v), t(" is not a string")]);
        }
    };
    let raw_start = jget(sp, "startTimeUnixNano", "start_time_unix_nano");
    let raw_end = jget(sp, "endTimeUnixNano", "end_time_unix_nano");
    let time = |x: Option<&JValue>| match x {
        Some(v) if v.truthy() => json_int(v, 0, UINT64_MAX),
        _ => Some(0),
    };
    let (Some(start), Some(end)) = (time(raw_start), time(raw_end)) else {
        let repr = |x: Option<&'a JValue>| x.map_or(t("None"), MsgPart::Repr);
        return reject(
            d,
            vec![
                t("startTimeUnixNano/endTimeUnixNano "),
                repr(raw_start),
                t("/"),
                repr(raw_end),
                t(
                    " are not integers of nanoseconds in 0..2**64-1 (write them as decimal \
                   strings)",
                ),
            ],
        );
    };
    let (start, end) = (start as u64, end as u64);
    if end < start {
        let text = format!(
            ": ends ({end}) before it starts ({start}); its duration is negative and its \
             end event is placed at its start"
        );
        d.say(at, named(vec![t(text)]), Count::Warn, 0);
    }
    let kind_v = sp.get("kind");
    let kind = match json_enum(kind_v, &KIND_ENUM) {
        Some(n @ 0..=5) => n as i32,
        _ => {
            let mut parts = vec![
                t(": unknown span kind "),
                kind_v.map_or(t("None"), MsgPart::Repr),
            ];
            parts.push(t("; read as unspecified"));
            d.say(at, named(parts), Count::Warn, 0);
            0
        }
    };
    let st = match jkind(sp, "status", "status", "span", false) {
        Ok(st) => st,
        Err(e) => return reject(d, vec![t(e)]),
    };
    let code_v = st.and_then(|s| s.get("code"));
    let code = match json_enum(code_v, &STATUS_ENUM) {
        Some(n @ 0..=2) => n as i32,
        _ => {
            let mut parts = vec![
                t(": unknown status code "),
                code_v.map_or(t("None"), MsgPart::Repr),
            ];
            parts.push(t("; read as unset"));
            d.say(at, named(parts), Count::Warn, 0);
            0
        }
    };
    let message = match st.and_then(|s| s.get("message")) {
        None => "",
        Some(JValue::Str(s)) => s.s.as_str(),
        Some(v) => {
            return reject(
                d,
                vec![
                    t("status.message "),
                    MsgPart::Repr(v),
                    t(" is not a string"),
                ],
            );
        }
    };
    let attrs = match attrs_json(sp.get("attributes"), wanted, empty_wanted)? {
        Ok(a) => a,
        Err(why) => return reject(d, why),
    };
    let mut events = vec![];
    if let Some(evs) = sp.get("events").filter(|e| e.truthy()) {
        let JValue::Array(evs) = evs else {
            return reject(d, vec![t("events must be a JSON array")]);
        };
        events.extend(
            evs.iter()
                .filter_map(|e| e.get("name").and_then(JValue::as_str)),
        );
        if events.len() != evs.len() {
            let text = format!(
                ": {} events without a string name dropped",
                evs.len() - events.len()
            );
            d.say(at, named(vec![t(text)]), Count::Warn, 0);
        }
    }
    let mut links = vec![];
    if let Some(lks) = sp.get("links").filter(|l| l.truthy()) {
        let JValue::Array(lks) = lks else {
            return reject(d, vec![t("links must be a JSON array")]);
        };
        for (j, ln) in lks.iter().enumerate() {
            let at = (Level::Link(j), ri, si, k);
            if !matches!(ln, JValue::Object(_)) {
                let text = ": a link must be a JSON object; link dropped";
                d.say(at, vec![t(text)], Count::Warn, 0);
                continue;
            }
            let (lt, ltx) = json_id::<16>(jget(ln, "traceId", "trace_id"), "link trace id");
            let (ls, lsx) = json_id::<8>(jget(ln, "spanId", "span_id"), "link span id");
            let why = match (lt, ls) {
                (Id::Ok(a), Id::Ok(b)) => {
                    links.push((a, b));
                    continue;
                }
                (Id::Bad(pre, after), _) => id_why(pre, after, ltx.unwrap_or(ln)),
                (_, Id::Bad(pre, after)) => id_why(pre, after, lsx.unwrap_or(ln)),
                _ => vec![t("link id is missing")],
            };
            let mut parts = vec![t(": ")];
            parts.extend(why);
            parts.push(t("; link dropped"));
            d.say(at, parts, Count::Warn, 0);
        }
    }
    d.batch.push_span(SpanRow {
        trace_id: tid,
        span_id: sid,
        parent_id: pid,
        name,
        kind,
        status_code: code,
        status_message: message,
        start_ns: start,
        end_ns: end,
        resource: res_index,
        scope: scope_index,
        attrs,
        events,
        links,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TID: &str = "0af7651916cd43dd8448eb211c80319c";

    fn doc(spans: &str) -> String {
        format!(
            r#"{{"resourceSpans": [{{"resource": {{"attributes": [{{"key": "service.name",
            "value": {{"stringValue": "svc"}}}}]}}, "scopeSpans": [{{"scope": {{"name": "s"}},
            "spans": [{spans}]}}]}}]}}"#
        )
    }

    fn text(parts: &[MsgPart<'_>]) -> String {
        parts
            .iter()
            .map(|p| match p {
                MsgPart::Text(s) => s.clone(),
                MsgPart::Repr(v) => format!("<{}>", v.type_name()),
            })
            .collect()
    }

    fn run(data: &str) -> (usize, Vec<String>) {
        let (v, check) = parse_doc(data.as_bytes()).unwrap();
        match decode(&v, None, false, check) {
            Outcome::Decoded {
                batch, problems, ..
            } => (
                batch.len(),
                problems.iter().map(|p| text(&p.parts)).collect(),
            ),
            Outcome::Fallback(why) => panic!("{why}"),
        }
    }

    #[test]
    fn decodes_a_span_with_names_for_enums_and_string_times() {
        let sp = format!(
            r#"{{"traceId": "{}", "spanId": "B7AD6B7169203331", "name": "op",
            "kind": "SPAN_KIND_SERVER", "startTimeUnixNano": "5", "endTimeUnixNano": 7,
            "status": {{"code": "STATUS_CODE_ERROR"}},
            "attributes": [{{"key": "k", "value": {{"intValue": "-3"}}}},
                           {{"key": "b", "value": {{"bytesValue": "_-8"}}}}]}}"#,
            TID.to_uppercase()
        );
        let data = doc(&sp);
        let (v, check) = parse_doc(data.as_bytes()).unwrap();
        let Outcome::Decoded {
            batch, problems, ..
        } = decode(&v, None, false, check)
        else {
            panic!()
        };
        assert!(problems.is_empty());
        assert_eq!((batch.kind[0], batch.status_code[0]), (2, 2));
        assert_eq!((batch.start_ns[0], batch.end_ns[0]), (5, 7));
        assert_eq!(
            batch.span_id[0],
            [0xb7, 0xad, 0x6b, 0x71, 0x69, 0x20, 0x33, 0x31]
        );
        assert_eq!(batch.resources[0].service, "svc");
        assert_eq!(batch.attr_value[0], AnyValue::Int(-3));
        assert_eq!(batch.attr_value[1], AnyValue::Bytes(&[0xff, 0xef]));
    }

    #[test]
    fn rejections_and_repairs_in_the_python_decoders_order() {
        let sp = format!(
            r#"{{"traceId": "{TID}", "spanId": "b7ad6b7169203331", "kind": 9,
            "status": []}}, {{"traceId": "ab"}}, {{"traceId": "{TID}",
            "spanId": "b7ad6b7169203331", "parentSpanId": "0000000000000000",
            "startTimeUnixNano": "9", "endTimeUnixNano": "3",
            "links": [7, {{"traceId": "{TID}"}}]}}"#
        );
        let (n, msgs) = run(&doc(&sp));
        assert_eq!(n, 1);
        assert_eq!(
            msgs,
            [
                " '': unknown span kind <int>; read as unspecified",
                " '': span.status must be a JSON object, not list; span skipped",
                " '': trace id <str> is not 32 hex digits (16 bytes); span skipped",
                " '': parent span id is all zeros; read as a root span",
                " '': ends (3) before it starts (9); its duration is negative and its end \
                 event is placed at its start",
                ": a link must be a JSON object; link dropped",
                ": link id is missing; link dropped",
            ]
        );
    }

    #[test]
    fn the_text_rule_rejects_the_span_holding_a_lone_surrogate() {
        let sp = format!(
            r#"{{"traceId": "{TID}", "spanId": "b7ad6b7169203331",
            "attributes": [{{"key": "k", "value": {{"stringValue": "a\udc00"}}}}]}}"#
        );
        let (n, msgs) = run(&doc(&sp));
        assert_eq!(n, 0);
        assert!(msgs[0].starts_with(
            ".attributes[0].value.stringValue: holds a lone surrogate U+DC00 at character 1"
        ));
        assert!(msgs[0].ends_with("; span skipped"));
    }

    #[test]
    fn base64_as_binascii_reads_it() {
        assert_eq!(b64("QQ"), Some(b"A".to_vec()));
        assert_eq!(b64("QR=="), Some(b"A".to_vec())); // leftover bits ignored
        assert_eq!(b64("QUJD"), Some(b"ABC".to_vec()));
        assert_eq!(b64("Q"), None);
        assert_eq!(b64("Q=Q="), None);
        assert_eq!(b64("a b"), None);
    }
}
