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
use std::ops::Range;
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
/// be read again. Row numbers are u32: at most 2^32 spans over the store's life.
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
}

/// The hex of `b`, lower case, as Python's `bytes.hex()`.
pub fn hex(b: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(2 * b.len());
    for &x in b {
        s.push(DIGITS[usize::from(x >> 4)] as char);
        s.push(DIGITS[usize::from(x & 15)] as char);
    }
    s
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

    /// How many rows were ever added (the next row's number).
    pub fn len(&self) -> usize {
        self.base as usize + self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many rows are held in memory (not yet released, or behind an unreleased one).
    pub fn held(&self) -> usize {
        self.rows.len()
    }

    /// Hand rows back: their attributes, events and links are freed now, and the rows
    /// themselves once every older row is released too.
    pub fn release(&mut self, rows: impl IntoIterator<Item = u32>) {
        for r in rows {
            if let Some(row) = r
                .checked_sub(self.base)
                .and_then(|i| self.rows.get_mut(i as usize))
            {
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
            self.base += 1;
        }
        if self.rows.is_empty() {
            self.rows.shrink_to(1024);
            self.attrs.shrink_to(1024);
        }
    }

    /// Copy the spans of `b` in; returns their rows (row `start + i` is span `i` of `b`).
    /// A batch with an `error` holds no spans (the decoder stops before any).
    pub fn add_batch(&mut self, b: &Batch<'_>) -> Range<u32> {
        let first = u32::try_from(self.len() + b.len())
            .map(|end| end - b.len() as u32)
            .expect("a span store holds at most 2^32 spans over its life");
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
        first..first + n as u32
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
        let row = r
            .checked_sub(self.base)
            .and_then(|i| self.rows.get(i as usize))
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
        let k = self.strings.get(key)?;
        find_attr(self.own_attrs(r), k)
            .or_else(|| find_attr(&self.resources[self.row(r).resource as usize].attrs, k))
    }

    /// `Span.resource_attr`.
    pub fn resource_attr(&self, r: u32, key: &str) -> Option<&OwnedValue> {
        self.lookup(&self.resources[self.row(r).resource as usize].attrs, key)
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
    use crate::otlp::Resource as BatchResource;

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
        assert_eq!(rows, 0..3);
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
        assert_eq!(st.add_batch(&batch()), 3..6);
        assert_eq!(st.add_batch(&Batch::default()), 6..6);
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
        assert_eq!((st.len(), st.held()), (6, 4));
        st.release([3, 4]); // row 2 still held: 3 and 4 lose their payload only
        assert_eq!(st.held(), 4);
        assert_eq!(st.name(5), "root");
        assert_eq!(st.links(5), &[([1; 16], [2; 8])]);
        // the released rows' attribute entries stay behind row 2, their values freed
        assert_eq!(st.attrs.len(), 2);
        assert!(st.attrs.iter().all(|(_, v)| *v == OwnedValue::Empty));
        st.release([2, 5, 99]);
        assert_eq!((st.len(), st.held()), (6, 0));
        assert!(st.attrs.is_empty(), "the attributes go with their rows");
        assert_eq!(st.add_batch(&batch()), 6..9);
        assert_eq!(st.status_message(7), "boom");
        assert_eq!(st.attr(6, "k"), Some(&OwnedValue::Int(2)));
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
    fn hex_is_lower_case() {
        assert_eq!(hex(&[0, 0x0f, 0xa0, 0xff]), "000fa0ff");
        assert_eq!(hex(&[]), "");
    }
}
