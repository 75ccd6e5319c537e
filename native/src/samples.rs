//! Samples of aggregate properties (`p99(duration where ...) <= 200ms`): the Python
//! engine's `Monitor.sample`, the values its aggregates range over.
//!
//! An aggregate property takes one sample per span, at the span's end event: per `agg`
//! node of its body, the value of its value expression and whether its `where` holds, as
//! `CompiledSpec._aggregate`'s generated functions compute them (`semantics.atoms
//! .sample_program` emits them). The core returns the samples of each instance (a trace,
//! or a scope key's end events over all complete traces in instance order) as columns;
//! Python computes the aggregates, the windows and the violations from them
//! (`Monitor.aggregate`), reading back only the spans of a violation's witness.

use std::cmp::Ordering;

use serde_json::Value as Json;

use crate::atoms::{node, Cx, Mismatches, Node, SpanSource};
use crate::store::OwnedValue;
use crate::value::{cmp_int_float, int_true_div, Value};

/// One aggregate property's sample program: per `agg` node, (value, where, raw). With
/// `raw` (`count_distinct` of an attribute), a value the core holds only by its type (a
/// bytes, array or key-value list attribute) is returned as the attribute itself: its text
/// is Python's `str` of it.
#[derive(Debug)]
pub struct SampleProgram {
    aggs: Vec<(Node, Node, bool)>,
}

/// Reads attribute `key` of span `row` (of its resource with `true`) as stored, for `raw`.
pub type RawAttr<'s> = &'s dyn Fn(u32, bool, &str) -> Option<OwnedValue>;

/// Parse the program's optional `samples` list.
pub fn parse(v: Option<&Json>, n_sites: usize) -> Result<Vec<SampleProgram>, String> {
    crate::registers::parse_entries(v, "samples", n_sites, one)
}

fn one(v: &Json, n_sites: usize) -> Result<SampleProgram, String> {
    let aggs = match v.get("aggs") {
        Some(Json::Array(xs)) => xs
            .iter()
            .map(|a| {
                let get = |k: &str| a.get(k).ok_or_else(|| format!("an agg lacks `{k}`"));
                let raw = a.get("raw").and_then(Json::as_bool).unwrap_or(false);
                Ok((
                    node(get("value")?, n_sites)?,
                    node(get("where")?, n_sites)?,
                    raw,
                ))
            })
            .collect::<Result<Vec<_>, String>>()?,
        _ => return Err("`aggs` is not a list".into()),
    };
    Ok(SampleProgram { aggs })
}

/// A sampled value, kept past its event. Python reads a value it cannot aggregate (a
/// missing one, `None`, a bytes or array attribute) as `None`: the aggregates skip those
/// alike, and `count_distinct` of a value that could be one is refused by the emitter.
///
/// 16 bytes: a run keeps one per span and aggregate. An int is `Int` when it fits 64 bits,
/// else `Big` ([`Sampled::int`] picks), and the rare texts and stored values are boxed.
#[derive(Debug, Clone, PartialEq)]
pub enum Sampled {
    None,
    Bool(bool),
    Int(i64),
    Big(Box<i128>),
    Float(f64),
    Str(Box<String>),
    /// the attribute's stored value (`raw`)
    Raw(Box<OwnedValue>),
}

impl Sampled {
    /// The int `i`: `Int` when it fits 64 bits, else `Big` (so equal ints are equal
    /// samples).
    pub fn int(i: i128) -> Sampled {
        i64::try_from(i).map_or_else(|_| Sampled::Big(Box::new(i)), Sampled::Int)
    }

    pub fn text(s: String) -> Sampled {
        Sampled::Str(Box::new(s))
    }

    /// An int's value (not a bool's).
    fn as_int(&self) -> Option<i128> {
        match self {
            Sampled::Int(i) => Some(i128::from(*i)),
            Sampled::Big(i) => Some(**i),
            _ => None,
        }
    }
}

/// The samples of one instance, as columns: per sample its time, (complete trace, event
/// index) and, per aggregate, (value, where) at `values[sample * n_aggs + agg]`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Samples {
    pub time: Vec<u64>,
    pub trace: Vec<u32>,
    pub event: Vec<u32>,
    pub values: Vec<(Sampled, bool)>,
}

impl SampleProgram {
    /// Every node of the program (each aggregate's value and condition).
    pub(crate) fn nodes_mut(&mut self) -> impl Iterator<Item = &mut Node> {
        self.aggs.iter_mut().flat_map(|(v, w, _)| [v, w])
    }

    pub fn n_aggs(&self) -> usize {
        self.aggs.len()
    }

    /// Whether sampling counts nothing ([`crate::atoms::quiet`]): a sample is then the
    /// same whenever it is taken, so `close` takes it while the span's trace is at hand.
    pub fn quiet(&self) -> bool {
        (self.aggs.iter()).all(|(v, w, _)| crate::atoms::quiet(v) && crate::atoms::quiet(w))
    }

    /// Sample span `r` at its end event into `out` (Python's `Monitor.sample`: per
    /// aggregate its value, then its where).
    #[allow(clippy::too_many_arguments)]
    pub fn sample<S: SpanSource + ?Sized>(
        &self,
        src: &S,
        r: u32,
        time: u64,
        trace: u32,
        event: u32,
        out: &mut Samples,
        mm: &mut Mismatches,
        raw: RawAttr,
    ) {
        out.time.push(time);
        out.trace.push(trace);
        out.event.push(event);
        let mut cx = Cx {
            src,
            st: false,
            mm,
            regs: &[],
        };
        for (value, when, keep_raw) in &self.aggs {
            let v = match cx.eval(value, r) {
                Value::Bool(b) => Sampled::Bool(b),
                Value::Int(i) => Sampled::int(i),
                Value::Float(f) => Sampled::Float(f),
                Value::Str(s) => Sampled::text(s.into_owned()),
                Value::Other(_) if *keep_raw => stored(value, src, r, raw),
                Value::Missing | Value::Other(_) => Sampled::None,
            };
            let w = cx.holds(when, r); // `bool(where(...))`, as the letter loops read atoms
            out.values.push((v, w));
        }
    }
}

/// The stored value of the attribute node `value` on span `r` (its hops followed).
fn stored<S: SpanSource + ?Sized>(value: &Node, src: &S, r: u32, raw: RawAttr) -> Sampled {
    let Node::Attr {
        hops,
        resource,
        key,
    } = value
    else {
        return Sampled::None; // the emitter sets `raw` on attribute nodes only
    };
    let mut t = Some(r);
    for _ in 0..*hops {
        t = t.and_then(|x| src.parent(x));
    }
    t.and_then(|t| raw(t, *resource, &key.text))
        .map_or(Sampled::None, |v| Sampled::Raw(Box::new(v)))
}

/// An aggregate function, by its name in the language (`compiled.aggregate_value`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggFn {
    Count,
    Fraction,
    PerSecond,
    CountDistinct,
    Distinct,
    Avg,
    Min,
    Max,
    /// `pNN`, nearest rank, NN at most 100
    Pct(u32),
}

impl AggFn {
    /// The function named `name`; `None` for a name the core does not compute.
    pub fn parse(name: &str) -> Option<AggFn> {
        Some(match name {
            "count" => AggFn::Count,
            "fraction" => AggFn::Fraction,
            "per_second" => AggFn::PerSecond,
            "count_distinct" => AggFn::CountDistinct,
            "distinct" => AggFn::Distinct,
            "avg" => AggFn::Avg,
            "min" => AggFn::Min,
            "max" => AggFn::Max,
            _ => {
                let digits = name.strip_prefix('p')?;
                if digits.is_empty()
                    || digits.len() > 3
                    || !digits.bytes().all(|b| b.is_ascii_digit())
                {
                    return None;
                }
                let q: u32 = digits.parse().ok()?;
                if q > 100 {
                    return None; // Python's index would run past the samples
                }
                AggFn::Pct(q)
            }
        })
    }
}

/// An aggregate's value in a window, as `aggregate_value` returns it (`None`, no sample,
/// is `Option::None` around it).
#[derive(Debug, Clone, PartialEq)]
pub enum AggValue {
    Int(i128),
    Float(f64),
    Str(String),
}

/// How an instance's samples are cut (`Monitor.aggregate`): one window of them all, or
/// tumbling or sliding windows of `size` ns (1 to 2^100; another size is declined).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    Whole,
    Tumbling(u128),
    Sliding(u128),
}

/// One window that had a value for every aggregate (Python skips the others: an empty
/// window neither violates nor satisfies): its samples `lo..hi` of the time-sorted
/// columns, its bounds (`None` for [`Cut::Whole`]) and the aggregates' values.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub lo: usize,
    pub hi: usize,
    pub bounds: Option<(i128, i128)>,
    pub values: Vec<AggValue>,
}

/// Why the core leaves an instance's aggregates to Python (`aggregate_value`): a value
/// it cannot reproduce exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decline;

/// What the sums of floats do (`sum` in CPython 3.11 and older adds left to right; 3.12
/// compensates): with `plain_float_sum` false, an `avg` over a float declines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exactness {
    pub plain_float_sum: bool,
}

impl Samples {
    /// Room for `n` samples of `n_aggs` aggregates each.
    pub fn with_capacity(n: usize, n_aggs: usize) -> Samples {
        Samples {
            time: Vec::with_capacity(n),
            trace: Vec::with_capacity(n),
            event: Vec::with_capacity(n),
            values: Vec::with_capacity(n.saturating_mul(n_aggs)),
        }
    }

    /// How many aggregates each sample holds.
    pub fn n_aggs(&self) -> usize {
        self.values.len().checked_div(self.time.len()).unwrap_or(0)
    }

    /// Sort the samples by time, stably: Python's `rows.sort(key=itemgetter(0))`.
    pub fn sort_by_time(&mut self) {
        if self.time.is_sorted() {
            return;
        }
        let mut order: Vec<u32> = (0..self.time.len() as u32).collect();
        order.sort_by_key(|&i| self.time[i as usize]); // stable
        self.permute(&order);
    }

    /// Put the samples of one cross-trace instance, taken trace after trace, in the order
    /// of its rows ([`crate::cross::Buckets`]): by (time, trace id, event index), then by
    /// trace, `rank` giving each complete trace's place by id ([`crate::cross::ranks`]).
    /// A (trace, event) pair is sampled once, so the order is total.
    pub fn sort_for_instance(&mut self, rank: &[u32]) {
        let key = |i: u32| {
            let i = i as usize;
            let t = self.trace[i];
            (self.time[i], rank[t as usize], self.event[i], t)
        };
        let n = self.time.len() as u32;
        if (1..n).all(|i| key(i - 1) < key(i)) {
            return;
        }
        let mut order: Vec<u32>;
        let mut in_time = vec![];
        if crate::cross::by_time(self.time.iter().copied(), n as usize, &mut in_time) {
            // in time order; then each run of one time in full order
            order = in_time.iter().map(|&i| i as u32).collect();
            order
                .chunk_by_mut(|&x, &y| self.time[x as usize] == self.time[y as usize])
                .filter(|run| run.len() > 1)
                .for_each(|run| run.sort_unstable_by_key(|&i| key(i)));
        } else {
            order = (0..n).collect();
            order.sort_unstable_by_key(|&i| key(i));
        }
        self.permute(&order);
    }

    /// Sample `order[k]` becomes sample `k` (`order` a permutation of the samples).
    fn permute(&mut self, order: &[u32]) {
        let per = self.n_aggs();
        let pick = |col: &[u32]| order.iter().map(|&i| col[i as usize]).collect::<Vec<_>>();
        self.trace = pick(&self.trace);
        self.event = pick(&self.event);
        self.time = order.iter().map(|&i| self.time[i as usize]).collect();
        let mut old = std::mem::take(&mut self.values);
        self.values.reserve_exact(old.len());
        for &i in order {
            let i = i as usize;
            let taken = old[i * per..(i + 1) * per]
                .iter_mut()
                .map(|v| std::mem::replace(v, (Sampled::None, false)));
            self.values.extend(taken);
        }
    }

    /// Sort the samples by time and cut them into windows as `Monitor.aggregate` does,
    /// each aggregate's value computed as `aggregate_value` computes it, bit for bit; the
    /// windows with a value for every aggregate, in time order. `Err(Decline)` when some
    /// value would not be exact (then Python computes this instance).
    pub fn windows(
        &mut self,
        aggs: &[AggFn],
        cut: Cut,
        ex: Exactness,
    ) -> Result<Vec<Window>, Decline> {
        if let Cut::Tumbling(size) | Cut::Sliding(size) = cut {
            if !(1..=1u128 << 100).contains(&size) {
                return Err(Decline); // (the binding asks for sizes of 1 ns to 2^100 only)
            }
        }
        self.sort_by_time();
        let n = self.time.len();
        let t = &self.time;
        let mut out = vec![];
        match cut {
            Cut::Whole => {
                if n > 0 {
                    // `_span_ns`: the samples' time span, None under two samples or when 0
                    let span = (n >= 2 && t[n - 1] != t[0]).then(|| u128::from(t[n - 1] - t[0]));
                    self.window(aggs, 0, n, None, span, ex, &mut out)?;
                }
            }
            Cut::Tumbling(size) => {
                let mut lo = 0;
                while lo < n {
                    let k = u128::from(t[lo]) / size;
                    let end = (k + 1) * size;
                    let hi = lo + t[lo..].partition_point(|&x| u128::from(x) < end);
                    let bounds = ((k * size) as i128, end as i128);
                    self.window(aggs, lo, hi, Some(bounds), Some(size), ex, &mut out)?;
                    lo = hi;
                }
            }
            Cut::Sliding(size) => {
                let mut lo = 0;
                for hi in 0..n {
                    if hi + 1 < n && t[hi + 1] == t[hi] {
                        continue; // the window (t - size, t] holds every sample at t
                    }
                    let from = i128::from(t[hi]) - size as i128;
                    while i128::from(t[lo]) <= from {
                        lo += 1;
                    }
                    let bounds = (from, i128::from(t[hi]));
                    self.window(aggs, lo, hi + 1, Some(bounds), Some(size), ex, &mut out)?;
                }
            }
        }
        Ok(out)
    }

    /// Window `lo..hi`: pushed to `out` when every aggregate has a value.
    #[allow(clippy::too_many_arguments)]
    fn window(
        &self,
        aggs: &[AggFn],
        lo: usize,
        hi: usize,
        bounds: Option<(i128, i128)>,
        window_ns: Option<u128>,
        ex: Exactness,
        out: &mut Vec<Window>,
    ) -> Result<(), Decline> {
        let per = self.n_aggs();
        let mut values = Vec::with_capacity(aggs.len());
        for (a, &f) in aggs.iter().enumerate() {
            let col = (lo..hi).map(|k| &self.values[k * per + a]);
            match aggregate(f, col, window_ns, ex)? {
                Some(v) => values.push(v),
                None => return Ok(()), // an empty window
            }
        }
        out.push(Window {
            lo,
            hi,
            bounds,
            values,
        });
        Ok(())
    }
}

/// A number among the samples (an `int` or a `float`, not a `bool`).
#[derive(Debug, Clone, Copy)]
enum Num {
    Int(i128),
    Float(f64),
}

impl Num {
    fn value(self) -> AggValue {
        match self {
            Num::Int(i) => AggValue::Int(i),
            Num::Float(f) => AggValue::Float(f),
        }
    }

    /// Python's `<` ordering of two numbers, exactly; `None` with a NaN.
    fn cmp(self, other: Num) -> Option<Ordering> {
        match (self, other) {
            (Num::Int(x), Num::Int(y)) => Some(x.cmp(&y)),
            (Num::Int(x), Num::Float(y)) => cmp_int_float(x, y),
            (Num::Float(x), Num::Int(y)) => cmp_int_float(y, x).map(Ordering::reverse),
            (Num::Float(x), Num::Float(y)) => x.partial_cmp(&y),
        }
    }
}

/// `aggregate_value(name, samples, window_ns)` over the (value, where) samples `col`.
pub fn aggregate<'a>(
    f: AggFn,
    col: impl Iterator<Item = &'a (Sampled, bool)> + Clone,
    window_ns: Option<u128>,
    ex: Exactness,
) -> Result<Option<AggValue>, Decline> {
    match f {
        AggFn::Count | AggFn::Fraction | AggFn::PerSecond => {
            let (mut hits, mut considered) = (0u64, 0u64);
            for (v, w) in col {
                if *w {
                    considered += 1;
                    hits += u64::from(*v == Sampled::Bool(true));
                }
            }
            Ok(match f {
                AggFn::Count => Some(AggValue::Int(i128::from(hits))),
                // int / int, correctly rounded as Python's
                // (None when no sample satisfies `where`)
                AggFn::Fraction => {
                    int_true_div(i128::from(hits), i128::from(considered)).map(AggValue::Float)
                }
                // `hits / (window_ns / 1e9)`: the int correctly rounded to a double, twice
                _ => window_ns
                    .filter(|&w| w > 0)
                    .map(|w| AggValue::Float(hits as f64 / (w as f64 / 1e9))),
            })
        }
        AggFn::CountDistinct | AggFn::Distinct => distinct(f, col),
        _ => {
            let nums = col.filter_map(|(v, w)| match (v, w) {
                (Sampled::Float(x), true) => Some(Num::Float(*x)),
                (v, true) => v.as_int().map(Num::Int),
                _ => None,
            });
            numeric(f, nums, ex)
        }
    }
}

/// `count_distinct` and `distinct`: Python's set of the values (equal ones once; `True ==
/// 1` would merge a bool and an int, and `1 == 1.0` keeps the first one's text), sorted
/// by `str`. Declined: floats (NaN and -0.0 make set membership depend on identity and
/// order), a bool beside an int, and values only Python renders (`raw`).
fn distinct<'a>(
    f: AggFn,
    col: impl Iterator<Item = &'a (Sampled, bool)>,
) -> Result<Option<AggValue>, Decline> {
    let mut ints: foldhash::HashSet<i128> = Default::default();
    let mut strs: foldhash::HashSet<&str> = Default::default();
    let mut bools = [false; 2];
    for (v, w) in col {
        if !*w {
            continue;
        }
        match v {
            Sampled::None => {}
            Sampled::Bool(b) => bools[*b as usize] = true,
            Sampled::Int(_) | Sampled::Big(_) => {
                ints.extend(v.as_int());
            }
            Sampled::Str(s) => {
                strs.insert(s.as_str());
            }
            Sampled::Float(_) | Sampled::Raw(_) => return Err(Decline),
        }
    }
    let n_bools = bools.iter().filter(|&&b| b).count();
    if n_bools > 0 && !ints.is_empty() {
        return Err(Decline);
    }
    if f == AggFn::CountDistinct {
        return Ok(Some(AggValue::Int(
            (ints.len() + strs.len() + n_bools) as i128,
        )));
    }
    // values of equal text (1 and "1") may come in either order: their text is the same
    let mut texts: Vec<String> = ints.iter().map(i128::to_string).collect();
    texts.extend(strs.iter().map(|s| (*s).to_owned()));
    texts.extend(
        [(bools[0], "False"), (bools[1], "True")]
            .iter()
            .filter(|(b, _)| *b)
            .map(|(_, s)| (*s).to_owned()),
    );
    texts.sort_unstable(); // code point order is UTF-8 byte order
    Ok(Some(AggValue::Str(texts.join(", "))))
}

/// `avg`, `min`, `max` and `pNN` over the numbers.
fn numeric(
    f: AggFn,
    nums: impl Iterator<Item = Num> + Clone,
    ex: Exactness,
) -> Result<Option<AggValue>, Decline> {
    match f {
        AggFn::Avg => {
            // CPython's `sum`: ints exactly until the first float, which adds to the int
            // sum rounded to a double; then left to right, each int rounded to a double
            let (mut int_sum, mut float_sum, mut n) = (0i128, None::<f64>, 0u64);
            for x in nums {
                n += 1;
                float_sum = match (float_sum, x) {
                    (None, Num::Int(i)) => {
                        int_sum = int_sum.checked_add(i).ok_or(Decline)?;
                        None
                    }
                    (_, Num::Float(_)) if !ex.plain_float_sum => return Err(Decline),
                    (None, Num::Float(y)) => Some(int_sum as f64 + y),
                    (Some(s), Num::Int(i)) => Some(s + i as f64),
                    (Some(s), Num::Float(y)) => Some(s + y),
                };
            }
            if n == 0 {
                return Ok(None);
            }
            Ok(Some(AggValue::Float(match float_sum {
                // int / int, correctly rounded as Python's
                None => int_true_div(int_sum, i128::from(n)).ok_or(Decline)?,
                Some(s) => s / n as f64,
            })))
        }
        AggFn::Min | AggFn::Max => {
            // `min`/`max`: the first of the least (greatest); a NaN never replaces nor is
            // replaced
            let worse = if f == AggFn::Min {
                Ordering::Less
            } else {
                Ordering::Greater
            };
            let mut best: Option<Num> = None;
            for x in nums {
                best = match best {
                    Some(b) if x.cmp(b) != Some(worse) => Some(b),
                    _ => Some(x),
                };
            }
            Ok(best.map(Num::value))
        }
        AggFn::Pct(q) => {
            let mut ints = vec![];
            let mut all_ints = true;
            let mut n = 0usize;
            for x in nums.clone() {
                n += 1;
                match x {
                    Num::Int(i) => ints.push(i),
                    Num::Float(y) if y.is_nan() => return Err(Decline), // sorted() depends on order
                    Num::Float(_) => all_ints = false,
                }
            }
            if n == 0 {
                return Ok(None);
            }
            // nearest rank: ordered[max(0, ceil(q / 100 * n) - 1)], q / 100 a double
            let rank = ((f64::from(q) / 100.0) * n as f64).ceil() as usize;
            let k = rank.saturating_sub(1).min(n - 1);
            if all_ints {
                // equal ints are alike: any selection gives sorted()'s k-th
                let (_, v, _) = ints.select_nth_unstable(k);
                return Ok(Some(AggValue::Int(*v)));
            }
            // a stable sort, as Python's: equal numbers (1 and 1.0, 0.0 and -0.0) keep
            // their order
            let mut all: Vec<Num> = nums.collect();
            all.sort_by(|a, b| a.cmp(*b).unwrap_or(Ordering::Equal)); // no NaN here
            Ok(Some(all[k].value()))
        }
        _ => Err(Decline), // the other functions are not numeric (never asked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atoms::{OwnedAttr, SimpleSpan, SimpleTrace};

    /// Samples taken trace after trace and put in an instance's order are in the order
    /// the cross-trace buckets give the same events' rows: generated events with equal
    /// times, traces of equal ids, times out of order, keys small and large (the large
    /// ones sorted by time first).
    #[test]
    fn samples_sorted_for_an_instance_follow_the_buckets_order() {
        use crate::cross::{ranks, Buckets, Row};
        let mut rng = crate::test_rng::Rng(0x5a3b_01e5);
        for case in 0..200 {
            let n_traces = 1 + rng.index(if case % 4 == 0 { 400 } else { 10 });
            let rank = ranks(&rng.trace_ids(n_traces, 1 + case as u64 % 7));
            let (mut b, mut s) = (Buckets::default(), Samples::default());
            for t in 0..n_traces as u32 {
                let mut time = rng.below(5);
                for e in 0..rng.below(6) as u32 {
                    time += rng.below(3);
                    let time = if rng.below(4) == 0 {
                        rng.below(30)
                    } else {
                        time
                    };
                    let row = Row {
                        time,
                        trace: t,
                        event: e,
                        letter: 0,
                        trigger: false,
                        bucket: 0,
                    };
                    b.add("k", row);
                    s.time.push(time);
                    s.trace.push(t);
                    s.event.push(e);
                    s.values.push((Sampled::int(i128::from(e)), t % 2 == 0));
                }
            }
            let mut want = vec![];
            b.each_sorted(&rank, |_, rows| {
                want.extend(rows.iter().map(|r| (r.time, r.trace, r.event)));
            });
            s.sort_for_instance(&rank);
            let got: Vec<_> = (0..s.time.len())
                .map(|i| (s.time[i], s.trace[i], s.event[i]))
                .collect();
            assert_eq!(got, want, "case {case}");
            for (i, v) in s.values.iter().enumerate() {
                let moved = (Sampled::int(i128::from(s.event[i])), s.trace[i] % 2 == 0);
                assert_eq!(*v, moved, "case {case}: the values move with their samples");
            }
        }
    }

    #[test]
    fn a_sample_holds_each_aggregates_value_and_where() {
        // p99(duration where attr["db"] exists), count(attr["x"] > 1)
        let v: Json = serde_json::from_str(
            r#"{"aggs": [
                {"value": {"op":"field","hops":0,"name":"duration"},
                 "where": {"op":"exists","arg":{"op":"attr","hops":0,"resource":false,"key":"db"}}},
                {"value": {"op":"cmp","cmp":">","site":0,"args":[
                    {"op":"attr","hops":0,"resource":false,"key":"x"},{"op":"lit","v":{"int":"1"}}]},
                 "where": {"op":"lit","v":{"bool":true}}}]}"#,
        )
        .unwrap();
        let p = one(&v, 1).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.n_aggs(), 2);
        assert!(!p.quiet(), "its comparison counts type mismatches");
        assert_eq!(
            std::mem::size_of::<Sampled>(),
            16,
            "a run keeps one per span"
        );
        assert_eq!(Sampled::int(-7), Sampled::Int(-7));
        assert_eq!(Sampled::int(1 << 63), Sampled::Big(Box::new(1 << 63)));
        let first: Json = serde_json::from_value(v["aggs"][0].clone()).unwrap();
        let q = one(&serde_json::json!({"aggs": [first]}), 1).unwrap();
        assert!(
            q.quiet(),
            "a duration where an attribute exists counts nothing"
        );
        let span = |db: bool, x: OwnedAttr| SimpleSpan {
            span_id: "1".into(),
            start_ns: 5,
            end_ns: 12,
            attrs: [("x".to_owned(), x)]
                .into_iter()
                .chain(db.then(|| ("db".to_owned(), OwnedAttr::Str("pg".into()))))
                .collect(),
            ..SimpleSpan::default()
        };
        let t = SimpleTrace::new(vec![span(true, OwnedAttr::Int(2))]);
        let u = SimpleTrace::new(vec![span(false, OwnedAttr::Str("2".into()))]);
        let mut out = Samples::default();
        let mut mm = Mismatches::new(1);
        let none = |_: u32, _: bool, _: &str| None;
        p.sample(&t, 0, 12, 0, 1, &mut out, &mut mm, &none);
        p.sample(&u, 0, 12, 1, 1, &mut out, &mut mm, &none);
        assert_eq!(out.time, vec![12, 12]);
        assert_eq!(
            (out.trace.clone(), out.event.clone()),
            (vec![0, 1], vec![1, 1])
        );
        assert_eq!(
            out.values,
            vec![
                (Sampled::int(7), true),
                (Sampled::Bool(true), true),
                (Sampled::int(7), false),
                (Sampled::Bool(false), true),
            ]
        );
        assert_eq!(mm.sites[0], (1, "str", "int"));
        assert!(parse(Some(&Json::Null), 0).is_err());
        let bad: Json =
            serde_json::from_str(r#"{"aggs": [{"value": {"op":"lit","v":{"bool":true}}}]}"#)
                .unwrap();
        assert!(one(&bad, 0).is_err());
    }

    fn samples(rows: &[(u64, Sampled)]) -> Samples {
        let mut s = Samples::default();
        for (k, (t, v)) in rows.iter().enumerate() {
            s.time.push(*t);
            s.trace.push(0);
            s.event.push(k as u32);
            s.values.push((v.clone(), true));
        }
        s
    }

    const EX: Exactness = Exactness {
        plain_float_sum: true,
    };

    fn value_of(f: &str, vals: &[Sampled]) -> Result<Option<AggValue>, Decline> {
        let rows: Vec<(u64, Sampled)> = vals.iter().cloned().map(|v| (0, v)).collect();
        let f = AggFn::parse(f).expect("a name");
        aggregate(f, samples(&rows).values.iter(), None, EX)
    }

    #[test]
    fn windows_are_cut_as_python_cuts_them() {
        let rows: Vec<(u64, Sampled)> = [9, 0, 1, 1, 5, 9, 10]
            .iter()
            .map(|&t| (t, Sampled::int(i128::from(t))))
            .collect();
        let mut s = samples(&rows);
        let f = [AggFn::Min];
        let w = s.windows(&f, Cut::Tumbling(5), EX).unwrap();
        // sorted stably: the 9 given first stays before the other 9
        assert_eq!(s.event, vec![1, 2, 3, 4, 0, 5, 6]);
        let cut: Vec<_> = w.iter().map(|w| (w.lo, w.hi, w.bounds)).collect();
        assert_eq!(
            cut,
            vec![
                (0, 3, Some((0, 5))),
                (3, 6, Some((5, 10))),
                (6, 7, Some((10, 15)))
            ]
        );
        let w = s.windows(&f, Cut::Sliding(5), EX).unwrap();
        let cut: Vec<_> = w.iter().map(|w| (w.lo, w.hi, w.bounds)).collect();
        assert_eq!(
            cut,
            vec![
                (0, 1, Some((-5, 0))),
                (0, 3, Some((-4, 1))),
                (1, 4, Some((0, 5))),
                (3, 6, Some((4, 9))),
                (4, 7, Some((5, 10)))
            ]
        );
        let w = s.windows(&[AggFn::PerSecond], Cut::Whole, EX).unwrap();
        // no `True` sample: 0 per second over the samples' 10 ns
        assert_eq!(w[0].values, vec![AggValue::Float(0.0)]);
        // an empty window (no number for `avg`) is left out
        let mut t = samples(&[(3, Sampled::text("a".into()))]);
        assert_eq!(t.windows(&[AggFn::Avg], Cut::Whole, EX), Ok(vec![]));
        assert_eq!(t.windows(&[AggFn::Avg], Cut::Tumbling(0), EX), Err(Decline));
    }

    #[test]
    fn values_are_pythons_bit_for_bit() {
        use Sampled::{Bool, Float};
        let (int, text) = (Sampled::int, Sampled::text);
        let big = (1i128 << 63) - 1;
        // the exact sum, divided once (float(sum) / 3 rounds twice)
        assert_eq!(
            value_of("avg", &[int(big), int(big), int(1)]),
            Ok(Some(AggValue::Float(int_true_div(2 * big + 1, 3).unwrap())))
        );
        assert_eq!(value_of("avg", &[int(i128::MAX), int(1)]), Err(Decline));
        let plain = Exactness {
            plain_float_sum: false,
        };
        let col = [(Float(1.5), true)];
        assert_eq!(aggregate(AggFn::Avg, col.iter(), None, plain), Err(Decline));
        assert_eq!(
            value_of("avg", &[int(1 << 60), Float(0.5), int(3)]),
            Ok(Some(AggValue::Float(
                (((1i128 << 60) as f64 + 0.5) + 3.0) / 3.0
            )))
        );
        // the first of equals, with its type; a NaN neither replaces nor is replaced
        assert_eq!(
            value_of("min", &[Float(1.0), int(1), Float(-0.0), int(0)]),
            Ok(Some(AggValue::Float(-0.0)))
        );
        assert_eq!(
            value_of("min", &[int(1), Float(f64::NAN), int(0)]),
            Ok(Some(AggValue::Int(0)))
        );
        assert_eq!(
            value_of("max", &[int(1), Float(1.0), Bool(true)]),
            Ok(Some(AggValue::Int(1)))
        );
        assert_eq!(
            value_of("p50", &[Float(1.0), int(1), int(1), Float(1.0)]),
            Ok(Some(AggValue::Int(1)))
        );
        assert_eq!(value_of("p99", &[Float(f64::NAN), int(1)]), Err(Decline));
        assert_eq!(value_of("p99", &[text("1".into())]), Ok(None));
        assert_eq!(
            value_of(
                "distinct",
                &[text("b".into()), int(10), int(9), text("a".into()), int(10)]
            ),
            Ok(Some(AggValue::Str("10, 9, a, b".into())))
        );
        assert_eq!(
            value_of("count_distinct", &[Bool(true), int(1)]),
            Err(Decline)
        );
        assert_eq!(value_of("count_distinct", &[Float(1.0)]), Err(Decline));
        assert_eq!(
            value_of("count", &[Bool(true), int(1), text("True".into())]),
            Ok(Some(AggValue::Int(1)))
        );
        assert_eq!(
            value_of("fraction", &[Bool(true), Bool(false), Bool(false)]),
            Ok(Some(AggValue::Float(1.0 / 3.0)))
        );
        assert_eq!(AggFn::parse("p101"), None);
        assert_eq!(AggFn::parse("sum"), None);
    }
}
