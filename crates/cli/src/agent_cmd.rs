//! `terrane agent`, `agent stop`, `status`, `logs` and `events`.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use terrane_agent::client;
use terrane_engine::render::Style;

use crate::commands::fail;

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

/// Agent service name → resource address, from state.
fn addresses(dir: &Path) -> BTreeMap<String, String> {
    let Ok(state) = crate::state_cmd::read_state(dir) else {
        return BTreeMap::new();
    };
    state
        .resources
        .values()
        .filter(|i| i.addr.resource.type_name == "local_service")
        .filter_map(|i| {
            i.value
                .get("id")
                .and_then(|v| v.as_str())
                .map(|id| (id.to_string(), i.addr.to_string()))
        })
        .collect()
}

/// Everything the agent runs, as `status` shows it.
struct Running {
    services: Vec<terrane_agent::spec::ServiceStatus>,
    balancers: Vec<terrane_agent::lb::LbStatus>,
    zones: Vec<terrane_agent::dns::ZoneStatus>,
    autoscalers: Vec<terrane_agent::autoscale::AutoscalerStatus>,
}

async fn running(c: &client::AgentClient) -> Result<Running, String> {
    Ok(Running {
        services: c.services().await?,
        balancers: c.lbs().await?,
        zones: c.zones().await?,
        autoscalers: c.autoscalers().await?,
    })
}

/// The replica count a service is held at now: its autoscaler's while one owns it,
/// else the configuration's.
fn target(s: &terrane_agent::spec::ServiceStatus) -> u32 {
    if s.autoscaled {
        s.desired
    } else {
        s.spec.replicas
    }
}

/// An autoscaler's current and desired counts: its last decision, or its service's
/// count before the first one.
fn autoscaler_counts(
    a: &terrane_agent::autoscale::AutoscalerStatus,
    services: &[terrane_agent::spec::ServiceStatus],
) -> (Option<u32>, Option<u32>) {
    match &a.last_decision {
        Some(d) => (Some(d.current), Some(d.desired)),
        None => {
            let n = services
                .iter()
                .find(|s| s.name == a.spec.service)
                .map(target);
            (n, n)
        }
    }
}

fn metric_name(m: terrane_agent::autoscale::MetricKind) -> String {
    serde_json::to_value(m)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

pub async fn status(dir: &Path, as_json: bool, style: Style) -> u8 {
    let Some((info, c)) = client::find(dir).await else {
        if as_json {
            outln!(
                "{{\"agent\": null, \"services\": [], \"load_balancers\": [], \"dns_zones\": [], \"autoscalers\": []}}"
            );
        } else {
            outln!("No agent is running for this workspace; local services are not supervised. Start one with: terrane agent (terrane apply starts one when needed).");
        }
        return 0;
    };
    let r = match running(&c).await {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let names = addresses(dir);
    if as_json {
        let doc = serde_json::json!({
            "agent": {"pid": info.pid, "keeper_pid": info.keeper_pid, "address": info.address},
            "services": r.services.iter().map(|s| serde_json::json!({
                "name": s.name,
                "address": names.get(&s.name),
                "replicas_desired": target(s),
                "replicas_configured": s.spec.replicas,
                "autoscaled": s.autoscaled,
                "replicas_ready": s.ready,
                "replicas": s.replicas,
            })).collect::<Vec<_>>(),
            "load_balancers": r.balancers.iter().map(|b| serde_json::json!({
                "name": b.name,
                "address": b.address,
                "protocol": b.spec.protocol,
                "algorithm": b.spec.algorithm,
                "requests": b.requests,
                "failed": b.failed,
                "backends": b.backends.iter().map(|be| serde_json::json!({
                    "address": be.address,
                    "healthy": !be.ejected,
                    "requests": be.requests,
                    "errors": be.errors,
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "dns_zones": r.zones.iter().map(|z| serde_json::json!({
                "id": z.id,
                "name": z.spec.name,
                "address": z.address,
                "records": z.records.len(),
            })).collect::<Vec<_>>(),
            "autoscalers": r.autoscalers.iter().map(|a| {
                let (current, desired) = autoscaler_counts(a, &r.services);
                serde_json::json!({
                    "name": a.name,
                    "service": a.spec.service,
                    "current": current,
                    "desired": desired,
                    "min_replicas": a.spec.min_replicas,
                    "max_replicas": a.spec.max_replicas,
                    "metric": metric_name(a.spec.metric),
                    "metric_value": a.last_decision.as_ref().map(|d| d.metric),
                    "target": a.spec.target,
                    "reason": a.last_decision.as_ref().map(|d| d.reason.clone()),
                })
            }).collect::<Vec<_>>(),
        });
        outln!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        return 0;
    }
    match info.keeper_pid {
        Some(k) => outln!(
            "Agent pid {} (keeper pid {k}) at http://{}\n",
            info.pid,
            info.address
        ),
        None => outln!("Agent pid {} at http://{}\n", info.pid, info.address),
    }
    if r.services.is_empty() && r.balancers.is_empty() && r.zones.is_empty() {
        outln!("No services, load balancers or DNS zones.");
        return 0;
    }
    for s in &r.services {
        let title = match names.get(&s.name) {
            Some(a) => format!("{a} ({})", s.name),
            None => s.name.clone(),
        };
        let owner = if s.autoscaled {
            format!(" (autoscaled; configured {})", s.spec.replicas)
        } else {
            String::new()
        };
        outln!(
            "{}  {}/{} ready{owner}",
            style.bold(&title),
            s.ready,
            target(s)
        );
        outln!(
            "  {:<8} {:<8} {:<22} {:<11} {:<10} {:>8}  LAST ERROR",
            "REPLICA",
            "PID",
            "ADDRESS",
            "STATE",
            "HEALTH",
            "RESTARTS"
        );
        for r in &s.replicas {
            let health = if r.healthy {
                style.green("healthy")
            } else {
                style.red("unhealthy")
            };
            let state = serde_json::to_value(r.state)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            outln!(
                "  {:<8} {:<8} {:<22} {:<11} {:<10} {:>8}  {}",
                r.index,
                r.pid.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
                r.address,
                state,
                health,
                r.restarts,
                r.last_error.clone().unwrap_or_default()
            );
        }
        outln!();
    }
    if !r.balancers.is_empty() {
        outln!("{}", style.bold("Load balancers"));
        for b in &r.balancers {
            let healthy = b.backends.iter().filter(|be| !be.ejected).count();
            outln!(
                "  {:<16} {:<22} {} of {} backends healthy, {} requests ({} failed)",
                b.name,
                b.address,
                healthy,
                b.backends.len(),
                b.requests,
                b.failed
            );
            for be in &b.backends {
                let health = if be.ejected {
                    style.red("ejected")
                } else {
                    style.green("healthy")
                };
                outln!("    {:<22} {health}  {} requests", be.address, be.requests);
            }
        }
        outln!();
    }
    if !r.zones.is_empty() {
        outln!("{}", style.bold("DNS zones"));
        for z in &r.zones {
            outln!(
                "  {:<24} {:<22} {} records",
                z.spec.name,
                z.address,
                z.records.len()
            );
        }
        outln!();
    }
    if !r.autoscalers.is_empty() {
        outln!("{}", style.bold("Autoscalers"));
        for a in &r.autoscalers {
            let (current, desired) = autoscaler_counts(a, &r.services);
            let show = |n: Option<u32>| n.map(|n| n.to_string()).unwrap_or_else(|| "-".into());
            let value = a
                .last_decision
                .as_ref()
                .map(|d| format!("{:.2}", d.metric))
                .unwrap_or_else(|| "not measured yet".into());
            outln!(
                "  {:<16} service {}: {} current, {} desired [{}..{}]; {} {} (target {})",
                a.name,
                a.spec.service,
                show(current),
                show(desired),
                a.spec.min_replicas,
                a.spec.max_replicas,
                metric_name(a.spec.metric),
                value,
                a.spec.target
            );
        }
        outln!();
    }
    0
}

fn log_files(dir: &Path, service: &str) -> Result<(String, Vec<PathBuf>), String> {
    // Accept the resource address (local_service.web) or the agent's name.
    let name = addresses(dir)
        .into_iter()
        .find(|(_, a)| a == service)
        .map(|(n, _)| n)
        .unwrap_or_else(|| service.to_string());
    let logs = client::agent_dir(dir).join("logs").join(&name);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&logs)
        .map_err(|_| {
            format!(
                "no logs for service {service:?} (looked in {})",
                logs.display()
            )
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    files.sort();
    Ok((name, files))
}

pub async fn logs(dir: &Path, service: &str, follow: bool) -> u8 {
    let (name, files) = match log_files(dir, service) {
        Ok(x) => x,
        Err(e) => return fail(e),
    };
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
        let events = match c.events().await {
            Ok(e) => e,
            Err(e) => return fail(e),
        };
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
