//! Type conversion functions: `tostring`, `tonumber`, `tobool`, `tolist`, `toset` and
//! `tomap`. Null converts to null; mixed primitive elements unify to strings, as in
//! Terraform.

use terrane_core::{Type, Value};

use super::{prim_str, to_num, unify, Args, Func, FuncContext};

/// This family's rows of the registration table.
pub(super) const FUNCS: &[Func] = &[
    Func::exactly("tobool", 1, tobool),
    Func::exactly("tolist", 1, tolist),
    Func::exactly("tomap", 1, tomap),
    Func::exactly("tonumber", 1, tonumber),
    Func::exactly("toset", 1, toset),
    Func::exactly("tostring", 1, tostring),
];

fn tostring(a: &Args, _: &FuncContext) -> Result<Value, String> {
    match a.raw(0) {
        Value::Null => Ok(Value::Null),
        v => prim_str(v)
            .map(Value::String)
            .ok_or_else(|| cannot_convert(a, v)),
    }
}

fn tonumber(a: &Args, _: &FuncContext) -> Result<Value, String> {
    match a.raw(0) {
        Value::Null => Ok(Value::Null),
        v => to_num(v)
            .map(Value::Number)
            .ok_or_else(|| cannot_convert(a, v)),
    }
}

fn tobool(a: &Args, _: &FuncContext) -> Result<Value, String> {
    match a.raw(0) {
        Value::Null => Ok(Value::Null),
        v => match Type::Bool.convert(v.clone()) {
            Ok(b @ Value::Bool(_)) => Ok(b),
            _ => Err(cannot_convert(a, v)),
        },
    }
}

fn tolist(a: &Args, _: &FuncContext) -> Result<Value, String> {
    match a.raw(0) {
        Value::Null => Ok(Value::Null),
        Value::List(x) | Value::Set(x) => Ok(Value::List(unify(x.clone()))),
        v => Err(wrong_kind(a, v)),
    }
}

fn toset(a: &Args, _: &FuncContext) -> Result<Value, String> {
    match a.raw(0) {
        Value::Null => Ok(Value::Null),
        Value::List(x) | Value::Set(x) => Ok(Value::set(unify(x.clone()))),
        v => Err(wrong_kind(a, v)),
    }
}

fn tomap(a: &Args, _: &FuncContext) -> Result<Value, String> {
    match a.raw(0) {
        Value::Null => Ok(Value::Null),
        Value::Map(m) => {
            let (keys, vals): (Vec<String>, Vec<Value>) = m.clone().into_iter().unzip();
            Ok(Value::Map(keys.into_iter().zip(unify(vals)).collect()))
        }
        v => Err(wrong_kind(a, v)),
    }
}

/// The error for a value of the right kind that does not convert, e.g. `tonumber("x")`.
fn cannot_convert(a: &Args, v: &Value) -> String {
    format!(
        "{}() cannot convert {} to {}",
        a.name,
        v.to_display(),
        target(a)
    )
}

/// The error for a value of the wrong kind, e.g. `tolist("a")`.
fn wrong_kind(a: &Args, v: &Value) -> String {
    format!(
        "{}() cannot convert a {} to a {}",
        a.name,
        v.type_name(),
        target(a)
    )
}

/// The type a conversion function converts to: `number` for `tonumber`.
fn target(a: &Args) -> &'static str {
    a.name.trim_start_matches("to")
}
