//! A JSON parser that gives what Python's `json.loads` gives, as `otlp_common.loads_json`
//! calls it, for the OTLP/JSON decoder ([`crate::otlp_json`]).
//!
//! Why not `serde_json::Value`: its objects are sorted maps (Python's dicts keep the
//! document order, and a duplicate key keeps its first position with its last value), its
//! integers beyond 64 bits become floats (Python keeps them exact, and the decoder's
//! messages quote them), and it has no `NaN`/`Infinity` literals (Python accepts them). The
//! grammar is Python's C scanner's: whitespace is space, tab, CR and LF; no control
//! characters in strings; integers `-?(0|[1-9][0-9]*)`, with a fraction or exponent a float
//! (correctly rounded, overflow to infinity).
//!
//! What the parser does not produce, it refuses ([`Refused`]) and the caller leaves the
//! whole document to the Python decoder: malformed JSON and bytes that are not UTF-8 (for
//! Python's exact error message), nesting deeper than [`MAX_JSON_DEPTH`] (Python's limit,
//! checked before parsing there). A `\u` escape that leaves a lone surrogate in a key is
//! parsed on (the key holds U+FFFD in its place) and flagged in [`Found::lone_key`]: the
//! document is valid JSON, which the JSON Lines splitter must know, but the decoder leaves
//! it to Python (whose messages quote such a key exactly). A lone surrogate in a string value (which Rust's `str` cannot hold) is kept as U+FFFD
//! with its position in [`JStr::lone`]: the text rule rejects the span holding it, so the
//! replacement never reaches the columns.

use std::collections::HashMap;
use std::sync::OnceLock;

/// `otlp_common.MAX_JSON_DEPTH`: nesting of arrays and objects in one document.
pub const MAX_JSON_DEPTH: usize = 256;
/// `otlp_common.MAX_INT_DIGITS`: a longer integer literal is a `LongInt`.
pub const MAX_INT_DIGITS: usize = 20;

/// A JSON string, with the bytes a `bytesValue` decodes to, computed once when asked.
#[derive(Debug, Clone, PartialEq)]
pub struct JStr {
    /// the text; a lone surrogate is U+FFFD here (see `lone`)
    pub s: String,
    /// the first lone surrogate a `\u` escape left: (index in code points, code point)
    pub lone: Option<(usize, u32)>,
    /// with a lone surrogate: the literal as written (between the quotes), from which
    /// Python's json module gives the exact string, for a message or error value
    pub raw: Option<Box<str>>,
    pub(crate) b64: OnceLock<Option<Vec<u8>>>,
}

/// A parsed JSON value, as Python's json module gives it.
#[derive(Debug, Clone, PartialEq)]
pub enum JValue {
    Null,
    Bool(bool),
    /// an integer literal of at most [`MAX_INT_DIGITS`] digits
    Int(i128),
    /// `otlp_common.LongInt`: an integer literal of this many digits (more than 20)
    LongInt(usize),
    Float(f64),
    Str(JStr),
    Array(Vec<JValue>),
    /// keys in first-seen order, each with its last value (a Python dict)
    Object(Vec<(String, JValue)>),
}

impl JValue {
    /// `obj.get(key)` on an object; None for anything else or an absent key.
    pub fn get(&self, key: &str) -> Option<&JValue> {
        match self {
            JValue::Object(kvs) => kvs.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            JValue::Str(s) => Some(&s.s),
            _ => None,
        }
    }

    /// Python's `type(x).__name__`.
    pub fn type_name(&self) -> &'static str {
        match self {
            JValue::Null => "NoneType",
            JValue::Bool(_) => "bool",
            JValue::Int(_) => "int",
            JValue::LongInt(_) => "LongInt",
            JValue::Float(_) => "float",
            JValue::Str(_) => "str",
            JValue::Array(_) => "list",
            JValue::Object(_) => "dict",
        }
    }

    /// A byte encoding equal exactly for equal values (floats by their bits).
    pub fn encode(&self, out: &mut Vec<u8>) {
        fn text(out: &mut Vec<u8>, s: &str) {
            out.extend_from_slice(&(s.len() as u64).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        match self {
            JValue::Null => out.push(0),
            JValue::Bool(b) => out.extend_from_slice(&[1, u8::from(*b)]),
            JValue::Int(i) => {
                out.push(2);
                out.extend_from_slice(&i.to_le_bytes());
            }
            JValue::LongInt(n) => {
                out.push(3);
                out.extend_from_slice(&(*n as u64).to_le_bytes());
            }
            JValue::Float(f) => {
                out.push(4);
                out.extend_from_slice(&f.to_bits().to_le_bytes());
            }
            JValue::Str(s) => {
                out.push(5);
                text(out, &s.s);
            }
            JValue::Array(xs) => {
                out.push(6);
                out.extend_from_slice(&(xs.len() as u64).to_le_bytes());
                xs.iter().for_each(|x| x.encode(out));
            }
            JValue::Object(kvs) => {
                out.push(7);
                out.extend_from_slice(&(kvs.len() as u64).to_le_bytes());
                for (k, x) in kvs {
                    text(out, k);
                    x.encode(out);
                }
            }
        }
    }

    /// Python's truth value.
    pub fn truthy(&self) -> bool {
        match self {
            JValue::Null => false,
            JValue::Bool(b) => *b,
            JValue::Int(i) => *i != 0,
            JValue::LongInt(_) => true,
            JValue::Float(f) => *f != 0.0,
            JValue::Str(s) => !s.s.is_empty(),
            JValue::Array(a) => !a.is_empty(),
            JValue::Object(o) => !o.is_empty(),
        }
    }
}

/// Why the parser leaves a document to Python.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// not UTF-8, or not JSON as Python's json module reads it
    Malformed,
    /// nested deeper than [`MAX_JSON_DEPTH`]
    TooDeep,
}

/// What a parse found besides the value: the longest string (key or value) in UTF-8
/// bytes, for the text rule's size limit.
#[derive(Debug, Default)]
pub struct Found {
    /// the longest string value, in UTF-8 bytes
    pub longest_string: usize,
    /// the longest key, in UTF-8 bytes
    pub longest_key: usize,
    /// a string value holds a lone surrogate
    pub lone_surrogate: bool,
    /// a key holds a lone surrogate (as U+FFFD in the parsed value)
    pub lone_key: bool,
}

/// Parse one document (the bytes of one request).
pub fn parse(data: &[u8]) -> Result<(JValue, Found), Refused> {
    let text = std::str::from_utf8(data).map_err(|_| Refused::Malformed)?;
    let mut p = Parser {
        b: text.as_bytes(),
        s: text,
        pos: 0,
        found: Found::default(),
    };
    p.ws();
    let v = p.value(0)?;
    p.ws();
    if p.pos != p.b.len() {
        return Err(Refused::Malformed);
    }
    Ok((v, p.found))
}

struct Parser<'a> {
    b: &'a [u8],
    s: &'a str,
    pos: usize,
    found: Found,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.pos) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, lit: &str) -> bool {
        if self.b[self.pos..].starts_with(lit.as_bytes()) {
            self.pos += lit.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Result<JValue, Refused> {
        let Some(&c) = self.b.get(self.pos) else {
            return Err(Refused::Malformed);
        };
        match c {
            b'{' => self.object(depth + 1),
            b'[' => self.array(depth + 1),
            b'"' => {
                let start = self.pos + 1;
                let (s, lone) = self.string()?;
                self.found.longest_string = self.found.longest_string.max(s.len());
                self.found.lone_surrogate |= lone.is_some();
                let raw = lone.map(|_| self.s[start..self.pos - 1].into());
                Ok(JValue::Str(JStr {
                    s,
                    lone,
                    raw,
                    b64: OnceLock::new(),
                }))
            }
            b'n' if self.eat("null") => Ok(JValue::Null),
            b't' if self.eat("true") => Ok(JValue::Bool(true)),
            b'f' if self.eat("false") => Ok(JValue::Bool(false)),
            b'N' if self.eat("NaN") => Ok(JValue::Float(f64::NAN)),
            b'I' if self.eat("Infinity") => Ok(JValue::Float(f64::INFINITY)),
            b'-' if self.eat("-Infinity") => Ok(JValue::Float(f64::NEG_INFINITY)),
            b'-' | b'0'..=b'9' => self.number(),
            _ => Err(Refused::Malformed),
        }
    }

    fn object(&mut self, depth: usize) -> Result<JValue, Refused> {
        if depth > MAX_JSON_DEPTH {
            return Err(Refused::TooDeep);
        }
        self.pos += 1;
        let mut kvs: Vec<(String, JValue)> = vec![];
        let mut index: Option<HashMap<String, usize>> = None;
        self.ws();
        if self.b.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            return Ok(JValue::Object(kvs));
        }
        loop {
            self.ws();
            if self.b.get(self.pos) != Some(&b'"') {
                return Err(Refused::Malformed);
            }
            let (key, lone) = self.string()?;
            self.found.lone_key |= lone.is_some();
            self.found.longest_key = self.found.longest_key.max(key.len());
            self.ws();
            if self.b.get(self.pos) != Some(&b':') {
                return Err(Refused::Malformed);
            }
            self.pos += 1;
            self.ws();
            let v = self.value(depth)?;
            // a duplicate key keeps its first position and takes the last value
            let at = match &index {
                Some(ix) => ix.get(&key).copied(),
                None => kvs.iter().position(|(k, _)| *k == key),
            };
            match at {
                Some(i) => kvs[i].1 = v,
                None => {
                    if let Some(ix) = &mut index {
                        ix.insert(key.clone(), kvs.len());
                    }
                    kvs.push((key, v));
                    if index.is_none() && kvs.len() > 16 {
                        let ix = kvs.iter().enumerate().map(|(i, (k, _))| (k.clone(), i));
                        index = Some(ix.collect());
                    }
                }
            }
            self.ws();
            match self.b.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(JValue::Object(kvs));
                }
                _ => return Err(Refused::Malformed),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<JValue, Refused> {
        if depth > MAX_JSON_DEPTH {
            return Err(Refused::TooDeep);
        }
        self.pos += 1;
        let mut xs = vec![];
        self.ws();
        if self.b.get(self.pos) == Some(&b']') {
            self.pos += 1;
            return Ok(JValue::Array(xs));
        }
        loop {
            self.ws();
            xs.push(self.value(depth)?);
            self.ws();
            match self.b.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(JValue::Array(xs));
                }
                _ => return Err(Refused::Malformed),
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.b.get(self.pos) {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<JValue, Refused> {
        let start = self.pos;
        if self.b[self.pos] == b'-' {
            self.pos += 1;
        }
        let int_start = self.pos;
        let n = self.digits();
        if n == 0 || (n > 1 && self.b[int_start] == b'0') {
            // "-x", or "01": Python reads "0" and then fails on what follows
            return Err(Refused::Malformed);
        }
        let mut float = false;
        if self.b.get(self.pos) == Some(&b'.') {
            let save = self.pos;
            self.pos += 1;
            if self.digits() == 0 {
                self.pos = save; // "1." is "1" followed by junk
                return Err(Refused::Malformed);
            }
            float = true;
        }
        if let Some(b'e' | b'E') = self.b.get(self.pos) {
            let save = self.pos;
            self.pos += 1;
            if let Some(b'+' | b'-') = self.b.get(self.pos) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                self.pos = save;
                return Err(Refused::Malformed);
            }
            float = true;
        }
        let lit = &self.s[start..self.pos];
        if float {
            return lit
                .parse::<f64>()
                .map(JValue::Float)
                .map_err(|_| Refused::Malformed);
        }
        if n > MAX_INT_DIGITS {
            return Ok(JValue::LongInt(n));
        }
        lit.parse::<i128>()
            .map(JValue::Int)
            .map_err(|_| Refused::Malformed)
    }

    fn hex4(&mut self) -> Result<u32, Refused> {
        let h = self
            .b
            .get(self.pos..self.pos + 4)
            .ok_or(Refused::Malformed)?;
        let mut v = 0;
        for &c in h {
            v = v * 16 + (c as char).to_digit(16).ok_or(Refused::Malformed)?;
        }
        self.pos += 4;
        Ok(v)
    }

    /// A string and its first lone surrogate (see [`JStr::lone`]).
    fn string(&mut self) -> Result<(String, Option<(usize, u32)>), Refused> {
        self.pos += 1;
        let mut out = String::new();
        let mut lone = None;
        loop {
            let start = self.pos;
            while let Some(&c) = self.b.get(self.pos) {
                if c == b'"' || c == b'\\' || c < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            out.push_str(&self.s[start..self.pos]);
            match self.b.get(self.pos) {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok((out, lone));
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let e = *self.b.get(self.pos).ok_or(Refused::Malformed)?;
                    self.pos += 1;
                    let c = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => match self.unicode()? {
                            Ok(c) => c,
                            Err(u) => {
                                if lone.is_none() {
                                    lone = Some((out.chars().count(), u));
                                }
                                '\u{fffd}'
                            }
                        },
                        _ => return Err(Refused::Malformed),
                    };
                    out.push(c);
                }
                _ => return Err(Refused::Malformed), // a control character, or the end
            }
        }
    }

    /// The code point of a `\u` escape (the `\u` read), joining a surrogate pair as Python
    /// does; `Err(code point)` for a lone surrogate.
    fn unicode(&mut self) -> Result<Result<char, u32>, Refused> {
        let u = self.hex4()?;
        if (0xd800..0xdc00).contains(&u) && self.b[self.pos..].starts_with(b"\\u") {
            let save = self.pos;
            self.pos += 2;
            let lo = self.hex4()?;
            if (0xdc00..0xe000).contains(&lo) {
                let c = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
                return Ok(char::from_u32(c).ok_or(c));
            }
            self.pos = save;
        }
        Ok(char::from_u32(u).ok_or(u))
    }
}

/// `s` as a JSON string with `ensure_ascii`, as `json.dumps` writes it (CPython's
/// `ascii_escape_unicode`; for the JSON reports, `json_py` and `violation_text`): printable
/// ASCII stays, `"` `\` and the five short escapes as such, everything else `\uXXXX` (lower
/// case hex; outside the BMP as a surrogate pair).
pub fn escape_ascii(s: &str, out: &mut String) {
    out.push('"');
    let plain = |b: u8| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\';
    if s.bytes().all(plain) {
        out.push_str(s);
    } else {
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                c if c.is_ascii() && plain(c as u8) => out.push(c),
                c => {
                    let mut units = [0u16; 2];
                    for u in c.encode_utf16(&mut units) {
                        let _ = std::fmt::Write::write_fmt(out, format_args!("\\u{u:04x}"));
                    }
                }
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<JValue, Refused> {
        parse(s.as_bytes()).map(|(v, _)| v)
    }

    #[test]
    fn python_dict_semantics_for_duplicate_keys() {
        let v = p(r#"{"a": 1, "b": 2, "a": 3}"#).unwrap();
        let JValue::Object(kvs) = v else { panic!() };
        let keys: Vec<_> = kvs.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["a", "b"]);
        assert!(matches!(kvs[0].1, JValue::Int(3)));
    }

    #[test]
    fn numbers_as_python_reads_them() {
        assert!(matches!(
            p("18446744073709551616"),
            Ok(JValue::Int(18446744073709551616))
        ));
        assert!(matches!(
            p("-123456789012345678901"),
            Ok(JValue::LongInt(21))
        ));
        assert!(matches!(p("1e400"), Ok(JValue::Float(f)) if f == f64::INFINITY));
        assert!(matches!(p("-Infinity"), Ok(JValue::Float(f)) if f == f64::NEG_INFINITY));
        for bad in [
            "01",
            "1.",
            "-",
            ".5",
            "1e",
            "+1",
            "nan",
            "[1,]",
            "{\"a\":1,}",
            " ",
        ] {
            assert_eq!(p(bad).err(), Some(Refused::Malformed), "{bad}");
        }
    }

    #[test]
    fn surrogates_and_depth() {
        assert_eq!(p(r#""\ud83d\ude00""#).unwrap().as_str(), Some("\u{1f600}"));
        let JValue::Str(s) = p(r#""ab\udc00\ud800x""#).unwrap() else {
            panic!()
        };
        assert_eq!(
            (s.s.as_str(), s.lone),
            ("ab\u{fffd}\u{fffd}x", Some((2, 0xdc00)))
        );
        let (_, found) = parse(br#"{"\ud800": 1}"#).unwrap();
        assert!(found.lone_key && !found.lone_surrogate);
        assert_eq!(p(r#"{"\ud800": 1"#).err(), Some(Refused::Malformed));
        let deep = |n: usize| "[".repeat(n) + &"]".repeat(n);
        assert!(p(&deep(MAX_JSON_DEPTH)).is_ok());
        assert_eq!(p(&deep(MAX_JSON_DEPTH + 1)).err(), Some(Refused::TooDeep));
        assert_eq!(p("\"a\u{1}\"").err(), Some(Refused::Malformed));
    }
}
