//! `local-exec`: runs `command` on this host, under `interpreter` (default
//! `/bin/sh -c`), in `working_dir`, with `environment` added to terrane's own, and
//! streams what it prints (stdout and stderr, as they come) line by line.

use std::process::Stdio;

use terrane_core::Value;
use tokio::io::{AsyncBufReadExt as _, BufReader};

use crate::{string_arg, strings_arg, Output, ProvisionError};

/// How many of the last lines a failure quotes.
const QUOTED_LINES: usize = 20;

pub async fn local_exec(config: &Value, out: &Output<'_>) -> Result<(), ProvisionError> {
    let command = string_arg(config, "command").unwrap_or_default();
    let mut argv = strings_arg(config, "interpreter")
        .filter(|i| !i.is_empty())
        .unwrap_or_else(|| vec!["/bin/sh".to_string(), "-c".to_string()]);
    argv.push(command.to_string());
    if config.get("quiet").and_then(Value::as_bool) == Some(true) {
        out.line("local-exec: Executing: Suppressed by quiet=true");
    } else {
        out.line(&format!("Executing: {}", go_quoted_list(&argv)));
    }
    let mut cmd = tokio::process::Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(dir) = string_arg(config, "working_dir").filter(|d| !d.is_empty()) {
        cmd.current_dir(dir);
    }
    if let Some(env) = config.get("environment").and_then(Value::as_map) {
        for (k, v) in env {
            if let Some(v) = v.as_str() {
                cmd.env(k, v);
            }
        }
    }
    let mut child = cmd.spawn().map_err(|e| {
        ProvisionError(out.mask(&format!(
            "Error running command '{command}': cannot start {:?}: {e}.",
            argv[0]
        )))
    })?;
    let stdout = child.stdout.take().map(|s| BufReader::new(s).lines());
    let stderr = child.stderr.take().map(|s| BufReader::new(s).lines());
    let mut tail: Vec<String> = Vec::new();
    let mut emit = |line: String| {
        out.line(&line);
        tail.push(line);
        if tail.len() > QUOTED_LINES {
            tail.remove(0);
        }
    };
    let (mut stdout, mut stderr) = (stdout, stderr);
    loop {
        tokio::select! {
            line = next(&mut stdout), if stdout.is_some() => match line {
                Some(l) => emit(l),
                None => stdout = None,
            },
            line = next(&mut stderr), if stderr.is_some() => match line {
                Some(l) => emit(l),
                None => stderr = None,
            },
            else => break,
        }
    }
    let status = child
        .wait()
        .await
        .map_err(|e| ProvisionError(format!("Error running command: waiting for it: {e}.")))?;
    if status.success() {
        return Ok(());
    }
    let why = match status.code() {
        Some(code) => format!("exit status {code}"),
        None => "killed by a signal".to_string(),
    };
    Err(ProvisionError(out.mask(&format!(
        "Error running command '{command}': {why}. Output: {}",
        tail.join("\n")
    ))))
}

async fn next(
    lines: &mut Option<tokio::io::Lines<BufReader<impl tokio::io::AsyncRead + Unpin>>>,
) -> Option<String> {
    match lines {
        Some(l) => l.next_line().await.ok().flatten(),
        None => None,
    }
}

/// A list of strings as Go's `%q` prints a `[]string`: `["/bin/sh" "-c" "echo hi"]`.
fn go_quoted_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| go_quote(s)).collect();
    format!("[{}]", quoted.join(" "))
}

fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use terrane_core::ObjectMap;

    fn config(pairs: &[(&str, Value)]) -> Value {
        let mut m = ObjectMap::new();
        for (k, v) in pairs {
            m.insert(k.to_string(), v.clone());
        }
        Value::Map(m)
    }

    fn run(cfg: Value, secrets: &[&str]) -> (Result<(), ProvisionError>, Vec<String>) {
        let lines = RefCell::new(Vec::new());
        let sink = |l: &str| lines.borrow_mut().push(l.to_string());
        let out = Output::new(&sink, secrets.iter().map(|s| s.to_string()).collect());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let result = rt.block_on(local_exec(&cfg, &out));
        (result, lines.into_inner())
    }

    #[test]
    fn runs_with_environment_and_directory_and_streams_both_outputs() {
        let dir = tempfile::tempdir().expect("a directory");
        let mut env = ObjectMap::new();
        env.insert("GREETING".into(), Value::string("hello"));
        let (result, lines) = run(
            config(&[
                (
                    "command",
                    Value::string("echo $GREETING; pwd; echo oops >&2"),
                ),
                (
                    "working_dir",
                    Value::string(dir.path().display().to_string()),
                ),
                ("environment", Value::Map(env)),
            ]),
            &[],
        );
        result.expect("the command succeeds");
        assert_eq!(
            lines[0],
            r#"Executing: ["/bin/sh" "-c" "echo $GREETING; pwd; echo oops >&2"]"#
        );
        assert!(lines.contains(&"hello".to_string()), "{lines:?}");
        assert!(
            lines
                .iter()
                .any(|l| l.ends_with(&*dir.path().file_name().unwrap().to_string_lossy())),
            "{lines:?}"
        );
        assert!(lines.contains(&"oops".to_string()), "{lines:?}");
    }

    #[test]
    fn a_failure_names_the_command_and_status_and_secrets_are_masked() {
        let (result, lines) = run(
            config(&[
                ("command", Value::string("echo token=s3cr3t; exit 3")),
                (
                    "interpreter",
                    Value::List(vec![Value::string("/bin/bash"), Value::string("-c")]),
                ),
            ]),
            &["s3cr3t"],
        );
        let err = result.expect_err("exit 3 fails").0;
        assert!(err.contains("exit status 3"), "{err}");
        assert!(err.contains("token=(sensitive value)"), "{err}");
        assert!(
            !err.contains("s3cr3t") && lines.iter().all(|l| !l.contains("s3cr3t")),
            "{err} {lines:?}"
        );
        assert_eq!(
            lines[0],
            r#"Executing: ["/bin/bash" "-c" "echo token=(sensitive value); exit 3"]"#
        );
    }

    #[test]
    fn quiet_hides_the_command_only() {
        let (result, lines) = run(
            config(&[
                ("command", Value::string("echo shown")),
                ("quiet", Value::Bool(true)),
            ]),
            &[],
        );
        result.expect("succeeds");
        assert_eq!(
            lines,
            ["local-exec: Executing: Suppressed by quiet=true", "shown"]
        );
    }
}
