//! Owned spans: what the core keeps of a decoded request once its bytes are gone.
//!
//! The decoder's [`Batch`] borrows from the request; a trace's spans arrive across many
//! requests, so [`SpanStore::add_batch`] copies each span into a compact owned row. Memory is
//! the point (the runtime path aims at a few hundred bytes per open trace): a row is a fixed
//! 80 bytes with its ids inline; names, scopes, event names and attribute keys are interned
//! (they repeat across spans), a resource is stored once however many spans share it, the
//! projected attributes of every span are one queue in row order (no allocation per span),
//! a string value seen several times in one request is one shared allocation (a trace's
//! spans often repeat an id), and what most spans lack (events, links, a status message)
//! lives in one optional box.
//!
//! Every accessor answers as the Python [`Span`](../../src/tracelogic/runtime_monitor/spans.py)
//! built by `native_otlp.decode_traces_pb_native` from the same columns would: ids as
//! lower-case hex, kind and status names (unknown numbers read as `unspecified` / `unset`),
//! `""` for a root's parent id, attribute lookups where a later duplicate key wins and
//! `attr` falls back to the resource.

use std::collections::VecDeque;
use std::sync::Arc;

use foldhash::HashMap;

use crate::otlp::{AnyValue, Batch};

/// An interned string: an index into [`SpanStore`]'s string table.
pub type Sym = u32;

/// An attribute value the store owns: [`AnyValue`] without the borrow.
#[derive(Debug, Clone, PartialEq)]
pub enum OwnedValue {
    Empty,
    /// shared by the equal values of one request (see [`SpanStore::add_batch`])
    Str(Arc<str>),
    Bool(bool),
    Int(i64),
    Double(f64),
    Bytes(Box<[u8]>),
    Array(Box<[OwnedValue]>),
    KvList(Box<[(Box<str>, OwnedValue)]>),
    /// nested deeper than the decoder converts (Python's `InvalidValue`)
    TooDeep,
    /// spelled wrongly in OTLP/JSON (Python's `InvalidValue(raw, reason)`)
    Invalid(Box<(crate::json::JValue, &'static str)>),
}

impl OwnedValue {
    pub fn from_any(v: &AnyValue<'_>) -> OwnedValue {
        match v {
            AnyValue::Empty => OwnedValue::Empty,
            AnyValue::Str(s) => OwnedValue::Str((*s).into()),
            AnyValue::Bool(b) => OwnedValue::Bool(*b),
            AnyValue::Int(i) => OwnedValue::Int(*i),
            AnyValue::Double(f) => OwnedValue::Double(*f),
            AnyValue::Bytes(b) => OwnedValue::Bytes((*b).into()),
            AnyValue::Array(xs) => OwnedValue::Array(xs.iter().map(OwnedValue::from_any).collect()),
            AnyValue::KvList(xs) => OwnedValue::KvList(
                xs.iter()
                    .map(|(k, x)| ((*k).into(), OwnedValue::from_any(x)))
                    .collect(),
            ),
            AnyValue::TooDeep => OwnedValue::TooDeep,
            AnyValue::Invalid(raw, why) => OwnedValue::Invalid(Box::new(((*raw).clone(), why))),
        }
    }

    /// The value as the decoders give it, borrowing from this one.
    pub fn as_any(&self) -> AnyValue<'_> {
        match self {
            OwnedValue::Empty => AnyValue::Empty,
            OwnedValue::Str(s) => AnyValue::Str(s),
            OwnedValue::Bool(b) => AnyValue::Bool(*b),
            OwnedValue::Int(i) => AnyValue::Int(*i),
            OwnedValue::Double(f) => AnyValue::Double(*f),
            OwnedValue::Bytes(b) => AnyValue::Bytes(b),
            OwnedValue::Array(xs) => AnyValue::Array(xs.iter().map(OwnedValue::as_any).collect()),
            OwnedValue::KvList(xs) => {
                AnyValue::KvList(xs.iter().map(|(k, x)| (&**k, x.as_any())).collect())
            }
            OwnedValue::TooDeep => AnyValue::TooDeep,
            OwnedValue::Invalid(b) => AnyValue::Invalid(&b.0, b.1),
        }
    }

    /// `type(v).__name__` of the value the Python Span holds.
    pub fn type_name(&self) -> &'static str {
        match self {
            OwnedValue::Empty => "NoneType",
            OwnedValue::Str(_) => "str",
            OwnedValue::Bool(_) => "bool",
            OwnedValue::Int(_) => "int",
            OwnedValue::Double(_) => "float",
            OwnedValue::Bytes(_) => "bytes",
            OwnedValue::Array(_) => "tuple",
            OwnedValue::KvList(_) => "mappingproxy",
            OwnedValue::TooDeep | OwnedValue::Invalid(_) => "InvalidValue",
        }
    }

    /// A byte encoding equal exactly for equal values (floats by their bits), to share
    /// identical resources.
    fn encode(&self, out: &mut Vec<u8>) {
        fn text(out: &mut Vec<u8>, s: &[u8]) {
            out.extend_from_slice(&(s.len() as u64).to_le_bytes());
            out.extend_from_slice(s);
        }
        match self {
            OwnedValue::Empty => out.push(0),
            OwnedValue::Str(s) => {
                out.push(1);
                text(out, s.as_bytes());
            }
            OwnedValue::Bool(b) => out.extend_from_slice(&[2, u8::from(*b)]),
            OwnedValue::Int(i) => {
                out.push(3);
                out.extend_from_slice(&i.to_le_bytes());
            }
            OwnedValue::Double(f) => {
                out.push(4);
                out.extend_from_slice(&f.to_bits().to_le_bytes());
            }
            OwnedValue::Bytes(b) => {
                out.push(5);
                text(out, b);
            }
            OwnedValue::Array(xs) => {
                out.push(6);
                out.extend_from_slice(&(xs.len() as u64).to_le_bytes());
                xs.iter().for_each(|x| x.encode(out));
            }
            OwnedValue::KvList(xs) => {
                out.push(7);
                out.extend_from_slice(&(xs.len() as u64).to_le_bytes());
                for (k, x) in xs.iter() {
                    text(out, k.as_bytes());
                    x.encode(out);
                }
            }
            OwnedValue::TooDeep => out.push(8),
            OwnedValue::Invalid(b) => {
                out.push(9);
                text(out, b.1.as_bytes());
                b.0.encode(out);
            }
        }
    }
}

/// OTLP `Span.SpanKind` number -> the spec's name (the index is the number).
pub const KIND_NAMES: [&str; 6] = [
    "unspecified",
    "internal",
    "server",
    "client",
    "producer",
    "consumer",
];
/// OTLP `Status.StatusCode` number -> the spec's name.
pub const STATUS_NAMES: [&str; 3] = ["unset", "ok", "error"];

/// One resource, shared by every span that names it. Attributes: one per key, the last
/// occurrence's value (Python builds a dict from the pairs).
#[derive(Debug, PartialEq)]
struct Resource {
    service: Sym,
    attrs: Box<[(Sym, OwnedValue)]>,
}

/// What most spans lack (the attributes, which most spans have, are in the row itself:
/// a box of its own would cost a second allocation per span).
#[derive(Debug, Default)]
struct Extra {
    status_message: Box<str>,
    events: Box<[Sym]>,
    links: Box<[([u8; 16], [u8; 8])]>,
}

/// One span (80 bytes; its attributes are in [`SpanStore`]'s queue).
#[derive(Debug)]
struct Row {
    trace_id: [u8; 16],
    span_id: [u8; 8],
    /// all zeros for a root
    parent_id: [u8; 8],
    start_ns: u64,
    end_ns: u64,
    name: Sym,
    scope: Sym,
    resource: u32,
    kind: u8,
    status: u8,
    /// handed back by [`SpanStore::release`]
    released: bool,
    /// its attributes, one per key (the last occurrence's value): `attr_len` entries of
    /// the store's queue from the wrapping index `attr_at`
    attr_at: u32,
    attr_len: u32,
    extra: Option<Box<Extra>>,
}

/// Interned strings: each distinct string once.
#[derive(Debug, Default)]
struct Strings {
    ids: HashMap<Box<str>, Sym>,
    text: Vec<Box<str>>,
}

impl Strings {
    fn intern(&mut self, s: &str) -> Sym {
        if let Some(&i) = self.ids.get(s) {
            return i;
        }
        let i = self.text.len() as Sym;
        self.text.push(s.into());
        self.ids.insert(s.into(), i);
        i
    }

    fn get(&self, s: &str) -> Option<Sym> {
        self.ids.get(s).copied()
    }
}

/// The spans the core owns, as rows numbered from 0 in the order they were added.
///
/// Rows are appended by [`add_batch`](SpanStore::add_batch) and handed back by
/// [`release`](SpanStore::release) once their trace is done; the oldest rows' memory is
/// freed as soon as every row before them is released too (traces are handed out roughly
/// in arrival order), so a long input does not keep every span. A released row must not
/// be read again. Row numbers are u32 and wrap: a store serves any number of spans over
/// its life, at most 2^32 held at once; a row's place is its distance from the oldest held
/// row (`r.wrapping_sub(base)`), and rows are compared by that distance, never by number.
#[derive(Debug, Default)]
pub struct SpanStore {
    /// the rows from `base` on (those before were released and freed)
    rows: VecDeque<Row>,
    base: u32,
    /// the attributes of the rows from `base` on, in row order; `attr_base` is the wrapping
    /// index of the first (a queue of fewer than 2^32 entries is held at any time)
    attrs: VecDeque<(Sym, OwnedValue)>,
    attr_base: u32,
    strings: Strings,
    resources: Vec<Resource>,
    /// a resource's encoding -> its index, so repeated resources are stored once
    resource_ids: HashMap<Vec<u8>, u32>,
    /// (resource, scope) pairs of packed spans, each once (see [`SpanStore::pack`])
    origins: Vec<(u32, Sym)>,
    origin_ids: HashMap<(u32, Sym), u32>,
    /// the values packed spans keep as they are (arrays, key-value lists, invalid values:
    /// rare), by index; `boxed_free` lists the indices free for reuse
    boxed: Vec<OwnedValue>,
    boxed_free: Vec<u32>,
    /// scratch of [`SpanStore::pack`]
    pack_body: Vec<u8>,
}

/// Consecutive rows of a store: `first`, `first + 1`, … (`len` of them, numbers wrapping),
/// and an iterator over them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rows {
    pub first: u32,
    pub len: u32,
}

impl Rows {
    /// These rows and the `next` ones, added right after them.
    pub fn and(self, next: Rows) -> Rows {
        debug_assert_eq!(
            self.first.wrapping_add(self.len),
            next.first,
            "consecutive rows"
        );
        Rows {
            first: self.first,
            len: self.len + next.len,
        }
    }
}

impl Iterator for Rows {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        (self.len > 0).then(|| {
            let r = self.first;
            self.first = self.first.wrapping_add(1);
            self.len -= 1;
            r
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.len as usize, Some(self.len as usize))
    }
}

impl ExactSizeIterator for Rows {}

/// The hex of `b`, lower case, as Python's `bytes.hex()`.
pub fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(2 * b.len());
    hex_into(b, &mut s);
    s
}

/// [`hex`] appended to `out` (the reports write thousands of ids: no string each).
pub fn hex_into(b: &[u8], out: &mut String) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    // the digits of up to 32 bytes (a trace id is 16) made on the stack, appended at once
    for part in b.chunks(32) {
        let mut digits = [0u8; 64];
        for (i, &x) in part.iter().enumerate() {
            digits[2 * i] = DIGITS[usize::from(x >> 4)];
            digits[2 * i + 1] = DIGITS[usize::from(x & 15)];
        }
        out.push_str(std::str::from_utf8(&digits[..2 * part.len()]).expect("hex is ASCII"));
    }
}

/// `(key, value)` pairs with one entry per key, the last value of a key winning, in the
/// order keys first appear (Python's dict from pairs).
fn last_wins(strings: &mut Strings, pairs: &[(&str, &AnyValue<'_>)]) -> Box<[(Sym, OwnedValue)]> {
    let mut out: Vec<(Sym, OwnedValue)> = Vec::with_capacity(pairs.len());
    for (k, v) in pairs {
        let k = strings.intern(k);
        let v = OwnedValue::from_any(v);
        match out.iter_mut().find(|(x, _)| *x == k) {
            Some(slot) => slot.1 = v,
            None => out.push((k, v)),
        }
    }
    out.into_boxed_slice()
}

/// A value of one request, its strings shared through `shared` (equal string values of one
/// request are one allocation).
fn shared_value<'a>(shared: &mut HashMap<&'a str, Arc<str>>, v: &AnyValue<'a>) -> OwnedValue {
    match v {
        AnyValue::Str(s) => {
            OwnedValue::Str(shared.entry(*s).or_insert_with(|| Arc::from(*s)).clone())
        }
        other => OwnedValue::from_any(other),
    }
}

impl SpanStore {
    pub fn new() -> SpanStore {
        SpanStore::default()
    }

    /// The next row's number.
    fn next_row(&self) -> u32 {
        self.base.wrapping_add(self.rows.len() as u32)
    }

    /// Whether row `r` is held (added, and not freed; it may be released).
    pub fn contains(&self, r: u32) -> bool {
        (r.wrapping_sub(self.base) as usize) < self.rows.len()
    }

    /// How far row `r` (held) is from the oldest row held: the order rows were added in,
    /// whatever their numbers (they wrap).
    pub fn age(&self, r: u32) -> u32 {
        r.wrapping_sub(self.base)
    }

    /// A store whose first row is numbered `first` (tests: numbers that wrap).
    #[cfg(test)]
    pub fn numbered_from(first: u32) -> SpanStore {
        SpanStore {
            base: first,
            ..SpanStore::default()
        }
    }

    /// How many rows are held in memory (not yet released, or behind an unreleased one).
    pub fn held(&self) -> usize {
        self.rows.len()
    }

    /// Hand rows back: their attributes, events and links are freed now, and the rows
    /// themselves once every older row is released too.
    pub fn release(&mut self, rows: impl IntoIterator<Item = u32>) {
        for r in rows {
            if let Some(row) = self.rows.get_mut(r.wrapping_sub(self.base) as usize) {
                row.released = true;
                row.extra = None;
                // the entries stay until the rows before are released; their values go now
                let at = row.attr_at.wrapping_sub(self.attr_base) as usize;
                for e in self.attrs.range_mut(at..at + row.attr_len as usize) {
                    e.1 = OwnedValue::Empty;
                }
            }
        }
        while self.rows.front().is_some_and(|row| row.released) {
            let row = self.rows.pop_front().expect("a front row");
            self.attrs.drain(..row.attr_len as usize);
            self.attr_base = self.attr_base.wrapping_add(row.attr_len);
            self.base = self.base.wrapping_add(1);
        }
        if self.rows.is_empty() {
            self.rows.shrink_to(1024);
            self.attrs.shrink_to(1024);
        }
    }

    /// Copy the spans of `b` in; returns their rows (row `start + i` is span `i` of `b`).
    /// A batch with an `error` holds no spans (the decoder stops before any).
    pub fn add_batch(&mut self, b: &Batch<'_>) -> Rows {
        let first = self.next_row();
        assert!(
            u32::try_from(self.rows.len() + b.len()).is_ok(),
            "a span store holds fewer than 2^32 spans at once"
        );
        let resources: Vec<u32> = b.resources.iter().map(|r| self.resource(r)).collect();
        let scopes: Vec<Sym> = b.scopes.iter().map(|s| self.strings.intern(s)).collect();
        let n = b.len();
        // the sparse columns, grouped by span: span i's attributes are entries
        // `attr_order[attr_start[i]..attr_start[i + 1]]` of the columns, in input order
        // (one counting sort, no allocation per span)
        let mut attr_start = vec![0u32; n + 1];
        for &i in &b.attr_span {
            attr_start[i as usize + 1] += 1;
        }
        for i in 0..n {
            attr_start[i + 1] += attr_start[i];
        }
        let mut attr_order = vec![0u32; b.attr_span.len()];
        let mut fill = attr_start.clone();
        for (j, &i) in b.attr_span.iter().enumerate() {
            attr_order[fill[i as usize] as usize] = j as u32;
            fill[i as usize] += 1;
        }
        let mut events: Vec<Vec<Sym>> = vec![vec![]; n];
        for (&i, name) in b.event_span.iter().zip(&b.event_name) {
            events[i as usize].push(self.strings.intern(name));
        }
        let mut links: Vec<Vec<([u8; 16], [u8; 8])>> = vec![vec![]; n];
        for ((&i, t), s) in b
            .link_span
            .iter()
            .zip(&b.link_trace_id)
            .zip(&b.link_span_id)
        {
            links[i as usize].push((*t, *s));
        }
        self.rows.reserve(n);
        let mut shared: HashMap<&str, Arc<str>> = HashMap::default();
        for i in 0..n {
            let extra =
                if events[i].is_empty() && links[i].is_empty() && b.status_message[i].is_empty() {
                    None
                } else {
                    Some(Box::new(Extra {
                        status_message: b.status_message[i].into(),
                        events: std::mem::take(&mut events[i]).into_boxed_slice(),
                        links: std::mem::take(&mut links[i]).into_boxed_slice(),
                    }))
                };
            let kind = u8::try_from(b.kind[i])
                .ok()
                .filter(|&k| usize::from(k) < KIND_NAMES.len())
                .unwrap_or(0);
            let status = u8::try_from(b.status_code[i])
                .ok()
                .filter(|&k| usize::from(k) < STATUS_NAMES.len())
                .unwrap_or(0);
            // the span's attributes, one per key, the last value winning, in the order
            // keys first appear (Python's dict from pairs)
            let first = self.attrs.len();
            for &j in &attr_order[attr_start[i] as usize..attr_start[i + 1] as usize] {
                let k = self.strings.intern(b.attr_key[j as usize]);
                let v = shared_value(&mut shared, &b.attr_value[j as usize]);
                match self.attrs.range_mut(first..).find(|(x, _)| *x == k) {
                    Some(slot) => slot.1 = v,
                    None => self.attrs.push_back((k, v)),
                }
            }
            let attr_len =
                u32::try_from(self.attrs.len() - first).expect("at most 2^32 attributes a span");
            let attr_at = self.attr_base.wrapping_add(first as u32);
            self.rows.push_back(Row {
                trace_id: b.trace_id[i],
                span_id: b.span_id[i],
                parent_id: b.parent_id[i],
                start_ns: b.start_ns[i],
                end_ns: b.end_ns[i],
                name: self.strings.intern(b.name[i]),
                scope: scopes[b.scope[i] as usize],
                resource: resources[b.resource[i] as usize],
                kind,
                status,
                released: false,
                attr_at,
                attr_len,
                extra,
            });
        }
        Rows {
            first,
            len: n as u32,
        }
    }

    fn resource(&mut self, r: &crate::otlp::Resource<'_>) -> u32 {
        let pairs: Vec<(&str, &AnyValue<'_>)> = r.attrs.iter().map(|(k, v)| (*k, v)).collect();
        let attrs = last_wins(&mut self.strings, &pairs);
        let service = self.strings.intern(r.service);
        let mut key = service.to_le_bytes().to_vec();
        for (k, v) in attrs.iter() {
            key.extend_from_slice(&k.to_le_bytes());
            v.encode(&mut key);
        }
        if let Some(&i) = self.resource_ids.get(&key) {
            return i;
        }
        let i = self.resources.len() as u32;
        self.resources.push(Resource { service, attrs });
        self.resource_ids.insert(key, i);
        i
    }

    fn row(&self, r: u32) -> &Row {
        let row = self
            .rows
            .get(r.wrapping_sub(self.base) as usize)
            .expect("a row of this store, not released");
        debug_assert!(!row.released, "row {r} was released");
        row
    }

    fn text(&self, s: Sym) -> &str {
        &self.strings.text[s as usize]
    }

    pub fn name(&self, r: u32) -> &str {
        self.text(self.row(r).name)
    }

    pub fn kind(&self, r: u32) -> &'static str {
        KIND_NAMES[usize::from(self.row(r).kind)]
    }

    pub fn status(&self, r: u32) -> &'static str {
        STATUS_NAMES[usize::from(self.row(r).status)]
    }

    pub fn status_message(&self, r: u32) -> &str {
        self.row(r)
            .extra
            .as_deref()
            .map_or("", |e| &e.status_message)
    }

    /// The resource's `service.name` when it is a string, else "".
    pub fn service(&self, r: u32) -> &str {
        self.text(self.resources[self.row(r).resource as usize].service)
    }

    pub fn scope_name(&self, r: u32) -> &str {
        self.text(self.row(r).scope)
    }

    pub fn trace_id(&self, r: u32) -> &[u8; 16] {
        &self.row(r).trace_id
    }

    pub fn span_id(&self, r: u32) -> &[u8; 8] {
        &self.row(r).span_id
    }

    /// All zeros for a root.
    pub fn parent_id(&self, r: u32) -> &[u8; 8] {
        &self.row(r).parent_id
    }

    pub fn is_root(&self, r: u32) -> bool {
        self.row(r).parent_id == [0; 8]
    }

    pub fn trace_id_hex(&self, r: u32) -> String {
        hex(self.trace_id(r))
    }

    pub fn span_id_hex(&self, r: u32) -> String {
        hex(self.span_id(r))
    }

    /// "" for a root, as Python's `Span.parent_id`.
    pub fn parent_id_hex(&self, r: u32) -> String {
        if self.is_root(r) {
            String::new()
        } else {
            hex(self.parent_id(r))
        }
    }

    pub fn start_ns(&self, r: u32) -> u64 {
        self.row(r).start_ns
    }

    pub fn end_ns(&self, r: u32) -> u64 {
        self.row(r).end_ns
    }

    fn lookup<'s>(&self, attrs: &'s [(Sym, OwnedValue)], key: &str) -> Option<&'s OwnedValue> {
        find_attr(attrs, self.strings.get(key)?)
    }

    /// The span's own attributes, in the queue.
    fn own_attrs(&self, r: u32) -> std::collections::vec_deque::Iter<'_, (Sym, OwnedValue)> {
        let row = self.row(r);
        let at = row.attr_at.wrapping_sub(self.attr_base) as usize;
        self.attrs.range(at..at + row.attr_len as usize)
    }

    /// `Span.attr`: the span attribute `key`, else the resource attribute, else None
    /// (Python's `MISSING`).
    pub fn attr(&self, r: u32, key: &str) -> Option<&OwnedValue> {
        // a key never interned is no span's and no resource's: one lookup for both
        self.attr_sym(r, self.strings.get(key)?)
    }

    /// `Span.resource_attr`.
    pub fn resource_attr(&self, r: u32, key: &str) -> Option<&OwnedValue> {
        self.lookup(&self.resources[self.row(r).resource as usize].attrs, key)
    }

    /// The symbol of `s`, interned now if it is new: a reader that asks for the same key
    /// again and again (an atom program's attribute keys) interns it once and reads by
    /// [`SpanStore::attr_sym`].
    pub fn intern(&mut self, s: &str) -> Sym {
        self.strings.intern(s)
    }

    /// [`SpanStore::attr`] of the key whose symbol is `k` ([`SpanStore::intern`]).
    pub fn attr_sym(&self, r: u32, k: Sym) -> Option<&OwnedValue> {
        let row = self.row(r);
        let at = row.attr_at.wrapping_sub(self.attr_base) as usize;
        find_attr(self.attrs.range(at..at + row.attr_len as usize), k)
            .or_else(|| find_attr(&self.resources[row.resource as usize].attrs, k))
    }

    /// [`SpanStore::resource_attr`] of the key whose symbol is `k`.
    pub fn resource_attr_sym(&self, r: u32, k: Sym) -> Option<&OwnedValue> {
        find_attr(&self.resources[self.row(r).resource as usize].attrs, k)
    }

    /// The span's own attributes, one per key (the resource's not included).
    pub fn attrs(&self, r: u32) -> impl Iterator<Item = (&str, &OwnedValue)> {
        self.own_attrs(r).map(|(k, v)| (self.text(*k), v))
    }

    /// The resource's attributes, one per key.
    pub fn resource_attrs(&self, r: u32) -> impl Iterator<Item = (&str, &OwnedValue)> {
        let res = &self.resources[self.row(r).resource as usize];
        res.attrs.iter().map(|(k, v)| (self.text(*k), v))
    }

    pub fn has_event(&self, r: u32, name: &str) -> bool {
        match (self.row(r).extra.as_deref(), self.strings.get(name)) {
            (Some(e), Some(n)) => e.events.contains(&n),
            _ => false,
        }
    }

    /// The span's event names, in input order.
    pub fn event_names(&self, r: u32) -> impl Iterator<Item = &str> {
        let evs = self.row(r).extra.as_deref().map_or(&[][..], |e| &e.events);
        evs.iter().map(|&s| self.text(s))
    }

    /// The span's links `(trace id, span id)`, in input order.
    pub fn links(&self, r: u32) -> &[([u8; 16], [u8; 8])] {
        self.row(r).extra.as_deref().map_or(&[][..], |e| &e.links)
    }

    /// Move the spans of `rows` (one trace's, not released) to the end of `out` as one
    /// packed chunk (the format is in the section "Packed spans" below), about a fifth of
    /// their size as rows. Their attributes, events and links move with them: release the
    /// rows next. [`SpanStore::unpack`] gives them back as rows.
    pub fn pack(&mut self, rows: &[u32], out: &mut Vec<u8>) {
        if rows.is_empty() {
            return;
        }
        let mut body = std::mem::take(&mut self.pack_body);
        body.clear();
        body.reserve(rows.len() * 32 + 16);
        put_varint(&mut body, rows.len() as u64);
        let exp_at = body.len();
        body.extend_from_slice(&[0; 9]); // the exponent and the base, below
                                         // one pass: the span ids, the base, and the largest power of ten (at most 10^9)
                                         // dividing every start and duration (SDKs with a micro- or millisecond clock write
                                         // times in fewer bytes)
        let ids_at = body.len();
        let (mut base, mut exp) = (u64::MAX, 9u8);
        for &r in rows {
            let row = self.row(r);
            body.extend_from_slice(&row.span_id);
            base = base.min(row.start_ns);
            for v in [row.start_ns, duration(row).unsigned_abs()] {
                while !divisible(v, exp) {
                    exp -= 1;
                }
            }
        }
        body[exp_at] = exp;
        body[exp_at + 1..exp_at + 9].copy_from_slice(&base.to_le_bytes());
        // a parent in the chunk is its position there: by span id, sorted once for many
        let mut by_id: Vec<([u8; 8], u32)> = vec![];
        if rows.len() > 8 {
            by_id = rows
                .iter()
                .enumerate()
                .map(|(p, &r)| (self.row(r).span_id, p as u32))
                .collect();
            by_id.sort_unstable();
        }
        // the distinct strings of the chunk so far (at most STRINGS_SHARED): a value seen
        // again is its index
        let mut strings: Vec<Arc<str>> = vec![];
        // the spans of a chunk mostly share their resource and scope
        let mut last_origin: Option<((u32, Sym), u32)> = None;
        for &r in rows {
            let row = self
                .rows
                .get_mut(r.wrapping_sub(self.base) as usize)
                .expect("a row of this store");
            let extra = row.extra.take();
            let (start, d) = (row.start_ns, duration(row));
            let parent = row.parent_id;
            let flags = row.kind | row.status << 3 | u8::from(extra.is_some()) << 5;
            let (name, origin_key) = (row.name, (row.resource, row.scope));
            let (attr_at, attr_len) = (row.attr_at, row.attr_len);
            body.push(flags);
            if parent == [0; 8] {
                body.push(PARENT_NONE);
            } else {
                let pos = if by_id.is_empty() {
                    body[ids_at..ids_at + 8 * rows.len()]
                        .chunks_exact(8)
                        .position(|id| id == parent)
                } else {
                    by_id
                        .binary_search_by(|x| x.0.cmp(&parent))
                        .ok()
                        .map(|k| by_id[k].1 as usize)
                };
                match pos {
                    Some(p) => put_varint(&mut body, p as u64 + PARENT_AT),
                    None => {
                        body.push(PARENT_RAW);
                        body.extend_from_slice(&parent);
                    }
                }
            }
            put_varint(&mut body, div_pow10(start - base, exp));
            let q = div_pow10(d.unsigned_abs(), exp) as i64;
            put_varint(&mut body, zigzag(if d < 0 { q.wrapping_neg() } else { q }));
            put_varint(&mut body, u64::from(name));
            let origin = match last_origin {
                Some((k, o)) if k == origin_key => o,
                _ => {
                    let o = match self.origin_ids.get(&origin_key) {
                        Some(&o) => o,
                        None => {
                            let o = self.origins.len() as u32;
                            self.origins.push(origin_key);
                            self.origin_ids.insert(origin_key, o);
                            o
                        }
                    };
                    last_origin = Some((origin_key, o));
                    o
                }
            };
            put_varint(&mut body, u64::from(origin));
            put_varint(&mut body, u64::from(attr_len));
            let at = attr_at.wrapping_sub(self.attr_base) as usize;
            for e in at..at + attr_len as usize {
                let (k, v) = std::mem::replace(&mut self.attrs[e], (0, OwnedValue::Empty));
                put_varint(&mut body, u64::from(k));
                self.pack_value(v, &mut strings, &mut body);
            }
            if let Some(x) = extra {
                put_text(&mut body, x.status_message.as_bytes());
                put_varint(&mut body, x.events.len() as u64);
                for &e in x.events.iter() {
                    put_varint(&mut body, u64::from(e));
                }
                put_varint(&mut body, x.links.len() as u64);
                for (t, s) in x.links.iter() {
                    body.extend_from_slice(t);
                    body.extend_from_slice(s);
                }
            }
        }
        let mut len = vec![];
        put_varint(&mut len, body.len() as u64);
        out.reserve_exact(len.len() + body.len());
        out.extend_from_slice(&len);
        out.extend_from_slice(&body);
        self.pack_body = body;
    }

    fn pack_value(&mut self, v: OwnedValue, strings: &mut Vec<Arc<str>>, out: &mut Vec<u8>) {
        match v {
            OwnedValue::Empty => out.push(V_EMPTY),
            OwnedValue::Bool(b) => out.push(if b { V_TRUE } else { V_FALSE }),
            OwnedValue::Int(i) => {
                out.push(V_INT);
                put_varint(out, zigzag(i));
            }
            OwnedValue::Double(f) => {
                out.push(V_DOUBLE);
                out.extend_from_slice(&f.to_bits().to_le_bytes());
            }
            OwnedValue::Str(s) => {
                match strings.iter().position(|x| Arc::ptr_eq(x, &s) || **x == *s) {
                    Some(k) => {
                        out.push(V_STR_AGAIN);
                        put_varint(out, k as u64);
                    }
                    None => {
                        out.push(V_STR);
                        put_text(out, s.as_bytes());
                        if strings.len() < STRINGS_SHARED {
                            strings.push(s);
                        }
                    }
                }
            }
            OwnedValue::Bytes(b) => {
                out.push(V_BYTES);
                put_text(out, &b);
            }
            OwnedValue::TooDeep => out.push(V_TOO_DEEP),
            other => {
                let k = match self.boxed_free.pop() {
                    Some(k) => {
                        self.boxed[k as usize] = other;
                        k
                    }
                    None => {
                        self.boxed.push(other);
                        (self.boxed.len() - 1) as u32
                    }
                };
                out.push(V_BOXED);
                put_varint(out, u64::from(k));
            }
        }
    }

    /// The spans of packed chunks (trace `trace_id`'s, from [`SpanStore::pack`]) as new
    /// rows, in chunk order; the chunks are spent (a boxed value is taken back).
    pub fn unpack(&mut self, trace_id: &[u8; 16], packed: &[u8]) -> Rows {
        let first = self.next_row();
        let mut rd = Reader { b: packed, at: 0 };
        let mut strings: Vec<Arc<str>> = vec![];
        while !rd.done() {
            let _len = rd.varint();
            let n = rd.varint() as usize;
            let scale = 10u64.pow(u32::from(rd.byte()));
            let base = u64::from_le_bytes(rd.array());
            let ids = rd.take(8 * n);
            let id = |p: usize| -> [u8; 8] { ids[8 * p..8 * p + 8].try_into().expect("8 bytes") };
            strings.clear();
            self.rows.reserve(n);
            for p in 0..n {
                let flags = rd.byte();
                let parent_id = match rd.varint() {
                    PARENT_NONE_64 => [0; 8],
                    PARENT_RAW_64 => rd.array(),
                    q => id((q - PARENT_AT) as usize),
                };
                let start_ns = base + rd.varint() * scale;
                let d = unzigzag(rd.varint()).wrapping_mul(scale as i64);
                let end_ns = start_ns.wrapping_add(d as u64);
                let name = rd.varint() as Sym;
                let (resource, scope) = self.origins[rd.varint() as usize];
                let attr_len = rd.varint() as u32;
                let attr_at = self.attr_base.wrapping_add(self.attrs.len() as u32);
                for _ in 0..attr_len {
                    let k = rd.varint() as Sym;
                    let v = self.unpack_value(&mut rd, &mut strings);
                    self.attrs.push_back((k, v));
                }
                let extra = (flags & EXTRA != 0).then(|| {
                    let status_message = rd.text().into();
                    let events = (0..rd.varint()).map(|_| rd.varint() as Sym).collect();
                    let links = (0..rd.varint()).map(|_| (rd.array(), rd.array())).collect();
                    Box::new(Extra {
                        status_message,
                        events,
                        links,
                    })
                });
                self.rows.push_back(Row {
                    trace_id: *trace_id,
                    span_id: id(p),
                    parent_id,
                    start_ns,
                    end_ns,
                    name,
                    scope,
                    resource,
                    kind: flags & 7,
                    status: flags >> 3 & 3,
                    released: false,
                    attr_at,
                    attr_len,
                    extra,
                });
            }
        }
        Rows {
            first,
            len: self.next_row().wrapping_sub(first),
        }
    }

    fn unpack_value(&mut self, rd: &mut Reader<'_>, strings: &mut Vec<Arc<str>>) -> OwnedValue {
        match rd.byte() {
            V_EMPTY => OwnedValue::Empty,
            V_FALSE => OwnedValue::Bool(false),
            V_TRUE => OwnedValue::Bool(true),
            V_INT => OwnedValue::Int(unzigzag(rd.varint())),
            V_DOUBLE => OwnedValue::Double(f64::from_bits(u64::from_le_bytes(rd.array()))),
            V_STR => {
                let s: Arc<str> = rd.text().into();
                if strings.len() < STRINGS_SHARED {
                    strings.push(s.clone());
                }
                OwnedValue::Str(s)
            }
            V_STR_AGAIN => OwnedValue::Str(strings[rd.varint() as usize].clone()),
            V_BYTES => OwnedValue::Bytes(rd.bytes().into()),
            V_TOO_DEEP => OwnedValue::TooDeep,
            V_BOXED => {
                let k = rd.varint() as u32;
                self.boxed_free.push(k);
                std::mem::replace(&mut self.boxed[k as usize], OwnedValue::Empty)
            }
            t => unreachable!("packed value tag {t}"),
        }
    }

    /// The span ids of packed chunks, in chunk order, without unpacking them.
    pub fn packed_ids(packed: &[u8]) -> impl Iterator<Item = &[u8; 8]> + '_ {
        let mut rd = Reader { b: packed, at: 0 };
        std::iter::from_fn(move || {
            if rd.done() {
                return None;
            }
            let len = rd.varint() as usize;
            let next = rd.at + len;
            let n = rd.varint() as usize;
            rd.at += 1 + 8; // the scale and the base
            let ids = rd.take(8 * n);
            rd.at = next;
            Some(ids.chunks_exact(8).map(|c| c.try_into().expect("8 bytes")))
        })
        .flatten()
    }

    /// How many spans packed chunks hold.
    pub fn packed_len(packed: &[u8]) -> usize {
        let mut rd = Reader { b: packed, at: 0 };
        let mut n = 0;
        while !rd.done() {
            let len = rd.varint() as usize;
            let next = rd.at + len;
            n += rd.varint() as usize;
            rd.at = next;
        }
        n
    }
}

// ------------------------------------------------------------ packed spans
//
// An open trace's spans wait in the assembler packed, not as rows: about 20 bytes a span
// instead of 80 for the row and 32 for each attribute entry. A trace's spans are one or more
// chunks, one per `add` that brought some of them. A chunk:
//
// - varint: the length of the rest of the chunk (so a chunk's span ids are found without
//   reading its spans);
// - varint n; one byte e; the 8-byte little-endian base (the least start); the n span ids,
//   8 bytes each;
// - per span: a byte of kind (bits 0-2), status (bits 3-4) and EXTRA (bit 5); the parent
//   (varint: PARENT_NONE for a root, PARENT_RAW then 8 bytes, or PARENT_AT + its position
//   in the chunk); varints of (start - base) / 10^e, zigzag((end - start) / 10^e) (end -
//   start wraps as an i64), the name's symbol, the (resource, scope) pair's index and the
//   attribute count; per attribute a varint key symbol and a value (a tag byte, then:
//   V_INT a zigzag varint, V_DOUBLE 8 bytes, V_STR / V_BYTES a varint length and the
//   bytes, V_STR_AGAIN the index of an earlier V_STR of the chunk, V_BOXED an index into
//   the store's boxed values); with EXTRA, the status message (length, bytes), the event
//   names (count, symbols) and the links (count, 24 bytes each).
//
// The format is the store's own (written and read by this module only): a malformed chunk
// is a bug, and reading one panics.

const PARENT_NONE: u8 = 0;
const PARENT_RAW: u8 = 1;
const PARENT_NONE_64: u64 = PARENT_NONE as u64;
const PARENT_RAW_64: u64 = PARENT_RAW as u64;
const PARENT_AT: u64 = 2;
const EXTRA: u8 = 1 << 5;
/// how many distinct string values of a chunk a later equal value may refer to
const STRINGS_SHARED: usize = 16;

const V_EMPTY: u8 = 0;
const V_FALSE: u8 = 1;
const V_TRUE: u8 = 2;
const V_INT: u8 = 3;
const V_DOUBLE: u8 = 4;
const V_STR: u8 = 5;
const V_STR_AGAIN: u8 = 6;
const V_BYTES: u8 = 7;
const V_TOO_DEEP: u8 = 8;
const V_BOXED: u8 = 9;

/// `end - start` of a row as a signed offset (wrapping: every pair of u64 round-trips).
fn duration(row: &Row) -> i64 {
    row.end_ns.wrapping_sub(row.start_ns) as i64
}

/// 5^e's inverse modulo 2^64 and u64::MAX / 5^e, for e <= 9: a multiple of 5^e times the
/// inverse is its quotient, at most the bound; any other value lands above it (Granlund and
/// Montgomery's divisibility test), so no division runs per span.
const INV5: [(u64, u64); 10] = {
    let mut out = [(0u64, 0u64); 10];
    let (mut e, mut p) = (0, 1u64);
    while e < 10 {
        // Newton's iteration doubles the correct low bits: 1 -> 64 in 6 steps
        let mut x = p;
        let mut k = 0;
        while k < 6 {
            x = x.wrapping_mul(2u64.wrapping_sub(p.wrapping_mul(x)));
            k += 1;
        }
        out[e] = (x, u64::MAX / p);
        p *= 5;
        e += 1;
    }
    out
};

/// Whether `v` is a multiple of 10^`exp` (`exp` <= 9).
fn divisible(v: u64, exp: u8) -> bool {
    let (inv, max) = INV5[usize::from(exp)];
    v.trailing_zeros() >= u32::from(exp) && (v >> exp).wrapping_mul(inv) <= max
}

/// `v / 10^exp` for a multiple `v` of 10^`exp` (`exp` <= 9).
fn div_pow10(v: u64, exp: u8) -> u64 {
    (v >> exp).wrapping_mul(INV5[usize::from(exp)].0)
}

fn zigzag(x: i64) -> u64 {
    ((x << 1) ^ (x >> 63)) as u64
}

fn unzigzag(x: u64) -> i64 {
    (x >> 1) as i64 ^ -((x & 1) as i64)
}

fn put_varint(out: &mut Vec<u8>, mut x: u64) {
    while x >= 0x80 {
        out.push(x as u8 | 0x80);
        x >>= 7;
    }
    out.push(x as u8);
}

fn put_text(out: &mut Vec<u8>, s: &[u8]) {
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// A cursor over packed chunks.
struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn done(&self) -> bool {
        self.at >= self.b.len()
    }

    fn byte(&mut self) -> u8 {
        self.at += 1;
        self.b[self.at - 1]
    }

    fn varint(&mut self) -> u64 {
        let (mut x, mut shift) = (0u64, 0);
        loop {
            let b = self.byte();
            x |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return x;
            }
            shift += 7;
        }
    }

    fn take(&mut self, n: usize) -> &'a [u8] {
        self.at += n;
        &self.b[self.at - n..self.at]
    }

    fn array<const N: usize>(&mut self) -> [u8; N] {
        self.take(N).try_into().expect("N bytes")
    }

    fn bytes(&mut self) -> &'a [u8] {
        let n = self.varint() as usize;
        self.take(n)
    }

    fn text(&mut self) -> &'a str {
        std::str::from_utf8(self.bytes()).expect("packed text is UTF-8")
    }
}

/// The value of attribute `k` among `attrs` (one per key), if it is there.
fn find_attr<'s>(
    attrs: impl IntoIterator<Item = &'s (Sym, OwnedValue)>,
    k: Sym,
) -> Option<&'s OwnedValue> {
    attrs.into_iter().find(|(x, _)| *x == k).map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::tests::S;
    use crate::otlp::Resource as BatchResource;

    /// `hex` is `bytes.hex()`: every byte value, and lengths either side of the 32 bytes
    /// written at a time, appended after what `out` held.
    #[test]
    fn hex_is_python_bytes_hex() {
        let all: Vec<u8> = (0..=255).collect();
        let want = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        assert_eq!(hex(&all), want(&all));
        for n in [0, 1, 8, 16, 31, 32, 33, 64, 65] {
            let b = &all[100..100 + n];
            let mut out = String::from("x");
            hex_into(b, &mut out);
            assert_eq!(out, format!("x{}", want(b)), "{n} bytes");
        }
    }

    fn batch() -> Batch<'static> {
        Batch {
            received: 3,
            trace_id: vec![[1; 16], [1; 16], [2; 16]],
            span_id: vec![[0xab; 8], [2; 8], [3; 8]],
            parent_id: vec![[0; 8], [0xab; 8], [9; 8]],
            name: vec!["root", "child", "root"],
            kind: vec![2, 9, -1],
            status_code: vec![0, 2, 7],
            status_message: vec!["", "boom", ""],
            start_ns: vec![10, 11, 5],
            end_ns: vec![20, 11, 4],
            resource: vec![0, 1, 0],
            scope: vec![0, 0, 1],
            resources: vec![
                BatchResource {
                    service: "svc",
                    attrs: vec![
                        ("service.name", AnyValue::Str("svc")),
                        ("k", AnyValue::Int(1)),
                        ("k", AnyValue::Int(2)),
                    ],
                },
                BatchResource {
                    service: "",
                    attrs: vec![("service.name", AnyValue::Int(3))],
                },
            ],
            scopes: vec!["lib", ""],
            attr_span: vec![0, 0, 1],
            attr_key: vec!["a", "a", "k"],
            attr_value: vec![
                AnyValue::Str("x"),
                AnyValue::Array(vec![AnyValue::Empty]),
                AnyValue::Double(1.5),
            ],
            event_span: vec![1, 1],
            event_name: vec!["retry", "done"],
            link_span: vec![2],
            link_trace_id: vec![[1; 16]],
            link_span_id: vec![[2; 8]],
            ..Batch::default()
        }
    }

    #[test]
    fn rows_answer_as_the_python_span() {
        let mut st = SpanStore::new();
        let rows = st.add_batch(&batch());
        assert_eq!(rows, Rows { first: 0, len: 3 });
        assert_eq!(st.name(0), "root");
        assert_eq!(st.kind(0), "server");
        assert_eq!(st.kind(1), "unspecified");
        assert_eq!(st.kind(2), "unspecified");
        assert_eq!(st.status(1), "error");
        assert_eq!(st.status(2), "unset");
        assert_eq!(st.status_message(1), "boom");
        assert_eq!(st.status_message(0), "");
        assert_eq!(st.service(0), "svc");
        assert_eq!(st.service(1), "");
        assert_eq!(st.scope_name(0), "lib");
        assert_eq!(st.scope_name(2), "");
        assert_eq!(st.trace_id_hex(0), "01".repeat(16));
        assert_eq!(st.span_id_hex(0), "abababababababab");
        assert_eq!(st.parent_id_hex(0), "");
        assert_eq!(st.parent_id_hex(1), "abababababababab");
        assert_eq!((st.start_ns(2), st.end_ns(2)), (5, 4));
        // a later duplicate key wins; span attributes before the resource's
        let tuple = OwnedValue::Array(vec![OwnedValue::Empty].into());
        assert_eq!(st.attr(0, "a"), Some(&tuple));
        assert_eq!(st.attr(0, "a").map(OwnedValue::type_name), Some("tuple"));
        assert_eq!(st.attr(0, "k"), Some(&OwnedValue::Int(2)));
        assert_eq!(st.resource_attr(0, "a"), None);
        assert_eq!(st.attr(1, "k"), Some(&OwnedValue::Double(1.5)));
        assert_eq!(st.resource_attr(1, "k"), None);
        assert_eq!(st.attr(1, "service.name"), Some(&OwnedValue::Int(3)));
        assert_eq!(st.attr(0, "nope"), None);
        assert!(st.has_event(1, "done") && !st.has_event(1, "nope") && !st.has_event(0, "done"));
        assert_eq!(st.event_names(1).collect::<Vec<_>>(), ["retry", "done"]);
        assert_eq!(st.links(2), &[([1; 16], [2; 8])]);
        assert!(st.links(0).is_empty());
        assert_eq!(st.attrs(0).count(), 1);
        assert_eq!(st.resource_attrs(0).count(), 2);
    }

    #[test]
    fn batches_append_and_share_resources() {
        let mut st = SpanStore::new();
        st.add_batch(&batch());
        assert_eq!(st.add_batch(&batch()), Rows { first: 3, len: 3 });
        assert_eq!(st.add_batch(&Batch::default()), Rows { first: 6, len: 0 });
        assert_eq!(st.resources.len(), 2);
        assert_eq!(st.name(3), "root");
        assert_eq!(st.status_message(4), "boom");
        assert_eq!(std::mem::size_of::<Row>(), 80);
    }

    #[test]
    fn released_rows_are_freed_oldest_first() {
        let mut st = SpanStore::new();
        st.add_batch(&batch());
        st.add_batch(&batch());
        st.release([1, 0]);
        assert_eq!((st.next_row(), st.held()), (6, 4));
        st.release([3, 4]); // row 2 still held: 3 and 4 lose their payload only
        assert_eq!(st.held(), 4);
        assert_eq!(st.name(5), "root");
        assert_eq!(st.links(5), &[([1; 16], [2; 8])]);
        // the released rows' attribute entries stay behind row 2, their values freed
        assert_eq!(st.attrs.len(), 2);
        assert!(st.attrs.iter().all(|(_, v)| *v == OwnedValue::Empty));
        st.release([2, 5, 99]);
        assert_eq!((st.next_row(), st.held()), (6, 0));
        assert!(st.attrs.is_empty(), "the attributes go with their rows");
        assert_eq!(st.add_batch(&batch()), Rows { first: 6, len: 3 });
        assert_eq!(st.status_message(7), "boom");
        assert_eq!(st.attr(6, "k"), Some(&OwnedValue::Int(2)));
    }

    /// Everything the accessors say of row `r`, values by their byte encoding (NaN equal to
    /// itself).
    #[allow(clippy::type_complexity)]
    fn snapshot(
        st: &SpanStore,
        r: u32,
    ) -> (
        Vec<String>,
        (u64, u64, bool),
        Vec<(String, Vec<u8>)>,
        Vec<String>,
        Vec<u8>,
    ) {
        let enc = |v: &OwnedValue| {
            let mut out = vec![v.type_name().len() as u8];
            v.encode(&mut out);
            out
        };
        let text = vec![
            st.name(r).to_owned(),
            st.kind(r).to_owned(),
            st.status(r).to_owned(),
            st.status_message(r).to_owned(),
            st.service(r).to_owned(),
            st.scope_name(r).to_owned(),
            st.trace_id_hex(r),
            st.span_id_hex(r),
            st.parent_id_hex(r),
        ];
        let attrs = st
            .attrs(r)
            .chain(st.resource_attrs(r))
            .map(|(k, v)| (k.to_owned(), enc(v)))
            .collect();
        let links = st
            .links(r)
            .iter()
            .flat_map(|(t, s)| t.iter().chain(s))
            .copied();
        (
            text,
            (st.start_ns(r), st.end_ns(r), st.is_root(r)),
            attrs,
            st.event_names(r).map(str::to_owned).collect(),
            links.collect(),
        )
    }

    /// Pack each trace's rows of `rows` (in `chunks` pieces each), release them, unpack:
    /// every span answers as before, and the store holds nothing else.
    fn round_trip(st: &mut SpanStore, rows: Rows, chunks: usize) {
        let mut traces: Vec<([u8; 16], Vec<u32>)> = vec![];
        for r in rows.clone() {
            let t = *st.trace_id(r);
            match traces.iter_mut().find(|x| x.0 == t) {
                Some(x) => x.1.push(r),
                None => traces.push((t, vec![r])),
            }
        }
        let before: Vec<Vec<_>> = traces
            .iter()
            .map(|(_, rs)| rs.iter().map(|&r| snapshot(st, r)).collect())
            .collect();
        let mut blobs = vec![];
        for (_, rs) in &traces {
            let mut blob = vec![];
            let per = rs.len().div_ceil(chunks).max(1);
            for part in rs.chunks(per) {
                st.pack(part, &mut blob);
            }
            assert_eq!(SpanStore::packed_len(&blob), rs.len());
            let ids: Vec<[u8; 8]> = SpanStore::packed_ids(&blob).copied().collect();
            let want: Vec<[u8; 8]> = rs.iter().map(|&r| *st.span_id(r)).collect();
            assert_eq!(ids, want);
            blobs.push(blob);
        }
        st.release(rows);
        assert_eq!(st.held(), 0);
        for (((t, _), blob), want) in traces.iter().zip(&blobs).zip(&before) {
            let got = st.unpack(t, blob);
            let got: Vec<_> = got.map(|r| snapshot(st, r)).collect();
            assert_eq!(&got, want);
        }
        assert!(st.boxed.iter().all(|v| *v == OwnedValue::Empty));
        assert_eq!(st.boxed_free.len(), st.boxed.len());
    }

    #[test]
    fn packed_spans_unpack_as_they_were() {
        for chunks in [1, 2] {
            let mut st = SpanStore::new();
            let rows = st.add_batch(&batch());
            round_trip(&mut st, rows, chunks);
        }
    }

    use crate::test_rng::Rng;

    fn leak(s: String) -> &'static str {
        Box::leak(s.into_boxed_str())
    }

    /// Batches of a few traces with every kind of value, parents in and out of the batch,
    /// times at every scale and at the ends of u64, events, links and status messages.
    fn generated(rng: &mut Rng, n: usize) -> Batch<'static> {
        let times = |rng: &mut Rng| -> (u64, u64) {
            let scale = 10u64.pow(rng.below(10) as u32);
            match rng.below(9) {
                0 => (rng.word(), rng.word()),
                1 => (0, u64::MAX),
                2 => (u64::MAX, rng.below(3)),
                3 => (rng.below(2) << 63, 1 << 63), // end - start: i64::MIN, or 0
                _ => {
                    let s = 1_700_000_000_000_000_000 / scale * scale + rng.below(1000) * scale;
                    let d = rng.below(5000) * scale;
                    if rng.below(4) == 0 {
                        (s, s.wrapping_sub(d))
                    } else {
                        (s, s + d)
                    }
                }
            }
        };
        let value = |rng: &mut Rng, depth: u32| -> AnyValue<'static> {
            fn go(rng: &mut Rng, depth: u32) -> AnyValue<'static> {
                match rng.below(if depth > 1 { 8 } else { 11 }) {
                    0 => AnyValue::Empty,
                    1 => AnyValue::Bool(rng.below(2) == 0),
                    2 => AnyValue::Int(rng.word() as i64 >> rng.below(64)),
                    3 => AnyValue::Double(f64::from_bits(rng.word())),
                    4 | 5 => AnyValue::Str(leak(format!("v{}", rng.below(40)))),
                    6 => AnyValue::Str(leak("é".repeat(rng.below(200) as usize))),
                    7 => AnyValue::Bytes(leak(format!("{}", rng.word())).as_bytes()),
                    8 => AnyValue::Array((0..rng.below(3)).map(|_| go(rng, depth + 1)).collect()),
                    9 => AnyValue::KvList(
                        (0..rng.below(3))
                            .map(|i| (leak(format!("k{i}")), go(rng, depth + 1)))
                            .collect(),
                    ),
                    _ => AnyValue::TooDeep,
                }
            }
            go(rng, depth)
        };
        let mut b = Batch {
            received: n,
            resources: vec![
                BatchResource {
                    service: "a",
                    attrs: vec![("service.name", AnyValue::Str("a"))],
                },
                BatchResource::default(),
            ],
            scopes: vec!["s1", "s2", ""],
            ..Batch::default()
        };
        for i in 0..n {
            b.trace_id.push([rng.below(3) as u8 + 1; 16]);
            let sid = if rng.below(20) == 0 {
                [0; 8] // an all-zero span id is kept as it is
            } else {
                rng.word().to_le_bytes()
            };
            b.span_id.push(sid);
            let parent = match rng.below(4) {
                0 => [0; 8],
                1 => rng.word().to_le_bytes(),
                _ if i > 0 => b.span_id[rng.below(i as u64) as usize],
                _ => [7; 8],
            };
            b.parent_id.push(parent);
            b.name.push(leak(format!("n{}", rng.below(5))));
            b.kind.push(rng.below(8) as i32 - 1);
            b.status_code.push(rng.below(4) as i32);
            b.status_message
                .push(if rng.below(5) == 0 { "oops" } else { "" });
            let (s, e) = times(rng);
            b.start_ns.push(s);
            b.end_ns.push(e);
            b.resource.push(rng.below(2) as u32);
            b.scope.push(rng.below(3) as u32);
            for _ in 0..rng.below(5) {
                b.attr_span.push(i as u32);
                b.attr_key.push(leak(format!("a{}", rng.below(4))));
                b.attr_value.push(value(rng, 0));
            }
            for _ in 0..rng.below(3) / 2 {
                b.event_span.push(i as u32);
                b.event_name.push(leak(format!("e{}", rng.below(3))));
            }
            if rng.below(6) == 0 {
                b.link_span.push(i as u32);
                b.link_trace_id.push([rng.below(256) as u8; 16]);
                b.link_span_id.push(rng.word().to_le_bytes());
            }
        }
        b
    }

    #[test]
    fn generated_spans_unpack_as_they_were() {
        // from row 0, and from numbers that wrap during the run
        for first in [0, u32::MAX - 1000] {
            generated_round_trips(SpanStore::numbered_from(first));
        }
    }

    fn generated_round_trips(mut st: SpanStore) {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for round in 0..200 {
            let n = rng.below(40) as usize;
            let rows = st.add_batch(&generated(&mut rng, n));
            let chunks = 1 + round % 3;
            round_trip(&mut st, rows, chunks);
            let held = Rows {
                first: st.base,
                len: st.held() as u32,
            };
            st.release(held);
        }
    }

    /// An attribute read by its interned symbol is the one read by its text, for keys
    /// interned before the spans came, after them, and never carried by any span.
    #[test]
    fn attributes_read_by_symbol_as_by_text() {
        let mut rng = Rng(0x51de_5eed);
        let mut st = SpanStore::new();
        let texts = ["a0", "a1", "a2", "a3", "service.name", "nope", "e1"];
        let early: Vec<Sym> = texts[..3].iter().map(|k| st.intern(k)).collect();
        for round in 0..100 {
            let n = rng.below(30) as usize;
            let rows = st.add_batch(&generated(&mut rng, n));
            let syms: Vec<Sym> = texts.iter().map(|k| st.intern(k)).collect();
            assert_eq!(syms[..3], early[..], "a symbol does not change");
            for r in rows.clone() {
                for (k, &sym) in texts.iter().zip(&syms) {
                    assert_eq!(st.attr_sym(r, sym), st.attr(r, k), "round {round} {k}");
                    assert_eq!(
                        st.resource_attr_sym(r, sym),
                        st.resource_attr(r, k),
                        "round {round} {k}"
                    );
                }
            }
            st.release(rows);
        }
    }

    #[test]
    fn times_in_whole_milliseconds_pack_small() {
        let mut st = SpanStore::new();
        let spans: Vec<S> = (1..=8u8)
            .map(|i| {
                (
                    1,
                    i,
                    u8::from(i > 1),
                    1_700_000_000_000_000_000 + u64::from(i) * 1_000_000,
                    0,
                )
            })
            .collect();
        let mut b = crate::order::tests::batch(&spans);
        b.end_ns = b.start_ns.iter().map(|s| s + 5_000_000).collect();
        let rows = st.add_batch(&b);
        let mut blob = vec![];
        let rows: Vec<u32> = rows.collect();
        st.pack(&rows, &mut blob);
        // 2 + 1 + 1 + 8 bytes of header, 8 span ids, 7 bytes a span
        assert_eq!(blob.len(), 12 + 8 * 8 + 8 * 7);
    }

    #[test]
    fn nan_resources_are_shared_by_bits() {
        let mut a = vec![];
        OwnedValue::Double(f64::NAN).encode(&mut a);
        let mut b = vec![];
        OwnedValue::Double(f64::NAN).encode(&mut b);
        assert_eq!(a, b);
        let mut c = vec![];
        OwnedValue::Double(-0.0).encode(&mut c);
        let mut d = vec![];
        OwnedValue::Double(0.0).encode(&mut d);
        assert_ne!(c, d);
    }

    #[test]
    fn powers_of_ten_divide_as_integers_do() {
        let mut rng = Rng(77);
        for e in 0..=9u8 {
            let p = 10u64.pow(u32::from(e));
            let mut vs = vec![
                0,
                1,
                p - 1,
                p,
                p + 1,
                2 * p,
                u64::MAX,
                u64::MAX / p * p,
                1 << 63,
            ];
            for _ in 0..2000 {
                let v = rng.word() >> rng.below(64);
                vs.extend([v, v / p * p]);
            }
            for v in vs {
                assert_eq!(divisible(v, e), v % p == 0, "{v} {e}");
                if v % p == 0 {
                    assert_eq!(div_pow10(v, e), v / p);
                }
            }
        }
    }

    #[test]
    fn hex_is_lower_case() {
        assert_eq!(hex(&[0, 0x0f, 0xa0, 0xff]), "000fa0ff");
        assert_eq!(hex(&[]), "");
    }
}
