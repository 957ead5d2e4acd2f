//! Collection functions: lists, sets and maps (`length`, `element`, `lookup`, `merge`,
//! the set operations, `range`, ...). Elements compare after Terraform's type
//! unification, so `contains(["1"], 1)` is true.

use std::collections::BTreeMap;

use terrane_core::{Number, Type, Value};

use super::{prim_str, unify, Args, Func, FuncContext, MAX_SIZE};

/// This family's rows of the registration table.
pub(super) const FUNCS: &[Func] = &[
    Func::exactly("alltrue", 1, alltrue),
    Func::exactly("anytrue", 1, anytrue),
    Func::exactly("chunklist", 2, chunklist),
    Func::at_least("coalesce", 1, coalesce),
    Func::at_least("coalescelist", 1, coalescelist),
    Func::exactly("compact", 1, compact),
    Func::at_least("concat", 1, concat),
    Func::exactly("contains", 2, contains),
    Func::exactly("distinct", 1, distinct),
    Func::exactly("element", 2, element),
    Func::exactly("flatten", 1, flatten),
    Func::exactly("index", 2, index),
    Func::exactly("keys", 1, keys).shape_only(),
    Func::exactly("length", 1, length).shape_only(),
    Func::between("lookup", 2, 3, lookup),
    Func::exactly("matchkeys", 3, matchkeys),
    Func::at_least("merge", 0, merge),
    Func::exactly("one", 1, one),
    Func::between("range", 1, 3, range),
    Func::exactly("reverse", 1, reverse),
    Func::at_least("setintersection", 1, setintersection),
    Func::at_least("setproduct", 2, setproduct),
    Func::exactly("setsubtract", 2, setsubtract),
    Func::at_least("setunion", 1, setunion),
    Func::exactly("slice", 3, slice),
    Func::exactly("sort", 1, sort),
    Func::exactly("transpose", 1, transpose),
    Func::exactly("values", 1, values),
    Func::exactly("zipmap", 2, zipmap),
];

fn alltrue(a: &Args, _: &FuncContext) -> Result<Value, String> {
    all_or_any(a, true)
}

fn anytrue(a: &Args, _: &FuncContext) -> Result<Value, String> {
    all_or_any(a, false)
}

/// `alltrue` (`all`) or `anytrue`: the first element that is not `all` decides, nulls
/// count as false, and an empty list gives `all`.
fn all_or_any(a: &Args, all: bool) -> Result<Value, String> {
    for (i, v) in a.items(0)?.into_iter().enumerate() {
        if v.is_null() {
            if all {
                return Ok(Value::Bool(false));
            }
            continue;
        }
        match Type::Bool.convert(v) {
            Ok(Value::Bool(b)) if b != all => return Ok(Value::Bool(b)),
            Ok(_) => {}
            Err(e) => return Err(format!("{}() element {i}: {e}", a.name)),
        }
    }
    Ok(Value::Bool(all))
}

fn chunklist(a: &Args, _: &FuncContext) -> Result<Value, String> {
    let items = a.items(0)?;
    let size = a.int(1)?;
    if size < 0 {
        return Err("chunklist() size must not be negative".into());
    }
    if size == 0 {
        return Ok(Value::List(vec![Value::List(items)]));
    }
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    Ok(Value::List(
        items
            .chunks(size)
            .map(|c| Value::List(c.to_vec()))
            .collect(),
    ))
}

fn coalesce(a: &Args, _: &FuncContext) -> Result<Value, String> {
    let found = (a.v.iter())
        .find(|v| !v.is_null() && v.as_str() != Some(""))
        .cloned()
        .ok_or("coalesce() found no non-null, non-empty-string arguments")?;
    // Terraform unifies the argument types: a number chosen among strings is a string.
    if a.v.iter().any(|v| matches!(v, Value::String(_))) {
        return Type::String.convert(found.clone()).or(Ok(found));
    }
    Ok(found)
}

fn coalescelist(a: &Args, _: &FuncContext) -> Result<Value, String> {
    for i in 0..a.v.len() {
        if !a.raw(i).is_null() && !a.items(i)?.is_empty() {
            return Ok(a.raw(i).clone());
        }
    }
    Err("coalescelist() found no non-empty list arguments".into())
}

fn compact(a: &Args, _: &FuncContext) -> Result<Value, String> {
    let mut out = Vec::new();
    for (i, v) in a.items(0)?.into_iter().enumerate() {
        if v.is_null() {
            continue;
        }
        match Type::String.convert(v) {
            Ok(Value::String(s)) if s.is_empty() => {}
            Ok(s) => out.push(s),
            Err(e) => return Err(format!("compact() element {i}: {e}")),
        }
    }
    Ok(Value::List(out))
}

fn concat(a: &Args, _: &FuncContext) -> Result<Value, String> {
    let mut out = Vec::new();
    for i in 0..a.v.len() {
        out.extend(a.items(i)?);
    }
    Ok(Value::List(out))
}

/// Whether an element equals the value, type included, as Terraform compares:
/// `contains(["1"], 1)` is false (a checked case of the differential suite).
fn contains(a: &Args, _: &FuncContext) -> Result<Value, String> {
    Ok(Value::Bool(a.items(0)?.iter().any(|x| x.same_as(a.raw(1)))))
}

fn distinct(a: &Args, _: &FuncContext) -> Result<Value, String> {
    let mut out: Vec<Value> = Vec::new();
    for v in a.items(0)? {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    Ok(Value::List(out))
}

fn element(a: &Args, _: &FuncContext) -> Result<Value, String> {
    let items = a.items(0)?;
    let idx = a.int(1)?;
    if items.is_empty() {
        return Err("element() requires a non-empty list".into());
    }
    if idx < 0 {
        return Err("element() cannot use a negative index".into());
    }
    let i = usize::try_from(idx % items.len() as i128).unwrap_or(0);
    Ok(items.get(i).cloned().unwrap_or_default())
}

fn flatten(a: &Args, _: &FuncContext) -> Result<Value, String> {
    let mut out = Vec::new();
    flatten_into(&a.items(0)?, &mut out);
    Ok(Value::List(out))
}

fn index(a: &Args, _: &FuncContext) -> Result<Value, String> {
    a.items(0)?
        .iter()
        .position(|x| loose_eq(x, a.raw(1)))
        .map(Value::from)
        .ok_or_else(|| format!("index() found no {} in the list", a.raw(1).to_display()))
}

fn keys(a: &Args, _: &FuncContext) -> Result<Value, String> {
    Ok(Value::List(
        a.map(0)?.into_keys().map(Value::String).collect(),
    ))
}

fn values(a: &Args, _: &FuncContext) -> Result<Value, String> {
    Ok(Value::List(a.map(0)?.into_values().collect()))
}

fn length(a: &Args, _: &FuncContext) -> Result<Value, String> {
    match a.raw(0) {
        // Terraform counts what a reader sees as characters: grapheme clusters.
        Value::String(s) => Ok(Value::from(
            unicode_segmentation::UnicodeSegmentation::graphemes(s.as_str(), true).count(),
        )),
        Value::List(x) | Value::Set(x) => Ok(Value::from(x.len())),
        Value::Map(m) => Ok(Value::from(m.len())),
        Value::Null => Err("length() argument 1 must not be null".into()),
        other => Err(format!(
            "length() requires a string, list, set or map, but got {}",
            other.type_name()
        )),
    }
}

fn lookup(a: &Args, _: &FuncContext) -> Result<Value, String> {
    let (map, key) = (a.map(0)?, a.str(1)?);
    match map.get(&key) {
        Some(v) => Ok(v.clone()),
        None if a.v.len() == 3 => Ok(a.raw(2).clone()),
        None => Err(format!("lookup() failed to find key {key:?}")),
    }
}

fn matchkeys(a: &Args, _: &FuncContext) -> Result<Value, String> {
    let (vals, keys, search) = (a.items(0)?, a.items(1)?, a.items(2)?);
    if vals.len() != keys.len() {
        return Err(
            "matchkeys() requires the values and keys lists to have the same length".into(),
        );
    }
    Ok(Value::List(
        vals.into_iter()
            .zip(keys)
            .filter(|(_, k)| search.iter().any(|s| loose_eq(s, k)))
            .map(|(v, _)| v)
            .collect(),
    ))
}

fn merge(a: &Args, _: &FuncContext) -> Result<Value, String> {
    let mut out = terrane_core::ObjectMap::new();
    for i in 0..a.v.len() {
        if !a.raw(i).is_null() {
            out.extend(a.map(i)?);
        }
    }
    Ok(Value::Map(out))
}

fn one(a: &Args, _: &FuncContext) -> Result<Value, String> {
    let items = a.items(0)?;
    match items.len() {
        0 => Ok(Value::Null),
        1 => Ok(items.into_iter().next().unwrap_or_default()),
        n => Err(format!(
            "one() requires a list or set with zero or one elements, got {n}"
        )),
    }
}

fn range(a: &Args, _: &FuncContext) -> Result<Value, String> {
    let one = Number::from_i64(1);
    let (start, limit, step) = match a.v.len() {
        1 => (Number::ZERO, a.num(0)?, one),
        2 => (a.num(0)?, a.num(1)?, one),
        _ => (a.num(0)?, a.num(1)?, a.num(2)?),
    };
    let step = if a.v.len() < 3 && limit < start {
        step.neg()
    } else {
        step
    };
    let up = step.signum();
    if up == 0 {
        return Err("range() step must not be zero".into());
    }
    if up < 0 && limit > start {
        return Err("range() limit must not be greater than start when step is negative".into());
    }
    if up > 0 && limit < start {
        return Err("range() limit must not be less than start when step is positive".into());
    }
    let mut out = Vec::new();
    let mut x = start;
    while (up > 0 && x < limit) || (up < 0 && x > limit) {
        if out.len() >= 1024 {
            return Err("range() would generate more than 1024 values; use a smaller range or a larger step".into());
        }
        let next = x.add(&step);
        out.push(Value::Number(x));
        x = next;
    }
    Ok(Value::List(out))
}

fn reverse(a: &Args, _: &FuncContext) -> Result<Value, String> {
    Ok(Value::List(a.items(0)?.into_iter().rev().collect()))
}

/// Every argument as a list of its elements.
fn all_items(a: &Args) -> Result<Vec<Vec<Value>>, String> {
    (0..a.v.len()).map(|i| a.items(i)).collect()
}

fn setunion(a: &Args, _: &FuncContext) -> Result<Value, String> {
    Ok(Value::set(unify(all_items(a)?.concat())))
}

fn setintersection(a: &Args, _: &FuncContext) -> Result<Value, String> {
    let sets = all_items(a)?;
    let first = sets.first().cloned().unwrap_or_default();
    let rest = sets.get(1..).unwrap_or_default();
    let out = first
        .into_iter()
        .filter(|v| rest.iter().all(|s| s.contains(v)))
        .collect();
    Ok(Value::set(unify(out)))
}

fn setsubtract(a: &Args, _: &FuncContext) -> Result<Value, String> {
    let sets = all_items(a)?;
    let first = sets.first().cloned().unwrap_or_default();
    let rest = sets.get(1..).unwrap_or_default();
    let out = first
        .into_iter()
        .filter(|v| rest.iter().all(|s| !s.contains(v)))
        .collect();
    Ok(Value::set(unify(out)))
}

fn setproduct(a: &Args, _: &FuncContext) -> Result<Value, String> {
    let mut acc: Vec<Vec<Value>> = vec![Vec::new()];
    let mut any_list = false;
    for i in 0..a.v.len() {
        any_list |= matches!(a.raw(i), Value::List(_));
        let items = a.items(i)?;
        if acc.len().saturating_mul(items.len()) > MAX_SIZE {
            return Err(format!(
                "setproduct() would produce more than {MAX_SIZE} elements"
            ));
        }
        acc = acc
            .iter()
            .flat_map(|p| {
                items
                    .iter()
                    .map(move |x| [p.as_slice(), std::slice::from_ref(x)].concat())
            })
            .collect();
    }
    let out: Vec<Value> = acc.into_iter().map(Value::List).collect();
    Ok(if any_list {
        Value::List(out)
    } else {
        Value::set(out)
    })
}

fn slice(a: &Args, _: &FuncContext) -> Result<Value, String> {
    let items = a.items(0)?;
    let (start, end) = (a.int(1)?, a.int(2)?);
    if start < 0 || end < 0 {
        return Err("slice() indexes must not be negative".into());
    }
    if end > items.len() as i128 {
        return Err("slice() end index must not be greater than the length of the list".into());
    }
    if start > end {
        return Err("slice() start index must not be greater than end index".into());
    }
    let (s, e) = (
        usize::try_from(start).unwrap_or(0),
        usize::try_from(end).unwrap_or(0),
    );
    Ok(Value::List(items.get(s..e).unwrap_or_default().to_vec()))
}

fn sort(a: &Args, _: &FuncContext) -> Result<Value, String> {
    let mut s = a.strs(0)?;
    s.sort();
    Ok(Value::List(s.into_iter().map(Value::String).collect()))
}

fn transpose(a: &Args, _: &FuncContext) -> Result<Value, String> {
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (k, v) in a.map(0)? {
        let Some(items) = v.as_items() else {
            return Err(format!(
                "transpose() requires a map of lists, but {k:?} is {}",
                v.type_name()
            ));
        };
        for item in items {
            let s = item
                .as_str()
                .ok_or_else(|| format!("transpose() requires lists of strings under {k:?}"))?;
            out.entry(s.to_string())
                .or_default()
                .push(Value::String(k.clone()));
        }
    }
    Ok(Value::Map(
        out.into_iter().map(|(k, v)| (k, Value::List(v))).collect(),
    ))
}

fn zipmap(a: &Args, _: &FuncContext) -> Result<Value, String> {
    let (keys, vals) = (a.strs(0)?, a.items(1)?);
    if keys.len() != vals.len() {
        return Err(format!(
            "zipmap() got {} keys but {} values; they must match",
            keys.len(),
            vals.len()
        ));
    }
    Ok(Value::Map(keys.into_iter().zip(vals).collect()))
}

/// Equality after Terraform's type unification: `"1"` equals `1` and `"true"` equals `true`.
fn loose_eq(a: &Value, b: &Value) -> bool {
    if a.same_as(b) {
        return true;
    }
    let one_string = matches!(a.peel(), Value::String(_)) != matches!(b.peel(), Value::String(_));
    one_string && prim_str(a).is_some() && prim_str(a) == prim_str(b)
}

/// Appends the elements of `items`, and those of the lists and sets nested in them, to `out`.
fn flatten_into(items: &[Value], out: &mut Vec<Value>) {
    for v in items {
        match v {
            Value::List(x) | Value::Set(x) => flatten_into(x, out),
            other => out.push(other.clone()),
        }
    }
}
