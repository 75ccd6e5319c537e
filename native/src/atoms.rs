//! The atom program: every atomic predicate of a spec, evaluated on one span event.
//!
//! Python emits the program (`semantics/atoms.py`) from the typed atoms,
//! node by node as `codegen.CodeGen` generates Python from them; this module runs it
//! with the same results: the same letters, and the same type-mismatch counts per
//! comparison site (the generated code's short-circuits decide which comparisons run, so
//! they are kept exactly: `and`, `or`, `->`, `has_ancestor`, `has_child`). The values are
//! [`crate::value`]'s. The JSON shapes are listed in `semantics/atoms.py`.
//!
//! An atom reads spans through [`SpanSource`]: the span store implements it, and
//! [`SimpleTrace`] (owned rows, linked as `events.Trace` links them) serves the tests.

use std::borrow::Cow;
use std::collections::HashSet;

use regex::Regex;
use serde::Deserialize;
use serde_json::{Map, Value as Json};

use crate::value::{self, ArOp, CmpOp, Value};

/// One attribute value as the Python Span holds it, borrowed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AttrRef<'a> {
    Str(&'a str),
    Bool(bool),
    Int(i64),
    Double(f64),
    /// any other Python value; the str is `type(v).__name__` in Python:
    /// "NoneType" (empty AnyValue), "bytes", "tuple" (array),
    /// "mappingproxy" (kvlist), "InvalidValue" (nested too deep)
    Other(&'static str),
}

impl<'a> AttrRef<'a> {
    pub fn value(self) -> Value<'a> {
        match self {
            AttrRef::Str(s) => Value::Str(Cow::Borrowed(s)),
            AttrRef::Bool(b) => Value::Bool(b),
            AttrRef::Int(i) => Value::Int(i as i128),
            AttrRef::Double(f) => Value::Float(f),
            AttrRef::Other(n) => Value::Other(n),
        }
    }
}

/// An attribute key an atom reads: its text, and its number among the program's keys
/// ([`Program::attr_keys`]). A source that resolved the program's keys once (the span
/// store's [`crate::file_run::View`]) finds the value by the number, without hashing the
/// text at every evaluation; others read the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrKey {
    pub id: u32,
    pub text: Box<str>,
}

/// The spans of one trace, as the generated predicate code sees them (`Span`, `Trace`).
pub trait SpanSource {
    // rows are u32 indexes of spans; all of one trace
    fn name(&self, r: u32) -> &str;
    fn kind(&self, r: u32) -> &'static str; // "unspecified","internal","server",...
    fn status(&self, r: u32) -> &'static str; // "unset","ok","error"
    fn status_message(&self, r: u32) -> &str;
    fn service(&self, r: u32) -> &str; // "" when none
    fn scope_name(&self, r: u32) -> &str;
    fn trace_id_hex(&self, r: u32) -> String; // lower-case hex, as Python
    fn span_id_hex(&self, r: u32) -> String;
    fn parent_id_hex(&self, r: u32) -> String; // "" for a root
    fn start_ns(&self, r: u32) -> u64;
    fn end_ns(&self, r: u32) -> u64;
    fn attr(&self, r: u32, key: &AttrKey) -> Option<AttrRef<'_>>; // Span.attr: span attrs, else resource
    fn resource_attr(&self, r: u32, key: &AttrKey) -> Option<AttrRef<'_>>; // Span.resource_attr
    fn has_event(&self, r: u32, name: &str) -> bool;
    fn parent(&self, r: u32) -> Option<u32>; // Trace.parent: present parent or None
    fn children(&self, r: u32) -> &[u32]; // Trace.children: sorted by span id
}

/// Per comparison site (the program's `sites`), the comparisons that were false because a
/// present value had another type: `CodeGen.mismatches[label]`, i.e. `[count, type name of
/// the first left value, of the first right value]` (empty names while the count is 0).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Mismatches {
    pub sites: Vec<(u64, &'static str, &'static str)>,
}

impl Mismatches {
    pub fn new(n_sites: usize) -> Mismatches {
        Mismatches {
            sites: vec![(0, "", ""); n_sites],
        }
    }

    /// Add `other`'s counts as if its comparisons ran after these: a site keeps the types
    /// of its first mismatch (Python's `CodeGen.mismatches`).
    pub fn merge(&mut self, other: &Mismatches) {
        for (i, &(n, l, r)) in other.sites.iter().enumerate() {
            if n > 0 {
                self.record(i as u32, l, r);
                self.sites[i].0 += n - 1;
            }
        }
    }

    fn record(&mut self, site: u32, left: &'static str, right: &'static str) {
        let i = site as usize;
        if i >= self.sites.len() {
            self.sites.resize(i + 1, (0, "", ""));
        }
        let seen = &mut self.sites[i];
        if seen.0 == 0 {
            *seen = (1, left, right);
        } else {
            seen.0 += 1;
        }
    }
}

/// A literal of the program.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Lit {
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
}

impl Lit {
    pub(crate) fn value(&self) -> Value<'_> {
        match self {
            Lit::Bool(b) => Value::Bool(*b),
            Lit::Int(i) => Value::Int(*i),
            Lit::Float(f) => Value::Float(*f),
            Lit::Str(s) => Value::Str(Cow::Borrowed(s)),
        }
    }
}

/// A built-in field (`field` node).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Field {
    Name,
    Kind,
    Status,
    StatusMessage,
    Service,
    TraceId,
    SpanId,
    ParentId,
    ScopeName,
    Duration,
    IsRoot,
    Start,
    End,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Logic {
    And,
    Or,
    Implies,
    Iff,
    Xor,
}

#[derive(Debug)]
pub(crate) enum Node {
    Lit(Lit),
    Field {
        hops: u32,
        field: Field,
    },
    Attr {
        hops: u32,
        resource: bool,
        key: AttrKey,
    },
    HasEvent(String),
    HasAncestor(Box<Node>),
    HasChild(Box<Node>),
    Exists(Box<Node>),
    Not(Box<Node>),
    Truthy(Box<Node>),
    Logic(Logic, Box<(Node, Node)>),
    Cmp {
        op: CmpOp,
        args: Box<(Node, Node)>,
        site: Option<u32>,
    },
    // a static `+ - *` is Python's operator on two numbers, which `values.dynamic.arith`
    // computes too
    Arith(ArOp, Box<(Node, Node)>),
    Neg(Box<Node>),
    InList(Box<Node>, Vec<Lit>),
    InRange(Box<Node>, Lit, Lit),
    Matches(Box<Node>, Regex),
    Contains(Box<(Node, Node)>),
    StartsWith(Box<(Node, Node)>),
    /// Python's `x or MISSING`: a falsy value is missing (`per service` without a service)
    OrMissing(Box<Node>),
    /// the instance's register `R[slot]` (`prev`/`last`; [`crate::registers`]); missing
    /// where no registers are given
    Reg(u32),
}

/// How deep a program's JSON may nest (objects and arrays). Parsing and evaluation
/// recurse; at this depth both fit a 2 MiB thread stack even in a debug build. The emitter
/// refuses atoms nested deeper than 100 nodes (at most two levels each).
pub const MAX_JSON_DEPTH: usize = 256;

/// A compiled atom program.
#[derive(Debug)]
pub struct Program {
    atoms: Vec<Node>,
    sites: Vec<String>,
    /// value expressions (scope keys), evaluated to a [`Value`] rather than a bit
    values: Vec<Node>,
    /// per property with `prev`/`last`, its register program
    pub(crate) registers: Vec<crate::registers::RegisterProgram>,
    /// per aggregate property, its sample program
    pub(crate) samples: Vec<crate::samples::SampleProgram>,
    /// per word of a letter, the bits of the atoms that are pure functions of the span
    /// ([`pure`]): equal on its start and end event, and counting no mismatch
    pure: Vec<u64>,
    /// per atom: `Some(start)` when it is `x and start` (`x and end`: `Some(false)`) with
    /// an `x` that counts nothing ([`quiet`]): its truth is then the event's kind and `x`'s,
    /// so `x` runs only on the events of that kind
    gated: Vec<Option<bool>>,
    /// per gated atom: the pure atom equal to its `x` (the same JSON node), if one is;
    /// its bit on the span is then `x`'s truth
    gated_as: Vec<Option<u32>>,
    /// the distinct attribute keys of every node, by [`AttrKey::id`]
    keys: Vec<Box<str>>,
}

/// Whether evaluating `n` has no effect but its value: it compares nothing that counts a
/// type mismatch (a `cmp` with a site).
pub(crate) fn quiet(n: &Node) -> bool {
    quiet_reading(n, false)
}

/// Whether `n` is a function of the span alone: it reads neither the event (`start`,
/// `end`) nor registers, and compares nothing that counts a type mismatch (a `cmp` with a
/// site). Such an atom has the same truth on a span's two events and no side effect, so
/// it is evaluated once per span ([`Program::eval_pure`]).
fn pure(n: &Node) -> bool {
    quiet_reading(n, true)
}

/// [`quiet`], and with `span_only` also [`pure`]: one walk for both, as they differ only
/// in the event fields and registers they let `n` read.
fn quiet_reading(n: &Node, span_only: bool) -> bool {
    let rec = |a: &Node| quiet_reading(a, span_only);
    match n {
        Node::Lit(_) | Node::Attr { .. } | Node::HasEvent(_) => true,
        Node::Field { field, .. } => !span_only || !matches!(field, Field::Start | Field::End),
        Node::Reg(_) => !span_only,
        Node::Cmp { args, site, .. } => site.is_none() && rec(&args.0) && rec(&args.1),
        Node::HasAncestor(a)
        | Node::HasChild(a)
        | Node::Exists(a)
        | Node::Not(a)
        | Node::Truthy(a)
        | Node::Neg(a)
        | Node::InList(a, _)
        | Node::InRange(a, _, _)
        | Node::Matches(a, _)
        | Node::OrMissing(a) => rec(a),
        Node::Logic(_, ab) | Node::Arith(_, ab) | Node::Contains(ab) | Node::StartsWith(ab) => {
            rec(&ab.0) && rec(&ab.1)
        }
    }
}

/// `Some(true)` for `x and start`, `Some(false)` for `x and end`, with a [`quiet`] `x`.
fn gate(n: &Node) -> Option<bool> {
    match n {
        Node::Logic(Logic::And, ab) if quiet(&ab.0) => match ab.1 {
            Node::Field {
                field: Field::Start,
                ..
            } => Some(true),
            Node::Field {
                field: Field::End, ..
            } => Some(false),
            _ => None,
        },
        _ => None,
    }
}

impl Program {
    /// Parse and check a program `{"atoms": [...], "sites": [...]}`, compiling each regular
    /// expression once. Any malformed node, out-of-range site or integer, or pattern the
    /// `regex` crate cannot compile is an `Err` naming it.
    pub fn from_json(text: &str) -> Result<Program, String> {
        let depth = json_depth(text);
        if depth > MAX_JSON_DEPTH {
            return Err(format!(
                "the atom program nests {depth} levels deep; at most {MAX_JSON_DEPTH}"
            ));
        }
        let mut de = serde_json::Deserializer::from_str(text);
        de.disable_recursion_limit(); // bounded above
        let doc = Json::deserialize(&mut de).map_err(|e| format!("atom program: {e}"))?;
        de.end().map_err(|e| format!("atom program: {e}"))?;
        let obj = doc.as_object().ok_or("atom program: not an object")?;
        let sites = match obj.get("sites") {
            Some(Json::Array(xs)) => xs
                .iter()
                .map(|x| x.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or("atom program: `sites` holds a non-string")?,
            _ => return Err("atom program: `sites` is not a list".into()),
        };
        let atoms = match obj.get("atoms") {
            Some(Json::Array(xs)) => xs
                .iter()
                .enumerate()
                .map(|(i, x)| node(x, sites.len()).map_err(|e| format!("atom {i}: {e}")))
                .collect::<Result<Vec<_>, _>>()?,
            _ => return Err("atom program: `atoms` is not a list".into()),
        };
        let values = match obj.get("values") {
            None => vec![],
            Some(Json::Array(xs)) => xs
                .iter()
                .enumerate()
                .map(|(i, x)| node(x, sites.len()).map_err(|e| format!("value {i}: {e}")))
                .collect::<Result<Vec<_>, _>>()?,
            _ => return Err("atom program: `values` is not a list".into()),
        };
        let mut atoms = atoms;
        let mut values = values;
        let mut registers = crate::registers::parse(obj.get("registers"), sites.len())?;
        let mut samples = crate::samples::parse(obj.get("samples"), sites.len())?;
        let mut keys = vec![];
        let nodes = atoms.iter_mut().chain(values.iter_mut());
        let nodes = nodes.chain(registers.iter_mut().flat_map(|r| r.nodes_mut()));
        for n in nodes.chain(samples.iter_mut().flat_map(|s| s.nodes_mut())) {
            number_keys(n, &mut keys);
        }
        let mut pure_bits = vec![0u64; atoms.len().div_ceil(64)];
        for (i, a) in atoms.iter().enumerate() {
            if pure(a) {
                pure_bits[i / 64] |= 1 << (i % 64);
            }
        }
        let gated: Vec<Option<bool>> = atoms.iter().map(gate).collect();
        let json_atoms = obj.get("atoms").and_then(Json::as_array);
        let gated_as = gated
            .iter()
            .enumerate()
            .map(|(i, g)| {
                let xs = json_atoms?;
                let x = xs[i].get("args")?.get(0);
                g.and(x).and_then(|x| {
                    (0..atoms.len())
                        .find(|&j| pure_bits[j / 64] >> (j % 64) & 1 == 1 && &xs[j] == x)
                        .map(|j| j as u32)
                })
            })
            .collect();
        Ok(Program {
            atoms,
            sites,
            values,
            registers,
            samples,
            pure: pure_bits,
            gated,
            gated_as,
            keys,
        })
    }

    /// The distinct attribute keys the program reads, by [`AttrKey::id`].
    pub fn attr_keys(&self) -> &[Box<str>] {
        &self.keys
    }

    pub fn n_atoms(&self) -> usize {
        self.atoms.len()
    }

    /// The number of value expressions (`values`).
    pub fn n_values(&self) -> usize {
        self.values.len()
    }

    /// Where value expression `i` reads its value when it is an attribute of the span
    /// itself: `(resource, key)` (`s.resource_attr(key)` or `s.attr(key)`). A scope key
    /// whose value only Python can render as text is read back from there.
    pub fn value_attr(&self, i: usize) -> Option<(bool, &str)> {
        match &self.values[i] {
            Node::Attr {
                hops: 0,
                resource,
                key,
            } => Some((*resource, &key.text)),
            _ => None,
        }
    }

    /// Value expression `i` on span `r` (its start event: a value expression does not
    /// read `start`/`end`), as the generated Python computes it.
    pub fn eval_value<'a, S: SpanSource + ?Sized>(
        &'a self,
        i: usize,
        src: &'a S,
        r: u32,
        mismatches: &mut Mismatches,
    ) -> Value<'a> {
        let mut cx = Cx::new(src, true, mismatches);
        cx.eval(&self.values[i], r)
    }

    /// The words of 64 bits a letter needs.
    pub fn n_words(&self) -> usize {
        self.atoms.len().div_ceil(64)
    }

    /// The comparison sites' labels (`show(cmp)`), in site order.
    pub fn sites(&self) -> &[String] {
        &self.sites
    }

    /// Zero counts, one per site.
    pub fn mismatches(&self) -> Mismatches {
        Mismatches::new(self.sites.len())
    }

    /// The letter of span `r` at its start (`is_start`) or end event: bit `i` (word `i /
    /// 64`) is atom `i`, as the generated `letter(s, st, tr)`; atoms run in order and count
    /// their type mismatches into `mismatches`. `out` holds at least [`Program::n_words`].
    pub fn eval<S: SpanSource + ?Sized>(
        &self,
        src: &S,
        r: u32,
        is_start: bool,
        out: &mut [u64],
        mismatches: &mut Mismatches,
    ) {
        let mut cx = Cx::new(src, is_start, mismatches);
        for (w, chunk) in self.atoms.chunks(64).enumerate() {
            let mut word = 0u64;
            for (b, atom) in chunk.iter().enumerate() {
                if cx.holds(atom, r) {
                    word |= 1 << b;
                }
            }
            out[w] = word;
        }
    }

    /// Whether some atom is pure (see [`pure`]): worth [`Program::eval_pure`] once per span.
    pub fn has_pure(&self) -> bool {
        self.pure.iter().any(|&w| w != 0)
    }

    /// The bits of the pure atoms (see [`pure`]) of span `r`, the others 0: the same on
    /// both of its events, and counting no mismatch. [`Program::eval_impure`] adds the rest.
    pub fn eval_pure<S: SpanSource + ?Sized>(&self, src: &S, r: u32, out: &mut [u64]) {
        let mut none = Mismatches::default(); // a pure atom counts nothing
        let mut cx = Cx::new(src, true, &mut none);
        for (w, chunk) in self.atoms.chunks(64).enumerate() {
            let (mask, mut word) = (self.pure[w], 0u64);
            for (b, atom) in chunk.iter().enumerate() {
                if mask >> b & 1 == 1 && cx.holds(atom, r) {
                    word |= 1 << b;
                }
            }
            out[w] = word;
        }
    }

    /// The letter of span `r` at one event, as [`Program::eval`], given its pure atoms'
    /// bits from [`Program::eval_pure`]: the other atoms run in order and count their
    /// mismatches as `eval` counts them (a pure atom counts none).
    pub fn eval_impure<S: SpanSource + ?Sized>(
        &self,
        src: &S,
        r: u32,
        is_start: bool,
        pure: &[u64],
        out: &mut [u64],
        mismatches: &mut Mismatches,
    ) {
        let mut cx = Cx::new(src, is_start, mismatches);
        for (w, chunk) in self.atoms.chunks(64).enumerate() {
            let (mask, mut word) = (self.pure[w], pure[w] & self.pure[w]);
            for (b, atom) in chunk.iter().enumerate() {
                if mask >> b & 1 == 1 {
                    continue;
                }
                let i = w * 64 + b;
                let holds = match (self.gated[i], atom) {
                    // `x and start`: Python's `and` is truthy when both are; `x` counts
                    // nothing, so it need not run on the other events, and when it is a
                    // pure atom too, its bit is known
                    (Some(start), Node::Logic(_, ab)) => {
                        is_start == start
                            && match self.gated_as[i] {
                                Some(j) => pure[j as usize / 64] >> (j % 64) & 1 == 1,
                                None => cx.holds(&ab.0, r),
                            }
                    }
                    _ => cx.holds(atom, r),
                };
                if holds {
                    word |= 1 << b;
                }
            }
            out[w] = word;
        }
    }

    /// One atom's truth on one event (the letter's bit `i`).
    pub fn eval_atom<S: SpanSource + ?Sized>(
        &self,
        i: usize,
        src: &S,
        r: u32,
        is_start: bool,
        mismatches: &mut Mismatches,
    ) -> bool {
        let mut cx = Cx::new(src, is_start, mismatches);
        cx.eval(&self.atoms[i], r).truthy()
    }
}

/// The deepest nesting of objects and arrays in a JSON text (strings skipped); linear, so
/// the parser's recursion can be bounded before it runs.
fn json_depth(text: &str) -> usize {
    let (mut depth, mut max, mut in_str, mut escaped) = (0usize, 0usize, false, false);
    for &b in text.as_bytes() {
        if in_str {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_str = false;
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'{' | b'[' => {
                depth += 1;
                max = max.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

// ------------------------------------------------------------------ parsing

fn get<'j>(o: &'j Map<String, Json>, k: &str) -> Result<&'j Json, String> {
    o.get(k)
        .ok_or_else(|| format!("`{}` lacks `{k}`", describe(o)))
}

fn describe(o: &Map<String, Json>) -> String {
    o.get("op")
        .and_then(Json::as_str)
        .map_or_else(|| "a node".to_owned(), |op| format!("`{op}` node"))
}

fn get_str<'j>(o: &'j Map<String, Json>, k: &str) -> Result<&'j str, String> {
    get(o, k)?
        .as_str()
        .ok_or_else(|| format!("{}: `{k}` is not a string", describe(o)))
}

fn child(o: &Map<String, Json>, k: &str, n_sites: usize) -> Result<Box<Node>, String> {
    Ok(Box::new(node(get(o, k)?, n_sites)?))
}

fn pair(o: &Map<String, Json>, n_sites: usize) -> Result<Box<(Node, Node)>, String> {
    match get(o, "args")? {
        Json::Array(xs) if xs.len() == 2 => {
            Ok(Box::new((node(&xs[0], n_sites)?, node(&xs[1], n_sites)?)))
        }
        _ => Err(format!("{}: `args` is not a list of two", describe(o))),
    }
}

fn hops(o: &Map<String, Json>) -> Result<u32, String> {
    get(o, "hops")?
        .as_u64()
        .and_then(|h| u32::try_from(h).ok())
        .ok_or_else(|| format!("{}: `hops` is not a count", describe(o)))
}

/// A literal `{"int": "123"} | {"float": 1.5} | {"str": "x"} | {"bool": true}`.
pub(crate) fn lit(v: &Json) -> Result<Lit, String> {
    let o = v.as_object().filter(|o| o.len() == 1);
    let bad = || format!("not a literal: {v}");
    let (k, x) = o.and_then(|o| o.iter().next()).ok_or_else(bad)?;
    Ok(match (k.as_str(), x) {
        ("int", Json::String(s)) => Lit::Int(
            s.parse::<i128>()
                .map_err(|_| format!("integer literal {s} is not an i128"))?,
        ),
        ("float", Json::Number(n)) => Lit::Float(n.as_f64().ok_or_else(bad)?),
        ("str", Json::String(s)) => Lit::Str(s.clone()),
        ("bool", Json::Bool(b)) => Lit::Bool(*b),
        _ => return Err(bad()),
    })
}

fn field(name: &str) -> Option<Field> {
    Some(match name {
        "name" => Field::Name,
        "kind" => Field::Kind,
        "status" => Field::Status,
        "status_message" => Field::StatusMessage,
        "service" => Field::Service,
        "trace_id" => Field::TraceId,
        "span_id" => Field::SpanId,
        "parent_id" => Field::ParentId,
        "scope.name" => Field::ScopeName,
        "duration" => Field::Duration,
        "is_root" => Field::IsRoot,
        "start" => Field::Start,
        "end" => Field::End,
        _ => return None,
    })
}

/// Number the attribute keys of `n` and its children: a key's [`AttrKey::id`] is its
/// place in `keys`, where each distinct key is once.
fn number_keys(n: &mut Node, keys: &mut Vec<Box<str>>) {
    match n {
        Node::Attr { key, .. } => {
            key.id = match keys.iter().position(|k| *k == key.text) {
                Some(i) => i as u32,
                None => {
                    keys.push(key.text.clone());
                    (keys.len() - 1) as u32
                }
            };
        }
        Node::Lit(_) | Node::Field { .. } | Node::HasEvent(_) | Node::Reg(_) => {}
        Node::HasAncestor(a)
        | Node::HasChild(a)
        | Node::Exists(a)
        | Node::Not(a)
        | Node::Truthy(a)
        | Node::Neg(a)
        | Node::InList(a, _)
        | Node::InRange(a, _, _)
        | Node::Matches(a, _)
        | Node::OrMissing(a) => number_keys(a, keys),
        Node::Logic(_, ab)
        | Node::Cmp { args: ab, .. }
        | Node::Arith(_, ab)
        | Node::Contains(ab)
        | Node::StartsWith(ab) => {
            number_keys(&mut ab.0, keys);
            number_keys(&mut ab.1, keys);
        }
    }
}

pub(crate) fn node(v: &Json, n_sites: usize) -> Result<Node, String> {
    let o = v.as_object().ok_or_else(|| format!("not a node: {v}"))?;
    let op = get_str(o, "op")?;
    Ok(match op {
        "lit" => Node::Lit(lit(get(o, "v")?)?),
        "field" => {
            let name = get_str(o, "name")?;
            Node::Field {
                hops: hops(o)?,
                field: field(name).ok_or_else(|| format!("unknown field `{name}`"))?,
            }
        }
        "attr" => Node::Attr {
            hops: hops(o)?,
            resource: get(o, "resource")?
                .as_bool()
                .ok_or("`attr` node: `resource` is not a bool")?,
            key: AttrKey {
                id: u32::MAX, // numbered by `number_keys` once the program is parsed
                text: get_str(o, "key")?.into(),
            },
        },
        "has_event" => Node::HasEvent(get_str(o, "name")?.to_owned()),
        "has_ancestor" => Node::HasAncestor(child(o, "arg", n_sites)?),
        "has_child" => Node::HasChild(child(o, "arg", n_sites)?),
        "exists" => Node::Exists(child(o, "arg", n_sites)?),
        "not" => Node::Not(child(o, "arg", n_sites)?),
        "truthy" => Node::Truthy(child(o, "arg", n_sites)?),
        "neg" => Node::Neg(child(o, "arg", n_sites)?),
        "and" | "or" | "implies" | "iff" | "xor" => {
            let l = match op {
                "and" => Logic::And,
                "or" => Logic::Or,
                "implies" => Logic::Implies,
                "iff" => Logic::Iff,
                _ => Logic::Xor,
            };
            Node::Logic(l, pair(o, n_sites)?)
        }
        "cmp" => {
            let c = get_str(o, "cmp")?;
            let site = match get(o, "site")? {
                Json::Null => None,
                s => Some(
                    s.as_u64()
                        .filter(|&i| (i as usize) < n_sites)
                        .ok_or_else(|| format!("`cmp` node: site {s} is not one of {n_sites}"))?
                        as u32,
                ),
            };
            Node::Cmp {
                op: CmpOp::parse(c).ok_or_else(|| format!("unknown comparison `{c}`"))?,
                args: pair(o, n_sites)?,
                site,
            }
        }
        "arith" => {
            let a = get_str(o, "ar")?;
            get(o, "static")?
                .as_bool()
                .ok_or("`arith` node: `static` is not a bool")?;
            Node::Arith(
                ArOp::parse(a).ok_or_else(|| format!("unknown arithmetic `{a}`"))?,
                pair(o, n_sites)?,
            )
        }
        "in_list" => {
            let items = match get(o, "items")? {
                Json::Array(xs) => xs.iter().map(lit).collect::<Result<Vec<_>, _>>()?,
                _ => return Err("`in_list` node: `items` is not a list".into()),
            };
            Node::InList(child(o, "arg", n_sites)?, items)
        }
        "in_range" => Node::InRange(
            child(o, "arg", n_sites)?,
            lit(get(o, "lo")?)?,
            lit(get(o, "hi")?)?,
        ),
        "matches" => {
            let p = get_str(o, "pattern")?;
            let re = Regex::new(p).map_err(|e| format!("pattern {p:?}: {e}"))?;
            Node::Matches(child(o, "arg", n_sites)?, re)
        }
        "contains" => Node::Contains(pair(o, n_sites)?),
        "startswith" => Node::StartsWith(pair(o, n_sites)?),
        "or_missing" => Node::OrMissing(child(o, "arg", n_sites)?),
        "reg" => Node::Reg(
            get(o, "slot")?
                .as_u64()
                .and_then(|i| u32::try_from(i).ok())
                .ok_or("`reg` node: `slot` is not an index")?,
        ),
        _ => return Err(format!("unknown op `{op}`")),
    })
}

// ------------------------------------------------------------------ evaluation

/// One event's evaluation: the spans, the event's start flag (`st`), the counts, and the
/// instance's registers (empty outside a register program).
pub(crate) struct Cx<'a, 'm, S: ?Sized> {
    pub(crate) src: &'a S,
    pub(crate) st: bool,
    pub(crate) mm: &'m mut Mismatches,
    pub(crate) regs: &'a [Value<'a>],
}

impl<'a, 'm, S: SpanSource + ?Sized> Cx<'a, 'm, S> {
    /// A context without registers, counting type mismatches into `mm`.
    pub(crate) fn new(src: &'a S, st: bool, mm: &'m mut Mismatches) -> Self {
        Cx {
            src,
            st,
            mm,
            regs: &[],
        }
    }

    /// `hops` parent steps up from `r` (`tr.parent(...)`), or None when one is absent.
    fn up(&self, r: u32, hops: u32) -> Option<u32> {
        let mut t = r;
        for _ in 0..hops {
            t = self.src.parent(t)?;
        }
        Some(t)
    }

    /// The usual atom, a span's text field against a text literal (`name == "charge"`),
    /// compared in place, as `compare_static` compares two strs (and `compare_dynamic`
    /// then: both are strs, no mismatch); None for any other node. [`Cx::eval`] and the
    /// letter loops (before they call `eval`) try it first.
    #[inline(always)]
    pub(crate) fn text_cmp(&self, n: &Node, r: u32) -> Option<bool> {
        let Node::Cmp { op, args, .. } = n else {
            return None;
        };
        let (Node::Field { hops: 0, field }, Node::Lit(Lit::Str(lit))) = (&args.0, &args.1) else {
            return None;
        };
        let text = self.text_field(r, *field)?;
        // equality reads the lengths first (most names differ in length): no memcmp then
        Some(match op {
            CmpOp::Eq => text == lit,
            CmpOp::Ne => text != lit,
            _ => op.holds(Some(text.as_bytes().cmp(lit.as_bytes()))),
        })
    }

    /// An atom's truth, as `eval(..).truthy()` gives it, with the same comparisons counted
    /// in the same order: what the letter loops call per atom. The usual atoms are read
    /// without a [`Value`]: `and`/`or`/`->`/`not` as Python's short-circuits run them
    /// (`a and b` is falsy when `a` is, else it is `b`), `start`/`end`, `exists` of an
    /// attribute, a text field against a text literal ([`Cx::text_cmp`]) and `duration`
    /// against an integer literal (two ints: never a mismatch); anything else by `eval`.
    pub(crate) fn holds(&mut self, n: &'a Node, r: u32) -> bool {
        match n {
            Node::Logic(Logic::And, ab) => self.holds(&ab.0, r) && self.holds(&ab.1, r),
            Node::Logic(Logic::Or, ab) => self.holds(&ab.0, r) || self.holds(&ab.1, r),
            Node::Logic(Logic::Implies, ab) => !self.holds(&ab.0, r) || self.holds(&ab.1, r),
            Node::Not(a) => !self.holds(a, r),
            Node::Field {
                field: Field::Start,
                ..
            } => self.st,
            Node::Field {
                field: Field::End, ..
            } => !self.st,
            Node::Exists(a) => match &**a {
                // an attribute that is present is never MISSING, whatever its value
                Node::Attr {
                    hops,
                    resource,
                    key,
                } => self.up(r, *hops).is_some_and(|t| {
                    if *resource {
                        self.src.resource_attr(t, key).is_some()
                    } else {
                        self.src.attr(t, key).is_some()
                    }
                }),
                _ => self.eval(n, r).truthy(),
            },
            Node::Cmp { op, args, .. } => match (&args.0, &args.1) {
                (
                    Node::Field {
                        hops: 0,
                        field: Field::Duration,
                    },
                    Node::Lit(Lit::Int(k)),
                ) => {
                    let d = self.src.end_ns(r) as i128 - self.src.start_ns(r) as i128;
                    op.holds(Some(d.cmp(k)))
                }
                _ => match self.text_cmp(n, r) {
                    Some(holds) => holds,
                    None => self.eval(n, r).truthy(),
                },
            },
            _ => self.eval(n, r).truthy(),
        }
    }

    /// Field `f` of span `r` when it is a text the store holds (as [`Cx::field`] gives it).
    #[inline(always)]
    fn text_field(&self, r: u32, f: Field) -> Option<&'a str> {
        let s = self.src;
        Some(match f {
            Field::Name => s.name(r),
            Field::Kind => s.kind(r),
            Field::Status => s.status(r),
            Field::StatusMessage => s.status_message(r),
            Field::Service => s.service(r),
            Field::ScopeName => s.scope_name(r),
            _ => return None,
        })
    }

    fn field(&self, r: u32, f: Field) -> Value<'a> {
        let s = self.src;
        let b = Cow::Borrowed;
        match f {
            Field::Name => Value::Str(b(s.name(r))),
            Field::Kind => Value::Str(b(s.kind(r))),
            Field::Status => Value::Str(b(s.status(r))),
            Field::StatusMessage => Value::Str(b(s.status_message(r))),
            Field::Service => Value::Str(b(s.service(r))),
            Field::TraceId => Value::Str(Cow::Owned(s.trace_id_hex(r))),
            Field::SpanId => Value::Str(Cow::Owned(s.span_id_hex(r))),
            Field::ParentId => Value::Str(Cow::Owned(s.parent_id_hex(r))),
            Field::ScopeName => Value::Str(b(s.scope_name(r))),
            Field::Duration => Value::Int(s.end_ns(r) as i128 - s.start_ns(r) as i128),
            Field::IsRoot => Value::Bool(s.parent_id_hex(r).is_empty()),
            Field::Start => Value::Bool(self.st),
            Field::End => Value::Bool(!self.st),
        }
    }

    pub(crate) fn eval(&mut self, n: &'a Node, r: u32) -> Value<'a> {
        match n {
            Node::Lit(l) => l.value(),
            Node::Field { hops, field } => match field {
                // `start`/`end` describe the event, whatever the hops
                Field::Start | Field::End => self.field(r, *field),
                _ => match self.up(r, *hops) {
                    Some(t) => self.field(t, *field),
                    None => Value::Missing,
                },
            },
            Node::Attr {
                hops,
                resource,
                key,
            } => match self.up(r, *hops) {
                Some(t) => {
                    let v = if *resource {
                        self.src.resource_attr(t, key)
                    } else {
                        self.src.attr(t, key)
                    };
                    v.map_or(Value::Missing, AttrRef::value)
                }
                None => Value::Missing,
            },
            Node::HasEvent(name) => Value::Bool(self.src.has_event(r, name)),
            Node::HasAncestor(p) => Value::Bool(self.has_ancestor(p, r)),
            Node::HasChild(p) => {
                let src = self.src;
                Value::Bool(src.children(r).iter().any(|&c| self.eval(p, c).truthy()))
            }
            Node::Exists(a) => Value::Bool(self.eval(a, r) != Value::Missing),
            Node::Not(a) => Value::Bool(!self.eval(a, r).truthy()),
            Node::Truthy(a) => Value::Bool(self.eval(a, r).is_true()),
            Node::Logic(l, ab) => {
                let a = self.eval(&ab.0, r);
                match l {
                    Logic::And if !a.truthy() => a,
                    Logic::Or if a.truthy() => a,
                    Logic::Implies if !a.truthy() => Value::Bool(true),
                    Logic::And | Logic::Or | Logic::Implies => self.eval(&ab.1, r),
                    Logic::Iff => Value::Bool(value::py_eq(&a, &self.eval(&ab.1, r))),
                    Logic::Xor => Value::Bool(!value::py_eq(&a, &self.eval(&ab.1, r))),
                }
            }
            Node::Cmp { op, args, site } => {
                if let Some(holds) = self.text_cmp(n, r) {
                    return Value::Bool(holds);
                }
                let a = self.eval(&args.0, r);
                let b = self.eval(&args.1, r);
                Value::Bool(match site {
                    None => value::compare_static(*op, &a, &b),
                    Some(i) => value::compare_dynamic(*op, &a, &b).unwrap_or_else(|()| {
                        if a != Value::Missing && b != Value::Missing {
                            self.mm.record(*i, a.type_name(), b.type_name());
                        }
                        false
                    }),
                })
            }
            Node::Arith(op, ab) => {
                let a = self.eval(&ab.0, r);
                let b = self.eval(&ab.1, r);
                value::arith(*op, &a, &b)
            }
            Node::Neg(a) => value::neg(&self.eval(a, r)),
            Node::InList(a, items) => {
                // `_in_list`: an item of the value's kind that equals it
                let v = self.eval(a, r);
                let k = v.kind();
                Value::Bool(
                    k.is_some()
                        && items.iter().any(|i| {
                            let i = i.value();
                            i.kind() == k && value::py_eq(&i, &v)
                        }),
                )
            }
            Node::InRange(a, lo, hi) => {
                let v = self.eval(a, r);
                Value::Bool(
                    v.kind() == Some(value::Kind::Num)
                        && value::compare_static(CmpOp::Le, &lo.value(), &v)
                        && value::compare_static(CmpOp::Le, &v, &hi.value()),
                )
            }
            Node::Matches(a, re) => {
                Value::Bool(matches!(self.eval(a, r), Value::Str(s) if re.is_match(&s)))
            }
            Node::Contains(ab) => match (self.eval(&ab.0, r), self.eval(&ab.1, r)) {
                (Value::Str(a), Value::Str(b)) => Value::Bool(a.contains(&*b)),
                _ => Value::Bool(false),
            },
            Node::StartsWith(ab) => match (self.eval(&ab.0, r), self.eval(&ab.1, r)) {
                (Value::Str(a), Value::Str(b)) => Value::Bool(a.starts_with(&*b)),
                _ => Value::Bool(false),
            },
            Node::OrMissing(a) => {
                let v = self.eval(a, r);
                if v.truthy() {
                    v
                } else {
                    Value::Missing
                }
            }
            Node::Reg(i) => self
                .regs
                .get(*i as usize)
                .map_or(Value::Missing, |v| match v {
                    Value::Str(s) => Value::Str(Cow::Borrowed(s)),
                    other => other.clone(),
                }),
        }
    }

    /// `Trace.has_ancestor`: parent, grandparent, … while present, stopping at the first
    /// span seen before (a cycle), the predicate short-circuiting as `any`.
    fn has_ancestor(&mut self, p: &'a Node, r: u32) -> bool {
        // the spans walked so far: on the stack while few (traces are shallow), in a set after
        const FEW: usize = 16;
        let mut few = [r; FEW];
        let mut n = 1;
        let mut many: HashSet<u32> = HashSet::new();
        let mut next = self.src.parent(r);
        while let Some(a) = next {
            if few[..n.min(FEW)].contains(&a) || many.contains(&a) {
                break;
            }
            if self.eval(p, a).truthy() {
                return true;
            }
            if n < FEW {
                few[n] = a;
            } else {
                many.insert(a);
            }
            n += 1;
            next = self.src.parent(a);
        }
        false
    }
}

// ------------------------------------------------------------------ a simple source

/// An owned attribute value of a [`SimpleSpan`].
#[derive(Clone, Debug, PartialEq)]
pub enum OwnedAttr {
    Str(String),
    Bool(bool),
    Int(i64),
    Double(f64),
    Other(&'static str),
}

impl OwnedAttr {
    fn borrow(&self) -> AttrRef<'_> {
        match self {
            OwnedAttr::Str(s) => AttrRef::Str(s),
            OwnedAttr::Bool(b) => AttrRef::Bool(*b),
            OwnedAttr::Int(i) => AttrRef::Int(*i),
            OwnedAttr::Double(f) => AttrRef::Double(*f),
            OwnedAttr::Other(n) => AttrRef::Other(n),
        }
    }
}

/// One span with owned fields, for [`SimpleTrace`].
#[derive(Clone, Debug, Default)]
pub struct SimpleSpan {
    pub name: String,
    pub kind: &'static str,
    pub status: &'static str,
    pub status_message: String,
    pub service: String,
    pub scope_name: String,
    pub trace_id: String,
    pub span_id: String,
    pub parent_id: String,
    pub start_ns: u64,
    pub end_ns: u64,
    pub attrs: Vec<(String, OwnedAttr)>,
    pub resource: Vec<(String, OwnedAttr)>,
    pub events: Vec<String>,
}

/// Spans of one trace linked as `events.Trace` links them: the parent is the span whose
/// id is the parent id (itself, too), children sorted by span id; span ids are unique.
/// A [`SpanSource`] for tests and the test binding.
#[derive(Clone, Debug, Default)]
pub struct SimpleTrace {
    pub spans: Vec<SimpleSpan>,
    parents: Vec<Option<u32>>,
    children: Vec<Vec<u32>>,
}

impl SimpleTrace {
    pub fn new(spans: Vec<SimpleSpan>) -> SimpleTrace {
        let by_id = |id: &str| spans.iter().position(|s| s.span_id == id).map(|i| i as u32);
        let parents: Vec<Option<u32>> = spans
            .iter()
            .map(|s| {
                (!s.parent_id.is_empty())
                    .then(|| by_id(&s.parent_id))
                    .flatten()
            })
            .collect();
        let mut children = vec![Vec::new(); spans.len()];
        for (i, p) in parents.iter().enumerate() {
            if let Some(p) = p {
                children[*p as usize].push(i as u32);
            }
        }
        for c in &mut children {
            c.sort_by(|a, b| spans[*a as usize].span_id.cmp(&spans[*b as usize].span_id));
        }
        SimpleTrace {
            spans,
            parents,
            children,
        }
    }

    fn span(&self, r: u32) -> &SimpleSpan {
        &self.spans[r as usize]
    }
}

fn lookup<'s>(xs: &'s [(String, OwnedAttr)], key: &str) -> Option<AttrRef<'s>> {
    xs.iter().find(|(k, _)| k == key).map(|(_, v)| v.borrow())
}

impl SpanSource for SimpleTrace {
    fn name(&self, r: u32) -> &str {
        &self.span(r).name
    }
    fn kind(&self, r: u32) -> &'static str {
        self.span(r).kind
    }
    fn status(&self, r: u32) -> &'static str {
        self.span(r).status
    }
    fn status_message(&self, r: u32) -> &str {
        &self.span(r).status_message
    }
    fn service(&self, r: u32) -> &str {
        &self.span(r).service
    }
    fn scope_name(&self, r: u32) -> &str {
        &self.span(r).scope_name
    }
    fn trace_id_hex(&self, r: u32) -> String {
        self.span(r).trace_id.clone()
    }
    fn span_id_hex(&self, r: u32) -> String {
        self.span(r).span_id.clone()
    }
    fn parent_id_hex(&self, r: u32) -> String {
        self.span(r).parent_id.clone()
    }
    fn start_ns(&self, r: u32) -> u64 {
        self.span(r).start_ns
    }
    fn end_ns(&self, r: u32) -> u64 {
        self.span(r).end_ns
    }
    fn attr(&self, r: u32, key: &AttrKey) -> Option<AttrRef<'_>> {
        let s = self.span(r);
        lookup(&s.attrs, &key.text).or_else(|| lookup(&s.resource, &key.text))
    }
    fn resource_attr(&self, r: u32, key: &AttrKey) -> Option<AttrRef<'_>> {
        lookup(&self.span(r).resource, &key.text)
    }
    fn has_event(&self, r: u32, name: &str) -> bool {
        self.span(r).events.iter().any(|e| e == name)
    }
    fn parent(&self, r: u32) -> Option<u32> {
        self.parents[r as usize]
    }
    fn children(&self, r: u32) -> &[u32] {
        &self.children[r as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(id: &str, parent: &str, name: &str, attrs: Vec<(&str, OwnedAttr)>) -> SimpleSpan {
        SimpleSpan {
            name: name.into(),
            kind: "internal",
            status: "unset",
            trace_id: "0".repeat(31) + "1",
            span_id: id.into(),
            parent_id: parent.into(),
            start_ns: 10,
            end_ns: 4,
            attrs: attrs.into_iter().map(|(k, v)| (k.into(), v)).collect(),
            ..SimpleSpan::default()
        }
    }

    /// A program of `atoms` (JSON texts) with `n_sites` sites named s0, s1, …
    fn prog(atoms: &[&str], n_sites: usize) -> Program {
        let sites: Vec<String> = (0..n_sites).map(|i| format!("\"s{i}\"")).collect();
        let text = format!(
            "{{\"atoms\": [{}], \"sites\": [{}]}}",
            atoms.join(","),
            sites.join(",")
        );
        Program::from_json(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
    }

    /// Each atom's truth on every row at its start event, and the counts.
    fn run(p: &Program, t: &SimpleTrace, st: bool) -> (Vec<u64>, Mismatches) {
        let mut mm = p.mismatches();
        let mut out = Vec::new();
        for r in 0..t.spans.len() as u32 {
            let mut w = vec![0; p.n_words()];
            p.eval(t, r, st, &mut w, &mut mm);
            out.push(w[0]);
        }
        (out, mm)
    }

    const ATTR_X: &str = r#"{"op":"attr","hops":0,"resource":false,"key":"x"}"#;

    fn dyn_eq(left: &str, lit: &str, site: usize) -> String {
        format!(
            r#"{{"op":"cmp","cmp":"==","site":{site},"args":[{left},{{"op":"lit","v":{lit}}}]}}"#
        )
    }

    fn trace() -> SimpleTrace {
        SimpleTrace::new(vec![
            span("01", "", "root", vec![("x", OwnedAttr::Str("s".into()))]),
            span("02", "01", "kid", vec![("x", OwnedAttr::Int(1))]),
            span("03", "01", "kid2", vec![("x", OwnedAttr::Bool(true))]),
            span(
                "04",
                "ff",
                "orphan",
                vec![("x", OwnedAttr::Other("NoneType"))],
            ),
        ])
    }

    #[test]
    fn a_text_field_against_a_text_literal_compares_as_the_general_path() {
        // `field OP "lit"` is compared in place; `"lit" OP' field` (the operator mirrored)
        // takes the general path: both must agree on every field, operator and text
        let texts = [
            "",
            "kid",
            "kid2",
            "ki",
            "kie",
            "K",
            "\u{e9}t\u{e9}",
            "\u{1f600}",
            "unset",
            "server",
        ];
        let spans: Vec<SimpleSpan> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| SimpleSpan {
                name: (*t).into(),
                kind: ["internal", "server", "client"][i % 3],
                status: ["unset", "ok", "error"][i % 3],
                status_message: texts[(i + 1) % texts.len()].into(),
                service: texts[(i + 2) % texts.len()].into(),
                scope_name: texts[(i + 3) % texts.len()].into(),
                trace_id: "0".repeat(31) + "1",
                span_id: format!("{:02x}", i + 1),
                ..SimpleSpan::default()
            })
            .collect();
        let t = SimpleTrace::new(spans);
        let ops = [
            ("==", "=="),
            ("!=", "!="),
            ("<", ">"),
            ("<=", ">="),
            (">", "<"),
            (">=", "<="),
        ];
        let fields = [
            "name",
            "kind",
            "status",
            "status_message",
            "service",
            "scope.name",
        ];
        let (mut held, mut failed) = (0, 0);
        for field in fields {
            for lit in texts.iter().chain(&["internal", "error", "ok"]) {
                let f = format!(r#"{{"op":"field","hops":0,"name":"{field}"}}"#);
                let l = format!(r#"{{"op":"lit","v":{{"str":{lit:?}}}}}"#);
                for (op, mirrored) in ops {
                    for site in ["null", "0"] {
                        let cmp = |op: &str, a: &str, b: &str| {
                            format!(r#"{{"op":"cmp","cmp":"{op}","site":{site},"args":[{a},{b}]}}"#)
                        };
                        let p = prog(&[&cmp(op, &f, &l), &cmp(mirrored, &l, &f)], 1);
                        let (letters, mm) = run(&p, &t, true);
                        for (r, w) in letters.iter().enumerate() {
                            assert_eq!(w & 1, w >> 1 & 1, "{field} {op} {lit:?}, span {r}");
                            held += (w & 1) as usize;
                            failed += usize::from(w & 1 == 0);
                        }
                        assert_eq!(mm, p.mismatches(), "strs count no mismatch");
                    }
                }
            }
        }
        assert!(held > 1000 && failed > 1000, "{held} {failed}");
    }

    #[test]
    fn and_or_not_of_text_comparisons_evaluate_as_the_general_path() {
        // `quick` reads `and`/`or`/`not` of in-place text comparisons; the same written
        // with mirrored comparisons takes the general path. With a right side it cannot
        // read (a counted comparison), the whole node is evaluated: letters and counts
        // must be the general path's
        let t = trace();
        let f = |field: &str| format!(r#"{{"op":"field","hops":0,"name":"{field}"}}"#);
        let l = |v: &str| format!(r#"{{"op":"lit","v":{{"str":"{v}"}}}}"#);
        let cmp = |op: &str, a: &str, b: &str| {
            format!(r#"{{"op":"cmp","cmp":"{op}","site":null,"args":[{a},{b}]}}"#)
        };
        let counted = dyn_eq(ATTR_X, r#"{"int":"1"}"#, 0);
        let (mut seen, mut counted_some) = ([0u32; 2], false);
        for (name_op, mirrored) in [("==", "=="), ("<", ">"), (">=", "<=")] {
            for name in ["kid", "kid2", "root", "orphan"] {
                for kind in ["internal", "server"] {
                    let fast = [
                        cmp(name_op, &f("name"), &l(name)),
                        cmp("==", &f("kind"), &l(kind)),
                    ];
                    let slow = [
                        cmp(mirrored, &l(name), &f("name")),
                        cmp("==", &l(kind), &f("kind")),
                    ];
                    let forms = |[a, b]: &[String; 2]| {
                        [
                            format!(r#"{{"op":"and","args":[{a},{b}]}}"#),
                            format!(r#"{{"op":"or","args":[{a},{b}]}}"#),
                            format!(r#"{{"op":"not","arg":{a}}}"#),
                            format!(r#"{{"op":"and","args":[{a},{counted}]}}"#),
                            format!(r#"{{"op":"or","args":[{a},{counted}]}}"#),
                        ]
                    };
                    for (x, y) in forms(&fast).iter().zip(forms(&slow).iter()) {
                        for st in [true, false] {
                            let (got, got_mm) = run(&prog(&[x], 1), &t, st);
                            let (want, want_mm) = run(&prog(&[y], 1), &t, st);
                            assert_eq!((&got, &got_mm), (&want, &want_mm), "{x}");
                            counted_some |= got_mm != prog(&[x], 1).mismatches();
                            for w in got {
                                seen[w as usize & 1] += 1;
                            }
                        }
                    }
                }
            }
        }
        assert!(seen[0] > 100 && seen[1] > 100 && counted_some, "{seen:?}");
    }

    /// `Cx::holds` (what `Program::eval` runs per atom) against `eval(..).truthy()`
    /// (`Program::eval_atom`): generated atoms (seeded) of `and`/`or`/`->`/`not`/`iff` over
    /// the atoms it reads without a value and ones it leaves to `eval` (counted
    /// comparisons among them), on spans with every duration sign, present and missing
    /// attributes of every type, parents present and absent, at both events: the same
    /// letters and the same counts.
    #[test]
    fn holds_reads_atoms_as_eval_does() {
        let mut rng = crate::test_rng::Rng(0xa70_5eed);
        let attr = |rng: &mut crate::test_rng::Rng| {
            let k = ["x", "y", "nope"][rng.index(3)];
            let res = rng.below(4) == 0;
            format!(
                r#"{{"op":"attr","hops":{},"resource":{res},"key":"{k}"}}"#,
                rng.below(3)
            )
        };
        fn gen(
            rng: &mut crate::test_rng::Rng,
            depth: u32,
            attr: &dyn Fn(&mut crate::test_rng::Rng) -> String,
        ) -> String {
            let ops = ["==", "!=", "<", "<=", ">", ">="];
            let op = ops[rng.index(ops.len())];
            let leaf = rng.below(if depth == 0 { 9 } else { 14 });
            match leaf {
                0 => {
                    let lit = ["kid", "root", "", "z"][rng.index(4)];
                    let f = ["name", "kind", "trace_id"][rng.index(3)];
                    format!(
                        r#"{{"op":"cmp","cmp":"{op}","site":null,"args":[{{"op":"field","hops":0,"name":"{f}"}},{{"op":"lit","v":{{"str":"{lit}"}}}}]}}"#
                    )
                }
                1 => {
                    let k = [
                        "0",
                        "-6",
                        "5",
                        "50000000",
                        "-170141183460469231731687303715884105728",
                        "9223372036854775808",
                    ][rng.index(6)];
                    let site = ["null", "0"][rng.index(2)];
                    let hops = rng.below(2);
                    format!(
                        r#"{{"op":"cmp","cmp":"{op}","site":{site},"args":[{{"op":"field","hops":{hops},"name":"duration"}},{{"op":"lit","v":{{"int":"{k}"}}}}]}}"#
                    )
                }
                2 => r#"{"op":"field","hops":0,"name":"start"}"#.into(),
                3 => format!(r#"{{"op":"field","hops":{},"name":"end"}}"#, rng.below(2)),
                4 | 5 => format!(r#"{{"op":"exists","arg":{}}}"#, attr(rng)),
                6 => {
                    // counted: a mismatch is recorded where the types differ
                    let lit =
                        [r#"{"int":"1"}"#, r#"{"str":"s"}"#, r#"{"bool":true}"#][rng.index(3)];
                    format!(
                        r#"{{"op":"cmp","cmp":"{op}","site":{},"args":[{},{{"op":"lit","v":{lit}}}]}}"#,
                        rng.below(2),
                        attr(rng)
                    )
                }
                7 => attr(rng),
                8 => format!(r#"{{"op":"lit","v":{{"bool":{}}}}}"#, rng.below(2) == 0),
                9 => format!(r#"{{"op":"not","arg":{}}}"#, gen(rng, depth - 1, attr)),
                _ => {
                    let l = ["and", "or", "implies", "iff", "and"][rng.index(5)];
                    format!(
                        r#"{{"op":"{l}","args":[{},{}]}}"#,
                        gen(rng, depth - 1, attr),
                        gen(rng, depth - 1, attr)
                    )
                }
            }
        }
        let values = [
            OwnedAttr::Int(1),
            OwnedAttr::Int(-3),
            OwnedAttr::Str("s".into()),
            OwnedAttr::Bool(true),
            OwnedAttr::Double(1.0),
            OwnedAttr::Other("NoneType"),
        ];
        let mut spans = vec![];
        for i in 0..12u64 {
            let mut attrs = vec![];
            let mut resource = vec![];
            for k in ["x", "y"] {
                if rng.below(3) > 0 {
                    attrs.push((k.to_owned(), values[rng.index(values.len())].clone()));
                }
                if rng.below(3) == 0 {
                    resource.push((k.to_owned(), values[rng.index(values.len())].clone()));
                }
            }
            let start = 1_000 + rng.below(100);
            spans.push(SimpleSpan {
                name: ["kid", "root", ""][rng.index(3)].into(),
                kind: "server",
                status: "unset",
                trace_id: "0".repeat(31) + "1",
                span_id: format!("{:02x}", i + 1),
                parent_id: match rng.below(4) {
                    0 => String::new(),
                    1 => "ff".into(),
                    _ => format!("{:02x}", rng.below(12) + 1),
                },
                start_ns: start,
                end_ns: [start, start + 50_000_001, start - 6, start + 3][rng.index(4)],
                attrs,
                resource,
                ..SimpleSpan::default()
            });
        }
        let t = SimpleTrace::new(spans);
        let (mut held, mut counted) = ([0usize; 2], 0);
        for case in 0..400 {
            let atoms: Vec<String> = (0..6).map(|_| gen(&mut rng, 3, &attr)).collect();
            let refs: Vec<&str> = atoms.iter().map(String::as_str).collect();
            let p = prog(&refs, 2);
            for st in [true, false] {
                let (mut fast_mm, mut slow_mm) = (p.mismatches(), p.mismatches());
                for r in 0..t.spans.len() as u32 {
                    let mut w = vec![0; p.n_words()];
                    p.eval(&t, r, st, &mut w, &mut fast_mm);
                    for (i, atom) in atoms.iter().enumerate() {
                        let slow = p.eval_atom(i, &t, r, st, &mut slow_mm);
                        assert_eq!(w[0] >> i & 1 == 1, slow, "case {case}: {atom}");
                        held[usize::from(slow)] += 1;
                    }
                }
                assert_eq!(fast_mm, slow_mm, "case {case}: {atoms:?}");
                counted += usize::from(fast_mm != p.mismatches());
            }
        }
        assert!(
            held[0] > 1000 && held[1] > 1000 && counted > 50,
            "{held:?} {counted}"
        );
    }

    #[test]
    fn pure_atoms_once_per_span_give_the_same_letters_and_counts() {
        // pure, gated on a pure atom's twin, gated on a new x, event-reading, counting
        let name = r#"{"op":"cmp","cmp":"==","site":null,"args":[{"op":"field","hops":0,"name":"name"},{"op":"lit","v":{"str":"kid"}}]}"#;
        let start = r#"{"op":"field","hops":0,"name":"start"}"#;
        let end = r#"{"op":"field","hops":0,"name":"end"}"#;
        let and = |a: &str, b: &str| format!(r#"{{"op":"and","args":[{a},{b}]}}"#);
        let exists = format!(r#"{{"op":"exists","arg":{ATTR_X}}}"#);
        let counted = dyn_eq(ATTR_X, r#"{"int":"1"}"#, 0);
        let atoms = [
            name.to_owned(),
            and(name, end),
            and(&exists, start),
            and(&counted, start),
            counted.clone(),
            exists.clone(),
            start.to_owned(),
        ];
        let p = prog(&atoms.iter().map(String::as_str).collect::<Vec<_>>(), 1);
        assert!(p.has_pure());
        assert_eq!(p.pure[0], 0b10_0001);
        assert_eq!(
            p.gated,
            [None, Some(false), Some(true), None, None, None, None]
        );
        assert_eq!(p.gated_as[1], Some(0));
        assert_eq!(p.gated_as[2], Some(5));
        let t = trace();
        for st in [true, false] {
            let (whole, mm) = run(&p, &t, st);
            let mut split_mm = p.mismatches();
            let split: Vec<u64> = (0..t.spans.len() as u32)
                .map(|r| {
                    let (mut pure, mut out) = (vec![0; p.n_words()], vec![0; p.n_words()]);
                    p.eval_pure(&t, r, &mut pure);
                    p.eval_impure(&t, r, st, &pure, &mut out, &mut split_mm);
                    out[0]
                })
                .collect();
            assert_eq!(split, whole);
            assert_eq!(split_mm, mm);
            assert!(mm.sites[0].0 > 0, "the program counts a mismatch");
        }
    }

    #[test]
    fn value_expressions_evaluate_to_values() {
        let service = r#"{"op":"or_missing","arg":{"op":"field","hops":0,"name":"service"}}"#;
        let text = format!(r#"{{"atoms": [], "sites": [], "values": [{ATTR_X}, {service}]}}"#);
        let p = Program::from_json(&text).unwrap();
        assert_eq!(p.n_values(), 2);
        assert_eq!(p.value_attr(0), Some((false, "x")));
        assert_eq!(p.value_attr(1), None);
        let mut t = trace();
        t.spans[1].service = "s1".into();
        let mut mm = p.mismatches();
        let xs: Vec<Value> = (0..4).map(|r| p.eval_value(0, &t, r, &mut mm)).collect();
        assert_eq!(
            xs,
            vec![
                Value::Str(Cow::Borrowed("s")),
                Value::Int(1),
                Value::Bool(true),
                Value::Other("NoneType")
            ]
        );
        // `s.service or MISSING`: no service, no value
        assert_eq!(p.eval_value(1, &t, 0, &mut mm), Value::Missing);
        assert_eq!(
            p.eval_value(1, &t, 1, &mut mm),
            Value::Str(Cow::Borrowed("s1"))
        );
        assert!(Program::from_json(r#"{"atoms": [], "sites": [], "values": 3}"#).is_err());
    }

    #[test]
    fn dynamic_comparisons_count_mismatches_with_first_types() {
        let p = prog(&[&dyn_eq(ATTR_X, r#"{"int":"1"}"#, 0)], 1);
        let (bits, mm) = run(&p, &trace(), true);
        assert_eq!(bits, vec![0, 1, 0, 0]);
        // "s" == 1, True == 1 and None == 1 are mismatches; the first was a str
        assert_eq!(mm.sites, vec![(3, "str", "int")]);
        // a missing attribute is never counted
        let p = prog(
            &[&dyn_eq(
                r#"{"op":"attr","hops":0,"resource":false,"key":"nope"}"#,
                r#"{"int":"1"}"#,
                0,
            )],
            1,
        );
        assert_eq!(run(&p, &trace(), true).1.sites, vec![(0, "", "")]);
    }

    #[test]
    fn connectives_short_circuit_like_python() {
        let x_is_1 = dyn_eq(ATTR_X, r#"{"int":"1"}"#, 0);
        let x_is_s = dyn_eq(ATTR_X, r#"{"str":"s"}"#, 1);
        let and = format!(r#"{{"op":"and","args":[{x_is_1},{x_is_s}]}}"#);
        let or = format!(r#"{{"op":"or","args":[{x_is_1},{x_is_s}]}}"#);
        let implies = format!(r#"{{"op":"implies","args":[{x_is_1},{x_is_s}]}}"#);
        let iff = format!(r#"{{"op":"iff","args":[{x_is_1},{x_is_s}]}}"#);
        // `and`: the right side runs only where x == 1 held (row 1: 1 == "s" mismatches)
        let (bits, mm) = run(&prog(&[&and], 2), &trace(), true);
        assert_eq!(bits, vec![0, 0, 0, 0]);
        assert_eq!(mm.sites, vec![(3, "str", "int"), (1, "int", "str")]);
        // `or`: the right side runs where x == 1 failed (rows 0, 2, 3)
        let (bits, mm) = run(&prog(&[&or], 2), &trace(), true);
        assert_eq!(bits, vec![1, 1, 0, 0]);
        assert_eq!(mm.sites, vec![(3, "str", "int"), (2, "bool", "str")]);
        // `->` runs its right side where the left held, like `and`, and holds elsewhere
        let (bits, mm) = run(&prog(&[&implies], 2), &trace(), true);
        assert_eq!(bits, vec![1, 0, 1, 1]);
        assert_eq!(mm.sites[1], (1, "int", "str"));
        // `<->` runs both sides
        let (bits, mm) = run(&prog(&[&iff], 2), &trace(), true);
        assert_eq!(bits, vec![0, 0, 1, 1]);
        assert_eq!(mm.sites[1], (3, "int", "str"));
    }

    #[test]
    fn parent_hops_and_missing_values() {
        let parent_root = r#"{"op":"field","hops":1,"name":"is_root"}"#;
        let iff_false =
            format!(r#"{{"op":"iff","args":[{parent_root},{{"op":"lit","v":{{"bool":false}}}}]}}"#);
        let parent_name = r#"{"op":"field","hops":1,"name":"name"}"#;
        let name_exists = format!(r#"{{"op":"exists","arg":{parent_name}}}"#);
        let grand = r#"{"op":"attr","hops":2,"resource":false,"key":"x"}"#;
        let p = prog(
            &[
                &iff_false,
                &name_exists,
                &format!(r#"{{"op":"exists","arg":{grand}}}"#),
                &format!(r#"{{"op":"exists","arg":{ATTR_X}}}"#),
                &format!(r#"{{"op":"truthy","arg":{ATTR_X}}}"#),
            ],
            0,
        );
        let (bits, _) = run(&p, &trace(), true);
        // root: MISSING <-> false is false (Python's ==), no parent name; None exists
        assert_eq!(bits, vec![0b01000, 0b01010, 0b11010, 0b01000]);
    }

    #[test]
    fn structure_walks_like_trace() {
        // 01 <- 02 <- 03, and a cycle 05 <-> 06
        let t = SimpleTrace::new(vec![
            span("01", "", "a", vec![]),
            span("02", "01", "b", vec![]),
            span("03", "02", "c", vec![]),
            span("05", "06", "d", vec![]),
            span("06", "05", "e", vec![]),
            span("07", "07", "self", vec![]),
        ]);
        let name_is = |n: &str| {
            format!(
                r#"{{"op":"cmp","cmp":"==","site":null,"args":[{{"op":"field","hops":0,"name":"name"}},{{"op":"lit","v":{{"str":"{n}"}}}}]}}"#
            )
        };
        let anc = |n: &str| format!(r#"{{"op":"has_ancestor","arg":{}}}"#, name_is(n));
        let kid = |n: &str| format!(r#"{{"op":"has_child","arg":{}}}"#, name_is(n));
        let p = prog(
            &[
                &anc("a"),
                &anc("d"),
                &anc("self"),
                &kid("b"),
                &kid("self"),
                &kid("d"),
            ],
            0,
        );
        let (bits, _) = run(&p, &t, true);
        // 05's ancestors: 06 only (05 is where the walk began); 07 is its own child
        assert_eq!(bits, vec![0b1000, 0b1, 0b1, 0, 0b10_0010, 0b1_0000]);
        // the start flag reaches the argument
        let start = r#"{"op":"has_child","arg":{"op":"field","hops":0,"name":"start"}}"#;
        let end = r#"{"op":"has_ancestor","arg":{"op":"field","hops":3,"name":"end"}}"#;
        let p = prog(&[start, end], 0);
        assert_eq!(run(&p, &t, true).0, vec![1, 1, 0, 1, 1, 1]);
        assert_eq!(run(&p, &t, false).0, vec![0, 2, 2, 2, 2, 0]);
    }

    #[test]
    fn long_ancestor_cycles_end() {
        // a cycle of 40 spans: i's parent is i - 1, and 0's is 39; every one is seen once
        let spans = (0..40)
            .map(|i| {
                let parent = format!("{:016x}", (i + 39) % 40 + 1);
                let x = vec![("x", OwnedAttr::Int(i))];
                span(&format!("{:016x}", i + 1), &parent, &format!("n{i}"), x)
            })
            .collect();
        let t = SimpleTrace::new(spans);
        let far = format!(
            r#"{{"op":"has_ancestor","arg":{}}}"#,
            dyn_eq(ATTR_X, r#"{"int":"9"}"#, 0)
        );
        let never = format!(
            r#"{{"op":"has_ancestor","arg":{}}}"#,
            dyn_eq(ATTR_X, r#"{"str":"9"}"#, 1)
        );
        let p = prog(&[&far, &never], 2);
        let mut mm = p.mismatches();
        let mut w = [0u64];
        // from 5: 4, 3, 2, 1, 0, 39, …, 9: found after 36 steps
        p.eval(&t, 5, true, &mut w, &mut mm);
        assert_eq!(w[0], 1);
        // `never` walked the 39 others once each and stopped where it began
        assert_eq!(mm.sites, vec![(0, "", ""), (39, "int", "str")]);
        p.eval(&t, 9, true, &mut w, &mut mm);
        assert_eq!(w[0], 0);
    }

    #[test]
    fn has_child_stops_at_the_first_match() {
        // children of 01 in span-id order: 02 (x = 1), 03 (x = true), and 04 (x = "s")
        let t = SimpleTrace::new(vec![
            span("01", "", "r", vec![]),
            span("04", "01", "c", vec![("x", OwnedAttr::Str("s".into()))]),
            span("03", "01", "b", vec![("x", OwnedAttr::Bool(true))]),
            span("02", "01", "a", vec![("x", OwnedAttr::Double(f64::NAN))]),
        ]);
        let p = prog(
            &[&format!(
                r#"{{"op":"has_child","arg":{}}}"#,
                dyn_eq(ATTR_X, r#"{"bool":true}"#, 0)
            )],
            1,
        );
        let (bits, mm) = run(&p, &t, true);
        assert_eq!(bits[0], 1);
        // NaN == true is counted, then 03 matched: 04 never ran
        assert_eq!(mm.sites, vec![(1, "float", "bool")]);
    }

    #[test]
    fn values_in_lists_ranges_and_strings() {
        let t = SimpleTrace::new(vec![
            span(
                "01",
                "",
                "GET /items/12",
                vec![("x", OwnedAttr::Bool(true))],
            ),
            span("02", "", "x", vec![("x", OwnedAttr::Double(1.0))]),
            span("03", "", "y", vec![("x", OwnedAttr::Double(f64::NAN))]),
            span("04", "", "z", vec![("x", OwnedAttr::Int(i64::MIN))]),
        ]);
        let in_list = format!(
            r#"{{"op":"in_list","arg":{ATTR_X},"items":[{{"int":"1"}},{{"str":"true"}}]}}"#
        );
        let in_range = format!(
            r#"{{"op":"in_range","arg":{ATTR_X},"lo":{{"int":"-9223372036854775808"}},"hi":{{"float":1.0}}}}"#
        );
        let name = r#"{"op":"field","hops":0,"name":"name"}"#;
        let matches = format!(r#"{{"op":"matches","arg":{name},"pattern":"^GET /items/[0-9]+$"}}"#);
        let matches_x = format!(r#"{{"op":"matches","arg":{ATTR_X},"pattern":""}}"#);
        let contains =
            format!(r#"{{"op":"contains","args":[{name},{{"op":"lit","v":{{"str":"items"}}}}]}}"#);
        let starts = format!(r#"{{"op":"startswith","args":[{name},{name}]}}"#);
        let p = prog(
            &[
                &in_list, &in_range, &matches, &matches_x, &contains, &starts,
            ],
            0,
        );
        let (bits, _) = run(&p, &t, true);
        // true is not in [1] (a bool is not a number); NaN is in no range
        assert_eq!(bits, vec![0b110100, 0b100011, 0b100000, 0b100010]);
    }

    #[test]
    fn arithmetic_and_durations() {
        let duration = r#"{"op":"field","hops":0,"name":"duration"}"#;
        let lit = |v: &str| format!(r#"{{"op":"lit","v":{v}}}"#);
        let arith = |op: &str, a: &str, b: &str| {
            format!(r#"{{"op":"arith","ar":"{op}","static":false,"args":[{a},{b}]}}"#)
        };
        let cmp = |op: &str, a: &str, b: &str| {
            format!(r#"{{"op":"cmp","cmp":"{op}","site":0,"args":[{a},{b}]}}"#)
        };
        let neg6 = lit(r#"{"int":"-6"}"#);
        let p = prog(
            &[
                // end 4 - start 10 = -6
                &cmp("==", duration, &neg6),
                // -6 // 4 == -2 and -6 % 4 == 2
                &cmp(
                    "==",
                    &arith("//", duration, &lit(r#"{"int":"4"}"#)),
                    &lit(r#"{"int":"-2"}"#),
                ),
                &cmp(
                    "==",
                    &arith("%", duration, &lit(r#"{"int":"4"}"#)),
                    &lit(r#"{"int":"2"}"#),
                ),
                // a zero divisor is MISSING: not counted, and false even for !=
                &cmp(
                    "!=",
                    &arith("%", duration, &lit(r#"{"int":"0"}"#)),
                    &lit(r#"{"int":"2"}"#),
                ),
                &format!(
                    r#"{{"op":"exists","arg":{}}}"#,
                    arith("/", duration, &lit(r#"{"float":0.0}"#))
                ),
                &cmp(
                    "==",
                    &arith("/", duration, &lit(r#"{"int":"4"}"#)),
                    &lit(r#"{"float":-1.5}"#),
                ),
                &cmp(
                    "==",
                    &format!(r#"{{"op":"neg","arg":{duration}}}"#),
                    &lit(r#"{"int":"6"}"#),
                ),
            ],
            1,
        );
        let t = SimpleTrace::new(vec![span("01", "", "a", vec![])]);
        let (bits, mm) = run(&p, &t, true);
        assert_eq!(bits, vec![0b1100111]);
        assert_eq!(mm.sites, vec![(0, "", "")]);
    }

    #[test]
    fn letters_span_several_words() {
        let yes = r#"{"op":"field","hops":0,"name":"start"}"#;
        let no = r#"{"op":"field","hops":0,"name":"end"}"#;
        let atoms: Vec<&str> = (0..130)
            .map(|i| if i % 3 == 0 { yes } else { no })
            .collect();
        let p = prog(&atoms, 0);
        assert_eq!(p.n_words(), 3);
        let t = SimpleTrace::new(vec![span("01", "", "a", vec![])]);
        let mut out = vec![u64::MAX; 3];
        p.eval(&t, 0, true, &mut out, &mut p.mismatches());
        for i in 0..130 {
            assert_eq!(out[i / 64] >> (i % 64) & 1 == 1, i % 3 == 0, "bit {i}");
        }
        assert_eq!(out[2] >> 2, 0);
        assert!(p.eval_atom(3, &t, 0, true, &mut p.mismatches()));
        assert!(!p.eval_atom(3, &t, 0, false, &mut p.mismatches()));
    }

    #[test]
    fn fields_read_the_span() {
        let mut s = span("0a", "", "n", vec![]);
        s.kind = "server";
        s.status = "error";
        s.status_message = "m".into();
        s.service = "svc".into();
        s.scope_name = "sc".into();
        s.resource = vec![
            ("x".into(), OwnedAttr::Int(7)),
            ("y".into(), OwnedAttr::Int(8)),
        ];
        s.attrs = vec![("x".into(), OwnedAttr::Int(1))];
        s.events = vec!["exception".into()];
        let t = SimpleTrace::new(vec![s]);
        let eq = |f: &str, v: &str| {
            format!(
                r#"{{"op":"cmp","cmp":"==","site":null,"args":[{{"op":"field","hops":0,"name":"{f}"}},{{"op":"lit","v":{v}}}]}}"#
            )
        };
        let attr = |res: bool, k: &str, v: i64| {
            format!(
                r#"{{"op":"cmp","cmp":"==","site":null,"args":[{{"op":"attr","hops":0,"resource":{res},"key":"{k}"}},{{"op":"lit","v":{{"int":"{v}"}}}}]}}"#
            )
        };
        let p = prog(
            &[
                &eq("kind", r#"{"str":"server"}"#),
                &eq("status", r#"{"str":"error"}"#),
                &eq("status_message", r#"{"str":"m"}"#),
                &eq("service", r#"{"str":"svc"}"#),
                &eq("scope.name", r#"{"str":"sc"}"#),
                &eq("trace_id", &format!(r#"{{"str":"{}1"}}"#, "0".repeat(31))),
                &eq("span_id", r#"{"str":"0a"}"#),
                &eq("parent_id", r#"{"str":""}"#),
                &eq("is_root", r#"{"bool":true}"#),
                &attr(false, "x", 1),
                &attr(true, "x", 7),
                &attr(false, "y", 8),
                r#"{"op":"has_event","name":"exception"}"#,
                r#"{"op":"has_event","name":"other"}"#,
            ],
            0,
        );
        assert_eq!(run(&p, &t, true).0, vec![0b1_1111_1111_1111]);
    }

    #[test]
    fn bad_programs_are_errors() {
        let bad = |text: &str, want: &str| {
            let e = Program::from_json(text).unwrap_err();
            assert!(e.contains(want), "{e} lacks {want}");
        };
        let wrap = |atom: &str| format!(r#"{{"atoms":[{atom}],"sites":["s"]}}"#);
        bad("[]", "not an object");
        bad(r#"{"atoms":[]}"#, "`sites`");
        bad(&wrap(r#"{"op":"nope"}"#), "unknown op `nope`");
        bad(
            &wrap(r#"{"op":"field","hops":0,"name":"nope"}"#),
            "unknown field",
        );
        bad(&wrap(r#"{"op":"field","hops":-1,"name":"name"}"#), "`hops`");
        bad(
            &wrap(r#"{"op":"lit","v":{"int":"170141183460469231731687303715884105728"}}"#),
            "i128",
        );
        bad(&wrap(r#"{"op":"lit","v":{"int":1}}"#), "not a literal");
        bad(
            &wrap(r#"{"op":"matches","pattern":"(","arg":{"op":"lit","v":{"str":""}}}"#),
            "pattern",
        );
        bad(
            &wrap(r#"{"op":"cmp","cmp":"==","site":1,"args":[]}"#),
            "site 1",
        );
        bad(
            &wrap(
                r#"{"op":"cmp","cmp":"=~","site":0,"args":[{"op":"lit","v":{"bool":true}},{"op":"lit","v":{"bool":true}}]}"#,
            ),
            "comparison",
        );
        bad(
            &wrap(r#"{"op":"not","arg":{"op":"lit","v":{"bool":true}},"x":1"#),
            "atom program",
        );
        bad(
            &("[".repeat(MAX_JSON_DEPTH + 1) + &"]".repeat(MAX_JSON_DEPTH + 1)),
            "levels deep",
        );
        // deep but within the bound: parsing and evaluation recurse without trouble
        let mut deep = r#"{"op":"lit","v":{"bool":true}}"#.to_owned();
        // (the document, the atom list, the literal and its value take 4 levels)
        for _ in 0..MAX_JSON_DEPTH - 4 {
            deep = format!(r#"{{"op":"not","arg":{deep}}}"#);
        }
        let p = Program::from_json(&wrap(&deep)).unwrap();
        let t = SimpleTrace::new(vec![span("01", "", "a", vec![])]);
        let even = (MAX_JSON_DEPTH - 4) % 2 == 0;
        assert_eq!(p.eval_atom(0, &t, 0, true, &mut p.mismatches()), even);
        let deeper = format!(r#"{{"op":"not","arg":{deep}}}"#);
        bad(&wrap(&deeper), "levels deep");
    }

    #[test]
    fn float_literals_parse_exactly() {
        for (text, want) in [
            ("0.1", 0.1f64),
            ("5e-324", 5e-324),
            ("1.7976931348623157e308", f64::MAX),
            ("2.2250738585072014e-308", f64::MIN_POSITIVE),
            ("0.30000000000000004", 0.1 + 0.2),
            ("9.007199254740993e15", 9007199254740992.0),
        ] {
            assert_eq!(
                lit(&serde_json::from_str(&format!(r#"{{"float":{text}}}"#)).unwrap()),
                Ok(Lit::Float(want)),
                "{text}"
            );
        }
    }
}
