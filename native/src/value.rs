//! Python's value semantics, as the generated predicate code of
//! `semantics/codegen.py` (`CodeGen`) computes them.
//!
//! The Python engine is the reference: every function here is one Python operator or one
//! helper of `values/dynamic.py` (`kind`, `compare`, `arith`, `neg`, `truthy`; the
//! operators themselves are defined in `values/arith.py`), and the differential test
//! (tests/native/test_atoms_native.py) holds them to it.
//!
//! - Integers are Python's unbounded `int`, held in `i128`: the atom program's emitter
//!   (`semantics/atoms.py`) proves statically that no integer an atom computes leaves
//!   `i128`, and refuses the atom otherwise. The checked operations below therefore never
//!   fail on an accepted program; if one did, the value is [`Value::Missing`] (debug builds assert).
//! - `int` with `float` compares **exactly**, as CPython's `float_richcompare` does (never
//!   by converting the integer to a float); arithmetic mixing them converts the integer
//!   to the nearest float (ties to even, as `PyLong_AsDouble`).
//! - `//` and `%` floor; on floats they are CPython's `float_divmod` step by step.
//! - A zero divisor (`ZeroDivisionError` in Python) gives [`Value::Missing`].
//! - `/` on two integers is correctly rounded, as `long_true_divide` (an exact long
//!   division in `u128`).
//! - A bool is not a number for the dynamic helpers (`_kind`).

use std::borrow::Cow;
use std::cmp::Ordering;

/// One Python value an atom computes or reads.
#[derive(Clone, Debug, PartialEq)]
pub enum Value<'a> {
    /// `spans.MISSING`: an absent attribute, a field of an absent parent, a failed operation
    Missing,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(Cow<'a, str>),
    /// any other attribute value; the name is Python's `type(v).__name__`
    Other(&'static str),
}

/// `predicates._kind`: the type class the dynamic helpers compare within.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Bool,
    Num,
    Str,
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub fn parse(s: &str) -> Option<CmpOp> {
        Some(match s {
            "==" => CmpOp::Eq,
            "!=" => CmpOp::Ne,
            "<" => CmpOp::Lt,
            "<=" => CmpOp::Le,
            ">" => CmpOp::Gt,
            ">=" => CmpOp::Ge,
            _ => return None,
        })
    }

    /// The operator applied to an ordering; `None` is an unordered pair (a NaN), for which
    /// Python's `!=` is true and every other comparison false.
    #[inline]
    pub(crate) fn holds(self, o: Option<Ordering>) -> bool {
        match o {
            None => self == CmpOp::Ne,
            Some(o) => match self {
                CmpOp::Eq => o == Ordering::Equal,
                CmpOp::Ne => o != Ordering::Equal,
                CmpOp::Lt => o == Ordering::Less,
                CmpOp::Le => o != Ordering::Greater,
                CmpOp::Gt => o == Ordering::Greater,
                CmpOp::Ge => o != Ordering::Less,
            },
        }
    }
}

/// An arithmetic operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArOp {
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    Mod,
}

impl ArOp {
    pub fn parse(s: &str) -> Option<ArOp> {
        Some(match s {
            "+" => ArOp::Add,
            "-" => ArOp::Sub,
            "*" => ArOp::Mul,
            "/" => ArOp::Div,
            "//" => ArOp::FloorDiv,
            "%" => ArOp::Mod,
            _ => return None,
        })
    }
}

impl Value<'_> {
    /// Python's `type(v).__name__` (`MISSING` is a `_Missing`, never counted anywhere).
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Missing => "_Missing",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::Other(n) => n,
        }
    }

    /// `predicates._kind`.
    pub fn kind(&self) -> Option<Kind> {
        match self {
            Value::Bool(_) => Some(Kind::Bool),
            Value::Int(_) | Value::Float(_) => Some(Kind::Num),
            Value::Str(_) => Some(Kind::Str),
            Value::Missing | Value::Other(_) => None,
        }
    }

    /// `predicates._truthy`: `v is True`.
    pub fn is_true(&self) -> bool {
        matches!(self, Value::Bool(true))
    }

    /// Python's `bool(v)`. Conditions only ever hold a bool or `MISSING` (the emitter
    /// refuses other condition types); the other arms follow Python where the value tells
    /// (`None` is false, an `InvalidValue` object true). A bytes, tuple or mapping would need
    /// its length, which the value does not carry: the emitter guarantees none reaches here.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Missing => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::Other(n) => *n != "NoneType",
        }
    }
}

/// `int` versus `float`, exactly (CPython's `float_richcompare`); `None` for a NaN.
pub fn cmp_int_float(i: i128, f: f64) -> Option<Ordering> {
    if f.is_nan() {
        return None;
    }
    // 2^127: every i128 is below it, and at or above -2^127
    const TWO_127: f64 = 170141183460469231731687303715884105728.0;
    if f >= TWO_127 {
        return Some(Ordering::Less);
    }
    if f < -TWO_127 {
        return Some(Ordering::Greater);
    }
    let t = f.trunc(); // exact, and in i128's range
    match i.cmp(&(t as i128)) {
        // f lies strictly between t - 1 and t + 1, so an integer on either side of t is on
        // the same side of f
        Ordering::Equal => (t).partial_cmp(&f),
        o => Some(o),
    }
}

/// Two numbers (`Int` or `Float`), exactly; `None` when unordered (NaN) or not numbers.
pub fn cmp_num(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        (Value::Int(x), Value::Float(y)) => cmp_int_float(*x, *y),
        (Value::Float(x), Value::Int(y)) => cmp_int_float(*y, *x).map(Ordering::reverse),
        (Value::Float(x), Value::Float(y)) => x.partial_cmp(y),
        _ => None,
    }
}

/// A bool as Python's arithmetic sees it (`True == 1`).
fn as_number<'v>(v: &Value<'v>) -> Option<Value<'v>> {
    match v {
        Value::Bool(b) => Some(Value::Int(*b as i128)),
        Value::Int(_) | Value::Float(_) => Some(v.clone()),
        _ => None,
    }
}

/// Python's `a == b` on two values: numbers (bools included) exactly, strings by content,
/// `MISSING` only to itself. Conditions (`<->`, `xor`) compare only bools and `MISSING`.
pub fn py_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Missing, Value::Missing) => true,
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::Other("NoneType"), Value::Other("NoneType")) => true,
        _ => match (as_number(a), as_number(b)) {
            (Some(x), Some(y)) => cmp_num(&x, &y) == Some(Ordering::Equal),
            _ => false,
        },
    }
}

/// A static comparison: Python's `a <op> b` on two values of statically known, comparable
/// types (the checker's), strings by code point (UTF-8 byte order).
pub fn compare_static(op: CmpOp, a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => op.holds(Some(x.as_bytes().cmp(y.as_bytes()))),
        _ => match (as_number(a), as_number(b)) {
            (Some(x), Some(y)) => op.holds(cmp_num(&x, &y)),
            // unreachable for a checked spec (Python would raise for an ordering)
            _ => match op {
                CmpOp::Eq => py_eq(a, b),
                CmpOp::Ne => !py_eq(a, b),
                _ => false,
            },
        },
    }
}

/// `predicates._cmp`: `Err(())` when the comparison is false because a value is missing,
/// malformed, of another kind, or a bool under an ordering (the caller counts the
/// mismatch unless a side is `MISSING`); else the comparison.
#[allow(clippy::result_unit_err)]
pub fn compare_dynamic(op: CmpOp, a: &Value, b: &Value) -> Result<bool, ()> {
    let (ka, kb) = (a.kind(), b.kind());
    if ka.is_none() || ka != kb || (ka == Some(Kind::Bool) && !matches!(op, CmpOp::Eq | CmpOp::Ne))
    {
        return Err(());
    }
    Ok(match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => op.holds(Some(x.cmp(y))),
        _ => compare_static(op, a, b),
    })
}

/// An integer as CPython converts it for float arithmetic: the nearest double, ties to even.
fn to_f64(v: &Value) -> f64 {
    match v {
        Value::Int(i) => *i as f64,
        Value::Float(f) => *f,
        _ => unreachable!("to_f64 on a non-number"),
    }
}

fn overflow<'a>() -> Value<'a> {
    // the emitter bounds every integer an accepted program computes (module docs)
    debug_assert!(
        false,
        "an integer left i128: the emitter's bound analysis is wrong"
    );
    Value::Missing
}

/// `values.dynamic.arith(op)(a, b)`: numbers only (bools are not), `MISSING` otherwise and
/// for a zero divisor.
pub fn arith<'a>(op: ArOp, a: &Value, b: &Value) -> Value<'a> {
    if a.kind() != Some(Kind::Num) || b.kind() != Some(Kind::Num) {
        return Value::Missing;
    }
    if let (Value::Int(x), Value::Int(y)) = (a, b) {
        let (x, y) = (*x, *y);
        let r = match op {
            ArOp::Add => x.checked_add(y),
            ArOp::Sub => x.checked_sub(y),
            ArOp::Mul => x.checked_mul(y),
            ArOp::Div => return int_true_div(x, y).map_or(Value::Missing, Value::Float),
            ArOp::FloorDiv | ArOp::Mod if y == 0 => return Value::Missing,
            ArOp::FloorDiv => floor_div(x, y),
            ArOp::Mod => floor_mod(x, y),
        };
        return r.map_or_else(overflow, Value::Int);
    }
    let (x, y) = (to_f64(a), to_f64(b));
    Value::Float(match op {
        ArOp::Add => x + y,
        ArOp::Sub => x - y,
        ArOp::Mul => x * y,
        _ if y == 0.0 => return Value::Missing,
        ArOp::Div => x / y,
        ArOp::FloorDiv => float_div_mod(x, y).0,
        ArOp::Mod => float_mod(x, y),
    })
}

/// `predicates._neg`.
pub fn neg<'a>(a: &Value) -> Value<'a> {
    match a {
        Value::Int(i) => i.checked_neg().map_or_else(overflow, Value::Int),
        Value::Float(f) => Value::Float(-f),
        _ => Value::Missing,
    }
}

/// Python's `x // y` on ints (`y != 0`).
pub fn floor_div(x: i128, y: i128) -> Option<i128> {
    let q = x.checked_div(y)?;
    Some(if x % y != 0 && ((x < 0) != (y < 0)) {
        q - 1
    } else {
        q
    })
}

/// Python's `x % y` on ints (`y != 0`): the sign of the divisor.
pub fn floor_mod(x: i128, y: i128) -> Option<i128> {
    let r = x.checked_rem(y)?;
    Some(if r != 0 && ((r < 0) != (y < 0)) {
        r + y
    } else {
        r
    })
}

/// CPython's `_float_div_mod` (Objects/floatobject.c), step by step: `(vx // wx, vx % wx)`
/// for `wx != 0`.
pub fn float_div_mod(vx: f64, wx: f64) -> (f64, f64) {
    let mut m = vx % wx; // C fmod
    let mut div = (vx - m) / wx;
    if m != 0.0 {
        if (wx < 0.0) != (m < 0.0) {
            m += wx;
            div -= 1.0;
        }
    } else {
        m = 0.0f64.copysign(wx);
    }
    let floordiv = if div != 0.0 {
        let mut f = div.floor();
        if div - f > 0.5 {
            f += 1.0;
        }
        f
    } else {
        0.0f64.copysign(vx / wx)
    };
    (floordiv, m)
}

/// CPython's `float_rem`: `vx % wx` for `wx != 0`.
pub fn float_mod(vx: f64, wx: f64) -> f64 {
    let m = vx % wx;
    if m != 0.0 {
        if (wx < 0.0) != (m < 0.0) {
            m + wx
        } else {
            m
        }
    } else {
        0.0f64.copysign(wx)
    }
}

/// `2^e` as a double, for `e` in the normal range.
fn pow2(e: i32) -> f64 {
    debug_assert!((-1022..=1023).contains(&e));
    f64::from_bits(((e + 1023) as u64) << 52)
}

/// Python's `x / y` on ints: the correctly rounded quotient (ties to even), as
/// `long_true_divide`; `None` for a zero divisor. Exact for every pair of `i128`s.
pub fn int_true_div(x: i128, y: i128) -> Option<f64> {
    if y == 0 {
        return None;
    }
    const SMALL: u128 = 1 << 53;
    let (a, b) = (x.unsigned_abs(), y.unsigned_abs());
    if a == 0 || (a <= SMALL && b <= SMALL) {
        // (0 / y is a zero signed as the quotient, as in CPython)
        // both exact as doubles: one correctly rounded division (CPython's fast path)
        return Some(x as f64 / y as f64);
    }
    let bits = |v: u128| 128 - v.leading_zeros() as i32;
    // a / b = (q + r / b) * 2^e; long division appends quotient bits until q has 55, two
    // more than a double keeps, and the rest is a sticky bit (r != 0). r < b <= 2^127, so
    // 2r fits.
    let (mut q, mut r, mut e) = (a / b, a % b, 0i32);
    while bits(q) < 55 {
        let twice = r << 1;
        let bit = twice >= b;
        q = (q << 1) | bit as u128;
        r = if bit { twice - b } else { twice };
        e -= 1;
    }
    let extra = bits(q) - 53;
    let low = q & ((1u128 << extra) - 1);
    let half = 1u128 << (extra - 1);
    q >>= extra;
    if low > half || (low == half && (r != 0 || q & 1 == 1)) {
        q += 1;
    }
    let m = q as f64 * pow2(e + extra); // q <= 2^53: exact, and so is the scaling
    Some(if (x < 0) != (y < 0) { -m } else { m })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn i(v: i128) -> Value<'static> {
        Value::Int(v)
    }
    fn f(v: f64) -> Value<'static> {
        Value::Float(v)
    }
    fn s(v: &str) -> Value<'_> {
        Value::Str(Cow::Borrowed(v))
    }

    #[test]
    fn int_float_comparisons_are_exact() {
        let big = (1i128 << 53) + 1; // not a double: 2^53 + 1 > 2^53 as a float
        assert_eq!(
            cmp_int_float(big, 9007199254740992.0),
            Some(Ordering::Greater)
        );
        assert_eq!(
            cmp_int_float(big - 1, 9007199254740992.0),
            Some(Ordering::Equal)
        );
        assert_eq!(
            cmp_int_float(i64::MAX as i128, 2f64.powi(63)),
            Some(Ordering::Less)
        );
        assert_eq!(cmp_int_float(-3, -2.5), Some(Ordering::Less));
        assert_eq!(cmp_int_float(-2, -2.5), Some(Ordering::Greater));
        assert_eq!(cmp_int_float(2, 2.5), Some(Ordering::Less));
        assert_eq!(cmp_int_float(3, 2.5), Some(Ordering::Greater));
        assert_eq!(cmp_int_float(0, -0.0), Some(Ordering::Equal));
        assert_eq!(
            cmp_int_float(i128::MAX, f64::INFINITY),
            Some(Ordering::Less)
        );
        assert_eq!(
            cmp_int_float(i128::MIN, f64::NEG_INFINITY),
            Some(Ordering::Greater)
        );
        assert_eq!(
            cmp_int_float(i128::MIN, -1.7014118346046923e38),
            Some(Ordering::Equal)
        );
        assert_eq!(
            cmp_int_float(i128::MAX, 1.7014118346046923e38),
            Some(Ordering::Less)
        );
        assert_eq!(cmp_int_float(1, f64::NAN), None);
        assert!(compare_static(CmpOp::Ne, &i(1), &f(f64::NAN)));
        assert!(!compare_static(CmpOp::Eq, &f(f64::NAN), &f(f64::NAN)));
        assert!(!compare_static(CmpOp::Le, &i(1), &f(f64::NAN)));
        assert!(compare_static(CmpOp::Gt, &f(0.5), &i(0)));
    }

    #[test]
    fn strings_compare_by_code_point() {
        // U+FFFD (3 UTF-8 bytes) is above U+10000 in UTF-16 order but below it by code point
        assert!(compare_static(CmpOp::Lt, &s("\u{FFFD}"), &s("\u{10000}")));
        assert!(compare_static(CmpOp::Lt, &s("a"), &s("ab")));
        assert!(compare_static(CmpOp::Ge, &s("b"), &s("ab")));
    }

    #[test]
    fn dynamic_comparisons_refuse_other_kinds() {
        assert_eq!(
            compare_dynamic(CmpOp::Eq, &Value::Bool(true), &i(1)),
            Err(())
        );
        assert_eq!(compare_dynamic(CmpOp::Ne, &s("1"), &i(1)), Err(()));
        assert_eq!(
            compare_dynamic(CmpOp::Lt, &Value::Bool(false), &Value::Bool(true)),
            Err(())
        );
        assert_eq!(
            compare_dynamic(CmpOp::Ne, &Value::Bool(false), &Value::Bool(true)),
            Ok(true)
        );
        assert_eq!(
            compare_dynamic(CmpOp::Eq, &Value::Missing, &Value::Missing),
            Err(())
        );
        assert_eq!(
            compare_dynamic(
                CmpOp::Eq,
                &Value::Other("NoneType"),
                &Value::Other("NoneType")
            ),
            Err(())
        );
        assert_eq!(compare_dynamic(CmpOp::Eq, &i(1), &f(1.0)), Ok(true));
        assert_eq!(
            compare_dynamic(CmpOp::Ne, &f(f64::NAN), &f(f64::NAN)),
            Ok(true)
        );
    }

    #[test]
    fn python_equality_of_conditions() {
        assert!(py_eq(&Value::Missing, &Value::Missing));
        assert!(!py_eq(&Value::Missing, &Value::Bool(false)));
        assert!(py_eq(&Value::Bool(true), &i(1)));
        assert!(!py_eq(&Value::Bool(true), &Value::Bool(false)));
    }

    #[test]
    fn integer_floor_division_and_modulo() {
        for (x, y, q, r) in [
            (7, 2, 3, 1),
            (-7, 2, -4, 1),
            (7, -2, -4, -1),
            (-7, -2, 3, -1),
            (6, -3, -2, 0),
        ] {
            assert_eq!(arith(ArOp::FloorDiv, &i(x), &i(y)), i(q), "{x} // {y}");
            assert_eq!(arith(ArOp::Mod, &i(x), &i(y)), i(r), "{x} % {y}");
        }
        assert_eq!(arith(ArOp::FloorDiv, &i(1), &i(0)), Value::Missing);
        assert_eq!(arith(ArOp::Mod, &i(1), &i(0)), Value::Missing);
        assert_eq!(arith(ArOp::Div, &i(0), &i(0)), Value::Missing);
        assert_eq!(arith(ArOp::Div, &f(1.0), &f(-0.0)), Value::Missing);
        assert_eq!(arith(ArOp::Mod, &f(1.0), &i(0)), Value::Missing);
        assert_eq!(arith(ArOp::Add, &Value::Bool(true), &i(1)), Value::Missing);
        assert_eq!(arith(ArOp::Add, &s("a"), &i(1)), Value::Missing);
        assert_eq!(neg(&Value::Bool(true)), Value::Missing);
        assert_eq!(neg(&i(i64::MIN as i128)), i(1i128 << 63));
    }

    fn bits(v: Value) -> u64 {
        match v {
            Value::Float(x) => x.to_bits(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn float_floor_division_and_modulo_as_cpython() {
        // values computed with CPython 3.11
        let cases: [(f64, f64, f64, f64); 8] = [
            (7.5, 2.0, 3.0, 1.5),
            (-7.5, 2.0, -4.0, 0.5),
            (7.5, -2.0, -4.0, -0.5),
            (0.0, -3.0, -0.0, -0.0),
            (-0.0, 3.0, -0.0, 0.0),
            (1.0, 0.1, 9.0, 0.09999999999999995),
            (-1e-300, 1e300, -1.0, 1e300),
            (6.0, -3.0, -2.0, -0.0),
        ];
        for (x, y, q, r) in cases {
            assert_eq!(
                bits(arith(ArOp::FloorDiv, &f(x), &f(y))),
                q.to_bits(),
                "{x} // {y}"
            );
            assert_eq!(
                bits(arith(ArOp::Mod, &f(x), &f(y))),
                r.to_bits(),
                "{x} % {y}"
            );
        }
        let nan = arith(ArOp::FloorDiv, &f(f64::INFINITY), &f(1.0));
        assert!(matches!(nan, Value::Float(x) if x.is_nan()));
        assert_eq!(
            bits(arith(ArOp::Mod, &f(1.0), &f(f64::INFINITY))),
            1.0f64.to_bits()
        );
        assert_eq!(
            bits(arith(ArOp::Mod, &f(-1.0), &f(f64::INFINITY))),
            f64::INFINITY.to_bits()
        );
        // an int operand converts to the nearest double first
        assert_eq!(
            bits(arith(ArOp::Add, &i((1 << 53) + 1), &f(0.0))),
            9007199254740992.0f64.to_bits()
        );
    }

    #[test]
    fn integer_true_division_is_correctly_rounded() {
        // values computed with CPython 3.11
        assert_eq!(int_true_div(1, 3), Some(1.0 / 3.0));
        assert_eq!(
            int_true_div(0, -5).map(f64::to_bits),
            Some((-0.0f64).to_bits())
        );
        assert_eq!(
            int_true_div(i64::MAX as i128, 1),
            Some(9.223372036854776e18)
        );
        // (2^53 + 1) / 1 is a tie between 2^53 and 2^53 + 2: even wins
        assert_eq!(int_true_div((1 << 53) + 1, 1), Some(9007199254740992.0));
        assert_eq!(int_true_div((1 << 53) + 3, 1), Some(9007199254740996.0));
        // a naive (a as f64) / (b as f64) rounds twice and is wrong here
        assert_eq!(
            int_true_div(2884325266086140205, 511557),
            Some(5638326259021.263)
        );
        assert_ne!(2884325266086140205.0 / 511557.0, 5638326259021.263);
        assert_eq!(
            int_true_div(-14542538676548654325, 30454),
            Some(-477524748031413.06)
        );
        assert_eq!(int_true_div(9007199254740993, 9007199254740992), Some(1.0));
        assert_eq!(
            int_true_div(-(1i128 << 100) - 1, 3),
            Some(-4.2255020007607644e29)
        );
        assert_eq!(
            int_true_div(1, (1i128 << 72) - 1),
            Some(2.117582368135751e-22)
        );
        assert_eq!(int_true_div(5, 0), None);
        assert_eq!(
            int_true_div(0, -(1i128 << 100)).map(f64::to_bits),
            Some((-0.0f64).to_bits())
        );
    }
}
