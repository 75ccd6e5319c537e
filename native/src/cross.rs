//! Cross-trace scopes (`per attr["k"]`, `per service`, `global`) in file mode: the Python
//! engine's `Monitor._bucket` and `_run_cross`, and `monitor.key_text`.
//!
//! Every event of every complete trace is filed under its span's scope key (the key's text,
//! as Python renders it; a span without a usable value belongs to no instance). At the end
//! of input each key's rows are sorted as Python sorts its rows, by (time, trace id, index
//! in the trace), and one fresh instance is stepped over them with the per-trace stepping
//! ([`crate::run::step_letters`]). The result names events as (complete trace, event)
//! pairs, so the Python side reads the witnesses back from the store.

use crate::automaton::Cached;
use crate::open_index::OpenIndex;
use crate::run::{step_letters, Stepped};
use crate::store::OwnedValue;
use crate::timed::TState;
use crate::value::Value;

/// A scope key's text, or why there is none yet.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyText {
    /// no usable value (missing, `None`, an `InvalidValue`, an empty service): no instance
    None,
    Text(String),
    /// a bytes, array or key-value list value: its text is Python's `str()` of it (the
    /// repr of nested strings follows Unicode tables the core does not carry), so Python
    /// renders it
    Python(OwnedValue),
}

/// What `monitor.key_text` makes of a value the atom program computed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rendered {
    NoInstance,
    Text(String),
    /// a bytes, array or key-value list value: only Python renders it (the caller reads
    /// the raw value)
    ByPython,
}

/// `monitor.key_text` of a value the atom program computed.
pub fn key_text(v: &Value) -> Rendered {
    let mut text = String::new();
    match key_text_into(v, &mut text) {
        Rendered::Text(_) => Rendered::Text(text),
        other => other,
    }
}

/// [`key_text`], the text appended to `out` instead of returned (then
/// `Rendered::Text("")`): a run's keys go one after another into one string, no
/// allocation a span.
pub fn key_text_into(v: &Value, out: &mut String) -> Rendered {
    use std::fmt::Write;
    match v {
        Value::Missing | Value::Other("NoneType" | "InvalidValue") => return Rendered::NoInstance,
        Value::Other(_) => return Rendered::ByPython,
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => write!(out, "{i}").expect("writing to a String"),
        Value::Str(s) => out.push_str(s),
        Value::Float(f) => out.push_str(&float_key_text(*f)),
    }
    Rendered::Text(String::new())
}

/// `key_text` of a float: an integral one as Python's `str(int(f))`, any other as
/// `str(f)` (`repr`: the shortest digits that read back as `f`).
pub fn float_key_text(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 {
        return integral_float_text(f);
    }
    py_float_repr(f)
}

const BASE: u64 = 1_000_000_000;

/// The exact decimal value of an integral finite float (`str(int(f))`).
fn integral_float_text(f: f64) -> String {
    if f.abs() < 1.7e38 {
        return (f as i128).to_string(); // exact: integral and within i128 (-0.0 is "0")
    }
    // f = m * 2^e with e > 0: the digits of m, doubled e times, in base 10^9 limbs
    let bits = f.to_bits();
    let m = (bits & ((1 << 52) - 1)) | (1 << 52);
    let mut e = ((bits >> 52) & 0x7ff) as u32 - 1075;
    let mut limbs = vec![];
    let mut x = m;
    while x > 0 {
        limbs.push(x % BASE);
        x /= BASE;
    }
    while e > 0 {
        let k = e.min(29); // a limb below 2^30, shifted by 29 and carried, fits in u64
        let mut carry = 0;
        for l in limbs.iter_mut() {
            let v = (*l << k) + carry;
            *l = v % BASE;
            carry = v / BASE;
        }
        while carry > 0 {
            limbs.push(carry % BASE);
            carry /= BASE;
        }
        e -= k;
    }
    let mut out = String::new();
    if f < 0.0 {
        out.push('-');
    }
    let mut it = limbs.iter().rev();
    out.push_str(&it.next().map_or(0, |l| *l).to_string());
    for l in it {
        out.push_str(&format!("{l:09}"));
    }
    out
}

/// CPython's `repr(float)`: the shortest digits that read back as `f` ([`shortest_digits`]),
/// positional when the decimal point falls within `-4 < decpt <= 16`, otherwise
/// `d.ddde±XX`.
pub fn py_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.into();
    }
    let sign = if f.is_sign_negative() { "-" } else { "" };
    let (digits, exp) = shortest_digits(f.abs());
    let decpt = exp + 1; // the value is 0.DIGITS * 10^decpt
    let n = digits.len() as i32;
    if decpt <= -4 || decpt > 16 {
        let (head, tail) = digits.split_at(1);
        let frac = if tail.is_empty() {
            String::new()
        } else {
            format!(".{tail}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{head}{frac}e{esign}{:02}", exp.abs());
    }
    if decpt <= 0 {
        return format!("{sign}0.{}{digits}", "0".repeat((-decpt) as usize));
    }
    if decpt >= n {
        return format!("{sign}{digits}{}.0", "0".repeat((decpt - n) as usize));
    }
    let (int, frac) = digits.split_at(decpt as usize);
    format!("{sign}{int}.{frac}")
}

/// `d.ddd` and `x` of `format!("{:e}")` or `{:.Ne}`: the digits without the point, and
/// the exponent.
fn sci_parts(text: &str) -> (String, i32) {
    let (mantissa, exp) = text.split_once('e').expect("{:e} has an exponent");
    let digits = mantissa.chars().filter(|c| *c != '.').collect();
    (digits, exp.parse().expect("{:e}'s exponent is an integer"))
}

/// The digits `D` and exponent `x` (`f = D[0].D[1..] * 10^x`) of the shortest decimal that
/// reads back as the finite `f >= 0`, the one nearest to `f`, and on a tie between two the
/// one with an even last digit: David Gay's `dtoa` mode 0, which CPython's `repr` uses.
/// Rust's `{:e}` gives the shortest nearest digits too, but breaks a tie upwards
/// (`1234567891250000.25` is `…0.3` in Rust, `…0.2` in Python); a tie is when `f`'s exact
/// expansion is the two candidates' midpoint, `…d5` followed by zeros.
fn shortest_digits(f: f64) -> (String, i32) {
    let (digits, exp) = sci_parts(&format!("{f:e}"));
    let n = digits.len();
    // every f64 has at most 767 significant decimal digits: this is its exact expansion
    let (exact, exact_exp) = sci_parts(&format!("{f:.800e}"));
    if exact_exp != exp || n >= exact.len() {
        return (digits, exp);
    }
    let rest_is_half =
        |at: usize| exact.as_bytes()[at] == b'5' && exact[at + 1..].bytes().all(|b| b == b'0');
    if !rest_is_half(n) {
        return (digits, exp);
    }
    // f = E.5 in units of the last digit, E = exact[..n]: the candidates are E and E + 1
    let last = exact.as_bytes()[n - 1];
    let lower = exact[..n].to_owned();
    let pick = if (last - b'0') % 2 == 0 {
        lower
    } else if last == b'9' {
        return (digits, exp); // E + 1 carries: a shorter decimal, which `{:e}` found
    } else {
        let mut up = exact[..n - 1].to_owned();
        up.push(char::from(last + 1));
        up
    };
    let reads_back = format!("{}.{}e{exp}", &pick[..1], &pick[1..])
        .parse::<f64>()
        .is_ok_and(|g| g == f);
    if reads_back {
        (pick, exp)
    } else {
        (digits, exp)
    }
}

/// One event filed with a cross-trace instance.
#[derive(Debug, Clone, Copy)]
pub struct Row {
    pub time: u64,
    /// the complete trace (numbered as `Closed::n_events`) and the event's index in it
    pub trace: u32,
    pub event: u32,
    /// the property's own letter, and whether a trigger atom held
    pub letter: u64,
    pub trigger: bool,
    /// its bucket ([`Buckets::push`] sets it; in the padding: a row stays 32 bytes)
    pub bucket: u32,
}

/// A [`Row`] as [`Buckets`] keeps it until its instance is stepped: 24 bytes, not 32 (a
/// run files an event per span and keyed property, and these rows were a third of a
/// large run's memory at close). The trigger is kept per bucket (an instance asks only
/// whether any of its rows had one), and the letter in 4 bytes: a letter of 31 bits or
/// fewer as it is, a wider one (rare) as [`WIDE`] | its index in [`Buckets::wide`].
#[derive(Debug, Clone, Copy)]
struct Filed {
    time: u64,
    trace: u32,
    event: u32,
    letter: u32,
    bucket: u32,
}

/// The bit of [`Filed::letter`] that makes the rest an index into [`Buckets::wide`].
const WIDE: u32 = 1 << 31;

/// The scope keys of one property, in the order they were first filed: their text one
/// after another in one string (no allocation per key: a run may have millions).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Keys {
    text: String,
    /// key `i` ends at `ends[i]` and starts where key `i - 1` ends
    ends: Vec<usize>,
}

impl Keys {
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text[start..self.ends[i]]
    }

    pub fn push(&mut self, key: &str) {
        self.text.push_str(key);
        self.ends.push(self.text.len());
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }
}

impl<'a> FromIterator<&'a str> for Keys {
    fn from_iter<I: IntoIterator<Item = &'a str>>(it: I) -> Keys {
        let mut k = Keys::default();
        for s in it {
            k.push(s);
        }
        k
    }
}

/// One property's rows, by key, the keys in the order they were first filed (Python's
/// dict of buckets). Nothing is allocated per key: the keys' text goes to [`Keys`], found
/// through an open-addressing table of (bucket, hash); the rows go to one list, each with
/// its bucket, sorted in place by (bucket, instance order) when stepped.
#[derive(Debug, Default)]
pub struct Buckets {
    keys: Keys,
    /// the buckets by key
    index: OpenIndex,
    hasher: foldhash::fast::RandomState,
    /// the rows, each with its bucket, in filing order
    rows: Vec<Filed>,
    /// the letters of [`WIDE`] rows
    wide: Vec<u64>,
    /// per bucket, whether a trigger atom held in one of its rows
    triggered: Vec<bool>,
    /// the bucket [`Buckets::slot`] gave last: a trace's spans mostly share their key,
    /// and comparing it costs less than hashing it
    last: Option<u32>,
}

impl Buckets {
    pub fn add(&mut self, key: &str, row: Row) {
        let i = self.slot(key);
        self.push(i, row);
    }

    /// The bucket of `key`, filed now (last in order) if it is new: for [`Buckets::push`].
    pub fn slot(&mut self, key: &str) -> u32 {
        use std::hash::BuildHasher;
        if let Some(s) = self.last.filter(|&s| self.keys.get(s as usize) == key) {
            return s;
        }
        let h = self.hasher.hash_one(key) as u32;
        let s = match self.index.find(h, |s| self.keys.get(s as usize) == key) {
            Some((_, s)) => s,
            None => {
                let n = self.keys.len();
                let s = u32::try_from(n).expect("fewer than 2^32 keys");
                self.index.insert(n, s, h);
                self.keys.push(key);
                self.triggered.push(false);
                s
            }
        };
        self.last = Some(s);
        s
    }

    /// File `row` in bucket `slot` (from [`Buckets::slot`]).
    pub fn push(&mut self, slot: u32, row: Row) {
        let letter = match u32::try_from(row.letter) {
            Ok(l) if l < WIDE => l,
            _ => {
                let i = self.wide.len();
                assert!(i < WIDE as usize, "fewer than 2^31 wide rows");
                self.wide.push(row.letter);
                WIDE | i as u32
            }
        };
        self.triggered[slot as usize] |= row.trigger;
        self.rows.push(Filed {
            time: row.time,
            trace: row.trace,
            event: row.event,
            letter,
            bucket: slot,
        });
    }

    /// Filed row `f` as a [`Row`] of its bucket's instance, `bucket` set to `bucket`.
    fn row(&self, f: &Filed, bucket: u32) -> Row {
        Row {
            time: f.time,
            trace: f.trace,
            event: f.event,
            letter: match f.letter {
                l if l & WIDE == 0 => u64::from(l),
                l => self.wide[(l & !WIDE) as usize],
            },
            trigger: self.triggered[f.bucket as usize],
            bucket,
        }
    }

    /// `visit(i, key, rows)` for every bucket `i` in filing order, its rows in instance
    /// order; then the keys. `rank` is each complete trace's place in trace-id order
    /// ([`ranks`]).
    fn grouped(self, rank: &[u32], mut visit: impl FnMut(usize, &str, &[Row])) -> Keys {
        let n = self.keys.len();
        let mut starts = vec![0usize; n + 1];
        for r in &self.rows {
            starts[r.bucket as usize + 1] += 1;
        }
        for i in 0..n {
            starts[i + 1] += starts[i];
        }
        // the rows' places by bucket, a stable counting sort of 4-byte places, not of the
        // 24-byte rows: reading in filing order and writing each to its bucket's next
        // place are independent steps (sorting in place made each move wait on the last: a
        // chain of cache misses once keys recur), and a second list of the rows themselves
        // was an eighth of a file run's memory. A key's rows mostly come from one or two
        // traces, near each other in the first list, so gathering them reads few lines.
        let mut next = starts[..n].to_vec();
        let mut places = vec![0u32; self.rows.len()];
        for (k, r) in self.rows.iter().enumerate() {
            let to = &mut next[r.bucket as usize];
            places[*to] = k as u32;
            *to += 1;
        }
        // each bucket by (time, trace id, index), as (time, rank, index) in the row, then
        // by filing order, which is trace order: Python's stable sort of the rows by (time,
        // trace id, index). The last comparison decides only between two traces of one
        // trace id, and the rest is unique: unstable sorting is stable here. Times mostly
        // differ, so most comparisons read the time alone; a bucket already in order (a
        // key's traces mostly follow each other in time) is only checked
        let order = |x: &Row, y: &Row| {
            x.time
                .cmp(&y.time)
                .then_with(|| (x.bucket, x.event, x.trace).cmp(&(y.bucket, y.event, y.trace)))
        };
        let mut bucket: Vec<Row> = vec![];
        let mut in_time: Vec<u64> = vec![];
        for b in 0..n {
            bucket.clear();
            let places = &places[starts[b]..starts[b + 1]];
            let ranked = |k: u32| {
                let f = &self.rows[k as usize];
                self.row(f, rank[f.trace as usize])
            };
            let times = places.iter().map(|&k| self.rows[k as usize].time);
            if by_time(times, places.len(), &mut in_time) {
                // gathered in time order; then each run of one time in full order
                bucket.extend(in_time.iter().map(|&i| ranked(places[i as usize])));
                bucket
                    .chunk_by_mut(|x, y| x.time == y.time)
                    .filter(|run| run.len() > 1)
                    .for_each(|run| run.sort_unstable_by(order));
            } else {
                bucket.extend(places.iter().map(|&k| ranked(k)));
                if !bucket.is_sorted_by(|x, y| order(x, y).is_le()) {
                    bucket.sort_unstable_by(order);
                }
            }
            bucket.iter_mut().for_each(|r| r.bucket = b as u32);
            visit(b, self.keys.get(b), &bucket);
        }
        self.keys
    }

    /// Step one fresh instance per key (in first-filed order); `rank` and `partial` are
    /// the complete traces' places in trace-id order ([`ranks`]) and whether each is
    /// partial.
    pub fn step(self, aut: &mut Cached, rank: &[u32], partial: &[bool]) -> Instances {
        self.step_with(rank, partial, |rows| {
            (step_letters(aut, rows.len(), |e| rows[e].letter), None)
        })
    }

    /// The keys, in the order they were first filed (a property whose instances were
    /// filed elsewhere, by bucket: see `FileRun::close`'s samples).
    pub fn into_keys(self) -> Keys {
        self.keys
    }

    /// `visit(key, rows)` for each key (in first-filed order) with its rows in instance
    /// order (borrowed: a run's rows may be millions, so no copy per key).
    pub fn each_sorted(self, rank: &[u32], mut visit: impl FnMut(&str, &[Row])) {
        self.grouped(rank, |_, key, rows| visit(key, rows));
    }

    /// [`Buckets::step`] with the stepping given: `run(rows)` steps a fresh instance over
    /// one key's rows, sorted, and gives where it ended (and, for a timed property, its
    /// timed state). A property with registers computes each row's letter there.
    pub fn step_with(
        self,
        rank: &[u32],
        partial: &[bool],
        mut run: impl FnMut(&[Row]) -> (Stepped, Option<TState>),
    ) -> Instances {
        let mut out = Instances {
            list: Vec::with_capacity(self.keys.len()),
            traces: vec![],
            keys: Keys::default(),
        };
        // per complete trace: the last instance (+ 1) that listed it
        let mut seen = vec![0u32; rank.len()];
        out.keys = self.grouped(rank, |i, _, rows| {
            let mark = i as u32 + 1;
            let inst = step_instance(&mut run, rows, partial, &mut seen, mark, &mut out.traces);
            out.list.push(inst);
        });
        out
    }
}

/// A bucket of at least this many rows is put in time order by sorting numbers
/// ([`by_time`]), not rows.
const BY_TIME_FROM: usize = 256;

/// Bits of a place among `n`.
fn place_bits(n: usize) -> u32 {
    usize::BITS - n.saturating_sub(1).leading_zeros()
}

/// For a large bucket of `n` rows with these `times`, `order` = the rows' places in time
/// order, each time's in place order: found by sorting 8-byte numbers, each a time (less
/// the bucket's earliest) above its place's bits ([`place_bits`]), without a comparison
/// function (800k rows of one key took 38 ms to sort as rows, 25 ms so). False, `order`
/// untouched, for a small bucket (mostly in order already) or times too far apart for the
/// bits left.
pub(crate) fn by_time(
    times: impl Iterator<Item = u64> + Clone,
    n: usize,
    order: &mut Vec<u64>,
) -> bool {
    if n < BY_TIME_FROM {
        return false;
    }
    let (lo, hi) = (times.clone()).fold((u64::MAX, 0), |(lo, hi), t| (lo.min(t), hi.max(t)));
    let bits = place_bits(n);
    if (hi - lo).leading_zeros() < bits {
        return false;
    }
    order.clear();
    order.extend(times.zip(0u64..).map(|(t, i)| (t - lo) << bits | i));
    order.sort_unstable();
    let mask = (1u64 << bits) - 1;
    order.iter_mut().for_each(|k| *k &= mask);
    true
}

/// Each complete trace's place when their ids are sorted, equal ids (a trace id completed
/// twice) in one place: ordering rows by (time, rank, index) orders them by (time, trace
/// id, index).
pub fn ranks(ids: &[[u8; 16]]) -> Vec<u32> {
    // (id as a big-endian number, which orders as its bytes, compared without `memcmp`)
    let mut by_id: Vec<(u128, u32)> = ids
        .iter()
        .zip(0..)
        .map(|(id, t)| (u128::from_be_bytes(*id), t))
        .collect();
    by_id.sort_unstable();
    let mut rank = vec![0u32; ids.len()];
    let mut k = 0;
    for (i, &(id, t)) in by_id.iter().enumerate() {
        if i > 0 && id != by_id[i - 1].0 {
            k += 1;
        }
        rank[t as usize] = k;
    }
    rank
}

/// One property's instances after the end of input, keys in first-seen order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Instances {
    pub keys: Keys,
    pub list: Vec<Instance>,
    /// the instances' traces, one after another (see [`Instance::traces`])
    pub traces: Vec<u32>,
}

impl Instances {
    /// Instance `i`'s traces.
    pub fn traces_of(&self, i: usize) -> &[u32] {
        let (start, len) = self.list[i].traces;
        &self.traces[start as usize..(start + len) as usize]
    }
}

/// A cross-trace instance after the end of input (Python's `Instance`); events are
/// (complete trace, event index) pairs. Its key is the same index in [`Instances::keys`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub state: u32,
    pub decided: Option<(u32, u32)>,
    pub raised: Option<(u32, u32)>,
    /// a bounded property's violation: the event that opened the obligation it broke
    pub opened: Option<(u32, u32)>,
    /// the deciding event, else the instance's last one
    pub last: (u32, u32),
    pub trigger: bool,
    /// the traces of its events up to the deciding one (or all), in first-seen order:
    /// (start, length) in [`Instances::traces`]
    pub traces: (u32, u32),
    /// whether any trace it has events of is partial
    pub partial: bool,
    pub events: u32,
    /// a timed property: the state its timed monitor ended in (`state` is then unused)
    pub timed: Option<TState>,
}

/// The letters of one cross-trace instance, asked for in its event order, up to its
/// deciding event (a property with registers: [`crate::registers`]).
pub trait InstanceLetters {
    /// a fresh instance begins
    fn start(&mut self);
    fn letter(&mut self, row: &Row) -> u64;
}

/// Step one instance over its `rows` (in instance order: Python sorts (time, trace id hex,
/// index), and the hex of fixed-size ids sorts as the bytes do); its traces are appended to
/// `traces` (`seen[t] == mark` once trace `t` is listed for this instance).
fn step_instance(
    run: &mut impl FnMut(&[Row]) -> (Stepped, Option<TState>),
    rows: &[Row],
    partial: &[bool],
    seen: &mut [u32],
    mark: u32,
    traces: &mut Vec<u32>,
) -> Instance {
    let at = |e: u32| {
        let r = &rows[e as usize];
        (r.trace, r.event)
    };
    let (s, timed) = run(rows);
    let end = s.decided.unwrap_or(rows.len() as u32 - 1);
    let start = traces.len();
    for r in &rows[..=end as usize] {
        if seen[r.trace as usize] != mark {
            seen[r.trace as usize] = mark;
            traces.push(r.trace);
        }
    }
    Instance {
        state: s.state,
        decided: s.decided.map(at),
        raised: s.raised.map(at),
        opened: s.opened.map(at),
        last: at(end),
        trigger: rows.iter().any(|r| r.trigger),
        traces: (start as u32, (traces.len() - start) as u32),
        partial: rows.iter().any(|r| partial[r.trace as usize]),
        events: rows.len() as u32,
        timed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_read_as_python_prints_them() {
        for (f, text) in [
            (0.5, "0.5"),
            (-1.5, "-1.5"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (1.5e-7, "1.5e-07"),
            (123.456, "123.456"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1234567890123456.7, "1234567890123456.8"),
            (1234567891250000.2, "1234567891250000.2"), // a tie, broken to the even digit
            (1234567891250000.8, "1234567891250000.8"),
            (f64::NAN, "nan"),
            (f64::NEG_INFINITY, "-inf"),
            (5e-324, "5e-324"),
        ] {
            assert_eq!(float_key_text(f), text, "{f:e}");
        }
    }

    #[test]
    fn integral_floats_read_as_their_integer() {
        assert_eq!(float_key_text(-0.0), "0");
        assert_eq!(float_key_text(3.0), "3");
        assert_eq!(float_key_text(9.223372036854776e18), "9223372036854775808");
        assert_eq!(float_key_text(2f64.powi(127)), (1u128 << 127).to_string());
        assert_eq!(
            float_key_text(1e300),
            "1000000000000000052504760255204420248704468581108159154915854115511802457988908195786371375080447864043704443832883878176942523235360430575644792184786706982848387200926575803737830233794788090059368953234970799945081119038967640880074652742780142494579258788820056842838115669472196386865459400540160"
        );
        assert_eq!(float_key_text(-2f64.powi(200)), format!("-{}", pow2(200)));
    }

    fn pow2(e: u32) -> String {
        let mut digits = vec![1u8];
        for _ in 0..e {
            let mut carry = 0;
            for d in digits.iter_mut() {
                let v = *d * 2 + carry;
                *d = v % 10;
                carry = v / 10;
            }
            if carry > 0 {
                digits.push(carry);
            }
        }
        digits.iter().rev().map(|d| char::from(b'0' + d)).collect()
    }

    use crate::automaton::{Automaton, State};

    /// `G !a` (a = bit 0): violated for good at the first a.
    fn never() -> Cached {
        let st = |cubes, default, decided| State {
            cubes,
            default,
            decided,
            pv: false,
        };
        Cached::new(Automaton {
            initial: 0,
            states: vec![st(vec![(1, 1, 1)], 0, false), st(vec![], 1, true)],
        })
    }

    fn row(time: u64, trace: u32, event: u32, letter: u64) -> Row {
        Row {
            time,
            trace,
            event,
            letter,
            trigger: letter == 1,
            bucket: 0,
        }
    }

    #[test]
    fn an_instance_steps_its_rows_by_time_then_trace_id_then_index() {
        // trace 0 has the larger id: at time 5 trace 1's event comes first
        let ids = [[9u8; 16], [1u8; 16], [5u8; 16]];
        let mut b = Buckets::default();
        b.add("k", row(5, 0, 0, 1)); // the deciding `a`, after trace 1's event at 5
        b.add("other", row(1, 2, 0, 0));
        b.add("k", row(5, 1, 3, 0));
        b.add("k", row(2, 2, 1, 0));
        b.add("k", row(5, 1, 2, 0));
        b.add("k", row(7, 2, 2, 0)); // after the verdict: its trace is not the instance's
        let out = b.step(&mut never(), &ranks(&ids), &[false, false, true]);
        assert_eq!(out.list.len(), 2);
        assert_eq!(out.keys.iter().collect::<Vec<_>>(), vec!["k", "other"]);
        let k = &out.list[0];
        assert_eq!((k.state, k.decided, k.last), (1, Some((0, 0)), (0, 0)));
        assert_eq!(out.traces_of(0), &[2, 1, 0]); // first seen: time 2, 5 (id 1), 5 (id 9)
        assert!(k.trigger && k.partial && k.events == 5);
        let other = &out.list[1];
        assert_eq!(other.decided, None);
        assert_eq!((other.last, out.traces_of(1)), ((2, 0), &[2u32][..]));
        assert!(!other.trigger);
    }

    /// Many keys, filed in a generated order (fixed seed): each keeps its bucket, the
    /// keys stay in first-filed order, and each bucket's rows are its own, in order.
    #[test]
    fn buckets_file_many_keys_without_mixing_them() {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut b = Buckets::default();
        let mut want: Vec<(String, Vec<u64>)> = vec![];
        for n in 0..20_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let key = format!("k{}", x % 3_000);
            let slot = b.slot(&key);
            match want.iter().position(|(k, _)| *k == key) {
                Some(i) => {
                    assert_eq!(slot as usize, i);
                    want[i].1.push(n);
                }
                None => {
                    assert_eq!(slot as usize, want.len());
                    want.push((key, vec![n]));
                }
            }
            b.push(slot, row(n, 0, 0, 0));
        }
        let mut got: Vec<(String, Vec<Row>)> = vec![];
        b.each_sorted(&[0], |k, rows| got.push((k.to_owned(), rows.to_vec())));
        assert_eq!(got.len(), want.len());
        for ((k, rows), (wk, wt)) in got.iter().zip(&want) {
            assert_eq!(k, wk);
            assert_eq!(rows.iter().map(|r| r.time).collect::<Vec<_>>(), *wt);
        }
        // every event of a run is one row while the instances are stepped
        assert!(std::mem::size_of::<Row>() <= 32);
        let keys: Keys = ["", "é", "ab"].into_iter().collect();
        assert_eq!(keys.iter().collect::<Vec<_>>(), vec!["", "é", "ab"]);
    }

    /// The buckets' rows in place and keyed by rank, as the stable sort of the filed rows
    /// by (bucket, time, trace id, index) Python's order is: generated rows (seeded), with
    /// few times, keys and trace ids so that ties are common, trace ids completed twice
    /// included.
    #[test]
    fn grouped_rows_are_the_stable_sort_by_bucket_time_id_index() {
        let mut rng = crate::test_rng::Rng(0x5eed_cafe);
        for case in 0..300 {
            // some cases with buckets large enough to be sorted by time first (by_time)
            let n_traces = 1 + rng.index(if case % 3 == 0 { 600 } else { 12 });
            let ids = rng.trace_ids(n_traces, 1 + case as u64 % 6);
            let n_keys = 1 + rng.index(5);
            let mut b = Buckets::default();
            let mut filed: Vec<(String, Row)> = vec![];
            // rows trace after trace, each trace's events in index order with times that
            // do not go back, as close files them
            for t in 0..n_traces as u32 {
                let mut time = rng.below(4);
                for e in 0..rng.below(8) as u32 {
                    time += rng.below(2);
                    let key = format!("k{}", rng.index(n_keys));
                    let r = row(time, t, e, rng.below(2));
                    b.add(&key, r);
                    filed.push((key, r));
                }
            }
            let mut keys: Vec<String> = vec![];
            for (k, _) in &filed {
                if !keys.contains(k) {
                    keys.push(k.clone());
                }
            }
            let mut want = filed.clone();
            want.sort_by(|(ka, a), (kb, b)| {
                let bucket = |k: &String| keys.iter().position(|x| x == k);
                (bucket(ka), a.time, ids[a.trace as usize], a.event).cmp(&(
                    bucket(kb),
                    b.time,
                    ids[b.trace as usize],
                    b.event,
                ))
            });
            let mut got: Vec<(String, u32, u32, u64)> = vec![];
            let mut visited = vec![];
            let got_keys = b.grouped(&ranks(&ids), |i, k, rows| {
                visited.push(i);
                got.extend(rows.iter().map(|r| {
                    assert_eq!(r.bucket as usize, i);
                    (k.to_owned(), r.trace, r.event, r.time)
                }))
            });
            assert_eq!(got_keys.iter().collect::<Vec<_>>(), keys, "case {case}");
            assert_eq!(visited, (0..keys.len()).collect::<Vec<_>>(), "case {case}");
            let want: Vec<(String, u32, u32, u64)> = want
                .into_iter()
                .map(|(k, r)| (k, r.trace, r.event, r.time))
                .collect();
            assert_eq!(got, want, "case {case}");
        }
    }

    /// Rows keep their letters however wide (those of 31 bits or fewer in the row, the
    /// others beside it), and a bucket's rows all say whether a trigger held in any of
    /// them: generated letters (seeded) of every width, triggers in some buckets only.
    #[test]
    fn filed_rows_keep_wide_letters_and_their_buckets_trigger() {
        let mut rng = crate::test_rng::Rng(0x0417_7e25);
        let mut b = Buckets::default();
        let mut want: Vec<(String, u32, u64, bool)> = vec![];
        for e in 0..400u32 {
            let key = format!("k{}", rng.index(7));
            let letter = rng.word() >> rng.below(64);
            let trigger = key != "k0" && rng.below(9) == 0;
            b.add(
                &key,
                Row {
                    trigger,
                    ..row(u64::from(e), 0, e, letter)
                },
            );
            want.push((key, e, letter, trigger));
        }
        assert!(b.rows.iter().any(|f| f.letter & WIDE != 0));
        assert!(b.rows.iter().any(|f| f.letter & WIDE == 0));
        let mut got = 0;
        b.grouped(&[0], |_, key, rows| {
            let mine: Vec<_> = want.iter().filter(|w| w.0 == key).collect();
            let any = mine.iter().any(|w| w.3);
            assert_eq!(rows.len(), mine.len());
            for (r, w) in rows.iter().zip(mine) {
                assert_eq!((r.event, r.letter, r.trigger), (w.1, w.2, any));
            }
            got += rows.len();
        });
        assert_eq!(got, 400);
    }

    /// A key asked for again right after (the slot remembered) gets its bucket as a
    /// looked-up one does: generated keys (seeded) that often repeat, new and old.
    #[test]
    fn a_repeated_key_keeps_its_bucket() {
        let mut rng = crate::test_rng::Rng(0x51_0751);
        let mut b = Buckets::default();
        let mut seen: Vec<String> = vec![];
        let mut key = String::from("k0");
        let mut repeats = 0;
        for _ in 0..5_000 {
            if rng.below(3) == 0 {
                key = format!("k{}", rng.below(200));
            } else {
                repeats += 1;
            }
            let want = seen.iter().position(|k| *k == key).unwrap_or_else(|| {
                seen.push(key.clone());
                seen.len() - 1
            });
            assert_eq!(b.slot(&key) as usize, want, "{key}");
        }
        assert!(repeats > 2_000 && seen.len() > 150);
        assert_eq!(b.keys.iter().collect::<Vec<_>>(), seen);
    }

    #[test]
    fn keys_render_as_key_text() {
        use std::borrow::Cow;
        let text = |s: &str| Rendered::Text(s.to_owned());
        assert_eq!(key_text(&Value::Missing), Rendered::NoInstance);
        assert_eq!(key_text(&Value::Other("NoneType")), Rendered::NoInstance);
        assert_eq!(
            key_text(&Value::Other("InvalidValue")),
            Rendered::NoInstance
        );
        assert_eq!(key_text(&Value::Other("tuple")), Rendered::ByPython);
        assert_eq!(key_text(&Value::Bool(true)), text("true"));
        assert_eq!(key_text(&Value::Bool(false)), text("false"));
        assert_eq!(key_text(&Value::Int(-7)), text("-7"));
        assert_eq!(key_text(&Value::Float(2.0)), text("2"));
        assert_eq!(key_text(&Value::Str(Cow::Borrowed(""))), text(""));
    }
}
