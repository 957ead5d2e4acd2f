//! Canonical formatting of configuration files (`terrane fmt`).
//!
//! The formatter is layout-only and comment-preserving: it re-indents code by two
//! spaces per nesting level, aligns the `=` of consecutive one-line attributes at the
//! same level, puts one space around `=` and trims trailing whitespace; blank lines
//! and the end of the file are left as they are, as `terraform fmt` leaves them.
//! Strings, heredocs (closing markers included) and comments are never changed. A file that
//! does not parse is refused, and the result is checked to parse again.

/// Formats one file. The error says why the file was not formatted.
pub fn format_source(text: &str) -> Result<String, String> {
    crate::config::parse_body(text).map_err(|e| {
        format!(
            "line {}, column {}: {}",
            e.location().line(),
            e.location().column(),
            e.message()
        )
    })?;
    let lines = classify(text);
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    for l in &lines {
        match l.kind {
            Kind::Verbatim | Kind::Heredoc => out.push(l.text.to_string()),
            Kind::Code => {
                let trimmed = l.text.trim();
                if trimmed.is_empty() {
                    out.push(String::new());
                } else {
                    out.push(format!("{}{}", "  ".repeat(l.indent), trimmed));
                }
            }
        }
    }
    align(&lines, &mut out);
    // Like `terraform fmt`, blank lines and the file's last newline (or its absence)
    // stay as they are: an empty file stays empty.
    let result = out.join("\n");
    crate::config::parse_body(&result).map_err(|e| {
        format!(
            "formatting would break the file (line {}): {}; please report this",
            e.location().line(),
            e.message()
        )
    })?;
    Ok(result)
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// A line that starts in code: re-indented.
    Code,
    /// A line that starts inside a multi-line string or a block comment.
    Verbatim,
    /// A heredoc's body or closing line: left as it is, and no break in the alignment
    /// of the attributes around it (as Terraform formats them).
    Heredoc,
}

struct Line<'a> {
    text: &'a str,
    kind: Kind,
    indent: usize,
    /// Nesting depth at the end of the line (to tell whether it opened something).
    depth_after: usize,
}

#[derive(Clone, PartialEq)]
enum Ctx {
    Code,
    Str,
    /// `${` or `%{` inside a string: code until the matching `}`.
    Interp(usize),
    Heredoc(String),
    BlockComment,
}

fn classify(text: &str) -> Vec<Line<'_>> {
    let mut out = Vec::new();
    let mut stack: Vec<Ctx> = vec![Ctx::Code];
    // Like Terraform's formatter, a line that opens brackets adds one indent level
    // however many it opens (`jsonencode({`); each level remembers how many brackets
    // it holds, so closing them all (`})`) removes exactly that level.
    let mut levels: Vec<usize> = Vec::new();
    for raw in text.split('\n') {
        let depth = levels.len();
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let top = stack.last().cloned().unwrap_or(Ctx::Code);
        if let Ctx::Heredoc(delim) = &top {
            if line.trim() == delim {
                stack.pop();
            }
            out.push(Line {
                text: line,
                kind: Kind::Heredoc,
                indent: depth,
                depth_after: depth,
            });
            continue;
        }
        let kind = if matches!(top, Ctx::Code) {
            Kind::Code
        } else {
            Kind::Verbatim
        };
        let (mut opens, mut closes) = (0usize, 0usize);
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            let next = chars.get(i + 1).copied();
            match stack.last().cloned().unwrap_or(Ctx::Code) {
                Ctx::Code | Ctx::Interp(_) => match c {
                    '#' => break,
                    '/' if next == Some('/') => break,
                    '/' if next == Some('*') => {
                        stack.push(Ctx::BlockComment);
                        i += 1;
                    }
                    '"' => stack.push(Ctx::Str),
                    '<' if next == Some('<') => {
                        let rest: String = chars[i + 2..].iter().collect();
                        let rest = rest.strip_prefix('-').unwrap_or(&rest);
                        let delim: String = rest
                            .chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_')
                            .collect();
                        if !delim.is_empty() {
                            stack.push(Ctx::Heredoc(delim));
                            break;
                        }
                        i += 1;
                    }
                    '{' | '[' | '(' => {
                        if let Some(Ctx::Interp(d)) = stack.last_mut() {
                            *d += 1;
                        } else {
                            opens += 1;
                        }
                    }
                    '}' | ']' | ')' => match stack.last_mut() {
                        Some(Ctx::Interp(0)) => {
                            stack.pop();
                        }
                        Some(Ctx::Interp(d)) => *d -= 1,
                        _ => closes += 1,
                    },
                    _ => {}
                },
                Ctx::Str => match c {
                    '\\' => i += 1,
                    '"' => {
                        stack.pop();
                    }
                    '$' | '%' if next == Some('{') => {
                        stack.push(Ctx::Interp(0));
                        i += 1;
                    }
                    _ => {}
                },
                Ctx::BlockComment => {
                    if c == '*' && next == Some('/') {
                        stack.pop();
                        i += 1;
                    }
                }
                Ctx::Heredoc(_) => break,
            }
            i += 1;
        }
        // A line that closes more than it opens is dedented itself; one that opens
        // more indents the lines after it.
        let indent = if opens > closes {
            levels.push(opens - closes);
            depth
        } else {
            close_levels(&mut levels, closes - opens);
            levels.len()
        };
        out.push(Line {
            text: line,
            kind,
            indent,
            depth_after: levels.len(),
        });
    }
    out
}

/// Closes `n` brackets: the innermost level loses them, and disappears once empty.
fn close_levels(levels: &mut Vec<usize>, mut n: usize) {
    while n > 0 {
        let Some(top) = levels.last_mut() else { return };
        if n >= *top {
            n -= *top;
            levels.pop();
        } else {
            *top -= n;
            n = 0;
        }
    }
}

/// The attribute name of a one-line `name = value` line, if it is one.
fn attr_name(line: &str) -> Option<(&str, &str)> {
    let t = line.trim_start();
    let end = if let Some(quoted) = t.strip_prefix('"') {
        // A quoted object key (`"k" = v`), aligned like a name.
        let mut escaped = false;
        let close = quoted.char_indices().find_map(|(i, c)| match c {
            _ if escaped => {
                escaped = false;
                None
            }
            '\\' => {
                escaped = true;
                None
            }
            '"' => Some(i),
            _ => None,
        })?;
        close + 2
    } else {
        t.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))?
    };
    if end == 0 {
        return None;
    }
    let rest = t[end..].trim_start();
    let value = rest.strip_prefix('=')?;
    if value.starts_with('=') {
        return None;
    }
    Some((&t[..end], value.trim_start()))
}

fn align(lines: &[Line<'_>], out: &mut [String]) {
    let mut i = 0;
    while i < lines.len() {
        let is_attr = |j: usize| lines[j].kind == Kind::Code && attr_name(&out[j]).is_some();
        if !is_attr(i) {
            i += 1;
            continue;
        }
        let indent = lines[i].indent;
        // A line whose value continues on following lines (`tags = {`) is not aligned
        // and ends the group, as in Terraform's formatter.
        let opens = |j: usize| lines[j].depth_after > lines[j].indent;
        if opens(i) {
            if let Some((name, value)) = attr_name(&out[i]) {
                out[i] = format!("{}{name} = {value}", "  ".repeat(indent))
                    .trim_end()
                    .to_string();
            }
            i += 1;
            continue;
        }
        let mut j = i;
        // Extend the group over consecutive one-line attributes at the same level (a
        // heredoc's lines belong to its attribute's line).
        while j < lines.len() {
            let member = is_attr(j) && lines[j].indent == indent && !opens(j);
            if lines[j].kind != Kind::Heredoc && !member {
                break;
            }
            j += 1;
        }
        let members = || (i..j).filter(|&k| lines[k].kind == Kind::Code);
        let width = members()
            .filter_map(|k| attr_name(&out[k]).map(|(n, _)| n.chars().count()))
            .max()
            .unwrap_or(0);
        for k in members().collect::<Vec<_>>() {
            if let Some((name, value)) = attr_name(&out[k]) {
                let formatted = format!("{}{name:<width$} = {value}", "  ".repeat(indent));
                out[k] = formatted.trim_end().to_string();
            }
        }
        i = j.max(i + 1);
    }
}

/// The files `terrane fmt` formats under `path`: `path` itself when it is a file, else
/// its `.tf` and `.tfvars` files (and, with `recursive`, those of its subdirectories
/// that are not hidden).
pub fn collect_files(path: &std::path::Path, recursive: bool, out: &mut Vec<std::path::PathBuf>) {
    if path.is_file() {
        out.push(path.to_path_buf());
        return;
    }
    let Ok(rd) = std::fs::read_dir(path) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if p.is_dir() {
            if recursive && !name.starts_with('.') {
                collect_files(&p, recursive, out);
            }
        } else if name.ends_with(".tf") || name.ends_with(".tfvars") {
            out.push(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_terraform_fmt() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fmt");
        let mut cases = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let input = entry.unwrap().path();
            if input.extension().is_none_or(|e| e != "in") {
                continue;
            }
            let src = std::fs::read_to_string(&input).unwrap();
            let want = std::fs::read_to_string(input.with_extension("out")).unwrap();
            let name = input.display();
            assert_eq!(format_source(&src).unwrap(), want, "{name}");
            assert_eq!(
                format_source(&want).unwrap(),
                want,
                "{name}: canonical input changed"
            );
            cases += 1;
        }
        assert!(cases >= 5, "fixtures missing in {}", dir.display());
    }

    #[test]
    fn indents_and_aligns() {
        let src = "resource \"a\" \"b\" {\nname=\"x\"\n    longer_name   =  1\n  tags = {\n  k = \"v\"\n      }\n}\n\n\n";
        let out = format_source(src).unwrap();
        // Blank lines at the end stay, as with terraform fmt.
        assert_eq!(out, "resource \"a\" \"b\" {\n  name        = \"x\"\n  longer_name = 1\n  tags = {\n    k = \"v\"\n  }\n}\n\n\n");
        assert_eq!(
            format_source(&out).unwrap(),
            out,
            "formatting is idempotent"
        );
    }

    #[test]
    fn leaves_heredocs_and_strings_alone() {
        let src = "locals {\n  s = <<EOT\n   keep   this\n EOT\n  t = \"a{b\"\n}\n";
        let out = format_source(src).unwrap();
        assert!(out.contains("   keep   this\n"));
        assert!(out.contains("  t = \"a{b\"\n"));
    }

    #[test]
    fn refuses_broken_files() {
        assert!(format_source("resource \"a\" {").is_err());
    }
}
