//! The past stage of a monitor: `automata.past.PastStage` as data (docs/native.md).
//!
//! A pure-past formula's value at an event is a function of the event's atoms and of a few
//! bits remembered from the event before, except for metric `S[lo,hi]`/`T[lo,hi]`, which
//! need timestamps. Python compiles the formulas into *layers*: layer L is a Moore machine
//! over the atoms and the timed bits of the layers below it, whose outputs are the
//! operands `(stay, candidate)` of layer L's *since units*; each unit keeps candidate
//! timestamps and gives one timed bit. A top Moore machine over the atoms and every timed
//! bit gives the stage's outputs. `engine/past_plan.py` writes that as a document
//! ([`PastPlan::from_json`]); this module steps it exactly as `PastStage.step` does.
//!
//! The Moore machines are dense tables over every mask below `2^width` (the Python stage
//! holds the same tables), premultiplied so a step is one load. A mask the machine's
//! letters do not list leads to an absorbing sink whose output is 0, as in Python.
//!
//! Time arithmetic is exact: timestamps are i64 nanoseconds, bounds are integers up to
//! [`BOUND_CAP`] (any larger bound reads as the cap, which no difference of two i64 can
//! reach), and every difference is computed in i128, so no bound or time overflows.

use std::collections::VecDeque;

use serde_json::Value as Json;

/// The document format this core reads (`PAST_VERSION` in `engine/past_plan.py`).
pub const PAST_VERSION: u64 = 1;
/// The widest Moore machine the core builds a dense table for (mask bits).
pub const MAX_WIDTH: u32 = 20;
/// The most table entries (states x 2^width) of one Moore machine.
pub const MAX_ENTRIES: usize = 1 << 24;
/// Bounds above this read as it: every difference of two i64 timestamps is below it.
pub const BOUND_CAP: i128 = 1 << 100;

/// One Moore machine as a premultiplied dense table with a sink row.
#[derive(Clone, Debug)]
struct Moore {
    width: u32,
    /// `next[s + mask]` for a premultiplied state `s` (`state << width`): the successor,
    /// premultiplied
    next: Vec<u32>,
    /// `out[s >> width]`: the output bits of a state
    out: Vec<u64>,
    /// the initial state, premultiplied
    initial: u32,
}

impl Moore {
    /// `{"width", "initial", "letters", "delta", "output"}`: the minimal DFA of
    /// `automata.past.moore_dfa` (row `s` of `delta` lists the successor for each letter).
    fn from_json(v: &Json, n_outputs: u32, what: &str) -> Result<Moore, String> {
        let err = |m: String| format!("{what}: {m}");
        let width = uint(v, "width").map_err(err)?;
        if width > MAX_WIDTH as u64 {
            return Err(err(format!(
                "width {width} (the core's dense tables take at most {MAX_WIDTH} mask bits)"
            )));
        }
        let width = width as u32;
        let letters = uints(field(v, "letters").map_err(err)?, "letters").map_err(err)?;
        let output = uints(field(v, "output").map_err(err)?, "output").map_err(err)?;
        let delta = match field(v, "delta").map_err(err)? {
            Json::Array(rows) => rows,
            _ => return Err(err("delta is not a list".into())),
        };
        let n = output.len();
        if n == 0 || delta.len() != n {
            return Err(err(format!("{} rows of delta for {n} states", delta.len())));
        }
        let size = 1usize << width;
        let entries = (n + 1)
            .checked_mul(size)
            .filter(|&e| e <= MAX_ENTRIES)
            .ok_or_else(|| err(format!("{n} states over {width} bits is too large a table")))?;
        let initial = uint(v, "initial").map_err(err)?;
        if initial >= n as u64 {
            return Err(err(format!("initial state {initial} of {n}")));
        }
        if let Some(l) = letters.iter().find(|&&l| l >= size as u64) {
            return Err(err(format!("letter {l} has more than {width} bits")));
        }
        let out_limit = if n_outputs >= 64 {
            u64::MAX
        } else {
            (1u64 << n_outputs) - 1
        };
        if let Some(o) = output.iter().find(|&&o| o > out_limit) {
            return Err(err(format!("output {o} has more than {n_outputs} bits")));
        }
        let sink = (n << width) as u32;
        let mut next = vec![sink; entries];
        for (s, row) in delta.iter().enumerate() {
            let row = uints(row, "delta row").map_err(err)?;
            if row.len() != letters.len() {
                return Err(err(format!(
                    "state {s} has {} successors for {} letters",
                    row.len(),
                    letters.len()
                )));
            }
            for (&l, &target) in letters.iter().zip(&row) {
                if target >= n as u64 {
                    return Err(err(format!("state {s} goes to state {target} of {n}")));
                }
                next[(s << width) | l as usize] = (target << width) as u32;
            }
        }
        let mut out = output;
        out.push(0); // the sink's
        Ok(Moore {
            width,
            next,
            out,
            initial: (initial << width) as u32,
        })
    }

    #[inline]
    fn step(&self, s: u32, mask: u64) -> u32 {
        self.next[s as usize + mask as usize]
    }

    #[inline]
    fn output(&self, s: u32) -> u64 {
        self.out[(s >> self.width) as usize]
    }
}

/// The register of one since unit (`SinceUnit` in Python).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Window {
    /// `[0, hi]`: only the newest candidate matters
    Newest { hi: i128 },
    /// `[lo, inf)`: only the oldest candidate matters
    Oldest { lo: i128 },
    /// `[lo, hi]`, `0 < lo <= hi`: a sorted queue of candidates
    Queue { lo: i128, hi: i128 },
}

/// `a S[lo,hi] b` (or `!(!a S[lo,hi] !b)` when `negate`): its operands are bits
/// `2j` (`a`, the candidates stay) and `2j + 1` (`b`, a new candidate) of its layer's
/// output, its value is bit `pos` of the extended mask.
#[derive(Clone, Debug)]
struct Unit {
    window: Window,
    negate: bool,
    pos: u32,
    stay: u32,
    cand: u32,
}

/// One unit's state: no candidate, one, or a queue of them (ascending).
#[derive(Clone, Debug, PartialEq)]
enum Reg {
    One(Option<i64>),
    Queue(VecDeque<i64>),
}

impl Unit {
    fn initial(&self) -> Reg {
        match self.window {
            Window::Queue { .. } => Reg::Queue(VecDeque::new()),
            _ => Reg::One(None),
        }
    }

    /// One event at time `t` (the compiled `PastStage.step`'s register code): the unit's
    /// value.
    #[inline]
    fn update(&self, reg: &mut Reg, stay: bool, cand: bool, t: i64) -> u64 {
        let now = t as i128;
        let bit = match (self.window, reg) {
            (Window::Newest { hi }, Reg::One(r)) => {
                if !stay {
                    *r = None;
                }
                if cand {
                    *r = Some(t);
                }
                r.is_some_and(|r| now - r as i128 <= hi)
            }
            (Window::Oldest { lo }, Reg::One(r)) => {
                if !stay {
                    *r = None;
                }
                if cand && r.is_none() {
                    *r = Some(t);
                }
                r.is_some_and(|r| now - r as i128 >= lo)
            }
            (Window::Queue { lo, hi }, Reg::Queue(q)) => {
                if !stay {
                    q.clear();
                }
                if cand && q.back() != Some(&t) {
                    let n = q.len();
                    // of three candidates within hi - lo the middle one is redundant
                    if n >= 2 && now - q[n - 2] as i128 <= hi - lo {
                        q[n - 1] = t;
                    } else {
                        q.push_back(t);
                    }
                }
                while q.front().is_some_and(|&f| (f as i128) < now - hi) {
                    q.pop_front();
                }
                q.front().is_some_and(|&f| f as i128 <= now - lo)
            }
            // the state was made by `initial` for this unit
            _ => unreachable!("a register of another window"),
        };
        (bit ^ self.negate) as u64
    }
}

/// One layer: its Moore machine over the atoms and the lower layers' timed bits, and its
/// units.
#[derive(Clone, Debug)]
struct Layer {
    table: Moore,
    units: Vec<Unit>,
}

/// `automata::past::PastStage` as data: layers of Moore tables and since units, then the
/// top Moore table.
#[derive(Clone, Debug)]
pub struct PastPlan {
    n_atoms: u32,
    n_outputs: u32,
    layers: Vec<Layer>,
    top: Moore,
}

/// One instance's state of the past stage: the machines' states and the units' registers.
#[derive(Clone, Debug, PartialEq)]
pub struct PastState {
    top: u32,
    layers: Vec<u32>,
    regs: Vec<Reg>,
}

impl PastState {
    /// Timestamps held in the registers (`PastStage.register_count`).
    pub fn register_count(&self) -> usize {
        self.regs
            .iter()
            .map(|r| match r {
                Reg::One(x) => x.is_some() as usize,
                Reg::Queue(q) => q.len(),
            })
            .sum()
    }
}

fn field<'a>(v: &'a Json, key: &str) -> Result<&'a Json, String> {
    v.get(key).ok_or_else(|| format!("no `{key}`"))
}

fn uint(v: &Json, key: &str) -> Result<u64, String> {
    field(v, key)?
        .as_u64()
        .ok_or_else(|| format!("`{key}` is not a non-negative integer"))
}

fn uints(v: &Json, what: &str) -> Result<Vec<u64>, String> {
    let items = v
        .as_array()
        .ok_or_else(|| format!("{what} is not a list"))?;
    items
        .iter()
        .map(|x| {
            x.as_u64()
                .ok_or_else(|| format!("{what}: {x} is not a non-negative integer"))
        })
        .collect()
}

/// A bound: a non-negative integer, or its decimal digits as a string when it does not fit
/// an i64 (Python's ints are unbounded); read exactly up to [`BOUND_CAP`].
fn bound(v: &Json, what: &str) -> Result<i128, String> {
    let b = match v {
        Json::Number(n) => n.as_u64().map(i128::from),
        Json::String(s) if !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()) => {
            // more digits than the cap has: above it
            Some(s.parse::<i128>().unwrap_or(BOUND_CAP))
        }
        _ => None,
    };
    b.map(|b| b.min(BOUND_CAP))
        .ok_or_else(|| format!("{what}: bound {v} is not a non-negative integer"))
}

impl PastPlan {
    /// Parse the document `engine.past_plan.past_document(stage)` produced. Every index
    /// and size in it is checked, so stepping cannot go out of bounds whatever it says.
    pub fn from_json(v: &Json) -> Result<PastPlan, String> {
        let version = uint(v, "version")?;
        if version != PAST_VERSION {
            return Err(format!(
                "past stage version {version} (this core reads {PAST_VERSION})"
            ));
        }
        let n_atoms = uint(v, "n_atoms")?;
        let n_outputs = uint(v, "n_outputs")?;
        if n_atoms > 64 || n_outputs > 64 {
            return Err(format!(
                "{n_atoms} atoms and {n_outputs} outputs (at most 64 each)"
            ));
        }
        let (n_atoms, n_outputs) = (n_atoms as u32, n_outputs as u32);
        let layer_docs = match field(v, "layers")? {
            Json::Array(ls) => ls,
            _ => return Err("`layers` is not a list".into()),
        };
        let mut layers = Vec::with_capacity(layer_docs.len());
        let mut width = n_atoms;
        for (li, ld) in layer_docs.iter().enumerate() {
            let what = format!("layer {li}");
            let unit_docs = match field(ld, "units") {
                Ok(Json::Array(us)) if !us.is_empty() && us.len() <= 32 => us,
                _ => return Err(format!("{what}: `units` is not a list of 1 to 32 units")),
            };
            let table = Moore::from_json(
                field(ld, "table").map_err(|e| format!("{what}: {e}"))?,
                2 * unit_docs.len() as u32,
                &what,
            )?;
            if table.width != width {
                return Err(format!(
                    "{what}: width {} (its atoms and lower layers' bits are {width})",
                    table.width
                ));
            }
            let mut units = Vec::with_capacity(unit_docs.len());
            for (j, ud) in unit_docs.iter().enumerate() {
                let what = format!("{what} unit {j}");
                let pos = uint(ud, "pos").map_err(|e| format!("{what}: {e}"))?;
                if pos != (width as usize + j) as u64 {
                    return Err(format!(
                        "{what}: bit {pos} (the units' bits follow the atoms, in order)"
                    ));
                }
                let lo = bound(field(ud, "lo").map_err(|e| format!("{what}: {e}"))?, &what)?;
                let hi = match field(ud, "hi").map_err(|e| format!("{what}: {e}"))? {
                    Json::Null => None,
                    h => Some(bound(h, &what)?),
                };
                let window = match hi {
                    Some(hi) if hi < lo => {
                        return Err(format!("{what}: interval [{lo}, {hi}] is empty"))
                    }
                    Some(hi) if lo == 0 => Window::Newest { hi },
                    None => Window::Oldest { lo },
                    Some(hi) => Window::Queue { lo, hi },
                };
                let negate = field(ud, "negate")
                    .map_err(|e| format!("{what}: {e}"))?
                    .as_bool()
                    .ok_or_else(|| format!("{what}: `negate` is not a bool"))?;
                units.push(Unit {
                    window,
                    negate,
                    pos: pos as u32,
                    stay: 2 * j as u32,
                    cand: 2 * j as u32 + 1,
                });
            }
            width += units.len() as u32;
            if width > 64 {
                return Err(format!("{what}: more than 64 atoms and timed bits"));
            }
            layers.push(Layer { table, units });
        }
        let top = Moore::from_json(field(v, "top")?, n_outputs, "top")?;
        if top.width != width {
            return Err(format!(
                "top: width {} (atoms and timed bits are {width})",
                top.width
            ));
        }
        Ok(PastPlan {
            n_atoms,
            n_outputs,
            layers,
            top,
        })
    }

    /// How many atoms (mask bits) an event has.
    pub fn n_atoms(&self) -> u32 {
        self.n_atoms
    }

    /// How many outputs (bits of [`PastPlan::step`]'s result) the stage has.
    pub fn n_outputs(&self) -> u32 {
        self.n_outputs
    }

    /// The state before the first event.
    pub fn initial(&self) -> PastState {
        PastState {
            top: self.top.initial,
            layers: self.layers.iter().map(|l| l.table.initial).collect(),
            regs: self
                .layers
                .iter()
                .flat_map(|l| l.units.iter().map(Unit::initial))
                .collect(),
        }
    }

    /// One event: `mask` has bit i set when atom i of the stage holds (higher bits are
    /// ignored); `t` its time (ns), not before the previous event's. Returns the output
    /// bits (bit j = value of `stage.outputs[j]`), exactly `PastStage.step`'s.
    #[inline]
    pub fn step(&self, st: &mut PastState, mask: u64, t: i64) -> u64 {
        let mut m = if self.n_atoms >= 64 {
            mask
        } else {
            mask & ((1u64 << self.n_atoms) - 1)
        };
        let mut u = 0;
        for (layer, s) in self.layers.iter().zip(st.layers.iter_mut()) {
            // the layer reads the atoms and the lower layers' bits only: m is below 2^width
            *s = layer.table.step(*s, m);
            let o = layer.table.output(*s);
            for unit in &layer.units {
                let (stay, cand) = ((o >> unit.stay) & 1 != 0, (o >> unit.cand) & 1 != 0);
                m |= unit.update(&mut st.regs[u], stay, cand, t) << unit.pos;
                u += 1;
            }
        }
        st.top = self.top.step(st.top, m);
        self.top.output(st.top)
    }

    /// The outputs at the event that led to `st` (`PastStage.value_bits`).
    pub fn value_bits(&self, st: &PastState) -> u64 {
        self.top.output(st.top)
    }

    /// Every event of a trace from the initial state (`PastStage.run`): the output bits
    /// after each.
    pub fn run(&self, masks: &[u64], times: &[i64]) -> Vec<u64> {
        let mut st = self.initial();
        masks
            .iter()
            .zip(times)
            .map(|(&m, &t)| self.step(&mut st, m, t))
            .collect()
    }
}

/// The first event whose time is before the previous one's: `(index, time, previous)`.
pub fn first_decrease(times: &[i64]) -> Option<(usize, i64, i64)> {
    times
        .windows(2)
        .position(|w| w[1] < w[0])
        .map(|i| (i + 1, times[i + 1], times[i]))
}

/// The atoms of a row from columns: atom `i` holds at row `r` when `columns[i][r]` is
/// true (nonzero). The Timescales patterns' atoms are their input columns.
pub fn masks_from_columns(columns: &[Vec<bool>], n: usize) -> Vec<u64> {
    let mut masks = vec![0u64; n];
    for (i, col) in columns.iter().enumerate() {
        for (m, &v) in masks.iter_mut().zip(col) {
            *m |= (v as u64) << i;
        }
    }
    masks
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A Moore machine whose output is its last letter (one state per letter, plus the
    /// initial state 0 with output 0), over `width` bits with all letters feasible.
    fn echo(width: u32) -> Json {
        let letters: Vec<u64> = (0..1u64 << width).collect();
        let n = letters.len() + 1;
        let row: Vec<u64> = (1..n as u64).collect();
        json!({"width": width, "initial": 0, "letters": letters,
               "delta": vec![row; n], "output": std::iter::once(0).chain(letters.clone())
                   .collect::<Vec<u64>>()})
    }

    /// The stage of `a S[lo,hi] b` over atoms a (bit 0), b (bit 1): one layer echoing the
    /// atoms as the unit's operands, the top echoing the unit's bit (bit 2).
    fn since(lo: Json, hi: Json, negate: bool) -> PastPlan {
        let top = json!({"width": 3, "initial": 0, "letters": (0..8).collect::<Vec<u64>>(),
                         "delta": vec![vec![1, 1, 1, 1, 2, 2, 2, 2]; 3],
                         "output": [0, 0, 1]});
        let doc = json!({"version": PAST_VERSION, "n_atoms": 2, "n_outputs": 1,
                         "layers": [{"table": echo(2),
                                     "units": [{"lo": lo, "hi": hi, "negate": negate,
                                                "pos": 2}]}],
                         "top": top});
        PastPlan::from_json(&doc).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The values of a stage with one output over `(mask, t)` events.
    fn values(p: &PastPlan, events: &[(u64, i64)]) -> Vec<u64> {
        let (masks, times): (Vec<u64>, Vec<i64>) = events.iter().copied().unzip();
        p.run(&masks, &times)
    }

    /// `a S[lo,hi] b` by its definition: some j <= i with b at j, a after j up to i,
    /// and t_i - t_j in [lo, hi].
    fn since_by_definition(events: &[(u64, i64)], lo: i128, hi: Option<i128>) -> Vec<u64> {
        (0..events.len())
            .map(|i| {
                (0..=i).any(|j| {
                    let d = events[i].1 as i128 - events[j].1 as i128;
                    events[j].0 & 2 != 0
                        && events[j + 1..=i].iter().all(|e| e.0 & 1 != 0)
                        && d >= lo
                        && hi.is_none_or(|h| d <= h)
                }) as u64
            })
            .collect()
    }

    #[test]
    fn every_window_kind_is_its_definition() {
        // ties, gaps, resets, and candidates bunched within hi - lo
        let events: Vec<(u64, i64)> = vec![
            (2, 0),
            (1, 1),
            (3, 1),
            (1, 3),
            (3, 4),
            (1, 4),
            (1, 9),
            (0, 10),
            (2, 10),
            (3, 11),
            (3, 12),
            (1, 13),
            (1, 20),
            (1, 26),
        ];
        for (lo, hi) in [
            (0, Some(0)),
            (0, Some(3)),
            (2, Some(2)),
            (1, Some(3)),
            (2, Some(8)),
            (0, None),
            (3, None),
        ] {
            let p = since(json!(lo), hi.map_or(Json::Null, |h| json!(h)), false);
            let want = since_by_definition(&events, lo, hi.map(i128::from));
            assert_eq!(values(&p, &events), want, "[{lo}, {hi:?}]");
            let neg = since(json!(lo), hi.map_or(Json::Null, |h| json!(h)), true);
            let flipped: Vec<u64> = want.iter().map(|v| v ^ 1).collect();
            assert_eq!(values(&neg, &events), flipped, "negated [{lo}, {hi:?}]");
        }
    }

    #[test]
    fn huge_bounds_and_times_do_not_overflow() {
        let far = [(2u64, i64::MIN), (1, -5), (1, 0), (1, i64::MAX)];
        // no candidate yet: false however wide the window
        let empty = [(0u64, 0i64), (1, i64::MAX)];
        for (lo, hi) in [
            (json!(0), json!("18446744073709551616")),
            (json!(0), json!("9999999999999999999999999999999999999999")),
            (json!(0), Json::Null),
            (json!("18446744073709551615"), Json::Null),
            (json!(1), json!(u64::MAX)),
        ] {
            let p = since(lo.clone(), hi.clone(), false);
            let l = bound(&lo, "").unwrap();
            let h = (!hi.is_null()).then(|| bound(&hi, "").unwrap());
            assert_eq!(
                values(&p, &far),
                since_by_definition(&far, l, h),
                "{lo} {hi}"
            );
            assert_eq!(values(&p, &empty), vec![0, 0], "{lo} {hi}");
        }
    }

    #[test]
    fn the_queue_stays_short_for_dense_candidates() {
        // [5, 10]: at most 2 * ceil(10 / 5) + 2 = 6 timestamps
        let p = since(json!(5), json!(10), false);
        let mut st = p.initial();
        let mut most = 0;
        for t in 0..1000 {
            p.step(&mut st, 3, t);
            most = most.max(st.register_count());
        }
        assert!(most <= 6, "{most}");
    }

    #[test]
    fn a_mask_outside_the_letters_sinks_with_output_zero() {
        // top over 1 atom that lists letter 1 only: mask 0 leads to the sink
        let doc = json!({"version": PAST_VERSION, "n_atoms": 1, "n_outputs": 1, "layers": [],
                         "top": {"width": 1, "initial": 0, "letters": [1],
                                 "delta": [[1], [1]], "output": [0, 1]}});
        let p = PastPlan::from_json(&doc).unwrap();
        assert_eq!(
            values(&p, &[(1, 0), (1, 1), (0, 2), (1, 3)]),
            vec![1, 1, 0, 0]
        );
        // bits above the atoms are ignored
        assert_eq!(values(&p, &[(3, 0)]), vec![1]);
    }

    #[test]
    fn malformed_documents_are_refused_with_the_reason() {
        let good = json!({"version": PAST_VERSION, "n_atoms": 1, "n_outputs": 1,
                          "layers": [],
                          "top": {"width": 1, "initial": 0, "letters": [0, 1],
                                  "delta": [[0, 0]], "output": [1]}});
        assert!(PastPlan::from_json(&good).is_ok());
        let cases: Vec<(&str, Json, &str)> = vec![
            ("/version", json!(99), "version"),
            ("/n_atoms", json!(65), "at most 64"),
            ("/top/width", json!(2), "width"),
            ("/top/width", json!(40), "dense tables"),
            ("/top/initial", json!(1), "initial state"),
            ("/top/letters", json!([0, 2]), "letter 2"),
            ("/top/delta", json!([[0, 1]]), "goes to state 1"),
            ("/top/delta", json!([[0]]), "successors"),
            ("/top/output", json!([2]), "output 2"),
            ("/top/output", json!([1, 1]), "rows of delta"),
            ("/layers", json!([{"units": [], "table": {}}]), "units"),
        ];
        for (path, value, says) in cases {
            let mut doc = good.clone();
            *doc.pointer_mut(path).unwrap() = value;
            let e = PastPlan::from_json(&doc).err().unwrap_or_default();
            assert!(e.contains(says), "{path}: {e}");
        }
        // a unit whose bit is not the next one, an empty interval
        for (unit, says) in [
            (
                json!({"lo": 0, "hi": 1, "negate": false, "pos": 3}),
                "bit 3",
            ),
            (
                json!({"lo": 5, "hi": 1, "negate": false, "pos": 2}),
                "empty",
            ),
            (
                json!({"lo": -1, "hi": 1, "negate": false, "pos": 2}),
                "bound",
            ),
            (json!({"lo": 0, "hi": 1, "negate": 1, "pos": 2}), "negate"),
        ] {
            let doc = json!({"version": PAST_VERSION, "n_atoms": 2, "n_outputs": 1,
                             "layers": [{"table": echo(2), "units": [unit]}],
                             "top": {"width": 3, "initial": 0, "letters": [0],
                                     "delta": [[0]], "output": [0]}});
            let e = PastPlan::from_json(&doc).err().unwrap_or_default();
            assert!(e.contains(says), "{e}");
        }
    }

    #[test]
    fn columns_make_masks_and_decreasing_times_are_found() {
        let cols = vec![vec![true, false, true], vec![false, true, true]];
        assert_eq!(masks_from_columns(&cols, 3), vec![1, 2, 3]);
        assert_eq!(first_decrease(&[1, 1, 2, 5]), None);
        assert_eq!(first_decrease(&[1, 3, 2]), Some((2, 2, 3)));
    }
}
