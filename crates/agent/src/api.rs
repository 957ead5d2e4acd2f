//! The agent's HTTP API on loopback: health, readiness, Prometheus metrics, and the
//! service endpoints the `local` provider and the CLI use.

use std::fmt::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use tokio::sync::Notify;

use crate::spec::ServiceSpec;
use crate::supervisor::Supervisor;

pub struct AgentState {
    pub supervisor: Supervisor,
    pub ready: AtomicBool,
    pub shutdown: Notify,
    pub reconciles: AtomicU64,
    pub last_reconcile_micros: AtomicU64,
}

pub fn router(state: Arc<AgentState>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/v1/services", get(list))
        .route("/v1/services/{name}", get(show).put(put).delete(delete))
        .route("/v1/events", get(events))
        .route("/v1/shutdown", post(shutdown))
        .with_state(state)
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
    ([("content-type", "text/plain; version=0.0.4")], out).into_response()
}
