//! Numbers as Terraform computes them.
//!
//! Terraform's numbers are binary floating-point numbers of arbitrary precision
//! (Go's `big.Float`): literals and parsed strings carry 512 bits of mantissa,
//! results of `float64` math (`pow`, `log`, a provider's float attribute) carry 53,
//! and every sum, difference and quotient is rounded, half to even, to the larger
//! precision of its operands. Products first keep every bit they need up to 512.
//! A number prints as the shortest decimal that reads back as the same number at
//! its precision, always in positional notation: `0.1 + 0.2` is `0.3`,
//! `9007199254740993` stays exact and `1 / 3` prints 155 digits.
//!
//! [`Number`] keeps that behaviour with a fast path: integers that fit an `i64`
//! are stored as one, and their arithmetic stays in machine words until it
//! overflows. Every other number is a mantissa, a binary exponent and a precision.
//!
//! Deliberate simplification: Terraform gives integers made by functions such as
//! `length` 64 bits of precision and integral results of `float64` math 53; here
//! every integer that fits an `i64` counts as a 512-bit literal. Only a float64
//! result combined with such an integer can print differently.

use num_bigint::BigUint;
use num_traits::{One, ToPrimitive, Zero};
use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

/// Precision of literals and parsed numbers, in bits.
pub const PRECISION: u32 = 512;
/// Precision of a number that came from a `float64`.
const F64_PRECISION: u32 = 53;

/// A Terraform number. See the module documentation.
#[derive(Clone)]
pub struct Number(Repr);

#[derive(Clone)]
enum Repr {
    Int(i64),
    Big(Arc<Big>),
    /// Infinity, of the sign given (`true` is negative): only `float64` math makes one.
    Inf(bool),
}

/// `(-1)^neg * mant * 2^exp`, with `mant` odd and at most `prec` bits long.
#[derive(Clone)]
struct Big {
    neg: bool,
    mant: BigUint,
    exp: i64,
    prec: u32,
}

/// A number taken apart for exact arithmetic: sign, mantissa, exponent, precision.
struct Parts {
    neg: bool,
    mant: BigUint,
    exp: i64,
    prec: u32,
}

impl Number {
    pub const ZERO: Number = Number(Repr::Int(0));

    pub const fn from_i64(i: i64) -> Number {
        Number(Repr::Int(i))
    }

    /// The exact value of a `float64`, remembered as a 53-bit number so that it prints
    /// as Go prints the `float64` (`0.1`, not its exact binary expansion). NaN is taken
    /// as zero: Terraform has no NaN.
    pub fn from_f64(f: f64) -> Number {
        if f.is_nan() {
            return Number::ZERO;
        }
        if f.is_infinite() {
            return Number(Repr::Inf(f < 0.0));
        }
        if f.fract() == 0.0 && f.abs() < 9.0e18 {
            return Number(Repr::Int(f as i64));
        }
        let bits = f.to_bits();
        let neg = bits >> 63 == 1;
        let biased = ((bits >> 52) & 0x7ff) as i64;
        let frac = bits & ((1 << 52) - 1);
        let (mant, exp) = if biased == 0 {
            (frac, -1074)
        } else {
            (frac | (1 << 52), biased - 1075)
        };
        round(neg, BigUint::from(mant), exp, F64_PRECISION)
    }

    /// An integer of any size, with the precision Go gives it (its length, at least 64).
    pub fn from_big_int(neg: bool, mag: BigUint) -> Number {
        let prec = (mag.bits() as u32).max(64);
        round(neg, mag, 0, prec)
    }

    /// Parses a decimal number as HCL and JSON write them: an optional sign, digits,
    /// an optional fraction and an optional exponent. Rounded to 512 bits.
    pub fn parse(s: &str) -> Option<Number> {
        let s = s.trim();
        let (neg, body) = match s.as_bytes().first()? {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        if !body.contains(['.', 'e', 'E']) && body.len() < 19 {
            if !body.bytes().all(|b| b.is_ascii_digit()) || body.is_empty() {
                return None;
            }
            let i: i64 = body.parse().ok()?;
            return Some(Number(Repr::Int(if neg { -i } else { i })));
        }
        let (mantissa, exp10) = match body.find(['e', 'E']) {
            Some(at) => (&body[..at], body[at + 1..].parse::<i64>().ok()?),
            None => (body, 0),
        };
        let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if int_part.is_empty() && frac_part.is_empty()
            || !int_part
                .bytes()
                .chain(frac_part.bytes())
                .all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let digits = format!("{int_part}{frac_part}");
        let mag = BigUint::parse_bytes(digits.as_bytes(), 10)?;
        let exp10 = exp10.checked_sub(frac_part.len() as i64)?;
        if exp10.unsigned_abs() > 100_000 {
            return Some(if mag.is_zero() || exp10 < 0 {
                Number::ZERO
            } else {
                Number(Repr::Inf(neg))
            });
        }
        Some(if exp10 >= 0 {
            round(neg, mag * pow10(exp10 as u32), 0, PRECISION)
        } else {
            quotient(neg, mag, 0, pow10((-exp10) as u32), 0, PRECISION)
        })
    }

    /// The value as an `i64`, if it is an integer in range.
    pub fn as_i64(&self) -> Option<i64> {
        match &self.0 {
            Repr::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The value as an index or count: a non-negative integer that fits a `usize`.
    pub fn as_usize(&self) -> Option<usize> {
        self.as_i64().and_then(|i| usize::try_from(i).ok())
    }

    /// The nearest `float64` (ties to even), for math that Terraform also does in
    /// `float64`.
    pub fn as_f64(&self) -> f64 {
        match &self.0 {
            Repr::Int(i) => *i as f64,
            Repr::Inf(neg) => {
                if *neg {
                    f64::NEG_INFINITY
                } else {
                    f64::INFINITY
                }
            }
            Repr::Big(b) => {
                let Number(r) = round(false, b.mant.clone(), b.exp, F64_PRECISION);
                let (mant, mut exp) = match r {
                    Repr::Int(i) => (i as f64, 0),
                    Repr::Big(r) => (r.mant.to_f64().unwrap_or(f64::MAX), r.exp),
                    Repr::Inf(_) => (f64::INFINITY, 0),
                };
                let mut f = mant;
                while exp > 0 && f.is_finite() {
                    let step = exp.min(1000);
                    f *= 2f64.powi(step as i32);
                    exp -= step;
                }
                while exp < 0 && f != 0.0 {
                    let step = (-exp).min(1000);
                    f /= 2f64.powi(step as i32);
                    exp += step;
                }
                if b.neg {
                    -f
                } else {
                    f
                }
            }
        }
    }

    /// Whether the number is a whole number (infinity is not).
    pub fn is_integer(&self) -> bool {
        match &self.0 {
            Repr::Int(_) => true,
            Repr::Big(b) => b.exp >= 0,
            Repr::Inf(_) => false,
        }
    }

    pub fn is_zero(&self) -> bool {
        matches!(self.0, Repr::Int(0))
    }

    pub fn is_infinite(&self) -> bool {
        matches!(self.0, Repr::Inf(_))
    }

    /// -1, 0 or 1.
    pub fn signum(&self) -> i64 {
        match &self.0 {
            Repr::Int(i) => i.signum(),
            Repr::Big(b) => {
                if b.neg {
                    -1
                } else {
                    1
                }
            }
            Repr::Inf(neg) => {
                if *neg {
                    -1
                } else {
                    1
                }
            }
        }
    }

    pub fn neg(&self) -> Number {
        match &self.0 {
            Repr::Int(i) => match i.checked_neg() {
                Some(n) => Number(Repr::Int(n)),
                None => Number::from_big_int(false, BigUint::from(i.unsigned_abs())),
            },
            Repr::Big(b) => Number(Repr::Big(Arc::new(Big {
                neg: !b.neg,
                ..(**b).clone()
            }))),
            Repr::Inf(neg) => Number(Repr::Inf(!neg)),
        }
    }

    pub fn abs(&self) -> Number {
        if self.signum() < 0 {
            self.neg()
        } else {
            self.clone()
        }
    }

    pub fn add(&self, other: &Number) -> Number {
        if let (Repr::Int(a), Repr::Int(b)) = (&self.0, &other.0) {
            if let Some(s) = a.checked_add(*b) {
                return Number(Repr::Int(s));
            }
        }
        if self.is_infinite() || other.is_infinite() {
            return Number::from_f64(self.as_f64() + other.as_f64());
        }
        let (a, b) = (self.parts(), other.parts());
        let prec = a.prec.max(b.prec);
        if a.mant.is_zero() {
            return round(b.neg, b.mant, b.exp, prec);
        }
        if b.mant.is_zero() {
            return round(a.neg, a.mant, a.exp, prec);
        }
        // Far below the larger operand's last bit, the smaller one only decides the
        // rounding: stand it in by one bit there, which rounds the same.
        let (top_a, top_b) = (a.top(), b.top());
        let floor = top_a.max(top_b) - i64::from(prec) - 4;
        let shrink = |p: Parts| {
            if p.top() < floor {
                Parts {
                    mant: BigUint::one(),
                    exp: floor - 1,
                    ..p
                }
            } else {
                p
            }
        };
        let (a, b) = (shrink(a), shrink(b));
        let exp = a.exp.min(b.exp);
        let ma = a.mant << (a.exp - exp) as usize;
        let mb = b.mant << (b.exp - exp) as usize;
        if a.neg == b.neg {
            round(a.neg, ma + mb, exp, prec)
        } else {
            match ma.cmp(&mb) {
                Ordering::Equal => Number::ZERO,
                Ordering::Greater => round(a.neg, ma - mb, exp, prec),
                Ordering::Less => round(b.neg, mb - ma, exp, prec),
            }
        }
    }

    pub fn sub(&self, other: &Number) -> Number {
        self.add(&other.neg())
    }

    /// The product: exact up to 512 bits, then kept at the larger precision of the
    /// operands or the bits the product needs, as Terraform does.
    pub fn mul(&self, other: &Number) -> Number {
        if let (Repr::Int(a), Repr::Int(b)) = (&self.0, &other.0) {
            if let Some(p) = a.checked_mul(*b) {
                return Number(Repr::Int(p));
            }
        }
        if self.is_infinite() || other.is_infinite() {
            return Number::from_f64(self.as_f64() * other.as_f64());
        }
        let (a, b) = (self.parts(), other.parts());
        let n = round(a.neg != b.neg, a.mant * b.mant, a.exp + b.exp, PRECISION);
        let prec = a.prec.max(b.prec);
        match n.0 {
            Repr::Big(mut big) => {
                Arc::make_mut(&mut big).prec = prec.max(big.mant.bits() as u32);
                Number(Repr::Big(big))
            }
            other => Number(other),
        }
    }

    /// The quotient rounded to the larger precision; `None` when dividing by zero.
    pub fn div(&self, other: &Number) -> Option<Number> {
        if other.is_zero() {
            return None;
        }
        if let (Repr::Int(a), Repr::Int(b)) = (&self.0, &other.0) {
            if let (Some(0), Some(q)) = (a.checked_rem(*b), a.checked_div(*b)) {
                return Some(Number(Repr::Int(q)));
            }
        }
        if self.is_infinite() || other.is_infinite() {
            return Some(Number::from_f64(self.as_f64() / other.as_f64()));
        }
        let (a, b) = (self.parts(), other.parts());
        let prec = a.prec.max(b.prec);
        Some(quotient(a.neg != b.neg, a.mant, a.exp, b.mant, b.exp, prec))
    }

    /// `a - b * trunc(a / b)`, each step rounded as Terraform rounds it; `None` when
    /// dividing by zero.
    pub fn rem(&self, other: &Number) -> Option<Number> {
        if let (Repr::Int(a), Repr::Int(b)) = (&self.0, &other.0) {
            if *b == 0 {
                return None;
            }
            return Some(Number(Repr::Int(a.checked_rem(*b).unwrap_or(0))));
        }
        // Every step at the precision of the dividend, as Terraform computes it.
        let prec = self.parts().prec;
        let at_prec = |n: Number| {
            let p = n.parts();
            round(p.neg, p.mant, p.exp, prec)
        };
        let q = at_prec(self.div(other)?.trunc());
        let (q, o) = (q.parts(), other.parts());
        let product = round(q.neg != o.neg, q.mant * o.mant, q.exp + o.exp, prec);
        Some(at_prec(self.sub(&product)))
    }

    /// Rounds toward zero to a whole number.
    pub fn trunc(&self) -> Number {
        self.to_integer(false)
    }

    pub fn floor(&self) -> Number {
        self.to_integer(self.signum() < 0)
    }

    pub fn ceil(&self) -> Number {
        self.to_integer(self.signum() > 0)
    }

    /// The whole part; `away` moves a number with a fraction one further from zero.
    fn to_integer(&self, away: bool) -> Number {
        match &self.0 {
            Repr::Big(b) if b.exp < 0 => {
                let shift = (-b.exp) as u64;
                let mut whole = if shift >= b.mant.bits() {
                    BigUint::zero()
                } else {
                    &b.mant >> shift
                };
                if away {
                    whole += 1u32;
                }
                let prec = b.prec.max(whole.bits() as u32);
                round(b.neg, whole, 0, prec)
            }
            _ => self.clone(),
        }
    }

    /// The number in a JSON document, with every digit it prints with.
    pub fn to_json(&self) -> serde_json::Number {
        match &self.0 {
            Repr::Int(i) => serde_json::Number::from(*i),
            Repr::Inf(_) => serde_json::Number::from_f64(f64::MAX).expect("finite"),
            Repr::Big(_) => self
                .to_string()
                .parse()
                .unwrap_or_else(|_| serde_json::Number::from(0)),
        }
    }

    pub fn from_json(n: &serde_json::Number) -> Number {
        match n.as_i64() {
            Some(i) => Number(Repr::Int(i)),
            None => Number::parse(&n.to_string())
                .unwrap_or_else(|| Number::from_f64(n.as_f64().unwrap_or(0.0))),
        }
    }

    /// Formats with `digits` digits after the point, as Go's `%.Nf` formats a
    /// `big.Float`.
    pub fn format_fixed(&self, digits: usize) -> String {
        if self.is_infinite() {
            return self.to_string();
        }
        let (neg, mut d) = self.decimal();
        match usize::try_from(d.exp + digits as i64) {
            Ok(keep) => d.round(keep),
            Err(_) => d.digits.clear(),
        }
        let mut out = sign(neg);
        d.write_fixed(&mut out, digits);
        out
    }

    /// Formats in scientific notation with `digits` digits after the point
    /// (`%.Ne`: `1.234568e+04`).
    pub fn format_exponent(&self, digits: usize) -> String {
        if self.is_infinite() {
            return self.to_string();
        }
        let (neg, mut d) = self.decimal();
        d.round(digits + 1);
        let mut out = sign(neg);
        d.write_exponent(&mut out, digits);
        out
    }

    /// Go's `%g` (and `%v`): the shortest digits when `digits` is `None`, else that
    /// many significant digits; scientific notation for exponents below -4 or from
    /// the precision (6 for the shortest form) up, positional otherwise.
    pub fn format_general(&self, digits: Option<usize>) -> String {
        if self.is_infinite() {
            return self.to_string();
        }
        let neg = self.signum() < 0;
        let (mut prec, d) = match (digits, &self.0) {
            // The shortest digits, without the whole expansion of a fraction.
            (None, Repr::Big(b)) => {
                let d = quick_shortest(self, b)
                    .unwrap_or_else(|| shortest_digits(&self.parts(), digits_for(b.prec)));
                (d.digits.len(), d)
            }
            (None, _) => {
                let d = self.decimal().1;
                (d.digits.len(), d)
            }
            (Some(p), _) => {
                let (p, mut d) = (p.max(1), self.decimal().1);
                d.round(p);
                (p, d)
            }
        };
        let len = d.digits.len();
        let mut eprec = prec as i64;
        if eprec > len as i64 && len as i64 >= d.exp {
            eprec = len as i64;
        }
        if digits.is_none() {
            eprec = 6;
        }
        let exp = d.exp - 1;
        let mut out = sign(neg);
        if exp < -4 || exp >= eprec {
            prec = prec.min(len);
            d.write_exponent(&mut out, prec.saturating_sub(1));
        } else {
            if prec as i64 > d.exp {
                prec = len;
            }
            d.write_fixed(&mut out, (prec as i64 - d.exp).max(0) as usize);
        }
        out
    }

    /// The sign and the exact decimal expansion of the magnitude.
    fn decimal(&self) -> (bool, Decimal) {
        let p = self.parts();
        (p.neg, Decimal::of(&p.mant, p.exp))
    }

    fn parts(&self) -> Parts {
        match &self.0 {
            Repr::Int(i) => Parts {
                neg: *i < 0,
                mant: BigUint::from(i.unsigned_abs()),
                exp: 0,
                prec: PRECISION,
            },
            Repr::Big(b) => Parts {
                neg: b.neg,
                mant: b.mant.clone(),
                exp: b.exp,
                prec: b.prec,
            },
            Repr::Inf(neg) => Parts {
                neg: *neg,
                mant: BigUint::zero(),
                exp: 0,
                prec: PRECISION,
            },
        }
    }
}

impl Parts {
    /// The position just above the highest set bit.
    fn top(&self) -> i64 {
        self.exp + self.mant.bits() as i64
    }
}

fn sign(neg: bool) -> String {
    if neg {
        "-".to_string()
    } else {
        String::new()
    }
}

fn pow10(n: u32) -> BigUint {
    BigUint::from(10u32).pow(n)
}

/// 5^n, kept per thread for the exponents formatting asks for again and again.
fn pow5(n: u32) -> std::rc::Rc<BigUint> {
    thread_local! {
        static CACHE: std::cell::RefCell<std::collections::HashMap<u32, std::rc::Rc<BigUint>>> =
            Default::default();
    }
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() > 4096 {
            c.clear();
        }
        c.entry(n)
            .or_insert_with(|| std::rc::Rc::new(BigUint::from(5u32).pow(n)))
            .clone()
    })
}

/// `(-1)^neg * mant * 2^exp` rounded half to even to `prec` bits, in canonical form.
fn round(neg: bool, mut mant: BigUint, mut exp: i64, prec: u32) -> Number {
    let bits = mant.bits();
    if bits > u64::from(prec) {
        let shift = bits - u64::from(prec);
        let half = mant.bit(shift - 1);
        let below = mant.trailing_zeros().is_some_and(|tz| tz < shift - 1);
        mant >>= shift;
        exp += shift as i64;
        if half && (below || mant.bit(0)) {
            mant += 1u32;
        }
    }
    let Some(tz) = mant.trailing_zeros() else {
        return Number::ZERO;
    };
    mant >>= tz;
    exp += tz as i64;
    if exp >= 0 && mant.bits() as i64 + exp <= 63 {
        let i = (mant.to_i64().unwrap_or(0)) << exp;
        return Number(Repr::Int(if neg { -i } else { i }));
    }
    if exp >= 0 && neg && mant.bits() as i64 + exp == 64 && mant == BigUint::one() {
        return Number(Repr::Int(i64::MIN));
    }
    Number(Repr::Big(Arc::new(Big {
        neg,
        mant,
        exp,
        prec,
    })))
}

/// `(ma * 2^ea) / (mb * 2^eb)` correctly rounded to `prec` bits.
fn quotient(neg: bool, ma: BigUint, ea: i64, mb: BigUint, eb: i64, prec: u32) -> Number {
    if ma.is_zero() {
        return Number::ZERO;
    }
    // Enough quotient bits for the rounding bit, then one sticky bit for the rest.
    let want = i64::from(prec) + 3;
    let shift = (want + mb.bits() as i64 - ma.bits() as i64).max(0);
    let num = ma << shift as usize;
    let (q, r) = (&num / &mb, &num % &mb);
    let (q, exp) = if r.is_zero() {
        (q, ea - eb - shift)
    } else {
        ((q << 1usize) | BigUint::one(), ea - eb - shift - 1)
    };
    round(neg, q, exp, prec)
}

/// A non-negative decimal `0.d1d2d3... * 10^exp`, digits without trailing zeros; or,
/// when not `exact`, the first digits of a longer expansion.
struct Decimal {
    digits: Vec<u8>,
    exp: i64,
    exact: bool,
}

impl Decimal {
    /// The first digits of `mant * 2^exp`, at least `max` of them when there are that
    /// many (then `exact` is false unless they are all): what deciding the shortest
    /// digits reads, without the whole expansion of a fraction such as `1/3` (over 500
    /// digits at 512 bits).
    fn prefix(mant: &BigUint, exp: i64, max: usize) -> Decimal {
        if exp >= 0 {
            return Decimal::of(mant, exp);
        }
        // Digits before the point, at most (negative: zeros after it).
        let top = mant.bits() as i64 + exp;
        let int_digits = (top as f64 * std::f64::consts::LOG10_2).ceil() as i64;
        // value * 10^p = mant * 5^p * 2^(p + exp); past p = -exp it is a whole number.
        let p = (max as i64 - int_digits + 1).clamp(0, -exp);
        let n = mant * &*pow5(p as u32);
        let shift = (-(p + exp)) as u64;
        let exact = n.trailing_zeros().is_none_or(|tz| tz >= shift);
        let q = n >> shift;
        if q.is_zero() {
            return Decimal {
                digits: Vec::new(),
                exp: 0,
                exact,
            };
        }
        let mut digits = q.to_str_radix(10).into_bytes();
        let exp = digits.len() as i64 - p;
        if exact {
            while digits.last() == Some(&b'0') {
                digits.pop();
            }
        }
        Decimal { digits, exp, exact }
    }

    /// The exact decimal expansion of `mant * 2^exp`.
    fn of(mant: &BigUint, exp: i64) -> Decimal {
        let (n, point) = if exp >= 0 {
            (mant << exp as usize, 0)
        } else {
            (mant * BigUint::from(5u32).pow((-exp) as u32), -exp)
        };
        if n.is_zero() {
            return Decimal {
                digits: Vec::new(),
                exp: 0,
                exact: true,
            };
        }
        let mut digits = n.to_str_radix(10).into_bytes();
        let exp = digits.len() as i64 - point;
        while digits.last() == Some(&b'0') {
            digits.pop();
        }
        Decimal {
            digits,
            exp,
            exact: true,
        }
    }

    fn at(&self, i: usize) -> u8 {
        self.digits.get(i).copied().unwrap_or(b'0')
    }

    /// Rounds to `n` digits, half to even on an exact tie.
    fn round(&mut self, n: usize) {
        if n >= self.digits.len() {
            return;
        }
        let up = if self.digits[n] == b'5' && n + 1 == self.digits.len() && self.exact {
            n > 0 && (self.digits[n - 1] - b'0') % 2 == 1
        } else {
            self.digits[n] >= b'5'
        };
        if up {
            self.round_up(n)
        } else {
            self.round_down(n)
        }
    }

    fn round_down(&mut self, n: usize) {
        self.exact = true;
        self.digits.truncate(n);
        while self.digits.last() == Some(&b'0') {
            self.digits.pop();
        }
    }

    fn round_up(&mut self, n: usize) {
        self.exact = true;
        self.digits.truncate(n);
        while let Some(&last) = self.digits.last() {
            if last < b'9' {
                *self.digits.last_mut().expect("non-empty") += 1;
                return;
            }
            self.digits.pop();
        }
        self.digits.push(b'1');
        self.exp += 1;
    }

    /// Scientific notation with `frac` digits after the point, the exponent signed
    /// and at least two digits long.
    fn write_exponent(&self, out: &mut String, frac: usize) {
        out.push(self.at(0) as char);
        if frac > 0 {
            out.push('.');
            for i in 1..=frac {
                out.push(self.at(i) as char);
            }
        }
        let e = if self.digits.is_empty() {
            0
        } else {
            self.exp - 1
        };
        out.push_str(&format!("e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs()));
    }

    /// Positional notation with `frac` digits after the point (none: no point).
    fn write_fixed(&self, out: &mut String, frac: usize) {
        if self.exp > 0 {
            for i in 0..self.exp as usize {
                out.push(self.at(i) as char);
            }
        } else {
            out.push('0');
        }
        if frac > 0 {
            out.push('.');
            for i in 0..frac as i64 {
                let at = self.exp + i;
                out.push(if at < 0 {
                    '0'
                } else {
                    self.at(at as usize) as char
                });
            }
        }
    }
}

/// The shortest digits of `n` the quick way, when they are those of its nearest
/// `float64` (`None`: work them out exactly). A number of at most 53 bits is a
/// `float64`, whose shortest digits Rust's formatting gives. For a wider one, the
/// `float64`'s shortest digits are its shortest too if they read back as exactly it:
/// nothing shorter can, since a shorter string would then also name the `float64`.
fn quick_shortest(n: &Number, b: &Big) -> Option<Decimal> {
    let f = n.as_f64().abs();
    if !f.is_normal() {
        return None;
    }
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e')?;
    let exp: i64 = exp.parse().ok()?;
    let mut digits: Vec<u8> = mantissa.bytes().filter(|c| *c != b'.').collect();
    while digits.last() == Some(&b'0') {
        digits.pop();
    }
    if b.mant.bits() > u64::from(F64_PRECISION) || b.prec > F64_PRECISION {
        let whole: u64 = std::str::from_utf8(&digits).ok()?.parse().ok()?;
        if !reads_back_as(whole, exp + 1 - digits.len() as i64, b) {
            return None;
        }
    }
    Some(Decimal {
        digits,
        exp: exp + 1,
        exact: true,
    })
}

/// Whether `digits * 10^q` lies strictly within half an ulp of `b` (at `b`'s
/// precision; below a power of two, the ulp below), so that it reads back as `b`:
/// checked in whole numbers, with multiplications only. A tie is left to the exact
/// method.
fn reads_back_as(digits: u64, q: i64, b: &Big) -> bool {
    // b = mant * 2^e with mant of exactly `prec` bits, so 2^e is its ulp.
    let e = b.exp - (i64::from(b.prec) - b.mant.bits() as i64);
    let mant = &b.mant << (b.exp - e) as usize;
    // |digits * 10^q - mant * 2^e| < 2^(e - 1), scaled by 10^a * 2^c to whole numbers.
    let a = (-q).max(0);
    let c = (2 - e).max(0);
    let ten_a = pow10(a as u32);
    let x = (BigUint::from(digits) * pow10((q + a) as u32)) << c as usize;
    let y = (mant * &ten_a) << (e + c) as usize;
    let below_power_of_two = x < y && b.mant.is_one();
    let half_ulp = ten_a << (e - 1 + c - i64::from(below_power_of_two)) as usize;
    let diff = if x > y { x - y } else { y - x };
    diff < half_ulp
}

/// The fewest digits that still round to the number `p` at its precision (the method
/// of Go's `big.Float` formatting), reading at most `max` digits of the expansions:
/// enough for any precision up to `max / log10(2)` bits.
fn shortest_digits(p: &Parts, max: usize) -> Decimal {
    let mut d = Decimal::prefix(&p.mant, p.exp, max);
    if d.digits.is_empty() {
        return d;
    }
    let shift = i64::from(p.prec) + 1 - p.mant.bits() as i64;
    let mant = &p.mant << shift.max(0) as usize;
    let exp = p.exp - shift.max(0);
    // `mant` now has prec + 1 bits: its last bit is half an ulp.
    let lower = Decimal::prefix(&(&mant - 1u32), exp, max);
    let upper = Decimal::prefix(&(&mant + 1u32), exp, max);
    let inclusive = !mant.bit(1);
    for i in 0..d.digits.len() {
        let (l, m, u) = (lower.at(i), d.digits[i], upper.at(i));
        let ok_down = l != m || inclusive && lower.exact && i + 1 == lower.digits.len();
        let ok_up =
            m != u && (inclusive || m + 1 < u || !upper.exact || i + 1 < upper.digits.len());
        match (ok_down, ok_up) {
            (true, true) => d.round(i + 1),
            (true, false) => d.round_down(i + 1),
            (false, true) => d.round_up(i + 1),
            (false, false) => continue,
        }
        return d;
    }
    d
}

/// The digits to read for a number of `prec` bits: its shortest form has at most
/// `prec * log10(2) + 2`.
fn digits_for(prec: u32) -> usize {
    (f64::from(prec) * std::f64::consts::LOG10_2) as usize + 8
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Int(i) => write!(f, "{i}"),
            Repr::Inf(neg) => f.write_str(if *neg { "-Inf" } else { "+Inf" }),
            Repr::Big(b) => {
                let d = quick_shortest(self, b)
                    .unwrap_or_else(|| shortest_digits(&self.parts(), digits_for(b.prec)));
                let mut out = String::new();
                if b.neg {
                    out.push('-');
                }
                let frac = (d.digits.len() as i64 - d.exp).max(0) as usize;
                d.write_fixed(&mut out, frac);
                f.write_str(&out)
            }
        }
    }
}

impl fmt::Debug for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl PartialEq for Number {
    fn eq(&self, other: &Number) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Number {}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Number) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Number {
    fn cmp(&self, other: &Number) -> Ordering {
        match (&self.0, &other.0) {
            (Repr::Int(a), Repr::Int(b)) => a.cmp(b),
            (Repr::Inf(a), Repr::Inf(b)) => b.cmp(a),
            (Repr::Inf(neg), _) => {
                if *neg {
                    Ordering::Less
                } else {
                    Ordering::Greater
                }
            }
            (_, Repr::Inf(neg)) => {
                if *neg {
                    Ordering::Greater
                } else {
                    Ordering::Less
                }
            }
            (Repr::Big(a), Repr::Big(b))
                if a.neg == b.neg && a.mant == b.mant && a.exp == b.exp =>
            {
                Ordering::Equal
            }
            _ => {
                let (sa, sb) = (self.signum(), other.signum());
                if sa != sb {
                    return sa.cmp(&sb);
                }
                let (a, b) = (self.parts(), other.parts());
                let exp = a.exp.min(b.exp);
                let ma = a.mant << (a.exp - exp) as usize;
                let mb = b.mant << (b.exp - exp) as usize;
                if sa < 0 {
                    mb.cmp(&ma)
                } else {
                    ma.cmp(&mb)
                }
            }
        }
    }
}

impl std::hash::Hash for Number {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        match &self.0 {
            Repr::Int(i) => i.hash(state),
            Repr::Big(b) => {
                b.neg.hash(state);
                b.mant.hash(state);
                b.exp.hash(state);
            }
            Repr::Inf(neg) => neg.hash(state),
        }
    }
}

impl std::str::FromStr for Number {
    type Err = InvalidNumber;

    fn from_str(s: &str) -> Result<Number, InvalidNumber> {
        Number::parse(s).ok_or(InvalidNumber)
    }
}

/// A string that is not a decimal number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidNumber;

impl fmt::Display for InvalidNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a decimal number")
    }
}

impl std::error::Error for InvalidNumber {}

impl Default for Number {
    fn default() -> Number {
        Number::ZERO
    }
}

macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Number {
            fn from(i: $t) -> Number {
                match i64::try_from(i) {
                    Ok(i) => Number(Repr::Int(i)),
                    Err(_) => Number::from_big_int(false, BigUint::from(i as u64)),
                }
            }
        }
    )*};
}
from_int!(i32, u32, i64, u64, usize);

impl From<f64> for Number {
    fn from(f: f64) -> Number {
        Number::from_f64(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Number {
        Number::parse(s).unwrap_or_else(|| panic!("{s} parses"))
    }

    #[test]
    fn decimal_literals_round_to_512_bits_and_print_shortest() {
        assert_eq!(n("0.1").add(&n("0.2")).to_string(), "0.3");
        assert_eq!(n("0.1").add(&n("0.2")), n("0.3"));
        let third = n("1").div(&n("3")).expect("nonzero");
        assert_eq!(
            third.to_string(),
            format!("0.{}5", "3".repeat(154)),
            "as Terraform prints 1/3"
        );
        assert_eq!(
            n("2").div(&n("3")).expect("nonzero").to_string(),
            format!("0.{}7", "6".repeat(153))
        );
        assert_eq!(n("123.456e2").to_string(), "12345.6");
        assert_eq!(
            n("123456789012345678901234567890.5").to_string(),
            "123456789012345678901234567890.5"
        );
        assert_eq!(n("-0.5").to_string(), "-0.5");
    }

    #[test]
    fn integers_stay_exact_beyond_machine_words() {
        assert_eq!(n("9007199254740993").to_string(), "9007199254740993");
        assert_eq!(n("9223372036854775807").as_i64(), Some(i64::MAX));
        let p = n("99999999999").mul(&n("99999999999"));
        assert_eq!(p.to_string(), "9999999999800000000001");
        assert_eq!(
            n("12345678901234567890").to_string(),
            "12345678901234567890"
        );
        assert_eq!(
            n("1e300").mul(&n("1e300")).to_string(),
            format!("1{}", "0".repeat(600))
        );
    }

    #[test]
    fn float64_values_print_as_go_prints_them() {
        let root2 = Number::from_f64(2f64.sqrt());
        assert_eq!(root2.to_string(), "1.4142135623730951");
        assert_eq!(
            root2.add(&n("1")).to_string(),
            "2.4142135623730951454746218587388284504413604736328125"
        );
        assert_eq!(
            root2.mul(&root2).to_string(),
            "2.00000000000000027343234630647693"
        );
        assert_eq!(
            Number::from_f64(2f64.powi(100)).to_string(),
            "1267650600228229400000000000000"
        );
        assert_eq!(
            Number::from_f64(2f64.powi(100)).add(&n("0")).to_string(),
            "1267650600228229401496703205376",
            "adding a 512-bit literal prints every digit"
        );
        assert_eq!(Number::from_f64(0.1).to_string(), "0.1");
        assert_eq!(n("0.1").as_f64(), 0.1);
        assert_eq!(third_f64(), 1.0 / 3.0);
    }

    fn third_f64() -> f64 {
        n("1").div(&n("3")).expect("nonzero").as_f64()
    }

    #[test]
    fn products_of_small_fractions_keep_512_bits() {
        assert_eq!(
            n("0.000001").mul(&n("0.000001")).to_string(),
            "0.0000000000010000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000001"
        );
    }

    #[test]
    fn remainder_truncates_like_terraform() {
        assert_eq!(n("-7").rem(&n("3")), Some(n("-1")));
        assert_eq!(
            n("7.5").rem(&n("2")).map(|r| r.to_string()),
            Some("1.5".into())
        );
        assert_eq!(
            n("5").rem(&n("0.3")).map(|r| r.to_string()).as_deref(),
            Some("0.19999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999976")
        );
        assert_eq!(n("1").rem(&n("0")), None);
    }

    #[test]
    fn rounding_and_comparison() {
        assert_eq!(n("7.9").floor(), n("7"));
        assert_eq!(n("-7.1").ceil(), n("-7"));
        assert_eq!(n("-7.1").floor(), n("-8"));
        assert!(n("0.1") < n("0.2"));
        assert!(n("-1e30") < n("-1"));
        assert!(n("1e30") > n("9223372036854775807"));
        assert_eq!(n("3"), n("3.0"));
        assert_eq!(n("1e3").as_i64(), Some(1000));
    }

    #[test]
    fn fixed_and_exponent_formats() {
        let two_thirds = n("2").div(&n("3")).expect("nonzero");
        assert_eq!(two_thirds.format_fixed(3), "0.667");
        assert_eq!(
            n("1").div(&n("3")).expect("nonzero").format_fixed(6),
            "0.333333"
        );
        assert_eq!(n("12345.678").format_exponent(6), "1.234568e+04");
        assert_eq!(n("42").format_fixed(2), "42.00");
        assert_eq!(n("0.0007").format_fixed(2), "0.00");
        let third = n("1").div(&n("3")).expect("nonzero");
        assert_eq!(n("42").format_general(None), "42");
        assert_eq!(n("1234567").format_general(None), "1.234567e+06");
        assert_eq!(n("0.00001").format_general(None), "1e-05");
        assert_eq!(
            n("9007199254740993").format_general(None),
            "9.007199254740993e+15"
        );
        assert_eq!(third.format_general(None), third.to_string());
        assert_eq!(third.format_general(Some(3)), "0.333");
        assert_eq!(third.format_exponent(6), "3.333333e-01");
        assert_eq!(n("123456789").format_exponent(2), "1.23e+08");
        assert_eq!(n("1e20").format_fixed(6), "100000000000000000000.000000");
        assert_eq!(
            Number::from_f64(2f64.sqrt()).format_general(None),
            "1.4142135623730951"
        );
        assert_eq!(n("0.006").format_fixed(2), "0.01");
    }

    #[test]
    fn quick_shortest_digits_agree_with_the_exact_method() {
        let mut values: Vec<Number> = Vec::new();
        for s in [
            "0.1", "0.25", "123.456", "1e-7", "2.5e300", "-7.125", "1e23", "0.3",
        ] {
            values.push(n(s));
        }
        for i in 1..200i64 {
            values.push(n(&i.to_string()).div(&n("7")).expect("nonzero"));
            values.push(n("0.1").add(&n(&i.to_string()).mul(&n("0.25"))));
            values.push(Number::from_f64((i as f64).sqrt() * 1e-3));
            values.push(Number::from_f64((i as f64).ln()).mul(&Number::from_f64(1.5)));
        }
        let mut quick = 0;
        for v in &values {
            let Repr::Big(b) = &v.0 else { continue };
            // Reading every digit of the expansions, as Go does.
            let exact = shortest_digits(&v.parts(), 100_000);
            let read = shortest_digits(&v.parts(), digits_for(b.prec));
            assert_eq!(
                (&read.digits, read.exp),
                (&exact.digits, exact.exp),
                "{v:?}"
            );
            if let Some(q) = quick_shortest(v, b) {
                quick += 1;
                assert_eq!((q.digits, q.exp), (exact.digits, exact.exp), "{v:?}");
            }
        }
        assert!(
            quick > 400,
            "the quick way served {quick} of {}",
            values.len()
        );
    }

    #[test]
    fn json_round_trip_keeps_every_digit() {
        for s in ["12345678901234567890", "0.3", "-1.5", "42"] {
            let j = n(s).to_json();
            assert_eq!(j.to_string(), s);
            assert_eq!(Number::from_json(&j), n(s));
        }
    }
}
