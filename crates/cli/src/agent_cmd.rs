//! `terrane agent`, `agent stop`, `status`, `logs` and `events`.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use terrane_agent::client;
use terrane_engine::render::Style;
use terrane_workspace::agent::{log_files, running};

use crate::session::fail;

/// `terrane agent`: a keeper process that runs the agent (`terrane agent --worker`) and
/// restarts it if it dies; `--worker` is one agent process.
pub async fn run_agent(dir: &Path, listen: &str, worker: bool) -> u8 {
    let result = if worker {
        terrane_workspace::agent::run_worker(dir, listen).await
    } else {
        let program = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("terrane"));
        terrane_agent::run_kept(dir, listen, || {
            let mut c = std::process::Command::new(&program);
            c.arg("-C")
                .arg(dir)
                .arg("agent")
                .arg("--worker")
                .arg("--listen")
                .arg(listen);
            c
        })
        .await
    };
    match result {
        Ok(()) => 0,
        Err(e) => fail(e),
    }
}

pub async fn stop(dir: &Path) -> u8 {
    let Some((info, c)) = client::find(dir).await else {
        outln!("No agent is running for this workspace.");
        return 0;
    };
    match client::stop(dir, &c).await {
        Ok(()) => {
            outln!(
                "Stopped the agent (pid {}). Services keep running; the next agent re-adopts them.",
                info.pid
            );
            0
        }
        Err(e) => fail(format!("cannot stop the agent (pid {}): {e}", info.pid)),
    }
}

pub async fn status(dir: &Path, as_json: bool, style: Style) -> u8 {
    let r = match running(dir).await {
        Ok(Some(r)) => r,
        Ok(None) => {
            if as_json {
                outln!(
                    "{{\"agent\": null, \"services\": [], \"load_balancers\": [], \"dns_zones\": [], \"autoscalers\": []}}"
                );
            } else {
                outln!("No agent is running for this workspace; local services are not supervised. Start one with: terrane agent (terrane apply starts one when needed).");
            }
            return 0;
        }
        Err(e) => return fail(e),
    };
    if as_json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&r.to_json()).unwrap_or_default()
        );
        return 0;
    }
    out!("{}", r.render(style));
    0
}

pub async fn logs(dir: &Path, service: &str, follow: bool) -> u8 {
    let (name, files) = or_fail!(log_files(dir, service));
    let mut offsets: Vec<u64> = vec![0; files.len()];
    loop {
        let mut out = std::io::stdout().lock();
        for (i, f) in files.iter().enumerate() {
            let replica = f
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let Ok(mut file) = std::fs::File::open(f) else {
                continue;
            };
            let len = file.metadata().map(|m| m.len()).unwrap_or(0);
            if len < offsets[i] {
                offsets[i] = 0; // rotated
            }
            if file.seek(SeekFrom::Start(offsets[i])).is_err() {
                continue;
            }
            let mut buf = String::new();
            let _ = file.read_to_string(&mut buf);
            offsets[i] += buf.len() as u64;
            for line in buf.lines() {
                crate::ui::check_stdout(writeln!(out, "[{name}/{replica}] {line}"));
            }
        }
        drop(out);
        if !follow || crate::ui::stdout_is_closed() {
            return 0;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub async fn events(dir: &Path, follow: bool) -> u8 {
    let mut seen = 0usize;
    loop {
        let Some((_, c)) = client::find(dir).await else {
            return fail("no agent is running for this workspace");
        };
        let events = or_fail!(c.events().await);
        for e in events.iter().skip(seen) {
            outln!(
                "{} {:<16} {}",
                terrane_state::lock::format_time(e.time),
                e.service,
                e.message
            );
        }
        seen = events.len();
        if !follow || crate::ui::stdout_is_closed() {
            return 0;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
