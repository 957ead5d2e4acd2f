//! The built-in function library of the configuration language (Terraform's functions).
//!
//! [`call`] evaluates one function on already-evaluated arguments and [`exists`] tells
//! the checker which names are known. Every function follows Terraform's documented
//! semantics for the cases configurations rely on (argument conversion such as numbers
//! to strings, `element` wrapping around, `jsonencode` output byte-for-byte, CIDR
//! arithmetic for IPv4 and IPv6). Guarantees:
//!
//! - No input makes a function panic: text is handled as `char`s, numbers are checked
//!   before they become integers, and outputs that could exhaust memory (`range`,
//!   `indent`, `setproduct`, `format` widths) are bounded.
//! - Errors are one sentence naming the function, e.g. `join() takes at least 2
//!   arguments, got 1`.
//! - The only outside state read is the file system (files below
//!   [`FuncContext::base_dir`]) and `HOME` for `pathexpand`.
//!
//! Unknown and sensitive marks are not handled here: the evaluator strips them before
//! the call and re-applies them after. Functions that need the evaluator (`try`,
//! `can`, `templatefile`, `sensitive`, `nonsensitive`, `timestamp`, `uuid`, `type`)
//! live there. Regular expressions are not supported: `regex`, `regexall` and
//! `replace` with a `/pattern/` return a clear error.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::ErrorKind;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use terrane_core::value::format_number;
use terrane_core::{Type, Value};

/// What functions may read from the outside world.
pub struct FuncContext {
    /// The module directory; relative paths given to `file()`, `fileexists()` and the
    /// other file functions resolve against it.
    pub base_dir: PathBuf,
}

/// Every function name [`call`] knows.
const NAMES: &[&str] = &[
    "abs",
    "abspath",
    "alltrue",
    "anytrue",
    "base64decode",
    "base64encode",
    "base64sha256",
    "base64sha512",
    "basename",
    "ceil",
    "chomp",
    "chunklist",
    "cidrhost",
    "cidrnetmask",
    "cidrsubnet",
    "cidrsubnets",
    "coalesce",
    "coalescelist",
    "compact",
    "concat",
    "contains",
    "dirname",
    "distinct",
    "element",
    "endswith",
    "file",
    "filebase64",
    "filebase64sha256",
    "filebase64sha512",
    "fileexists",
    "filemd5",
    "filesha1",
    "filesha256",
    "filesha512",
    "flatten",
    "floor",
    "format",
    "formatlist",
    "indent",
    "index",
    "join",
    "jsondecode",
    "jsonencode",
    "keys",
    "length",
    "log",
    "lookup",
    "lower",
    "matchkeys",
    "max",
    "md5",
    "merge",
    "min",
    "one",
    "parseint",
    "pathexpand",
    "pow",
    "range",
    "regex",
    "regexall",
    "replace",
    "reverse",
    "setintersection",
    "setproduct",
    "setsubtract",
    "setunion",
    "sha1",
    "sha256",
    "sha512",
    "signum",
    "slice",
    "sort",
    "split",
    "startswith",
    "strcontains",
    "strrev",
    "substr",
    "sum",
    "title",
    "tobool",
    "tolist",
    "tomap",
    "tonumber",
    "toset",
    "tostring",
    "transpose",
    "trim",
    "trimprefix",
    "trimspace",
    "trimsuffix",
    "upper",
    "urlencode",
    "values",
    "zipmap",
];

/// Upper bound on sizes a user can ask for (`range` is bounded at 1024 like Terraform).
const MAX_SIZE: usize = 1_000_000;

/// True for every function name `call` knows (so the checker can report unknown functions).
pub fn exists(name: &str) -> bool {
    NAMES.contains(&name)
}

/// Whether a function takes `n` arguments: the error is Terraform's summary ("Too many
/// function arguments" or "Not enough function arguments") and the message [`call`]
/// gives. The evaluator checks this even when an argument is unknown, as Terraform does.
pub fn check_arity(name: &str, n: usize) -> Result<(), (&'static str, String)> {
    let (lo, hi) = arity(name);
    match count_error(name, lo, hi, n) {
        None => Ok(()),
        Some(msg) if n < lo => Err(("Not enough function arguments", msg)),
        Some(msg) => Err(("Too many function arguments", msg)),
    }
}

/// Every function name, for suggestions.
pub fn names() -> impl Iterator<Item = &'static str> {
    NAMES.iter().copied()
}

/// Calls a built-in function. Arguments are already free of unknown and sensitive marks
/// (the evaluator handles marks). The error is one sentence saying what is wrong, e.g.
/// "element() requires a non-empty list" or "invalid CIDR prefix \"10.0.0.0/33\"".
pub fn call(name: &str, args: Vec<Value>, ctx: &FuncContext) -> Result<Value, String> {
    if !exists(name) {
        return Err(format!("unknown function {name}()"));
    }
    let a = Args { name, v: args };
    let (lo, hi) = arity(name);
    a.count(lo, hi)?;
    let f = name;
    match name {
        // ---- numeric ----
        "abs" | "ceil" | "floor" | "signum" => {
            let x = a.num(0)?;
            Ok(Value::Number(match name {
                "abs" => x.abs(),
                "ceil" => x.ceil(),
                "floor" => x.floor(),
                _ if x > 0.0 => 1.0,
                _ if x < 0.0 => -1.0,
                _ => 0.0,
            }))
        }
        "log" => Ok(Value::Number(a.num(0)?.ln() / a.num(1)?.ln())),
        "pow" => Ok(Value::Number(a.num(0)?.powf(a.num(1)?))),
        "max" | "min" => {
            let mut best = a.num(0)?;
            for i in 1..a.v.len() {
                let x = a.num(i)?;
                if (name == "max" && x > best) || (name == "min" && x < best) {
                    best = x;
                }
            }
            Ok(Value::Number(best))
        }
        "sum" => {
            let items = a.items(0)?;
            if items.is_empty() {
                return Err("sum() cannot sum an empty list".into());
            }
            let mut total = 0.0;
            for (i, v) in items.iter().enumerate() {
                total += to_num(v).ok_or_else(|| {
                    format!("sum() element {i} is not a number: {}", v.to_display())
                })?;
            }
            Ok(Value::Number(total))
        }
        "parseint" => parseint(&a.str(0)?, a.int(1)?).map(Value::Number),

        // ---- strings ----
        "chomp" => Ok(Value::String(
            a.str(0)?.trim_end_matches(['\r', '\n']).to_string(),
        )),
        "endswith" | "startswith" | "strcontains" => {
            let (s, part) = (a.str(0)?, a.str(1)?);
            Ok(Value::Bool(match name {
                "endswith" => s.ends_with(&part),
                "startswith" => s.starts_with(&part),
                _ => s.contains(&part),
            }))
        }
        "format" => {
            let spec = a.str(0)?;
            format_values(f, &spec, a.v.get(1..).unwrap_or_default()).map(Value::String)
        }
        "formatlist" => formatlist(&a.str(0)?, a.v.get(1..).unwrap_or_default()),
        "indent" => {
            let n = a.int(0)?;
            let n = usize::try_from(n)
                .ok()
                .filter(|n| *n <= MAX_SIZE)
                .ok_or_else(|| format!("indent() cannot indent by {n} spaces"))?;
            let pad = format!("\n{}", " ".repeat(n));
            Ok(Value::String(a.str(1)?.replace('\n', &pad)))
        }
        "join" => {
            let sep = a.str(0)?;
            let mut parts = Vec::new();
            for i in 1..a.v.len() {
                parts.extend(a.strs(i)?);
            }
            Ok(Value::String(parts.join(&sep)))
        }
        "lower" | "upper" | "strrev" | "title" | "trimspace" => {
            let s = a.str(0)?;
            Ok(Value::String(match name {
                "lower" => s.to_lowercase(),
                "upper" => s.to_uppercase(),
                "strrev" => s.chars().rev().collect(),
                "title" => title(&s),
                _ => s.trim().to_string(),
            }))
        }
        "regex" | "regexall" => Err(format!(
            "{f}() is not supported: regular expression patterns are not supported by terrane"
        )),
        "replace" => {
            let (s, sub, rep) = (a.str(0)?, a.str(1)?, a.str(2)?);
            if sub.len() > 1 && sub.starts_with('/') && sub.ends_with('/') {
                return Err(format!(
                    "replace() got {sub:?}, but regular expression patterns are not supported"
                ));
            }
            Ok(Value::String(s.replace(&sub, &rep)))
        }
        "split" => {
            let (sep, s) = (a.str(0)?, a.str(1)?);
            let parts: Vec<Value> = if sep.is_empty() {
                s.chars().map(|c| Value::String(c.to_string())).collect()
            } else {
                s.split(sep.as_str()).map(Value::from).collect()
            };
            Ok(Value::List(parts))
        }
        "substr" => {
            let chars: Vec<char> = a.str(0)?.chars().collect();
            let len = chars.len() as i128;
            let (mut offset, length) = (a.int(1)?, a.int(2)?);
            if offset < 0 {
                offset = (offset + len).max(0);
            }
            let take = if length < 0 { len } else { length };
            let out: String = chars
                .iter()
                .skip(usize::try_from(offset).unwrap_or(usize::MAX))
                .take(usize::try_from(take).unwrap_or(usize::MAX))
                .collect();
            Ok(Value::String(out))
        }
        "trim" => {
            let cut = a.str(1)?;
            Ok(Value::String(
                a.str(0)?.trim_matches(|c| cut.contains(c)).to_string(),
            ))
        }
        "trimprefix" | "trimsuffix" => {
            let (s, part) = (a.str(0)?, a.str(1)?);
            let out = if name == "trimprefix" {
                s.strip_prefix(&part)
            } else {
                s.strip_suffix(&part)
            };
            Ok(Value::String(out.unwrap_or(&s).to_string()))
        }

        // ---- collections ----
        "alltrue" | "anytrue" => {
            let all = name == "alltrue";
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
                    Err(e) => return Err(format!("{f}() element {i}: {e}")),
                }
            }
            Ok(Value::Bool(all))
        }
        "chunklist" => {
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
        "coalesce" => {
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
        "coalescelist" => {
            for i in 0..a.v.len() {
                if !a.raw(i).is_null() && !a.items(i)?.is_empty() {
                    return Ok(a.raw(i).clone());
                }
            }
            Err("coalescelist() found no non-empty list arguments".into())
        }
        "compact" => {
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
        "concat" => {
            let mut out = Vec::new();
            for i in 0..a.v.len() {
                out.extend(a.items(i)?);
            }
            Ok(Value::List(out))
        }
        "contains" => Ok(Value::Bool(
            a.items(0)?.iter().any(|x| loose_eq(x, a.raw(1))),
        )),
        "distinct" => {
            let mut out: Vec<Value> = Vec::new();
            for v in a.items(0)? {
                if !out.contains(&v) {
                    out.push(v);
                }
            }
            Ok(Value::List(out))
        }
        "element" => {
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
        "flatten" => {
            let mut out = Vec::new();
            flatten(&a.items(0)?, &mut out);
            Ok(Value::List(out))
        }
        "index" => a
            .items(0)?
            .iter()
            .position(|x| loose_eq(x, a.raw(1)))
            .map(|i| Value::Number(i as f64))
            .ok_or_else(|| format!("index() found no {} in the list", a.raw(1).to_display())),
        "keys" => Ok(Value::List(
            a.map(0)?.into_keys().map(Value::String).collect(),
        )),
        "values" => Ok(Value::List(a.map(0)?.into_values().collect())),
        "length" => match a.raw(0) {
            Value::String(s) => Ok(Value::Number(s.chars().count() as f64)),
            Value::List(x) | Value::Set(x) => Ok(Value::Number(x.len() as f64)),
            Value::Map(m) => Ok(Value::Number(m.len() as f64)),
            Value::Null => Err("length() argument 1 must not be null".into()),
            other => Err(format!(
                "length() requires a string, list, set or map, but got {}",
                other.type_name()
            )),
        },
        "lookup" => {
            let (map, key) = (a.map(0)?, a.str(1)?);
            match map.get(&key) {
                Some(v) => Ok(v.clone()),
                None if a.v.len() == 3 => Ok(a.raw(2).clone()),
                None => Err(format!("lookup() failed to find key {key:?}")),
            }
        }
        "matchkeys" => {
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
        "merge" => {
            let mut out = terrane_core::ObjectMap::new();
            for i in 0..a.v.len() {
                if !a.raw(i).is_null() {
                    out.extend(a.map(i)?);
                }
            }
            Ok(Value::Map(out))
        }
        "one" => {
            let items = a.items(0)?;
            match items.len() {
                0 => Ok(Value::Null),
                1 => Ok(items.into_iter().next().unwrap_or_default()),
                n => Err(format!(
                    "one() requires a list or set with zero or one elements, got {n}"
                )),
            }
        }
        "range" => range(&a),
        "reverse" => Ok(Value::List(a.items(0)?.into_iter().rev().collect())),
        "setintersection" | "setsubtract" | "setunion" => {
            let sets = (0..a.v.len())
                .map(|i| a.items(i))
                .collect::<Result<Vec<_>, _>>()?;
            let mut all: Vec<Value> = sets.concat();
            let first = sets.first().cloned().unwrap_or_default();
            let rest = sets.get(1..).unwrap_or_default();
            match name {
                "setunion" => {}
                "setintersection" => {
                    all = first
                        .into_iter()
                        .filter(|v| rest.iter().all(|s| s.contains(v)))
                        .collect()
                }
                _ => {
                    all = first
                        .into_iter()
                        .filter(|v| rest.iter().all(|s| !s.contains(v)))
                        .collect()
                }
            }
            Ok(Value::set(unify(all)))
        }
        "setproduct" => {
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
        "slice" => {
            let items = a.items(0)?;
            let (start, end) = (a.int(1)?, a.int(2)?);
            if start < 0 || end < 0 {
                return Err("slice() indexes must not be negative".into());
            }
            if end > items.len() as i128 {
                return Err(
                    "slice() end index must not be greater than the length of the list".into(),
                );
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
        "sort" => {
            let mut s = a.strs(0)?;
            s.sort();
            Ok(Value::List(s.into_iter().map(Value::String).collect()))
        }
        "transpose" => {
            let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
            for (k, v) in a.map(0)? {
                let Some(items) = v.as_items() else {
                    return Err(format!(
                        "transpose() requires a map of lists, but {k:?} is {}",
                        v.type_name()
                    ));
                };
                for item in items {
                    let s = item.as_str().ok_or_else(|| {
                        format!("transpose() requires lists of strings under {k:?}")
                    })?;
                    out.entry(s.to_string())
                        .or_default()
                        .push(Value::String(k.clone()));
                }
            }
            Ok(Value::Map(
                out.into_iter().map(|(k, v)| (k, Value::List(v))).collect(),
            ))
        }
        "zipmap" => {
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

        // ---- encoding and hashing ----
        "base64encode" => Ok(Value::String(b64().encode(a.str(0)?))),
        "base64decode" => {
            let s = a.str(0)?;
            let bytes = b64()
                .decode(&s)
                .map_err(|_| format!("base64decode() got invalid base64 data {s:?}"))?;
            String::from_utf8(bytes)
                .map(Value::String)
                .map_err(|_| "base64decode() decoded data that is not valid UTF-8".to_string())
        }
        "base64sha256" | "base64sha512" | "md5" | "sha1" | "sha256" | "sha512" => {
            let s = a.str(0)?;
            Ok(Value::String(match name.strip_prefix("base64") {
                Some(alg) => b64().encode(digest(alg, s.as_bytes())),
                None => hex::encode(digest(name, s.as_bytes())),
            }))
        }
        "jsonencode" => Ok(Value::String(json_encode(a.raw(0)))),
        "jsondecode" => {
            let json: serde_json::Value = serde_json::from_str(&a.str(0)?)
                .map_err(|e| format!("jsondecode() got invalid JSON: {e}"))?;
            Ok(Value::from_json(&json))
        }
        "urlencode" => {
            let mut out = String::new();
            for b in a.str(0)?.bytes() {
                match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                        out.push(b as char)
                    }
                    b' ' => out.push('+'),
                    _ => out.push_str(&format!("%{b:02X}")),
                }
            }
            Ok(Value::String(out))
        }

        // ---- filesystem ----
        "file" => {
            let p = a.str(0)?;
            String::from_utf8(read_file(f, ctx, &p)?)
                .map(Value::String)
                .map_err(|_| format!("file() found that {p:?} is not valid UTF-8; use filebase64() for binary files"))
        }
        "filebase64" | "filebase64sha256" | "filebase64sha512" | "filemd5" | "filesha1"
        | "filesha256" | "filesha512" => {
            let bytes = read_file(f, ctx, &a.str(0)?)?;
            Ok(Value::String(
                match name.strip_prefix("file").unwrap_or(name) {
                    "base64" => b64().encode(bytes),
                    alg => match alg.strip_prefix("base64") {
                        Some(alg) => b64().encode(digest(alg, &bytes)),
                        None => hex::encode(digest(alg, &bytes)),
                    },
                },
            ))
        }
        "fileexists" => {
            let p = a.str(0)?;
            match std::fs::metadata(resolve(ctx, &p)) {
                Ok(m) if m.is_file() => Ok(Value::Bool(true)),
                Ok(_) => Err(format!(
                    "fileexists() found {p:?}, but it is not a regular file"
                )),
                Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
                    Ok(Value::Bool(false))
                }
                Err(e) => Err(format!("fileexists() cannot check {p:?}: {e}")),
            }
        }
        "abspath" => {
            let mut path = ctx.base_dir.join(a.str(0)?);
            if path.is_relative() {
                let cwd = std::env::current_dir()
                    .map_err(|e| format!("abspath() cannot read the working directory: {e}"))?;
                path = cwd.join(path);
            }
            Ok(Value::String(clean(
                &path.to_string_lossy().replace('\\', "/"),
            )))
        }
        "basename" => {
            let p = a.str(0)?;
            let t = p.trim_end_matches('/');
            Ok(Value::from(match (p.is_empty(), t.is_empty()) {
                (true, _) => ".",
                (false, true) => "/",
                _ => t.rsplit('/').next().unwrap_or(t),
            }))
        }
        "dirname" => {
            let p = a.str(0)?;
            Ok(Value::String(match p.rsplit_once('/') {
                Some((head, _)) => clean(&format!("{head}/")),
                None => ".".into(),
            }))
        }
        "pathexpand" => Ok(Value::String(expand_home(&a.str(0)?))),

        // ---- network ----
        "cidrhost" => {
            let net = parse_cidr(&a.str(0)?)?;
            let num = a.int(1)?;
            let last = ones(net.bits - net.len);
            let off = if num >= 0 {
                u128::try_from(num).ok().filter(|n| *n <= last)
            } else {
                let back = num.unsigned_abs() - 1; // -1 is the last address
                (back <= last).then(|| last - back)
            };
            let off = off.ok_or_else(|| {
                format!("cidrhost() prefix /{} has no host numbered {num}", net.len)
            })?;
            Ok(Value::String(fmt_addr(net.base | off, net.bits)))
        }
        "cidrnetmask" => {
            let s = a.str(0)?;
            let net = parse_cidr(&s)?;
            if net.bits != 32 {
                return Err(format!(
                    "cidrnetmask() supports only IPv4 prefixes, got {s:?}"
                ));
            }
            Ok(Value::String(fmt_addr(ones(32) ^ ones(32 - net.len), 32)))
        }
        "cidrsubnet" => {
            let net = parse_cidr(&a.str(0)?)?;
            let (newbits, netnum) = (a.int(1)?, a.int(2)?);
            let new_len = net.len as i128 + newbits;
            if newbits < 0 || new_len > net.bits as i128 {
                return Err(format!(
                    "cidrsubnet() cannot extend a prefix of {} bits by {newbits}",
                    net.len
                ));
            }
            let new_len = u32::try_from(new_len).unwrap_or(0);
            let fits = u128::try_from(netnum)
                .ok()
                .filter(|n| *n <= ones(new_len - net.len));
            let Some(netnum) = fits else {
                return Err(format!(
                    "cidrsubnet() prefix extension of {newbits} has no subnet numbered {netnum}"
                ));
            };
            let addr = net.base | netnum.checked_shl(net.bits - new_len).unwrap_or(0);
            Ok(Value::String(format!(
                "{}/{new_len}",
                fmt_addr(addr, net.bits)
            )))
        }
        "cidrsubnets" => {
            let prefix = a.str(0)?;
            let net = parse_cidr(&prefix)?;
            let end = net.base | ones(net.bits - net.len);
            let mut next = Some(net.base);
            let mut out = Vec::new();
            for i in 1..a.v.len() {
                let newbits = a.int(i)?;
                let new_len = net.len as i128 + newbits;
                if newbits < 1 || new_len > net.bits as i128 {
                    return Err(format!(
                        "cidrsubnets() cannot extend prefix {prefix:?} by {newbits} bits"
                    ));
                }
                let new_len = u32::try_from(new_len).unwrap_or(0);
                let size_m1 = ones(net.bits - new_len);
                let start = next.and_then(|x| {
                    if x & size_m1 == 0 {
                        Some(x)
                    } else {
                        (x | size_m1).checked_add(1)
                    }
                });
                let Some(start) = start.filter(|s| (s | size_m1) <= end) else {
                    return Err(format!(
                        "cidrsubnets() has no room left in {prefix:?} for a /{new_len} subnet"
                    ));
                };
                out.push(Value::String(format!(
                    "{}/{new_len}",
                    fmt_addr(start, net.bits)
                )));
                next = (start | size_m1).checked_add(1);
            }
            Ok(Value::List(out))
        }

        // ---- type conversion ----
        "tostring" | "tonumber" | "tobool" | "tolist" | "toset" | "tomap" => {
            convert(name, a.raw(0).clone())
        }

        _ => Err(format!("{name}() is listed but not implemented")),
    }
}

/// How many arguments a function takes: the minimum and the maximum (`None`: any number).
fn arity(name: &str) -> (usize, Option<usize>) {
    match name {
        "merge" | "regex" | "regexall" => (0, None),
        "cidrsubnets" | "coalesce" | "coalescelist" | "concat" | "format" | "formatlist"
        | "max" | "min" | "setintersection" | "setunion" => (1, None),
        "join" | "setproduct" => (2, None),
        "lookup" => (2, Some(3)),
        "range" => (1, Some(3)),
        "chunklist" | "cidrhost" | "contains" | "element" | "endswith" | "indent" | "index"
        | "log" | "parseint" | "pow" | "setsubtract" | "split" | "startswith" | "strcontains"
        | "trim" | "trimprefix" | "trimsuffix" | "zipmap" => (2, Some(2)),
        "cidrsubnet" | "matchkeys" | "replace" | "slice" | "substr" => (3, Some(3)),
        _ => (1, Some(1)),
    }
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
struct Args<'a> {
    name: &'a str,
    v: Vec<Value>,
}

impl Args<'_> {
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

    fn num(&self, i: usize) -> Result<f64, String> {
        match self.raw(i) {
            Value::String(s) => parse_num(s).ok_or_else(|| {
                format!(
                    "{}() argument {}: cannot convert {s:?} to a number",
                    self.name,
                    i + 1
                )
            }),
            v => v.as_number().ok_or_else(|| self.bad(i, "a number")),
        }
    }

    fn int(&self, i: usize) -> Result<i128, String> {
        let x = self.num(i)?;
        whole(x).ok_or_else(|| {
            format!(
                "{}() argument {} must be a whole number, got {}",
                self.name,
                i + 1,
                format_number(x)
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

/// The string form of a primitive (strings, numbers, bools), as Terraform converts it.
fn prim_str(v: &Value) -> Option<String> {
    match v.peel() {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(format_number(*n)),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Parses a decimal number the way Terraform does (no `inf`, `NaN` or hex).
fn parse_num(s: &str) -> Option<f64> {
    let t = s.trim();
    let ok = !t.is_empty()
        && t.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E'));
    t.parse::<f64>().ok().filter(|n| ok && n.is_finite())
}

fn to_num(v: &Value) -> Option<f64> {
    match v.peel() {
        Value::String(s) => parse_num(s),
        other => other.as_number(),
    }
}

/// The value as an integer, when it is a whole number in a safe range.
fn whole(x: f64) -> Option<i128> {
    (x.is_finite() && x.fract() == 0.0 && x.abs() < 1e38).then_some(x as i128)
}

/// Equality after Terraform's type unification: `"1"` equals `1` and `"true"` equals `true`.
fn loose_eq(a: &Value, b: &Value) -> bool {
    if a.same_as(b) {
        return true;
    }
    let one_string = matches!(a.peel(), Value::String(_)) != matches!(b.peel(), Value::String(_));
    one_string && prim_str(a).is_some() && prim_str(a) == prim_str(b)
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

fn flatten(items: &[Value], out: &mut Vec<Value>) {
    for v in items {
        match v {
            Value::List(x) | Value::Set(x) => flatten(x, out),
            other => out.push(other.clone()),
        }
    }
}

fn convert(name: &str, v: Value) -> Result<Value, String> {
    let what = name.trim_start_matches("to");
    let fail = |v: &Value| format!("{name}() cannot convert {} to {what}", v.to_display());
    match (name, v) {
        (_, Value::Null) => Ok(Value::Null),
        ("tostring", v) => prim_str(&v).map(Value::String).ok_or_else(|| fail(&v)),
        ("tonumber", v) => to_num(&v).map(Value::Number).ok_or_else(|| fail(&v)),
        ("tobool", v) => match Type::Bool.convert(v.clone()) {
            Ok(b @ Value::Bool(_)) => Ok(b),
            _ => Err(fail(&v)),
        },
        ("tolist", Value::List(x) | Value::Set(x)) => Ok(Value::List(unify(x))),
        ("toset", Value::List(x) | Value::Set(x)) => Ok(Value::set(unify(x))),
        ("tomap", Value::Map(m)) => {
            let (keys, vals): (Vec<String>, Vec<Value>) = m.into_iter().unzip();
            Ok(Value::Map(keys.into_iter().zip(unify(vals)).collect()))
        }
        (_, v) => Err(format!(
            "{name}() cannot convert a {} to a {what}",
            v.type_name()
        )),
    }
}

fn parseint(s: &str, base: i128) -> Result<f64, String> {
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
    let mut n: i128 = 0;
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
        n = n
            .checked_mul(base)
            .and_then(|n| n.checked_add(d))
            .ok_or_else(fail)?;
    }
    Ok(if neg { -(n as f64) } else { n as f64 })
}

fn range(a: &Args) -> Result<Value, String> {
    let (start, limit, step) = match a.v.len() {
        1 => (0.0, a.num(0)?, 1.0),
        2 => (a.num(0)?, a.num(1)?, 1.0),
        _ => (a.num(0)?, a.num(1)?, a.num(2)?),
    };
    let step = if a.v.len() < 3 && limit < start {
        -step
    } else {
        step
    };
    if step == 0.0 {
        return Err("range() step must not be zero".into());
    }
    if step < 0.0 && limit > start {
        return Err("range() limit must not be greater than start when step is negative".into());
    }
    if step > 0.0 && limit < start {
        return Err("range() limit must not be less than start when step is positive".into());
    }
    let mut out = Vec::new();
    let mut x = start;
    while (step > 0.0 && x < limit) || (step < 0.0 && x > limit) {
        if out.len() >= 1024 {
            return Err("range() would generate more than 1024 values; use a smaller range or a larger step".into());
        }
        out.push(Value::Number(x));
        x += step;
    }
    Ok(Value::List(out))
}

/// Go's `strings.Title`: upper-cases the first letter of every word.
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut after_sep = true;
    for c in s.chars() {
        if after_sep {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        // Go: ASCII other than letters, digits and `_` separates words; beyond ASCII, spaces do.
        after_sep = if c.is_ascii() {
            !(c.is_ascii_alphanumeric() || c == '_')
        } else {
            c.is_whitespace()
        };
    }
    out
}

// ---- format ----

/// The flags, width and precision of one `format` verb.
#[derive(Default)]
struct Verb {
    minus: bool,
    plus: bool,
    space: bool,
    zero: bool,
    sharp: bool,
    width: usize,
    prec: Option<usize>,
}

/// Reads decimal digits at `i`, returning the number and the index after them.
fn digits(f: &str, chars: &[char], mut i: usize) -> Result<(usize, usize), String> {
    let mut n = 0usize;
    while let Some(d) = chars.get(i).and_then(|c| c.to_digit(10)) {
        n = n * 10 + d as usize;
        if n > MAX_SIZE {
            return Err(format!(
                "{f}() got a width, precision or index that is too large"
            ));
        }
        i += 1;
    }
    Ok((n, i))
}

/// Terraform's `format`: Go-style verbs `%v %#v %s %q %d %b %o %x %X %e %E %f %g %G %t %%`,
/// flags `- + space 0 #`, width, precision and explicit argument indexes `%[2]d`.
fn format_values(f: &str, spec: &str, args: &[Value]) -> Result<String, String> {
    let chars: Vec<char> = spec.chars().collect();
    let mut out = String::new();
    let (mut i, mut next, mut highest) = (0usize, 0usize, 0usize);
    while let Some(&c) = chars.get(i) {
        i += 1;
        if c != '%' {
            out.push(c);
            continue;
        }
        if chars.get(i) == Some(&'%') {
            out.push('%');
            i += 1;
            continue;
        }
        let mut v = Verb::default();
        while let Some(&c) = chars.get(i) {
            match c {
                '-' => v.minus = true,
                '+' => v.plus = true,
                ' ' => v.space = true,
                '0' => v.zero = true,
                '#' => v.sharp = true,
                _ => break,
            }
            i += 1;
        }
        if chars.get(i) == Some(&'[') {
            let (n, j) = digits(f, &chars, i + 1)?;
            if n == 0 || chars.get(j) != Some(&']') {
                return Err(format!(
                    "{f}() has an invalid argument index in its format string"
                ));
            }
            next = n - 1;
            i = j + 1;
        }
        (v.width, i) = digits(f, &chars, i)?;
        if chars.get(i) == Some(&'.') {
            let (p, j) = digits(f, &chars, i + 1)?;
            v.prec = Some(p);
            i = j;
        }
        let Some(&verb) = chars.get(i) else {
            return Err(format!("{f}() format string ends with an incomplete verb"));
        };
        i += 1;
        let Some(arg) = args.get(next) else {
            return Err(format!(
                "{f}() has not enough arguments for the %{verb} verb"
            ));
        };
        next += 1;
        highest = highest.max(next);
        let (sign, body) = format_one(f, verb, arg.peel(), &v)?;
        let len = sign.chars().count() + body.chars().count();
        let pad = v.width.saturating_sub(len);
        if v.minus {
            let _ = write!(out, "{sign}{body}{}", " ".repeat(pad));
        } else if v.zero {
            let _ = write!(out, "{sign}{}{body}", "0".repeat(pad));
        } else {
            let _ = write!(out, "{}{sign}{body}", " ".repeat(pad));
        }
    }
    if highest < args.len() {
        return Err(format!(
            "{f}() has too many arguments; only {highest} used by the format string"
        ));
    }
    Ok(out)
}

/// Formats one argument: returns the sign (numbers only) and the digits or text.
fn format_one(f: &str, verb: char, arg: &Value, v: &Verb) -> Result<(String, String), String> {
    let err = |what: &str| {
        format!(
            "{f}() cannot format {} with %{verb}: {what}",
            arg.to_display()
        )
    };
    if arg.is_null() && verb != 'v' {
        return Err(err("null value cannot be formatted"));
    }
    let text = |s: String| (String::new(), s);
    match verb {
        'v' => match arg {
            Value::String(s) if !v.sharp => Ok(text(s.clone())),
            Value::Number(n) if !v.sharp => Ok(text(float_g(*n, None))),
            other => Ok(text(json_encode(other))),
        },
        's' | 'q' => {
            let s = prim_str(arg).ok_or_else(|| err("a string is required"))?;
            let s: String = match v.prec {
                Some(p) if p > 0 => s.chars().take(p).collect(),
                _ => s,
            };
            Ok(text(if verb == 'q' {
                json_encode(&Value::String(s))
            } else {
                s
            }))
        }
        't' => match Type::Bool.convert(arg.clone()) {
            Ok(Value::Bool(b)) => Ok(text(b.to_string())),
            _ => Err(err("a bool is required")),
        },
        'd' | 'b' | 'o' | 'x' | 'X' | 'e' | 'E' | 'f' | 'F' | 'g' | 'G' => {
            let n = to_num(arg).ok_or_else(|| err("a number is required"))?;
            let sign = match (n < 0.0, v.plus, v.space) {
                (true, _, _) => "-",
                (_, true, _) => "+",
                (_, _, true) => " ",
                _ => "",
            };
            let body = if matches!(verb, 'd' | 'b' | 'o' | 'x' | 'X') {
                let k = whole(n)
                    .ok_or_else(|| err("an integer is required"))?
                    .unsigned_abs();
                match verb {
                    'b' => format!("{k:b}"),
                    'o' => format!("{k:o}"),
                    'x' => format!("{k:x}"),
                    'X' => format!("{k:X}"),
                    _ => k.to_string(),
                }
            } else {
                let x = n.abs();
                let s = match verb.to_ascii_lowercase() {
                    'f' => format!("{x:.*}", v.prec.unwrap_or(6)),
                    'e' => fix_exp(&format!("{x:.*e}", v.prec.unwrap_or(6))),
                    _ => float_g(x, v.prec),
                };
                if verb.is_ascii_uppercase() {
                    s.to_uppercase()
                } else {
                    s
                }
            };
            Ok((sign.to_string(), body))
        }
        _ => Err(format!("{f}() does not support the format verb %{verb}")),
    }
}

/// Rust's `1.5e3` as Go's `1.5e+03`.
fn fix_exp(s: &str) -> String {
    match s.split_once('e').map(|(m, e)| (m, e.parse::<i32>())) {
        Some((m, Ok(e))) => format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs()),
        _ => s.to_string(),
    }
}

/// Go's `%g`: shortest representation, with an exponent for large or small magnitudes.
fn float_g(x: f64, prec: Option<usize>) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let p = prec.map(|p| p.max(1));
    let sci = match p {
        Some(p) => format!("{x:.*e}", p - 1),
        None => format!("{x:e}"),
    };
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i64 = exp.parse().unwrap_or(0);
    let trim = |s: &str| {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if exp < -4 || exp >= p.map_or(6, |p| p as i64) {
        fix_exp(&format!("{}e{exp}", trim(mant)))
    } else {
        match p {
            Some(p) => trim(&format!(
                "{x:.*}",
                usize::try_from(p as i64 - 1 - exp).unwrap_or(0)
            )),
            None => format!("{x}"),
        }
    }
}

fn formatlist(spec: &str, args: &[Value]) -> Result<Value, String> {
    let mut len: Option<usize> = None;
    for (i, v) in args.iter().enumerate() {
        if let Some(items) = v.as_items() {
            match len {
                Some(l) if l != items.len() => {
                    let k = items.len();
                    return Err(format!(
                        "formatlist() argument {} has length {k}, but other lists have length {l}",
                        i + 2
                    ));
                }
                _ => len = Some(items.len()),
            }
        }
    }
    (0..len.unwrap_or(1))
        .map(|k| {
            let row: Vec<Value> = args
                .iter()
                .map(|v| match v.as_items() {
                    Some(items) => items.get(k).cloned().unwrap_or_default(),
                    None => v.clone(),
                })
                .collect();
            format_values("formatlist", spec, &row).map(Value::String)
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Value::List)
}

// ---- encoding, hashing, files ----

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

fn digest(alg: &str, data: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    match alg {
        "md5" => md5::Md5::digest(data).to_vec(),
        "sha1" => sha1::Sha1::digest(data).to_vec(),
        "sha512" => sha2::Sha512::digest(data).to_vec(),
        _ => sha2::Sha256::digest(data).to_vec(),
    }
}

/// JSON exactly as Terraform's `jsonencode` writes it: compact, object keys sorted,
/// integral numbers without a fraction, and `<`, `>`, `&`, U+2028, U+2029 escaped.
fn json_encode(v: &Value) -> String {
    v.to_json()
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

fn expand_home(p: &str) -> String {
    match (p.strip_prefix('~'), std::env::var("HOME")) {
        (Some(rest), Ok(home)) if rest.is_empty() || rest.starts_with('/') => {
            format!("{home}{rest}")
        }
        _ => p.to_string(),
    }
}

fn resolve(ctx: &FuncContext, p: &str) -> PathBuf {
    let p = expand_home(p);
    if Path::new(&p).is_absolute() {
        PathBuf::from(p)
    } else {
        ctx.base_dir.join(p)
    }
}

fn read_file(f: &str, ctx: &FuncContext, p: &str) -> Result<Vec<u8>, String> {
    let path = resolve(ctx, p);
    if path.is_dir() {
        return Err(format!("{f}() cannot read {p:?} because it is a directory"));
    }
    std::fs::read(&path).map_err(|e| match e.kind() {
        ErrorKind::NotFound => format!("{f}() found no file at {:?}", path.display().to_string()),
        _ => format!("{f}() cannot read {p:?}: {e}"),
    })
}

/// Go's `path.Clean`: lexical removal of `.`, `..` and repeated slashes.
fn clean(p: &str) -> String {
    let rooted = p.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." if out.last().is_some_and(|s| *s != "..") => {
                out.pop();
            }
            ".." if rooted => {}
            s => out.push(s),
        }
    }
    match (rooted, out.join("/")) {
        (true, j) => format!("/{j}"),
        (false, j) if j.is_empty() => ".".into(),
        (false, j) => j,
    }
}

// ---- CIDR arithmetic (IPv4 in the low 32 bits of a u128) ----

struct Cidr {
    base: u128,
    len: u32,
    bits: u32,
}

fn parse_cidr(s: &str) -> Result<Cidr, String> {
    let net: ipnet::IpNet = s
        .parse()
        .map_err(|_| format!("invalid CIDR prefix {s:?}"))?;
    let len = u32::from(net.prefix_len());
    Ok(match net.trunc() {
        ipnet::IpNet::V4(n) => Cidr {
            base: u128::from(u32::from(n.addr())),
            len,
            bits: 32,
        },
        ipnet::IpNet::V6(n) => Cidr {
            base: u128::from(n.addr()),
            len,
            bits: 128,
        },
    })
}

/// The lowest `n` bits set.
fn ones(n: u32) -> u128 {
    if n >= 128 {
        u128::MAX
    } else {
        (1u128 << n) - 1
    }
}

fn fmt_addr(addr: u128, bits: u32) -> String {
    if bits == 32 {
        Ipv4Addr::from(u32::try_from(addr & ones(32)).unwrap_or(0)).to_string()
    } else {
        Ipv6Addr::from(addr).to_string()
    }
}

#[cfg(test)]
mod tests;
