//! Numeric functions: `abs`, `ceil`, `floor`, `signum`, `log`, `pow`, `max`, `min`,
//! `sum` and `parseint`.

use terrane_core::{Number, Value};

use super::{to_num, Args, Func, FuncContext};

/// This family's rows of the registration table.
pub(super) const FUNCS: &[Func] = &[
    Func::exactly("abs", 1, abs),
    Func::exactly("ceil", 1, ceil),
    Func::exactly("floor", 1, floor),
    Func::exactly("log", 2, log),
    Func::at_least("max", 1, max),
    Func::at_least("min", 1, min),
    Func::exactly("parseint", 2, parseint),
    Func::exactly("pow", 2, pow),
    Func::exactly("signum", 1, signum),
    Func::exactly("sum", 1, sum),
];

fn abs(a: &Args, _: &FuncContext) -> Result<Value, String> {
    Ok(Value::Number(a.num(0)?.abs()))
}

fn ceil(a: &Args, _: &FuncContext) -> Result<Value, String> {
    Ok(Value::Number(a.num(0)?.ceil()))
}

fn floor(a: &Args, _: &FuncContext) -> Result<Value, String> {
    Ok(Value::Number(a.num(0)?.floor()))
}

/// The sign of a whole number (Terraform converts the argument to a 64-bit integer, so
/// a fraction is an error).
fn signum(a: &Args, _: &FuncContext) -> Result<Value, String> {
    let x = a.num(0)?;
    match x.as_i64() {
        Some(i) => Ok(Value::from(i.signum())),
        None => Err(format!("signum() argument must be a whole number between -9223372036854775808 and 9223372036854775807, got {x}")),
    }
}

fn log(a: &Args, _: &FuncContext) -> Result<Value, String> {
    let (x, base) = (a.f64(0)?, a.f64(1)?);
    real("log", x.ln() / base.ln(), || format!("log({x}, {base})"))
}

fn pow(a: &Args, _: &FuncContext) -> Result<Value, String> {
    let (x, y) = (a.f64(0)?, a.f64(1)?);
    real("pow", x.powf(y), || format!("pow({x}, {y})"))
}

/// A float64 result as a number; one that is not a real number (`log(-1, 10)`,
/// `pow(-8, 0.5)`) is an error, as Terraform fails such a call.
fn real(name: &str, x: f64, call: impl Fn() -> String) -> Result<Value, String> {
    if x.is_nan() {
        return Err(format!(
            "{name}() has no real result for these arguments: {} is not a number",
            call()
        ));
    }
    Ok(Value::from(x))
}

fn max(a: &Args, _: &FuncContext) -> Result<Value, String> {
    best(a, |x, best| x > best)
}

fn min(a: &Args, _: &FuncContext) -> Result<Value, String> {
    best(a, |x, best| x < best)
}

/// The argument that `beats` every argument before it (the first one on ties).
fn best(a: &Args, beats: fn(&Number, &Number) -> bool) -> Result<Value, String> {
    let mut best = a.num(0)?;
    for i in 1..a.v.len() {
        let x = a.num(i)?;
        if beats(&x, &best) {
            best = x;
        }
    }
    Ok(Value::Number(best))
}

fn sum(a: &Args, _: &FuncContext) -> Result<Value, String> {
    let items = a.items(0)?;
    if items.is_empty() {
        return Err("sum() cannot sum an empty list".into());
    }
    // From the first element on, as Terraform adds: each sum at the larger precision.
    let mut total: Option<Number> = None;
    for (i, v) in items.iter().enumerate() {
        let x = to_num(v)
            .ok_or_else(|| format!("sum() element {i} is not a number: {}", v.to_display()))?;
        total = Some(match total {
            Some(t) => t.add(&x),
            None => x,
        });
    }
    Ok(Value::Number(total.unwrap_or_default()))
}

fn parseint(a: &Args, _: &FuncContext) -> Result<Value, String> {
    parse_int(&a.str(0)?, a.int(1)?).map(Value::Number)
}

/// Terraform's `parseint`: digits `0-9`, then `a-z` (either case up to base 36), then
/// `A-Z` (bases 37 to 62), with an optional sign.
fn parse_int(s: &str, base: i128) -> Result<Number, String> {
    if !(2..=62).contains(&base) {
        return Err(format!(
            "parseint() base must be between 2 and 62, got {base}"
        ));
    }
    let fail = || format!("parseint() cannot parse {s:?} as a base {base} integer");
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if digits.is_empty() {
        return Err(fail());
    }
    let mut n = Number::ZERO;
    let radix = Number::from_i64(base as i64);
    for c in digits.chars() {
        let d = match c {
            '0'..='9' => c as i128 - '0' as i128,
            'a'..='z' => c as i128 - 'a' as i128 + 10,
            'A'..='Z' if base <= 36 => c as i128 - 'A' as i128 + 10,
            'A'..='Z' => c as i128 - 'A' as i128 + 36,
            _ => return Err(fail()),
        };
        if d >= base {
            return Err(fail());
        }
        n = n.mul(&radix).add(&Number::from_i64(d as i64));
    }
    Ok(if neg { n.neg() } else { n })
}
