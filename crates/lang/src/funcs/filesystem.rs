//! File system functions: reading files below the module directory (`file`,
//! `filebase64`, the file digests, `fileexists`) and path arithmetic (`abspath`,
//! `basename`, `dirname`, `pathexpand`), and `fileset`, the files matching a glob.
//! They only read, never write.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use terrane_core::Value;

use super::encoding::{b64, digest};
use super::{Args, Func, FuncContext};

/// This family's rows of the registration table.
pub(super) const FUNCS: &[Func] = &[
    Func::exactly("abspath", 1, abspath),
    Func::exactly("basename", 1, basename),
    Func::exactly("dirname", 1, dirname),
    Func::exactly("file", 1, file),
    Func::exactly("filebase64", 1, filebase64),
    Func::exactly("filebase64sha256", 1, filebase64sha256),
    Func::exactly("filebase64sha512", 1, filebase64sha512),
    Func::exactly("fileexists", 1, fileexists),
    Func::exactly("filemd5", 1, filemd5),
    Func::exactly("fileset", 2, fileset),
    Func::exactly("filesha1", 1, filesha1),
    Func::exactly("filesha256", 1, filesha256),
    Func::exactly("filesha512", 1, filesha512),
    Func::exactly("pathexpand", 1, pathexpand),
];

fn file(a: &Args, ctx: &FuncContext) -> Result<Value, String> {
    let p = a.str(0)?;
    String::from_utf8(read_file(a.name, ctx, &p)?)
        .map(Value::String)
        .map_err(|_| {
            format!("file() found that {p:?} is not valid UTF-8; use filebase64() for binary files")
        })
}

fn filebase64(a: &Args, ctx: &FuncContext) -> Result<Value, String> {
    let bytes = read_file(a.name, ctx, &a.str(0)?)?;
    Ok(Value::String(b64().encode(bytes)))
}

fn filemd5(a: &Args, ctx: &FuncContext) -> Result<Value, String> {
    file_hex_digest(a, ctx, "md5")
}

fn filesha1(a: &Args, ctx: &FuncContext) -> Result<Value, String> {
    file_hex_digest(a, ctx, "sha1")
}

fn filesha256(a: &Args, ctx: &FuncContext) -> Result<Value, String> {
    file_hex_digest(a, ctx, "sha256")
}

fn filesha512(a: &Args, ctx: &FuncContext) -> Result<Value, String> {
    file_hex_digest(a, ctx, "sha512")
}

fn filebase64sha256(a: &Args, ctx: &FuncContext) -> Result<Value, String> {
    file_base64_digest(a, ctx, "sha256")
}

fn filebase64sha512(a: &Args, ctx: &FuncContext) -> Result<Value, String> {
    file_base64_digest(a, ctx, "sha512")
}

/// The digest of the file named by the argument, in lowercase hex.
fn file_hex_digest(a: &Args, ctx: &FuncContext, alg: &str) -> Result<Value, String> {
    let bytes = read_file(a.name, ctx, &a.str(0)?)?;
    Ok(Value::String(hex::encode(digest(alg, &bytes))))
}

/// The digest of the file named by the argument, in base64.
fn file_base64_digest(a: &Args, ctx: &FuncContext, alg: &str) -> Result<Value, String> {
    let bytes = read_file(a.name, ctx, &a.str(0)?)?;
    Ok(Value::String(b64().encode(digest(alg, &bytes))))
}

fn fileexists(a: &Args, ctx: &FuncContext) -> Result<Value, String> {
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

/// `fileset(path, pattern)`: the regular files below `path` whose path relative to it
/// matches `pattern` (`*` and `?` within one directory, `**` across any number,
/// `{a,b}` alternatives, `[...]` classes), with `/` separators. A missing directory
/// gives an empty set, as in Terraform.
fn fileset(a: &Args, ctx: &FuncContext) -> Result<Value, String> {
    let (base, pattern) = (a.str(0)?, a.str(1)?);
    let matcher = globset::GlobBuilder::new(&pattern)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .map_err(|e| format!("fileset() argument 2 is not a valid pattern: {e}"))?
        .compile_matcher();
    let root = resolve(ctx, &base);
    let mut found = Vec::new();
    let mut pending = vec![(root, String::new())];
    let mut seen = 0usize;
    while let Some((dir, rel)) = pending.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
                continue
            }
            Err(e) => {
                return Err(format!(
                    "fileset() cannot read {:?}: {e}",
                    dir.display().to_string()
                ))
            }
        };
        for entry in entries {
            let entry = entry.map_err(|e| {
                format!("fileset() cannot read {:?}: {e}", dir.display().to_string())
            })?;
            seen += 1;
            if seen > super::MAX_SIZE {
                return Err(format!(
                    "fileset() stopped after {} entries below {base:?}; narrow the path",
                    super::MAX_SIZE
                ));
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            // Symbolic links to files count as files; directories are entered only
            // when they are real ones, so a link cannot make the walk go round.
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                pending.push((entry.path(), path));
            } else if std::fs::metadata(entry.path()).is_ok_and(|m| m.is_file())
                && matcher.is_match(&path)
            {
                found.push(Value::String(path));
            }
        }
    }
    found.sort_by(|x, y| x.as_str().cmp(&y.as_str()));
    Ok(Value::Set(found))
}

fn abspath(a: &Args, ctx: &FuncContext) -> Result<Value, String> {
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

fn basename(a: &Args, _: &FuncContext) -> Result<Value, String> {
    let p = a.str(0)?;
    let t = p.trim_end_matches('/');
    Ok(Value::from(match (p.is_empty(), t.is_empty()) {
        (true, _) => ".",
        (false, true) => "/",
        _ => t.rsplit('/').next().unwrap_or(t),
    }))
}

fn dirname(a: &Args, _: &FuncContext) -> Result<Value, String> {
    let p = a.str(0)?;
    Ok(Value::String(match p.rsplit_once('/') {
        Some((head, _)) => clean(&format!("{head}/")),
        None => ".".into(),
    }))
}

fn pathexpand(a: &Args, _: &FuncContext) -> Result<Value, String> {
    Ok(Value::String(expand_home(&a.str(0)?)))
}

/// `~` or `~/...` under `HOME`; any other path unchanged.
fn expand_home(p: &str) -> String {
    match (p.strip_prefix('~'), std::env::var("HOME")) {
        (Some(rest), Ok(home)) if rest.is_empty() || rest.starts_with('/') => {
            format!("{home}{rest}")
        }
        _ => p.to_string(),
    }
}

/// A path given to a file function: absolute, or relative to the module directory.
fn resolve(ctx: &FuncContext, p: &str) -> PathBuf {
    let p = expand_home(p);
    if Path::new(&p).is_absolute() {
        PathBuf::from(p)
    } else {
        ctx.base_dir.join(p)
    }
}

/// The bytes of the file at `p`; errors name the function `f` and the path.
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
