//! The built-in function library of the configuration language (Terraform's functions).
//!
//! [`call`] evaluates one function on already-evaluated arguments and [`exists`] tells
//! the checker which names are known. Every function is one row of one registration
//! table (`Func`: its name, how many arguments it takes and the Rust function that
//! computes it). Each family keeps its functions and its rows in one file: `numeric.rs`,
//! `strings.rs` (with `format` and `formatlist`), `collections.rs`, `encoding.rs`
//! (encoding and hashing), `filesystem.rs`, `network.rs` (CIDR arithmetic) and
//! `conversion.rs`; this file holds the table's lookup and the argument conversions
//! they share. Adding a function is one function and one row in its family's file.
//!
//! Every function follows Terraform's documented semantics for the cases
//! configurations rely on (argument conversion such as numbers to strings, `element`
//! wrapping around, `jsonencode` output byte-for-byte, CIDR arithmetic for IPv4 and
//! IPv6). Guarantees:
//!
//! - No input makes a function panic: text is handled as `char`s, numbers are checked
//!   before they become integers, and outputs that could exhaust memory (`range`,
//!   `indent`, `setproduct`, `format` widths) are bounded.
//! - A function runs only with an argument count its row allows; the count is checked
//!   by [`call`] (and by [`check_arity`] for the evaluator), never by the function.
//! - Errors are one sentence naming the function, e.g. `join() takes at least 2
//!   arguments, got 1`.
//! - The only outside state read is the file system (files below
//!   [`FuncContext::base_dir`]) and `HOME` for `pathexpand`.
//!
//! Unknown and sensitive marks are not handled here: the evaluator strips them before
//! the call and re-applies them after. Functions that need the evaluator (`try`,
//! `can`, `templatefile`, `sensitive`, `nonsensitive`, `timestamp`, `uuid`, `type`)
//! live there.

mod collections;
mod conversion;
mod datetime;
mod encoding;
mod filesystem;
mod network;
mod numeric;
mod strings;
mod yaml;

use std::path::PathBuf;
use std::sync::OnceLock;

use terrane_core::{Number, Value};

/// What functions may read from the outside world.
pub struct FuncContext {
    /// The module directory; relative paths given to `file()`, `fileexists()` and the
    /// other file functions resolve against it.
    pub base_dir: PathBuf,
}

/// One built-in function: a row of the registration table.
struct Func {
    /// The name configurations call it by.
    name: &'static str,
    /// The fewest arguments it takes.
    min: usize,
    /// The most arguments it takes (`None`: any number).
    max: Option<usize>,
    /// Computes the result from arguments whose count [`call`] has checked.
    call: FuncBody,
    /// The result depends only on the argument's shape (its length or keys): it is
    /// known while the elements are not (`length(aws_instance.web)` at plan time).
    shape_only: bool,
}

/// The Rust function behind a built-in function.
type FuncBody = fn(&Args, &FuncContext) -> Result<Value, String>;

impl Func {
    /// A function taking exactly `n` arguments.
    const fn exactly(name: &'static str, n: usize, call: FuncBody) -> Func {
        Func {
            name,
            min: n,
            max: Some(n),
            call,
            shape_only: false,
        }
    }

    /// This function reads only its argument's shape (see [`Func::shape_only`]).
    const fn shape_only(mut self) -> Func {
        self.shape_only = true;
        self
    }

    /// A function taking `min` to `max` arguments.
    const fn between(name: &'static str, min: usize, max: usize, call: FuncBody) -> Func {
        Func {
            name,
            min,
            max: Some(max),
            call,
            shape_only: false,
        }
    }

    /// A function taking `min` arguments or more.
    const fn at_least(name: &'static str, min: usize, call: FuncBody) -> Func {
        Func {
            name,
            min,
            max: None,
            call,
            shape_only: false,
        }
    }
}

/// Every family's part of the registration table.
const FAMILIES: &[&[Func]] = &[
    collections::FUNCS,
    conversion::FUNCS,
    datetime::FUNCS,
    encoding::FUNCS,
    filesystem::FUNCS,
    network::FUNCS,
    numeric::FUNCS,
    strings::FUNCS,
];

/// The registration table: every family's rows sorted by name, for the binary search in
/// [`lookup`] and so that [`names`] lists them alphabetically. (A test checks that no
/// name is registered twice.)
fn table() -> &'static [&'static Func] {
    static TABLE: OnceLock<Vec<&'static Func>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut all: Vec<&'static Func> = FAMILIES.iter().flat_map(|f| f.iter()).collect();
        all.sort_by_key(|f| f.name);
        all
    })
}

/// The table's row for a function name.
fn lookup(name: &str) -> Option<&'static Func> {
    let table = table();
    let i = table.binary_search_by_key(&name, |f| f.name).ok()?;
    table.get(i).copied()
}

/// Upper bound on sizes a user can ask for (`range` is bounded at 1024 like Terraform).
const MAX_SIZE: usize = 1_000_000;

/// True for every function name `call` knows (so the checker can report unknown functions).
pub fn exists(name: &str) -> bool {
    lookup(name).is_some()
}

/// Whether a function takes `n` arguments: the error is Terraform's summary ("Too many
/// function arguments" or "Not enough function arguments") and the message [`call`]
/// gives. The evaluator checks this even when an argument is unknown, as Terraform does.
/// Callers ask [`exists`] first; a name that is no function counts as taking one argument.
pub fn check_arity(name: &str, n: usize) -> Result<(), (&'static str, String)> {
    let (lo, hi) = lookup(name).map_or((1, Some(1)), |f| (f.min, f.max));
    match count_error(name, lo, hi, n) {
        None => Ok(()),
        Some(msg) if n < lo => Err(("Not enough function arguments", msg)),
        Some(msg) => Err(("Too many function arguments", msg)),
    }
}

/// Whether a function's result depends only on its argument's shape, so it is known
/// while the argument's elements are not.
pub fn reads_only_shape(name: &str) -> bool {
    lookup(name).is_some_and(|f| f.shape_only)
}

/// Every function name, in alphabetical order, for suggestions.
pub fn names() -> impl Iterator<Item = &'static str> {
    table().iter().map(|f| f.name)
}

/// Calls a built-in function. Arguments are already free of unknown and sensitive marks
/// (the evaluator handles marks). The error is one sentence saying what is wrong, e.g.
/// "element() requires a non-empty list" or "invalid CIDR prefix \"10.0.0.0/33\"".
pub fn call(name: &str, args: Vec<Value>, ctx: &FuncContext) -> Result<Value, String> {
    let Some(func) = lookup(name) else {
        return Err(format!("unknown function {name}()"));
    };
    let a = Args {
        name: func.name,
        v: args,
    };
    a.count(func.min, func.max)?;
    (func.call)(&a, ctx)
}

/// Why `n` arguments do not fit a function taking `lo` to `hi` of them.
fn count_error(name: &str, lo: usize, hi: Option<usize>, n: usize) -> Option<String> {
    if n >= lo && hi.is_none_or(|h| n <= h) {
        return None;
    }
    let noun = |k: usize| if k == 1 { "argument" } else { "arguments" };
    let want = match hi {
        Some(h) if h == lo => format!("{lo} {}", noun(lo)),
        Some(h) if h == lo + 1 => format!("{lo} or {h} arguments"),
        Some(h) => format!("{lo} to {h} arguments"),
        None => format!("at least {lo} {}", noun(lo)),
    };
    Some(format!("{name}() takes {want}, got {n}"))
}

/// The arguments of one call, with conversions that name the function in errors.
struct Args {
    /// The function's name, for error messages.
    name: &'static str,
    /// The argument values, free of unknown and sensitive marks.
    v: Vec<Value>,
}

impl Args {
    fn count(&self, lo: usize, hi: Option<usize>) -> Result<(), String> {
        count_error(self.name, lo, hi, self.v.len()).map_or(Ok(()), Err)
    }

    fn raw(&self, i: usize) -> &Value {
        self.v.get(i).map_or(&Value::Null, Value::peel)
    }

    fn bad(&self, i: usize, what: &str) -> String {
        match self.raw(i) {
            Value::Null => format!("{}() argument {} must not be null", self.name, i + 1),
            other => format!(
                "{}() argument {} must be {what}, but got {}",
                self.name,
                i + 1,
                other.type_name()
            ),
        }
    }

    fn str(&self, i: usize) -> Result<String, String> {
        prim_str(self.raw(i)).ok_or_else(|| self.bad(i, "a string"))
    }

    fn num(&self, i: usize) -> Result<Number, String> {
        match self.raw(i) {
            Value::String(s) => Number::parse(s).ok_or_else(|| {
                format!(
                    "{}() argument {}: cannot convert {s:?} to a number",
                    self.name,
                    i + 1
                )
            }),
            v => v
                .as_number()
                .cloned()
                .ok_or_else(|| self.bad(i, "a number")),
        }
    }

    /// The argument as the nearest `f64`, for math Terraform does in `float64`.
    fn f64(&self, i: usize) -> Result<f64, String> {
        self.num(i).map(|n| n.as_f64())
    }

    fn int(&self, i: usize) -> Result<i128, String> {
        let x = self.num(i)?;
        whole(&x).ok_or_else(|| {
            format!(
                "{}() argument {} must be a whole number, got {}",
                self.name,
                i + 1,
                x
            )
        })
    }

    fn items(&self, i: usize) -> Result<Vec<Value>, String> {
        self.raw(i)
            .as_items()
            .map(<[Value]>::to_vec)
            .ok_or_else(|| self.bad(i, "a list or set"))
    }

    fn map(&self, i: usize) -> Result<terrane_core::ObjectMap, String> {
        self.raw(i)
            .as_map()
            .cloned()
            .ok_or_else(|| self.bad(i, "a map or object"))
    }

    /// A list of strings (numbers and bools convert; nulls and collections are errors).
    fn strs(&self, i: usize) -> Result<Vec<String>, String> {
        self.items(i)?
            .iter()
            .enumerate()
            .map(|(k, v)| {
                prim_str(v).ok_or_else(|| {
                    format!(
                        "{}() argument {} element {k} must be a string, but got {}",
                        self.name,
                        i + 1,
                        v.type_name()
                    )
                })
            })
            .collect()
    }
}

/// A Go duration (`30s`, `5m`, `1h30m`, `0`), as Terraform's flags and `timeadd` take
/// it; `None` for anything else or a negative one.
pub fn go_duration(text: &str) -> Option<std::time::Duration> {
    let nanos = datetime::duration_nanos(text)?;
    u64::try_from(nanos)
        .ok()
        .map(std::time::Duration::from_nanos)
}

/// The time this process first asked for it: `plantimestamp()` and the plan's
/// `timestamp` in its JSON (one plan, one time, as in Terraform).
pub fn plan_timestamp() -> String {
    static PLAN_TIME: OnceLock<String> = OnceLock::new();
    PLAN_TIME.get_or_init(now_rfc3339).clone()
}

/// The current time as Terraform's `timestamp()` writes it: UTC, whole seconds.
pub(crate) fn now_rfc3339() -> String {
    datetime::rfc3339(
        &chrono::DateTime::<chrono::Utc>::from(std::time::SystemTime::now()).fixed_offset(),
    )
}

/// `bcrypt(password, cost = 10)`: a `$2a$` hash with a random salt (the evaluator calls
/// it only while applying; planning gives "known after apply").
pub(crate) fn bcrypt(args: &[Value]) -> Result<Value, String> {
    let a = Args {
        name: "bcrypt",
        v: args.to_vec(),
    };
    let cost = if args.len() > 1 { a.int(1)? } else { 10 };
    let cost = u32::try_from(cost)
        .ok()
        .filter(|c| (4..=31).contains(c))
        .ok_or_else(|| format!("bcrypt() cost must be between 4 and 31, got {cost}"))?;
    ::bcrypt::hash_with_result(a.str(0)?, cost)
        .map(|h| Value::String(h.format_for_version(::bcrypt::Version::TwoA)))
        .map_err(|e| format!("bcrypt() failed: {e}"))
}

/// The string form of a primitive (strings, numbers, bools), as Terraform converts it.
pub(crate) fn prim_str(v: &Value) -> Option<String> {
    match v.peel() {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A number, or a string that is a decimal number (no `inf`, `NaN` or hex), as
/// Terraform converts it.
fn to_num(v: &Value) -> Option<Number> {
    match v.peel() {
        Value::String(s) => Number::parse(s),
        other => other.as_number().cloned(),
    }
}

/// The value as an integer, when it is a whole number that fits 64 bits.
fn whole(x: &Number) -> Option<i128> {
    x.as_i64().map(i128::from)
}

/// Converts mixed primitives to strings, as Terraform does when it unifies element types.
fn unify(items: Vec<Value>) -> Vec<Value> {
    let has_str = items.iter().any(|v| matches!(v, Value::String(_)));
    let has_other = items
        .iter()
        .any(|v| matches!(v, Value::Number(_) | Value::Bool(_)));
    if !(has_str && has_other) {
        return items;
    }
    items
        .into_iter()
        .map(|v| match v {
            Value::Number(_) | Value::Bool(_) => prim_str(&v).map(Value::String).unwrap_or(v),
            other => other,
        })
        .collect()
}

#[cfg(test)]
mod tests;
