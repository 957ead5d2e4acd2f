//! The agent's HTTP API on loopback: health, readiness, Prometheus metrics, and the
//! endpoints of services, balancers, zones, autoscalers and backup policies that the
//! `local` provider and the CLI use (through `terrane_agent_api::client`). Each
//! handler reads or changes the [`AgentState`]; the request and answer types are the
//! API's (`terrane_agent_api`).

use std::fmt::Write;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::autoscale::{Autoscaler, AutoscalerSpec};
use crate::backup::{BackupPolicySpec, BackupPolicyStatus};
use crate::dns::{RecordSpec, Zone, ZoneSpec};
use crate::lb::{BackendStatus, Balancer, LbSpec};
use crate::spec::ServiceSpec;
use crate::state::{save_autoscalers, save_balancers, save_json, save_zones, AgentState};

async fn backup_policy_status(s: &AgentState, name: &str) -> Option<BackupPolicyStatus> {
    let spec = s.backup_policies.lock().await.get(name).cloned()?;
    let job = s
        .backup_jobs
        .lock()
        .await
        .get(&format!("policy/{name}"))
        .cloned()
        .unwrap_or_default();
    let snapshots = crate::backup::list_snapshots(std::path::Path::new(&spec.destination))
        .0
        .len();
    Some(BackupPolicyStatus {
        name: name.to_string(),
        spec,
        job,
        snapshots,
    })
}

async fn list_backup_policies(State(s): State<Arc<AgentState>>) -> Response {
    let names: Vec<String> = s.backup_policies.lock().await.keys().cloned().collect();
    let mut out = Vec::new();
    for n in names {
        out.extend(backup_policy_status(&s, &n).await);
    }
    Json(out).into_response()
}

async fn show_backup_policy(
    State(s): State<Arc<AgentState>>,
    Path(name): Path<String>,
) -> Response {
    match backup_policy_status(&s, &name).await {
        Some(st) => Json(st).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            format!("no backup policy named {name:?}\n"),
        )
            .into_response(),
    }
}

async fn put_backup_policy(
    State(s): State<Arc<AgentState>>,
    Path(name): Path<String>,
    Json(spec): Json<BackupPolicySpec>,
) -> Response {
    if let Err(e) = crate::backup::parse_schedule(&spec.schedule) {
        return (StatusCode::UNPROCESSABLE_ENTITY, format!("{e}\n")).into_response();
    }
    {
        let mut all = s.backup_policies.lock().await;
        all.insert(name.clone(), spec.clone());
        save_json(&s.dir, "backup_policies.json", &*all);
    }
    s.supervisor.event(
        "backup",
        format!(
            "Backup policy {name} scheduled ({}) into {}.",
            spec.schedule, spec.destination
        ),
    );
    match backup_policy_status(&s, &name).await {
        Some(st) => Json(st).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn delete_backup_policy(
    State(s): State<Arc<AgentState>>,
    Path(name): Path<String>,
) -> Response {
    let mut all = s.backup_policies.lock().await;
    if all.remove(&name).is_none() {
        return (
            StatusCode::NOT_FOUND,
            format!("no backup policy named {name:?}\n"),
        )
            .into_response();
    }
    save_json(&s.dir, "backup_policies.json", &*all);
    s.backup_jobs.lock().await.remove(&format!("policy/{name}"));
    s.supervisor.event(
        "backup",
        format!("Backup policy {name} removed; its snapshots are kept."),
    );
    StatusCode::NO_CONTENT.into_response()
}

/// Every route, behind the [`crate::auth`] guard.
pub fn router(state: Arc<AgentState>, guard: Arc<crate::auth::Guard>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/v1/services", get(list))
        .route("/v1/services/{name}", get(show).put(put).delete(delete))
        .route("/v1/events", get(events))
        .route("/v1/backup-policies", get(list_backup_policies))
        .route(
            "/v1/backup-policies/{name}",
            get(show_backup_policy)
                .put(put_backup_policy)
                .delete(delete_backup_policy),
        )
        .route("/v1/autoscalers", get(list_autoscalers))
        .route(
            "/v1/autoscalers/{name}",
            get(show_autoscaler)
                .put(put_autoscaler)
                .delete(delete_autoscaler),
        )
        .route("/v1/dns/zones", get(list_zones))
        .route(
            "/v1/dns/zones/{id}",
            get(show_zone).put(put_zone).delete(delete_zone),
        )
        .route(
            "/v1/dns/zones/{id}/records/{record}",
            axum::routing::put(put_record).delete(delete_record),
        )
        .route("/v1/lbs", get(list_lbs))
        .route("/v1/lbs/{name}", get(show_lb).put(put_lb).delete(delete_lb))
        .route("/v1/shutdown", post(shutdown))
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(
            guard,
            crate::auth::guard,
        ))
}

async fn readyz(State(s): State<Arc<AgentState>>) -> Response {
    if s.ready.load(Ordering::SeqCst) {
        "ready\n".into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "starting\n").into_response()
    }
}

async fn list(State(s): State<Arc<AgentState>>) -> Response {
    Json(s.supervisor.all()).into_response()
}

async fn show(State(s): State<Arc<AgentState>>, Path(name): Path<String>) -> Response {
    match s.supervisor.status(&name) {
        Some(st) => Json(st).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            format!("no service named {name:?}\n"),
        )
            .into_response(),
    }
}

async fn put(
    State(s): State<Arc<AgentState>>,
    Path(name): Path<String>,
    Json(spec): Json<ServiceSpec>,
) -> Response {
    if spec.command.trim().is_empty() {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            "command must not be empty\n",
        )
            .into_response();
    }
    s.supervisor.put(&name, spec);
    match s.supervisor.status(&name) {
        Some(st) => Json(st).into_response(),
        None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn delete(State(s): State<Arc<AgentState>>, Path(name): Path<String>) -> Response {
    if s.supervisor.remove(&name).await {
        StatusCode::NO_CONTENT.into_response()
    } else {
        (
            StatusCode::NOT_FOUND,
            format!("no service named {name:?}\n"),
        )
            .into_response()
    }
}

async fn list_autoscalers(State(s): State<Arc<AgentState>>) -> Response {
    let a = s.autoscalers.lock().await;
    Json(a.values().map(Autoscaler::status).collect::<Vec<_>>()).into_response()
}

async fn show_autoscaler(State(s): State<Arc<AgentState>>, Path(name): Path<String>) -> Response {
    match s.autoscalers.lock().await.get(&name) {
        Some(a) => Json(a.status()).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            format!("no autoscaler named {name:?}\n"),
        )
            .into_response(),
    }
}

async fn put_autoscaler(
    State(s): State<Arc<AgentState>>,
    Path(name): Path<String>,
    Json(spec): Json<AutoscalerSpec>,
) -> Response {
    if s.supervisor.status(&spec.service).is_none() {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("no service named {:?} runs in this agent\n", spec.service),
        )
            .into_response();
    }
    let mut all = s.autoscalers.lock().await;
    if let Some(existing) = all.get(&name) {
        if existing.spec == spec {
            return Json(existing.status()).into_response();
        }
        existing.stop();
    }
    let a = Autoscaler::start(&name, spec, s.supervisor.clone());
    let status = a.status();
    all.insert(name.clone(), a);
    save_autoscalers(&s.dir, &all);
    s.supervisor.event(
        &name,
        format!(
            "Autoscaler now owns the replica count of {}.",
            status.spec.service
        ),
    );
    Json(status).into_response()
}

async fn delete_autoscaler(State(s): State<Arc<AgentState>>, Path(name): Path<String>) -> Response {
    let mut all = s.autoscalers.lock().await;
    match all.remove(&name) {
        Some(a) => {
            a.stop();
            // The configured replica count applies again.
            s.supervisor.set_owned_replicas(&a.spec.service, None);
            save_autoscalers(&s.dir, &all);
            s.supervisor.event(
                &name,
                format!(
                    "Autoscaler removed; {} runs its configured replica count again.",
                    a.spec.service
                ),
            );
            StatusCode::NO_CONTENT.into_response()
        }
        None => (
            StatusCode::NOT_FOUND,
            format!("no autoscaler named {name:?}\n"),
        )
            .into_response(),
    }
}

async fn list_zones(State(s): State<Arc<AgentState>>) -> Response {
    let zones: Vec<Arc<Zone>> = s.zones.lock().await.values().cloned().collect();
    let mut out = Vec::new();
    for z in zones {
        out.push(z.status().await);
    }
    Json(out).into_response()
}

async fn show_zone(State(s): State<Arc<AgentState>>, Path(id): Path<String>) -> Response {
    let zone = s.zones.lock().await.get(&id).cloned();
    match zone {
        Some(z) => Json(z.status().await).into_response(),
        None => (StatusCode::NOT_FOUND, format!("no DNS zone {id:?}\n")).into_response(),
    }
}

async fn put_zone(
    State(s): State<Arc<AgentState>>,
    Path(id): Path<String>,
    Json(spec): Json<ZoneSpec>,
) -> Response {
    let mut zones = s.zones.lock().await;
    if let Some(z) = zones.get(&id) {
        if z.spec == spec {
            return Json(z.status().await).into_response();
        }
        return (
            StatusCode::CONFLICT,
            "a zone's name and address cannot change; replace the zone\n",
        )
            .into_response();
    }
    match Zone::start(&id, spec).await {
        Ok(z) => {
            let st = z.status().await;
            zones.insert(id.clone(), z);
            s.supervisor.event(
                &id,
                format!("DNS zone {} answering on {}.", st.spec.name, st.address),
            );
            save_zones(&s.dir, &zones).await;
            Json(st).into_response()
        }
        Err(e) => (StatusCode::CONFLICT, format!("{e}\n")).into_response(),
    }
}

async fn delete_zone(State(s): State<Arc<AgentState>>, Path(id): Path<String>) -> Response {
    let mut zones = s.zones.lock().await;
    match zones.remove(&id) {
        Some(z) => {
            z.stop().await;
            z.release_sockets();
            save_zones(&s.dir, &zones).await;
            StatusCode::NO_CONTENT.into_response()
        }
        None => (StatusCode::NOT_FOUND, format!("no DNS zone {id:?}\n")).into_response(),
    }
}

async fn put_record(
    State(s): State<Arc<AgentState>>,
    Path((id, record)): Path<(String, String)>,
    Json(spec): Json<RecordSpec>,
) -> Response {
    let zones = s.zones.lock().await;
    let Some(z) = zones.get(&id) else {
        return (StatusCode::NOT_FOUND, format!("no DNS zone {id:?}\n")).into_response();
    };
    match z.put_record(&record, spec).await {
        Ok(()) => {
            save_zones(&s.dir, &zones).await;
            Json(z.status().await).into_response()
        }
        Err(e) => (StatusCode::UNPROCESSABLE_ENTITY, format!("{e}\n")).into_response(),
    }
}

async fn delete_record(
    State(s): State<Arc<AgentState>>,
    Path((id, record)): Path<(String, String)>,
) -> Response {
    let zones = s.zones.lock().await;
    let Some(z) = zones.get(&id) else {
        return StatusCode::NO_CONTENT.into_response();
    };
    let _ = z.delete_record(&record).await;
    save_zones(&s.dir, &zones).await;
    StatusCode::NO_CONTENT.into_response()
}

async fn list_lbs(State(s): State<Arc<AgentState>>) -> Response {
    let lbs = s.balancers.lock().await;
    Json(lbs.values().map(|b| b.status()).collect::<Vec<_>>()).into_response()
}

async fn show_lb(State(s): State<Arc<AgentState>>, Path(name): Path<String>) -> Response {
    match s.balancers.lock().await.get(&name) {
        Some(b) => Json(b.status()).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            format!("no load balancer named {name:?}\n"),
        )
            .into_response(),
    }
}

async fn put_lb(
    State(s): State<Arc<AgentState>>,
    Path(name): Path<String>,
    Json(spec): Json<LbSpec>,
) -> Response {
    let mut lbs = s.balancers.lock().await;
    if let Some(existing) = lbs.get(&name) {
        if existing.spec == spec {
            return Json(existing.status()).into_response();
        }
        existing.stop();
        if existing.spec.listen != spec.listen {
            crate::keeper::release_tcp(&existing.spec.listen);
        }
        lbs.remove(&name);
        // Give the old listener a moment to close before the new one binds.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    match Balancer::start(&name, spec, s.supervisor.clone()).await {
        Ok(b) => {
            let status = b.status();
            lbs.insert(name.clone(), b);
            save_balancers(&s.dir, &lbs);
            s.supervisor.event(
                &name,
                format!("Load balancer listening on {}.", status.address),
            );
            Json(status).into_response()
        }
        Err(e) => (StatusCode::CONFLICT, format!("{e}\n")).into_response(),
    }
}

async fn delete_lb(State(s): State<Arc<AgentState>>, Path(name): Path<String>) -> Response {
    let mut lbs = s.balancers.lock().await;
    match lbs.remove(&name) {
        Some(b) => {
            b.stop();
            crate::keeper::release_tcp(&b.spec.listen);
            save_balancers(&s.dir, &lbs);
            s.supervisor.event(
                &name,
                "Load balancer stopped (draining open connections).".into(),
            );
            StatusCode::NO_CONTENT.into_response()
        }
        None => (
            StatusCode::NOT_FOUND,
            format!("no load balancer named {name:?}\n"),
        )
            .into_response(),
    }
}

async fn events(State(s): State<Arc<AgentState>>) -> Response {
    Json(s.supervisor.events()).into_response()
}

async fn shutdown(State(s): State<Arc<AgentState>>) -> Response {
    s.shutdown.notify_one();
    "stopping\n".into_response()
}

async fn metrics(State(s): State<Arc<AgentState>>) -> Response {
    let mut out = String::new();
    let services = s.supervisor.all();
    let _ = writeln!(out, "# HELP terrane_service_replicas Replicas the service is configured to run.\n# TYPE terrane_service_replicas gauge");
    for svc in &services {
        let _ = writeln!(
            out,
            "terrane_service_replicas{{service=\"{}\"}} {}",
            svc.name, svc.spec.replicas
        );
    }
    let _ = writeln!(out, "# HELP terrane_service_ready_replicas Replicas running and passing their health check.\n# TYPE terrane_service_ready_replicas gauge");
    for svc in &services {
        let _ = writeln!(
            out,
            "terrane_service_ready_replicas{{service=\"{}\"}} {}",
            svc.name, svc.ready
        );
    }
    let _ = writeln!(out, "# HELP terrane_replica_restarts_total Times a replica was restarted.\n# TYPE terrane_replica_restarts_total counter");
    for svc in &services {
        for r in &svc.replicas {
            let _ = writeln!(
                out,
                "terrane_replica_restarts_total{{service=\"{}\",replica=\"{}\"}} {}",
                svc.name, r.index, r.restarts
            );
        }
    }
    let _ = writeln!(out, "# HELP terrane_agent_leader 1 when this agent runs the workspace's scheduled jobs (the leader of agents sharing a workspace).\n# TYPE terrane_agent_leader gauge");
    let _ = writeln!(
        out,
        "terrane_agent_leader {}",
        u8::from(s.leader.load(Ordering::Relaxed))
    );
    let _ = writeln!(out, "# HELP terrane_agent_reconciles_total Reconcile passes run.\n# TYPE terrane_agent_reconciles_total counter");
    let _ = writeln!(
        out,
        "terrane_agent_reconciles_total {}",
        s.reconciles.load(Ordering::Relaxed)
    );
    let _ = writeln!(out, "# HELP terrane_agent_reconcile_duration_seconds Duration of the last reconcile pass.\n# TYPE terrane_agent_reconcile_duration_seconds gauge");
    let _ = writeln!(
        out,
        "terrane_agent_reconcile_duration_seconds {:.6}",
        s.last_reconcile_micros.load(Ordering::Relaxed) as f64 / 1e6
    );
    let _ = writeln!(out, "# HELP terrane_policy_checks_total Compliance evaluations of the workspace's policies.\n# TYPE terrane_policy_checks_total counter");
    let _ = writeln!(
        out,
        "terrane_policy_checks_total {}",
        s.policy_checks.load(Ordering::Relaxed)
    );
    let last = s.compliance.lock().ok().and_then(|c| c.clone());
    if let Some(c) = last {
        let _ = writeln!(out, "# HELP terrane_policy_compliant 1 when the last evaluation found the workspace in policy.\n# TYPE terrane_policy_compliant gauge");
        let _ = writeln!(out, "terrane_policy_compliant {}", u8::from(c.compliant));
        let _ = writeln!(out, "# HELP terrane_policy_problems Failing policy sets and findings at the last evaluation.\n# TYPE terrane_policy_problems gauge");
        let _ = writeln!(out, "terrane_policy_problems {}", c.problems.len());
    }
    let jobs = s.backup_jobs.lock().await.clone();
    let _ = writeln!(out, "# HELP terrane_backup_runs_total Scheduled backups that completed.\n# TYPE terrane_backup_runs_total counter");
    for (job, st) in &jobs {
        let _ = writeln!(
            out,
            "terrane_backup_runs_total{{job=\"{job}\"}} {}",
            st.runs
        );
    }
    let _ = writeln!(out, "# HELP terrane_backup_failures_total Scheduled backups that failed.\n# TYPE terrane_backup_failures_total counter");
    for (job, st) in &jobs {
        let _ = writeln!(
            out,
            "terrane_backup_failures_total{{job=\"{job}\"}} {}",
            st.failures
        );
    }
    let _ = writeln!(out, "# HELP terrane_backup_last_success_timestamp_seconds When the job last succeeded.\n# TYPE terrane_backup_last_success_timestamp_seconds gauge");
    for (job, st) in &jobs {
        if let Some(t) = st.last_success {
            let _ = writeln!(
                out,
                "terrane_backup_last_success_timestamp_seconds{{job=\"{job}\"}} {t}"
            );
        }
    }
    let _ = writeln!(out, "# HELP terrane_lb_request_duration_seconds Time to the backend's response headers.\n# TYPE terrane_lb_request_duration_seconds histogram");
    for b in s.balancers.lock().await.values() {
        b.write_latency(&mut out);
    }
    let lbs: Vec<_> = s
        .balancers
        .lock()
        .await
        .values()
        .map(|b| b.status())
        .collect();
    let _ = writeln!(out, "# HELP terrane_lb_requests_total Requests received by a load balancer.\n# TYPE terrane_lb_requests_total counter");
    for b in &lbs {
        let _ = writeln!(
            out,
            "terrane_lb_requests_total{{lb=\"{}\"}} {}",
            b.name, b.requests
        );
    }
    let _ = writeln!(out, "# HELP terrane_lb_failed_requests_total Requests no backend could answer.\n# TYPE terrane_lb_failed_requests_total counter");
    for b in &lbs {
        let _ = writeln!(
            out,
            "terrane_lb_failed_requests_total{{lb=\"{}\"}} {}",
            b.name, b.failed
        );
    }
    type Series = (
        &'static str,
        &'static str,
        &'static str,
        fn(&BackendStatus) -> u64,
    );
    let per_backend: [Series; 4] = [
        (
            "terrane_lb_backend_requests_total",
            "counter",
            "Requests sent to a backend.",
            |be| be.requests,
        ),
        (
            "terrane_lb_backend_errors_total",
            "counter",
            "Failed requests to a backend (connect errors and 5xx).",
            |be| be.errors,
        ),
        (
            "terrane_lb_backend_connections_opened_total",
            "counter",
            "HTTP connections opened to a backend.",
            |be| be.connections_opened,
        ),
        (
            "terrane_lb_backend_idle_connections",
            "gauge",
            "Keep-alive connections to a backend waiting for a request.",
            |be| be.idle_connections as u64,
        ),
    ];
    for (name, kind, help, value) in per_backend {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for b in &lbs {
            for be in &b.backends {
                let _ = writeln!(
                    out,
                    "{name}{{lb=\"{}\",backend=\"{}\"}} {}",
                    b.name,
                    be.address,
                    value(be)
                );
            }
        }
    }
    ([("content-type", "text/plain; version=0.0.4")], out).into_response()
}
