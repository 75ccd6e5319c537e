//! The atom program: every atomic predicate of a spec, evaluated on one span event.
//!
//! Python emits the program (`runtime_monitor/atom_program.py`) from the typed atoms,
//! node by node as `predicates.CodeGen` generates Python from them; this module runs it
//! with the same results: the same letters, and the same type-mismatch counts per
//! comparison site (the generated code's short-circuits decide which comparisons run, so
//! they are kept exactly: `and`, `or`, `->`, `has_ancestor`, `has_child`). The values are
//! [`crate::value`]'s. The JSON shapes are listed in `atom_program.py`.
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
    fn attr(&self, r: u32, key: &str) -> Option<AttrRef<'_>>; // Span.attr: span attrs, else resource
    fn resource_attr(&self, r: u32, key: &str) -> Option<AttrRef<'_>>; // Span.resource_attr
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
enum Lit {
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
}

impl Lit {
    fn value(&self) -> Value<'_> {
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
enum Field {
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
enum Logic {
    And,
    Or,
    Implies,
    Iff,
    Xor,
}

#[derive(Debug)]
enum Node {
    Lit(Lit),
    Field { hops: u32, field: Field },
    Attr { hops: u32, resource: bool, key: String },
    HasEvent(String),
    HasAncestor(Box<Node>),
    HasChild(Box<Node>),
    Exists(Box<Node>),
    Not(Box<Node>),
    Truthy(Box<Node>),
    Logic(Logic, Box<(Node, Node)>),
    Cmp { op: CmpOp, args: Box<(Node, Node)>, site: Option<u32> },
    // a static `+ - *` is Python's operator on two numbers, which `_arith` computes too
    Arith(ArOp, Box<(Node, Node)>),
    Neg(Box<Node>),
    InList(Box<Node>, Vec<Lit>),
    InRange(Box<Node>, Lit, Lit),
    Matches(Box<Node>, Regex),
    Contains(Box<(Node, Node)>),
    StartsWith(Box<(Node, Node)>),
}

/// How deep a program's JSON may nest (objects and arrays); the emitter refuses atoms
/// nested deeper than 200 nodes (two levels each), and parsing and evaluation recurse.
pub const MAX_JSON_DEPTH: usize = 1024;

/// A compiled atom program.
#[derive(Debug)]
pub struct Program {
    atoms: Vec<Node>,
    sites: Vec<String>,
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
        Ok(Program { atoms, sites })
    }

    pub fn n_atoms(&self) -> usize {
        self.atoms.len()
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
        let mut cx = Cx {
            src,
            st: is_start,
            mm: mismatches,
        };
        for (w, chunk) in self.atoms.chunks(64).enumerate() {
            let mut word = 0u64;
            for (b, atom) in chunk.iter().enumerate() {
                if cx.eval(atom, r).truthy() {
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
        let mut cx = Cx {
            src,
            st: is_start,
            mm: mismatches,
        };
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
    o.get(k).ok_or_else(|| format!("`{}` lacks `{k}`", describe(o)))
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
fn lit(v: &Json) -> Result<Lit, String> {
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

fn node(v: &Json, n_sites: usize) -> Result<Node, String> {
    let o = v
        .as_object()
        .ok_or_else(|| format!("not a node: {v}"))?;
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
            key: get_str(o, "key")?.to_owned(),
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
        _ => return Err(format!("unknown op `{op}`")),
    })
}

// ------------------------------------------------------------------ evaluation

/// One event's evaluation: the spans, the event's start flag (`st`), the counts.
struct Cx<'a, 'm, S: ?Sized> {
    src: &'a S,
    st: bool,
    mm: &'m mut Mismatches,
}

impl<'a, S: SpanSource + ?Sized> Cx<'a, '_, S> {
    /// `hops` parent steps up from `r` (`tr.parent(...)`), or None when one is absent.
    fn up(&self, r: u32, hops: u32) -> Option<u32> {
        let mut t = r;
        for _ in 0..hops {
            t = self.src.parent(t)?;
        }
        Some(t)
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

    fn eval(&mut self, n: &'a Node, r: u32) -> Value<'a> {
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
                Value::Bool(k.is_some() && items.iter().any(|i| {
                    let i = i.value();
                    i.kind() == k && value::py_eq(&i, &v)
                }))
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
        }
    }

    /// `Trace.has_ancestor`: parent, grandparent, … while present, stopping at the first
    /// span seen before (a cycle), the predicate short-circuiting as `any`.
    fn has_ancestor(&mut self, p: &'a Node, r: u32) -> bool {
        const SMALL: usize = 16;
        let mut few = vec![r];
        let mut many: HashSet<u32> = HashSet::new();
        let mut next = self.src.parent(r);
        while let Some(a) = next {
            let seen = if few.len() < SMALL {
                few.contains(&a)
            } else {
                many.contains(&a)
            };
            if seen {
                break;
            }
            if self.eval(p, a).truthy() {
                return true;
            }
            if few.len() < SMALL {
                few.push(a);
                if few.len() == SMALL {
                    many.extend(few.iter().copied());
                }
            } else {
                many.insert(a);
            }
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
            .map(|s| (!s.parent_id.is_empty()).then(|| by_id(&s.parent_id)).flatten())
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
    fn attr(&self, r: u32, key: &str) -> Option<AttrRef<'_>> {
        let s = self.span(r);
        lookup(&s.attrs, key).or_else(|| lookup(&s.resource, key))
    }
    fn resource_attr(&self, r: u32, key: &str) -> Option<AttrRef<'_>> {
        lookup(&self.span(r).resource, key)
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
