//! The local cloud's first part: `local_service` replicas supervised by `terrane agent`.
//! Real processes (python's http.server) on real loopback ports.

use std::time::{Duration, Instant};

use crate::{free_port, Cleanup, Ws};

const SERVICE: &str = r#"
resource "local_service" "web" {
  name     = "web"
  command  = "sh"
  args     = ["-c", "exec python3 -m http.server $PORT --bind $HOST"]
  replicas = 2
  grace_period = "2s"
  health_check {
    http_path = "/"
    interval  = "200ms"
    timeout   = "1s"
  }
}

output "addresses" {
  value = local_service.web.addresses
}
"#;

pub(crate) fn status(ws: &Ws) -> serde_json::Value {
    let out = ws.run(&["status", "--json"]);
    out.success();
    serde_json::from_str(&out.stdout).expect("status --json prints JSON")
}

fn replicas(ws: &Ws) -> Vec<serde_json::Value> {
    status(ws)["services"][0]["replicas"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn pids(ws: &Ws) -> Vec<u64> {
    replicas(ws)
        .iter()
        .filter_map(|r| r["pid"].as_u64())
        .collect()
}

pub(crate) fn http_ok(address: &str) -> bool {
    get_root(address, Duration::from_secs(2)).is_ok()
}

/// One `GET /` over a new HTTP/1.0 connection: `Ok` on a 200, else what went wrong.
fn get_root(address: &str, timeout: Duration) -> Result<(), String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(address).map_err(|e| format!("connect: {e}"))?;
    let _ = s.set_read_timeout(Some(timeout));
    s.write_all(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
        .map_err(|e| format!("send: {e}"))?;
    let mut buf = String::new();
    let read = s.read_to_string(&mut buf);
    if buf.starts_with("HTTP/1.0 200") || buf.starts_with("HTTP/1.1 200") {
        return Ok(());
    }
    let first = buf.lines().next().unwrap_or("").to_string();
    Err(match read {
        Err(e) => format!("read: {e} (after {:?})", first),
        Ok(_) if buf.is_empty() => "closed without an answer".to_string(),
        Ok(_) => format!("answered {first:?}: {}", buf.lines().last().unwrap_or("")),
    })
}

/// A bounded load generator: one client thread sending requests (HTTP/1.0, a new
/// connection each) until stopped; counts successes and failures. An answer may take
/// up to 10 s (a loaded test machine is slow, and slow is not dropped).
pub(crate) struct Load {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<(u32, Vec<String>)>,
}

impl Load {
    pub(crate) fn start(address: String, pause: Duration) -> Load {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let (mut ok, mut failures) = (0u32, Vec::new());
            while !flag.load(std::sync::atomic::Ordering::SeqCst) {
                match get_root(&address, Duration::from_secs(10)) {
                    Ok(()) => ok += 1,
                    Err(why) => failures.push(why),
                }
                std::thread::sleep(pause);
            }
            (ok, failures)
        });
        Load { stop, thread }
    }

    /// Stops the load and returns (succeeded, failed).
    pub(crate) fn stop(self) -> (u32, u32) {
        let (ok, failures) = self.stop_with_reasons();
        (ok, failures.len() as u32)
    }

    /// Stops the load and returns how many succeeded and why each failure failed.
    pub(crate) fn stop_with_reasons(self) -> (u32, Vec<String>) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        self.thread.join().expect("load thread")
    }
}

pub(crate) fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out after {timeout:?} waiting until {what}");
}

pub(crate) fn alive(pid: u64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
}

#[test]
fn service_replicas_are_supervised_restarted_and_readopted() {
    let ws = Ws::with_main(SERVICE);
    let _cleanup = Cleanup(&ws);
    ws.apply()
        .success()
        .contains("started the workspace agent")
        .contains("1 added");

    // Both replicas serve real HTTP on their own ports.
    let st = status(&ws);
    assert_eq!(st["services"][0]["replicas_ready"], 2, "{st:#}");
    assert_eq!(st["services"][0]["address"], "local_service.web");
    let addrs: Vec<String> = replicas(&ws)
        .iter()
        .map(|r| r["address"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(addrs.len(), 2);
    assert_ne!(addrs[0], addrs[1]);
    for a in &addrs {
        assert!(http_ok(a), "replica at {a} does not answer");
    }
    ws.run(&["plan", "--detailed-exitcode"])
        .success()
        .contains("No changes");

    // kill -9 one replica: the agent replaces it on the same port.
    let before = pids(&ws);
    let victim = before[0];
    std::process::Command::new("kill")
        .args(["-9", &victim.to_string()])
        .status()
        .expect("kill runs");
    wait_until(
        "the killed replica is replaced and healthy",
        Duration::from_secs(10),
        || {
            // One snapshot: every replica has a live pid other than the victim and is healthy.
            let r = replicas(&ws);
            r.len() == 2
                && r.iter()
                    .all(|x| x["healthy"] == true && x["pid"].as_u64().is_some_and(|p| p != victim))
        },
    );
    assert!(
        http_ok(&addrs[0]),
        "the replacement serves on the same address {}: {:#?}",
        addrs[0],
        replicas(&ws)
    );
    let restarted = replicas(&ws);
    assert_eq!(restarted[0]["restarts"], 1);
    ws.run(&["events"])
        .success()
        .contains("Replica 0 exited")
        .contains("Started replica 0");
    ws.run(&["logs", "local_service.web"])
        .success()
        .contains("[web/1]")
        .contains("GET / HTTP/1.1");

    // Stopping the agent leaves replicas running; a new agent re-adopts them as they are.
    let running = pids(&ws);
    ws.run(&["agent", "stop"])
        .success()
        .contains("Stopped the agent");
    for p in &running {
        assert!(alive(*p), "replica {p} died with the agent");
    }
    let agent = ws.spawn(&["agent"]);
    wait_until("the new agent answers", Duration::from_secs(10), || {
        ws.run(&["status", "--json"]).stdout.contains("\"pid\"")
    });
    assert_eq!(
        pids(&ws),
        running,
        "the new agent restarted replicas instead of adopting them"
    );
    ws.run(&["events"])
        .success()
        .contains("Re-adopted 2 running replica(s)");

    // Destroy stops the replicas.
    ws.run(&["destroy", "--auto-approve"])
        .success()
        .contains("1 destroyed");
    for p in &running {
        wait_until("replicas are stopped", Duration::from_secs(5), || {
            !alive(*p)
        });
    }
    ws.run(&["agent", "stop"]).success();
    agent.finish().success();
}

#[test]
fn a_command_that_does_not_exist_fails_and_leaves_nothing_running() {
    let ws = Ws::with_main(
        r#"
resource "local_service" "bad" {
  name          = "bad"
  command       = "/nonexistent/terrane-test-binary"
}
"#,
    );
    let _cleanup = Cleanup(&ws);
    // With the default ready_timeout (60 s): a command that cannot run fails at once.
    let started = Instant::now();
    ws.run(&["apply", "--auto-approve"])
        .expect_code(1)
        .contains("local_service.bad")
        .contains("replica 0")
        .contains("/nonexistent/terrane-test-binary")
        .contains("nothing is left running");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the apply took {:?}",
        started.elapsed()
    );
    assert!(
        ws.state_list().is_empty(),
        "a failed create must not be recorded"
    );
    let st = status(&ws);
    assert_eq!(st["services"].as_array().map(Vec::len), Some(0), "{st:#}");
}

#[test]
fn a_health_check_that_never_passes_is_reported() {
    let ws = Ws::with_main(
        r#"
resource "local_service" "sick" {
  name          = "sick"
  command       = "sleep"
  args          = ["60"]
  ready_timeout = "2s"
  grace_period  = "1s"
  health_check {
    tcp      = true
    interval = "200ms"
    timeout  = "200ms"
  }
}
"#,
    );
    let _cleanup = Cleanup(&ws);
    ws.run(&["apply", "--auto-approve"])
        .expect_code(1)
        .contains("0 of 1 replicas became ready")
        .contains("health check failed");
    assert!(ws.state_list().is_empty());
}

#[test]
fn invalid_service_settings_are_rejected_at_plan_time() {
    let ws = Ws::with_main(
        r#"
resource "local_service" "x" {
  command        = "true"
  restart_policy = "sometimes"
}
"#,
    );
    ws.run(&["plan"])
        .expect_code(1)
        .contains("restart_policy \"sometimes\" is not one of always, on-failure, never");
}

#[test]
fn a_command_that_exits_at_once_fails_naming_the_resource() {
    let ws = Ws::with_main(
        r#"
resource "local_service" "quits" {
  name           = "quits"
  command        = "sh"
  args           = ["-c", "echo giving up >&2; exit 3"]
  restart_policy = "always"
  health_check {
    tcp = true
  }
}
"#,
    );
    let _cleanup = Cleanup(&ws);
    // Default ready_timeout (60 s), restarted on exit: still fails within seconds.
    let started = Instant::now();
    ws.run(&["apply", "--auto-approve"])
        .expect_code(1)
        .contains("local_service.quits")
        .contains("exited with status 3 (last output: giving up)")
        .contains("before it was ever ready")
        .contains("nothing is left running");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the apply took {:?}",
        started.elapsed()
    );
    assert!(ws.state_list().is_empty());
    let st = status(&ws);
    assert_eq!(st["services"].as_array().map(Vec::len), Some(0), "{st:#}");
}

#[test]
fn an_invalid_route_is_rejected_at_plan_time() {
    let ws = Ws::with_main(
        r#"
resource "local_load_balancer" "bad" {
  listen = "127.0.0.1:1"
  route {
    path_prefix = "v2"
    backends    = ["127.0.0.1:9"]
  }
  route {
    host = "http://example.test"
  }
}
"#,
    );
    ws.run(&["plan"])
        .expect_code(1)
        .contains("local_load_balancer.bad")
        .contains("route 0: path_prefix \"v2\" must start with \"/\"")
        .contains("route 1: host \"http://example.test\" is not a host name");
}

/// GET `path` from the workspace's agent API (its address comes from `status --json`).
pub(crate) fn agent_get(ws: &Ws, path: &str) -> String {
    let token = ws.read(".terrane/agent/token");
    let mut conn = send_to_agent(
        &agent_address(ws),
        "GET",
        path,
        &[("Authorization", &format!("Bearer {token}"))],
        "",
    );
    // read_body asserts the 200.
    String::from_utf8(read_body(&mut conn)).expect("the agent answers in UTF-8")
}

pub(crate) fn agent_address(ws: &Ws) -> String {
    status(ws)["agent"]["address"]
        .as_str()
        .expect("an agent runs")
        .to_string()
}

/// One HTTP/1.1 request to the agent with exactly the headers given (Host included
/// unless one is given); returns the status code and the whole answer, headers and all.
pub(crate) fn agent_request(
    agent: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    use std::io::Read;
    let mut s = send_to_agent(agent, method, path, headers, body);
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    let code = answer
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, answer)
}

/// Sends one request (`Connection: close`) and returns the connection to read from.
fn send_to_agent(
    agent: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::net::TcpStream {
    use std::io::Write;
    let mut s = std::net::TcpStream::connect(agent).expect("connect to the agent");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req.push_str(&format!("Host: {agent}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!(
        "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ));
    s.write_all(req.as_bytes()).unwrap();
    s
}

#[test]
fn the_agent_api_refuses_requests_without_its_token_or_from_browsers() {
    let ws = Ws::with_main(SERVICE);
    let _cleanup = Cleanup(&ws);
    ws.apply().contains("1 added");
    let agent = agent_address(&ws);
    // The token is the user's alone.
    let token_file = ws.file(".terrane/agent/token");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&token_file)
            .expect("the agent wrote its token")
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600, "the token file must be private");
    let token = ws.read(".terrane/agent/token");
    let good = format!("Bearer {token}");
    let marker = ws.file("pwned");
    let spec = format!(
        r#"{{"command":"sh","args":["-c","touch {} && sleep 60"],"replicas":1}}"#,
        marker.display()
    );
    type Headers<'a> = Vec<(&'a str, &'a str)>;
    let attempts: [(&str, Headers, u16); 5] = [
        ("no token", vec![], 401),
        ("a wrong token", vec![("Authorization", "Bearer 00ff")], 401),
        (
            "a token of the wrong kind",
            vec![("Authorization", &token)],
            401,
        ),
        (
            "a rebound DNS name",
            vec![("Authorization", &good), ("Host", "attacker.example:7480")],
            403,
        ),
        (
            "a browser's cross-origin request",
            vec![
                ("Authorization", &good),
                ("Origin", "http://attacker.example"),
            ],
            403,
        ),
    ];
    for (what, headers, expected) in &attempts {
        let (code, answer) = agent_request(&agent, "PUT", "/v1/services/evil", headers, &spec);
        assert_eq!(code, *expected, "{what}: {answer}");
        assert!(
            !answer.to_ascii_lowercase().contains("access-control-allow"),
            "{what}: the agent sent CORS headers: {answer}"
        );
        let (code, _) = agent_request(&agent, "POST", "/v1/shutdown", headers, "");
        assert_eq!(code, *expected, "{what} must not shut the agent down");
    }
    // A browser's preflight is refused too, without CORS headers.
    let (code, answer) = agent_request(
        &agent,
        "OPTIONS",
        "/v1/services/evil",
        &[
            ("Origin", "http://attacker.example"),
            ("Access-Control-Request-Method", "PUT"),
        ],
        "",
    );
    assert_eq!(code, 403, "{answer}");
    assert!(!answer.to_ascii_lowercase().contains("access-control-allow"));
    // Reading services needs the token too; health does not.
    assert_eq!(agent_request(&agent, "GET", "/v1/services", &[], "").0, 401);
    assert_eq!(agent_request(&agent, "GET", "/healthz", &[], "").0, 200);
    assert_eq!(
        agent_request(
            &agent,
            "GET",
            "/healthz",
            &[("Host", "attacker.example")],
            ""
        )
        .0,
        403
    );
    std::thread::sleep(Duration::from_millis(1500));
    assert!(!marker.exists(), "a refused request started a process");
    let names: Vec<String> = status(&ws)["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        names,
        vec!["web".to_string()],
        "only the configured service runs"
    );
    // The right token from the CLI's side still works: `status` used it above, and so
    // does a plain request with it.
    let (code, body) = agent_request(
        &agent,
        "GET",
        "/v1/services",
        &[("Authorization", &good)],
        "",
    );
    assert_eq!(code, 200, "{body}");
}

pub(crate) fn lb_status(ws: &Ws) -> serde_json::Value {
    let body = agent_get(ws, "/v1/lbs");
    serde_json::from_str(&body)
        .unwrap_or_else(|e| panic!("the agent lists load balancers: {e}: {body:?}"))
}

#[test]
fn load_balancer_spreads_requests_and_survives_a_killed_replica() {
    let port = free_port();
    let ws = Ws::with_main(&format!(
        r#"{SERVICE}
resource "local_load_balancer" "web" {{
  name      = "web-lb"
  listen    = "127.0.0.1:{port}"
  algorithm = "round_robin"
  services  = [local_service.web.id]
}}
"#
    ));
    let _cleanup = Cleanup(&ws);
    ws.apply().contains("2 added");
    let lb = format!("127.0.0.1:{port}");
    for _ in 0..20 {
        assert!(http_ok(&lb), "request through the load balancer failed");
    }
    let st = lb_status(&ws);
    let backends = st[0]["backends"].as_array().cloned().unwrap_or_default();
    let counts: Vec<u64> = backends
        .iter()
        .map(|b| b["requests"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(
        counts,
        vec![10, 10],
        "round robin over two replicas: {st:#}"
    );

    // Prometheus metrics: replica health and per-backend latency histograms.
    let metrics = agent_get(&ws, "/metrics");
    assert!(
        metrics.contains("terrane_service_ready_replicas{service=\"web\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("terrane_lb_requests_total{lb=\"web-lb\"} 20"),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "terrane_lb_request_duration_seconds_count{lb=\"web-lb\",backend=\"all\"} 20"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("# TYPE terrane_lb_request_duration_seconds histogram"),
        "{metrics}"
    );

    // Kill a replica while requests flow: connect errors are retried on the other one.
    let victim = pids(&ws)[0];
    std::process::Command::new("kill")
        .args(["-9", &victim.to_string()])
        .status()
        .expect("kill runs");
    let mut failed = 0;
    for _ in 0..50 {
        if !http_ok(&lb) {
            failed += 1;
        }
    }
    assert_eq!(failed, 0, "requests failed after a replica was killed");
    ws.run(&["plan", "--detailed-exitcode"]).success();
}

#[test]
fn a_load_balancer_on_a_taken_port_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let ws = Ws::with_main(&format!(
        r#"
resource "local_load_balancer" "x" {{
  listen   = "127.0.0.1:{port}"
  backends = ["127.0.0.1:1"]
}}
"#
    ));
    let _cleanup = Cleanup(&ws);
    ws.run(&["apply", "--auto-approve"])
        .expect_code(1)
        .contains("local_load_balancer.x")
        .contains(&format!("cannot listen on 127.0.0.1:{port}"));
    assert!(ws.state_list().is_empty());
}

#[test]
fn rolling_update_under_load_drops_no_requests() {
    let port = free_port();
    let config = |greeting: &str| {
        format!(
            r#"
resource "local_service" "web" {{
  name     = "web"
  command  = "sh"
  args     = ["-c", "exec python3 -m http.server $PORT --bind $HOST"]
  env      = {{ GREETING = "{greeting}" }}
  replicas = 3
  grace_period = "2s"
  health_check {{
    http_path = "/"
    interval  = "100ms"
    timeout   = "1s"
  }}
  update {{
    max_surge       = "1"
    max_unavailable = "0"
  }}
}}

resource "local_load_balancer" "web" {{
  listen   = "127.0.0.1:{port}"
  services = [local_service.web.id]
}}
"#
        )
    };
    let ws = Ws::with_main(&config("hello"));
    let _cleanup = Cleanup(&ws);
    ws.apply();
    let old = pids(&ws);
    assert_eq!(old.len(), 3);

    let load = Load::start(format!("127.0.0.1:{port}"), Duration::from_millis(0));
    ws.write("main.tf", &config("bonjour"));
    ws.run(&["apply", "--auto-approve"])
        .success()
        .contains("1 changed");
    let (ok, failures) = load.stop_with_reasons();
    assert!(
        ok > 20,
        "too few requests went through during the rollout: {ok}"
    );
    assert!(
        failures.is_empty(),
        "{} of {} requests failed during the rolling update: {failures:?}",
        failures.len(),
        ok as usize + failures.len()
    );

    let now = replicas(&ws);
    assert_eq!(now.len(), 3);
    for r in &now {
        assert_eq!(r["generation"], 1, "{now:#?}");
        assert!(
            !old.contains(&r["pid"].as_u64().unwrap_or(0)),
            "an old replica survived: {now:#?}"
        );
    }
    ws.run(&["events"])
        .success()
        .contains("Rolling update to generation 1 complete");
}

#[test]
fn autoscaler_scales_up_under_load_and_back_down_after_the_window() {
    let port = free_port();
    let ws = Ws::with_main(&format!(
        r#"
resource "local_service" "web" {{
  name     = "web"
  command  = "sh"
  args     = ["-c", "exec python3 -m http.server $PORT --bind $HOST"]
  replicas = 1
  grace_period = "2s"
  health_check {{
    http_path = "/"
    interval  = "100ms"
    timeout   = "1s"
  }}
}}

resource "local_load_balancer" "web" {{
  listen   = "127.0.0.1:{port}"
  services = [local_service.web.id]
}}

resource "local_autoscaler" "web" {{
  name         = "web-as"
  service_id   = local_service.web.id
  min_replicas = 1
  max_replicas = 4
  period       = "500ms"
  scale_down_stabilization = "2s"
  metric {{
    type   = "requests_per_second"
    target = 20
  }}
}}
"#
    ));
    let _cleanup = Cleanup(&ws);
    ws.apply().contains("3 added");
    let desired = |ws: &Ws| {
        status(ws)["services"][0]["replicas"]
            .as_array()
            .map(Vec::len)
            .unwrap_or(0)
    };
    assert_eq!(desired(&ws), 1);

    let load = Load::start(format!("127.0.0.1:{port}"), Duration::from_millis(5));
    wait_until(
        "the autoscaler scales up and the new replicas are ready",
        Duration::from_secs(10),
        || {
            let st = status(&ws);
            st["services"][0]["replicas_ready"].as_u64().unwrap_or(0) >= 3
        },
    );
    let (ok, failures) = load.stop_with_reasons();
    assert!(ok > 50, "too little load was generated: {ok}");
    assert!(
        failures.is_empty(),
        "{} requests failed while scaling up: {failures:?}",
        failures.len()
    );
    ws.run(&["events"])
        .success()
        .contains("Scaled web from 1 to")
        .contains("RequestsPerSecond per ready replica is");

    // The autoscaler owns the count: a plan does not try to go back to replicas = 1.
    ws.run(&["plan", "--detailed-exitcode"])
        .success()
        .contains("No changes");

    // Without load, scale-down waits for the stabilization window, then returns to min.
    wait_until(
        "the autoscaler scales back down to 1",
        Duration::from_secs(15),
        || desired(&ws) == 1,
    );
}

/// Sends one DNS query (type `qtype`) over UDP; returns the answers' (type, data) and
/// the response code.
pub(crate) fn dns_query(server: &str, name: &str, qtype: u16) -> (Vec<(u16, Vec<u8>)>, u8) {
    let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.trim_end_matches('.').split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0]);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&[0, 1]);
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    sock.send_to(&q, server).expect("send");
    let mut buf = [0u8; 1024];
    let n = sock.recv(&mut buf).expect("a DNS answer");
    let r = &buf[..n];
    let rcode = r[3] & 0x0f;
    let answers = u16::from_be_bytes([r[6], r[7]]) as usize;
    // Skip the header and the question.
    let mut i = 12;
    while r[i] != 0 {
        i += 1 + r[i] as usize;
    }
    i += 5;
    let mut out = Vec::new();
    for _ in 0..answers {
        // Name: a compression pointer or labels.
        if r[i] & 0xc0 == 0xc0 {
            i += 2;
        } else {
            while r[i] != 0 {
                i += 1 + r[i] as usize;
            }
            i += 1;
        }
        let kind = u16::from_be_bytes([r[i], r[i + 1]]);
        let len = u16::from_be_bytes([r[i + 8], r[i + 9]]) as usize;
        i += 10;
        out.push((kind, r[i..i + len].to_vec()));
        i += len;
    }
    (out, rcode)
}

/// The A records for `name`, and the response code.
pub(crate) fn dns_a(server: &str, name: &str) -> (Vec<std::net::Ipv4Addr>, u8) {
    let (answers, rcode) = dns_query(server, name, 1);
    let ips = answers
        .iter()
        .filter(|(kind, data)| *kind == 1 && data.len() == 4)
        .map(|(_, d)| std::net::Ipv4Addr::new(d[0], d[1], d[2], d[3]))
        .collect();
    (ips, rcode)
}

/// The ports of the SRV records for `name`, sorted.
fn dns_srv_ports(server: &str, name: &str) -> Vec<u16> {
    let mut ports: Vec<u16> = dns_query(server, name, 33)
        .0
        .iter()
        .filter(|(kind, data)| *kind == 33 && data.len() >= 6)
        .map(|(_, d)| u16::from_be_bytes([d[4], d[5]]))
        .collect();
    ports.sort_unstable();
    ports
}

#[test]
fn dns_zone_answers_records_and_rejects_invalid_names() {
    let port = free_port();
    let ws = Ws::with_main(&format!(
        r#"
resource "local_dns_zone" "internal" {{
  name   = "internal.test."
  listen = "127.0.0.1:{port}"
}}

resource "local_dns_record" "www" {{
  zone_id = local_dns_zone.internal.id
  name    = "www"
  type    = "A"
  ttl     = 60
  records = ["127.0.0.1", "127.0.0.2"]
}}

resource "local_dns_record" "web_srv" {{
  zone_id = local_dns_zone.internal.id
  name    = "_http._tcp.web"
  type    = "SRV"
  records = ["0 5 8080 www"]
}}
"#
    ));
    let _cleanup = Cleanup(&ws);
    ws.apply().contains("3 added");
    let server = format!("127.0.0.1:{port}");
    let (mut ips, rcode) = dns_a(&server, "www.internal.test");
    ips.sort();
    assert_eq!(rcode, 0);
    assert_eq!(
        ips,
        vec![
            std::net::Ipv4Addr::new(127, 0, 0, 1),
            std::net::Ipv4Addr::new(127, 0, 0, 2)
        ]
    );
    let (none, rcode) = dns_a(&server, "nothere.internal.test");
    assert!(none.is_empty());
    assert_eq!(rcode, 3, "NXDOMAIN for a name that does not exist");
    ws.run(&["plan", "--detailed-exitcode"]).success();

    // Changing a record updates the answers in place.
    ws.write(
        "main.tf",
        &ws.read("main.tf")
            .replace(r#"["127.0.0.1", "127.0.0.2"]"#, r#"["127.0.0.9"]"#),
    );
    ws.apply().contains("1 changed");
    assert_eq!(
        dns_a(&server, "www.internal.test").0,
        vec![std::net::Ipv4Addr::new(127, 0, 0, 9)]
    );

    // An invalid record is refused at plan time with the reason.
    ws.write("bad.tf", "resource \"local_dns_record\" \"bad\" {\n  zone_id = local_dns_zone.internal.id\n  name    = \"bad name!\"\n  type    = \"A\"\n  records = [\"127.0.0.1\"]\n}\n");
    ws.run(&["plan"])
        .expect_code(1)
        .contains("local_dns_record.bad")
        .contains("is not a valid DNS name");
}

fn http_get(address: &str, host: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(address).expect("connect to the load balancer");
    s.set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    write!(s, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").expect("send");
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    buf
}

/// The body of `GET /` through a load balancer.
pub(crate) fn http_get_body(address: &str) -> String {
    let answer = http_get(address, "x", "/");
    answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

#[test]
fn load_balancer_routes_by_host_and_path() {
    let port = free_port();
    let ws = Ws::with_main(&format!(
        r#"
resource "local_service" "api" {{
  name        = "api"
  command     = "sh"
  args        = ["-c", "exec python3 -m http.server $PORT --bind $HOST"]
  working_dir = "${{path.root}}/api"
  health_check {{
    tcp      = true
    interval = "100ms"
  }}
}}

resource "local_service" "web" {{
  name        = "web"
  command     = "sh"
  args        = ["-c", "exec python3 -m http.server $PORT --bind $HOST"]
  working_dir = "${{path.root}}/web"
  health_check {{
    tcp      = true
    interval = "100ms"
  }}
}}

resource "local_load_balancer" "ingress" {{
  listen   = "127.0.0.1:{port}"
  services = [local_service.web.id]
  route {{
    host     = "api.example.test"
    services = [local_service.api.id]
  }}
  route {{
    path_prefix = "/v2/"
    services    = [local_service.api.id]
  }}
}}
"#
    ));
    for who in ["api", "web"] {
        std::fs::create_dir_all(ws.file(who).join("v2")).expect("mkdir");
        ws.write(&format!("{who}/who.txt"), who);
        ws.write(&format!("{who}/v2/who.txt"), &format!("{who} v2"));
    }
    let _cleanup = Cleanup(&ws);
    ws.apply().contains("3 added");
    let lb = format!("127.0.0.1:{port}");
    assert!(
        http_get(&lb, "api.example.test:80", "/who.txt").ends_with("\r\n\r\napi"),
        "host route"
    );
    assert!(
        http_get(&lb, "www.example.test", "/who.txt").ends_with("\r\n\r\nweb"),
        "default backends"
    );
    assert!(
        http_get(&lb, "www.example.test", "/v2/who.txt").ends_with("\r\n\r\napi v2"),
        "path route"
    );

    ws.write(
        "main.tf",
        &ws.read("main.tf")
            .replace("path_prefix = \"/v2/\"", "path_prefix = \"v2\""),
    );
    ws.run(&["plan"])
        .expect_code(1)
        .contains("local_load_balancer.ingress")
        .contains("path_prefix \"v2\" must start with \"/\"");
}

#[test]
fn tcp_load_balancer_forwards_connections() {
    let port = free_port();
    let ws = Ws::with_main(&format!(
        r#"{SERVICE}
resource "local_load_balancer" "tcp" {{
  name     = "tcp-lb"
  listen   = "127.0.0.1:{port}"
  protocol = "tcp"
  services = [local_service.web.id]
}}
"#
    ));
    let _cleanup = Cleanup(&ws);
    ws.apply().contains("2 added");
    let lb = format!("127.0.0.1:{port}");
    for _ in 0..6 {
        assert!(http_ok(&lb), "a connection through the TCP balancer failed");
    }
    let st = lb_status(&ws);
    let per_backend: Vec<u64> = st[0]["backends"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|b| b["requests"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(
        per_backend,
        vec![3, 3],
        "connections are spread round robin: {st:#}"
    );
    ws.write(
        "main.tf",
        &ws.read("main.tf")
            .replace("protocol = \"tcp\"", "protocol = \"udp\""),
    );
    ws.run(&["plan"])
        .expect_code(1)
        .contains("protocol \"udp\" is not one of http, tcp");
}

#[test]
fn the_agent_repairs_files_edited_outside_terrane() {
    let ws = Ws::with_main(&format!(
        r#"{SERVICE}
resource "local_file" "cfg" {{
  filename        = "${{path.root}}/app.conf"
  content         = "port = 8080\n"
  file_permission = "0640"
}}

# Its content is sensitive, so it is encrypted in state: the agent reads it with the
# workspace's key.
resource "local_sensitive_file" "token" {{
  filename = "${{path.root}}/token.txt"
  content  = "token = s3cret\n"
}}
"#
    ));
    let _cleanup = Cleanup(&ws);
    ws.run_env(
        &["apply", "--auto-approve"],
        &[("TERRANE_AGENT_DRIFT_INTERVAL_MS", "200")],
    )
    .success();
    ws.write("app.conf", "port = 9999\n");
    wait_until(
        "the agent restores the edited file",
        Duration::from_secs(10),
        || ws.read("app.conf") == "port = 8080\n",
    );
    std::fs::remove_file(ws.file("app.conf")).expect("remove");
    wait_until(
        "the agent restores the removed file",
        Duration::from_secs(10),
        || ws.exists("app.conf"),
    );
    assert_eq!(crate::mode_of(&ws.file("app.conf")) & 0o777, 0o640);
    ws.write("token.txt", "token = stolen\n");
    wait_until(
        "the agent restores the edited sensitive file",
        Duration::from_secs(10),
        || ws.read("token.txt") == "token = s3cret\n",
    );
    ws.run(&["events"])
        .success()
        .contains("Repaired drift")
        .contains("was changed outside terrane")
        .contains("was removed outside terrane");
    ws.run(&["plan", "--detailed-exitcode"]).success();
}

#[test]
fn load_balancer_terminates_tls_and_rejects_a_bad_certificate() {
    let port = free_port();
    let ws = Ws::with_main(&format!(
        r#"{SERVICE}
resource "local_load_balancer" "https" {{
  listen   = "127.0.0.1:{port}"
  services = [local_service.web.id]
  tls {{
    cert_file = "${{path.root}}/cert.pem"
    key_file  = "${{path.root}}/key.pem"
  }}
}}
"#
    ));
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
        ])
        .arg("-keyout")
        .arg(ws.file("key.pem"))
        .arg("-out")
        .arg(ws.file("cert.pem"))
        .output()
        .expect("openssl runs");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let _cleanup = Cleanup(&ws);
    ws.apply().contains("2 added");
    let code = std::process::Command::new("curl")
        .args([
            "-sk",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &format!("https://127.0.0.1:{port}/"),
        ])
        .output()
        .expect("curl runs");
    assert_eq!(
        String::from_utf8_lossy(&code.stdout),
        "200",
        "HTTPS through the balancer"
    );
    let plain = std::process::Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &format!("http://127.0.0.1:{port}/"),
        ])
        .output()
        .expect("curl runs");
    assert_ne!(
        String::from_utf8_lossy(&plain.stdout),
        "200",
        "plain HTTP must not be served on a TLS listener"
    );

    ws.write("cert.pem", "this is not a certificate\n");
    ws.write(
        "main.tf",
        &ws.read("main.tf")
            .replace("listen   = ", "algorithm = \"p2c\"\n  listen   = "),
    );
    ws.run(&["plan"])
        .expect_code(1)
        .contains("local_load_balancer.https")
        .contains("cert.pem");
}

#[test]
fn static_backends_are_health_checked_actively() {
    let (alive_port, dead_port, lb_port) = (free_port(), free_port(), free_port());
    let mut server = std::process::Command::new("python3")
        .args([
            "-m",
            "http.server",
            &alive_port.to_string(),
            "--bind",
            "127.0.0.1",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("python3 http.server starts");
    let ws = Ws::with_main(&format!(
        r#"
resource "local_load_balancer" "static" {{
  name     = "static-lb"
  listen   = "127.0.0.1:{lb_port}"
  backends = ["127.0.0.1:{alive_port}", "127.0.0.1:{dead_port}"]
}}
"#
    ));
    let _cleanup = Cleanup(&ws);
    wait_until("the static backend listens", Duration::from_secs(5), || {
        std::net::TcpStream::connect(("127.0.0.1", alive_port)).is_ok()
    });
    ws.apply();
    // No traffic at all: only the active check can find the dead backend.
    wait_until(
        "the dead static backend is taken out",
        Duration::from_secs(10),
        || {
            let st = lb_status(&ws);
            st[0]["backends"].as_array().is_some_and(|b| {
                b.iter().any(|x| {
                    x["address"] == format!("127.0.0.1:{dead_port}") && x["ejected"] == true
                })
            })
        },
    );
    let st = lb_status(&ws);
    assert_eq!(
        st[0]["requests"], 0,
        "the check must not count as traffic: {st:#}"
    );
    let alive = st[0]["backends"].as_array().cloned().unwrap_or_default();
    assert!(
        alive
            .iter()
            .any(|x| x["address"] == format!("127.0.0.1:{alive_port}") && x["ejected"] == false),
        "{st:#}"
    );
    for _ in 0..5 {
        assert!(http_ok(&format!("127.0.0.1:{lb_port}")));
    }
    let _ = server.kill();
    let _ = server.wait();
}

/// The head of the first HTTP message in `buf` and the message's whole length, once
/// all of it (head and Content-Length body) is there.
fn complete_message(buf: &[u8]) -> Option<(String, usize)> {
    let text = String::from_utf8_lossy(buf);
    let end = text.find("\r\n\r\n")?;
    let head = text[..end].to_string();
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    (buf.len() >= end + 4 + len).then_some((head, end + 4 + len))
}

/// One request on `conn` and its response (headers and a Content-Length body).
fn exchange(conn: &mut std::net::TcpStream) -> String {
    use std::io::{Read, Write};
    conn.write_all(b"GET / HTTP/1.1\r\nHost: lb.test\r\n\r\n")
        .expect("send a request");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if complete_message(&got).is_some() {
            return String::from_utf8_lossy(&got).to_string();
        }
        let text = String::from_utf8_lossy(&got).to_string();
        let n = conn.read(&mut buf).expect("read the response");
        assert!(n > 0, "the connection closed after: {text:?}");
        got.extend_from_slice(&buf[..n]);
    }
}

/// A backend that closes every connection after one response (`Connection: close`)
/// must not close the client's connection to the load balancer: hop-by-hop headers
/// of responses (and those their `Connection` header names) are the proxy's, not the
/// client's.
#[test]
fn a_backend_closing_its_connections_does_not_close_the_clients() {
    use std::io::{Read, Write};
    let (backend_port, lb_port) = (free_port(), free_port());
    let listener = std::net::TcpListener::bind(("127.0.0.1", backend_port)).expect("bind");
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut buf = [0u8; 4096];
            let mut seen = Vec::new();
            while !String::from_utf8_lossy(&seen).contains("\r\n\r\n") {
                match conn.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                }
            }
            let _ = conn
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close, X-Hop\r\nX-Hop: backend\r\nKeep-Alive: timeout=5\r\nX-Kept: yes\r\n\r\nok");
        }
    });
    let ws = Ws::with_main(&format!(
        r#"
resource "local_load_balancer" "closing" {{
  name     = "closing-lb"
  listen   = "127.0.0.1:{lb_port}"
  backends = ["127.0.0.1:{backend_port}"]
}}
"#
    ));
    let _cleanup = Cleanup(&ws);
    ws.apply();
    wait_until("the balancer answers", Duration::from_secs(10), || {
        http_ok(&format!("127.0.0.1:{lb_port}"))
    });
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", lb_port)).expect("connect");
    conn.set_read_timeout(Some(Duration::from_secs(5))).ok();
    for i in 0..3 {
        let response = exchange(&mut conn);
        assert!(
            response.starts_with("HTTP/1.1 200"),
            "request {i}: {response}"
        );
        let lower = response.to_ascii_lowercase();
        assert!(
            !lower.contains("connection: close"),
            "request {i}: {response}"
        );
        // Headers that `Connection` names are hop-by-hop too; others pass.
        assert!(!lower.contains("x-hop:"), "request {i}: {response}");
        assert!(
            !lower.contains("keep-alive: timeout"),
            "request {i}: {response}"
        );
        assert!(lower.contains("x-kept: yes"), "request {i}: {response}");
    }
}

#[test]
fn services_register_their_replicas_in_dns() {
    let dns_port = free_port();
    let ws = Ws::with_main(&format!(
        r#"
resource "local_dns_zone" "internal" {{
  name   = "internal.test."
  listen = "127.0.0.1:{dns_port}"
}}

resource "local_service" "web" {{
  name     = "web"
  command  = "sh"
  args     = ["-c", "exec python3 -m http.server $PORT --bind $HOST"]
  replicas = 2
  health_check {{
    tcp      = true
    interval = "100ms"
  }}
  dns {{
    zone_id = local_dns_zone.internal.id
    name    = "web"
  }}
}}
"#
    ));
    let _cleanup = Cleanup(&ws);
    ws.apply().contains("2 added");
    let server = format!("127.0.0.1:{dns_port}");
    let mut want: Vec<u16> = replicas(&ws)
        .iter()
        .filter_map(|r| r["port"].as_u64())
        .map(|p| p as u16)
        .collect();
    want.sort_unstable();
    wait_until(
        "SRV records list both replicas",
        Duration::from_secs(5),
        || dns_srv_ports(&server, "_http._tcp.web.internal.test") == want,
    );
    assert_eq!(
        dns_a(&server, "web.internal.test").0,
        vec![std::net::Ipv4Addr::new(127, 0, 0, 1)]
    );
    ws.run(&["events"])
        .success()
        .contains("DNS: registered 2 ready replica(s) as _http._tcp.web");
}

#[test]
fn a_killed_agent_is_replaced_and_readopts_replicas_and_balancers() {
    let port = free_port();
    let ws = Ws::with_main(&format!(
        r#"{SERVICE}
resource "local_load_balancer" "web" {{
  name     = "web-lb"
  listen   = "127.0.0.1:{port}"
  services = [local_service.web.id]
}}
"#
    ));
    let _cleanup = Cleanup(&ws);
    ws.apply().contains("2 added");
    let lb = format!("127.0.0.1:{port}");
    assert!(http_ok(&lb));
    let replicas_before = pids(&ws);
    // Both the keeper and the agent die (as on a crash of the whole process tree).
    let st = status(&ws);
    let keeper_pid = st["agent"]["keeper_pid"].as_u64().expect("keeper pid");
    let agent_pid = st["agent"]["pid"].as_u64().expect("agent pid");
    for pid in [keeper_pid, agent_pid] {
        std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .expect("kill runs");
    }
    wait_until("the agent is gone", Duration::from_secs(5), || {
        !alive(agent_pid) && !alive(keeper_pid)
    });
    // The balancer lived in the agent: traffic stops until an agent runs again.
    assert!(!http_ok(&lb), "the balancer should be down with its agent");
    for p in &replicas_before {
        assert!(alive(*p), "replica {p} died with the agent");
    }
    // The next apply notices and starts an agent, which re-adopts everything.
    ws.apply()
        .contains("no agent was running; started one")
        .contains("local_load_balancer.web");
    wait_until(
        "the new agent serves the balancer again",
        Duration::from_secs(10),
        || http_ok(&lb),
    );
    assert_eq!(
        pids(&ws),
        replicas_before,
        "replicas were restarted instead of re-adopted"
    );
    ws.run(&["plan", "--detailed-exitcode"]).success();
}

#[test]
fn a_killed_agent_process_is_restarted_by_its_keeper_under_load() {
    let port = free_port();
    let ws = Ws::with_main(&format!(
        r#"{SERVICE}
resource "local_load_balancer" "web" {{
  name     = "web-lb"
  listen   = "127.0.0.1:{port}"
  services = [local_service.web.id]
}}
"#
    ));
    let _cleanup = Cleanup(&ws);
    ws.apply().contains("2 added");
    let lb = format!("127.0.0.1:{port}");
    wait_until("the balancer serves", Duration::from_secs(10), || {
        http_ok(&lb)
    });
    let replicas_before = pids(&ws);
    let st = status(&ws);
    let keeper_pid = st["agent"]["keeper_pid"].as_u64().expect("keeper pid");
    let agent_pid = st["agent"]["pid"].as_u64().expect("agent pid");

    const CLIENTS: u32 = 4;
    let loads: Vec<Load> = (0..CLIENTS)
        .map(|_| Load::start(lb.clone(), Duration::from_millis(5)))
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    std::process::Command::new("kill")
        .args(["-9", &agent_pid.to_string()])
        .status()
        .expect("kill runs");
    wait_until(
        "the keeper starts a new agent process",
        Duration::from_secs(10),
        || {
            let st = status(&ws);
            st["agent"]["pid"].as_u64().is_some_and(|p| p != agent_pid)
        },
    );
    std::thread::sleep(Duration::from_millis(1000));
    let (mut ok, mut failed) = (0, 0);
    for l in loads {
        let (o, f) = l.stop();
        ok += o;
        failed += f;
    }
    // The keeper held the balancer's socket: new connections waited for the new agent
    // instead of being refused. Only requests in flight on the killed process's
    // connections can fail — at most one per client.
    assert!(
        failed <= CLIENTS,
        "{failed} of {} requests failed while the agent was replaced",
        ok + failed
    );
    assert!(ok > 50, "only {ok} requests succeeded");
    let st = status(&ws);
    assert_eq!(st["agent"]["keeper_pid"].as_u64(), Some(keeper_pid));
    assert_eq!(
        pids(&ws),
        replicas_before,
        "replicas were restarted instead of re-adopted"
    );
    let events = ws.run(&["events"]);
    events
        .success()
        .contains("Agent restarted by its keeper (restart 1)")
        .contains("killed by SIGKILL");
    ws.run(&["plan", "--detailed-exitcode"]).success();
    // Destroying the balancer frees its address: the keeper let go of its copy too.
    ws.run(&["destroy", "--auto-approve"]).success();
    assert!(alive(keeper_pid));
    std::net::TcpListener::bind(&lb).expect("the balancer's address is free after destroy");
    // The keeper stops with the agent.
    ws.run(&["agent", "stop"]).success();
    wait_until("the keeper is gone", Duration::from_secs(10), || {
        !alive(keeper_pid)
    });
}

/// A keep-alive HTTP/1.1 backend on a thread: answers `ok`, or for `/big` 4 MiB of
/// `x`, or for `/chunked` ten chunks 50 ms apart; counts the connections it accepted
/// and can close all of them at once.
struct KeepAliveBackend {
    port: u16,
    accepted: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    conns: std::sync::Arc<std::sync::Mutex<Vec<std::net::TcpStream>>>,
}

impl KeepAliveBackend {
    fn start() -> KeepAliveBackend {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind");
        let port = listener.local_addr().expect("address").port();
        let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let conns = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (count, keep) = (accepted.clone(), conns.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if let Ok(c) = conn.try_clone() {
                    keep.lock().expect("lock").push(c);
                }
                std::thread::spawn(move || {
                    let mut seen = Vec::new();
                    let mut buf = [0u8; 4096];
                    loop {
                        // One request: its head, then a Content-Length body.
                        if let Some((head, len)) = complete_message(&seen) {
                            let path = head.split(' ').nth(1).unwrap_or("/").to_string();
                            seen.drain(..len);
                            let sent = match path.as_str() {
                                "/big" => conn
                                    .write_all(
                                        b"HTTP/1.1 200 OK\r\nContent-Length: 4194304\r\n\r\n",
                                    )
                                    .and_then(|()| conn.write_all(&vec![b'x'; 4 << 20])),
                                "/chunked" => conn
                                    .write_all(
                                        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                                    )
                                    .and_then(|()| {
                                        for i in 0..10 {
                                            std::thread::sleep(Duration::from_millis(50));
                                            conn.write_all(
                                                format!("6\r\npart-{i}\r\n").as_bytes(),
                                            )?;
                                        }
                                        conn.write_all(b"0\r\n\r\n")
                                    }),
                                _ => conn
                                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
                            };
                            if sent.is_err() {
                                return;
                            }
                            continue;
                        }
                        match conn.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => seen.extend_from_slice(&buf[..n]),
                        }
                    }
                });
            }
        });
        KeepAliveBackend {
            port,
            accepted,
            conns,
        }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Closes every connection, as a backend does with idle ones after its timeout.
    fn close_all(&self) {
        for c in self.conns.lock().expect("lock").drain(..) {
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
    }
}

/// A workspace with one HTTP balancer in front of a static backend, and the
/// balancer's address.
fn balancer_for(name: &str, backend_port: u16) -> (Ws, String) {
    let lb_port = free_port();
    let ws = Ws::with_main(&format!(
        r#"
resource "local_load_balancer" "lb" {{
  name     = "{name}"
  listen   = "127.0.0.1:{lb_port}"
  backends = ["127.0.0.1:{backend_port}"]
}}
"#
    ));
    (ws, format!("127.0.0.1:{lb_port}"))
}

/// Applies the workspace and waits until the balancer at `lb` answers.
fn start_balancer(ws: &Ws, lb: &str) {
    ws.apply();
    wait_until("the balancer answers", Duration::from_secs(10), || {
        http_ok(lb)
    });
}

fn metric(ws: &Ws, line_start: &str) -> Option<f64> {
    agent_get(ws, "/metrics")
        .lines()
        .find_map(|l| l.strip_prefix(line_start)?.trim().parse().ok())
}

/// A backend that answers before it has read the request body (an early 413) and keeps
/// its connection open must not hold up the client: that backend connection still owes
/// the client's body, so it is not kept for reuse (where nothing would ever move the
/// body on), and the client connection goes on (to its next request, or closed if the
/// rest of the body was too much to skip).
#[test]
fn an_early_answer_to_an_unread_body_does_not_stall_the_client() {
    use std::io::{Read, Write};
    let backend_port = free_port();
    let listener = std::net::TcpListener::bind(("127.0.0.1", backend_port)).expect("bind");
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                loop {
                    let mut seen = Vec::new();
                    while !String::from_utf8_lossy(&seen).contains("\r\n\r\n") {
                        match conn.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => seen.extend_from_slice(&buf[..n]),
                        }
                    }
                    if seen.starts_with(b"POST") {
                        let _ = conn.write_all(
                            b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n",
                        );
                        // Answer first, read the body (and discard it) only later, as a
                        // busy server might; then serve the next request.
                        std::thread::sleep(Duration::from_millis(500));
                        let (head, _) = complete_message(&seen).unwrap_or_default();
                        let declared: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("Content-Length: "))
                            .and_then(|v| v.trim().parse().ok())
                            .unwrap_or(0);
                        let mut left = declared.saturating_sub(seen.len() - head.len() - 4);
                        while left > 0 {
                            match conn.read(&mut buf) {
                                Ok(0) | Err(_) => return,
                                Ok(n) => left = left.saturating_sub(n),
                            }
                        }
                        continue;
                    }
                    let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
                }
            });
        }
    });
    let (ws, lb) = balancer_for("early-lb", backend_port);
    let _cleanup = Cleanup(&ws);
    start_balancer(&ws, &lb);

    let mut conn = std::net::TcpStream::connect(&lb).expect("connect");
    conn.set_read_timeout(Some(Duration::from_secs(5))).ok();
    // More than the socket buffers hold, so the body is still on its way when the
    // early answer comes back.
    let body = vec![b'x'; 8 << 20];
    conn.write_all(
        format!(
            "POST /upload HTTP/1.1\r\nHost: lb.test\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    )
    .expect("send the head");
    let mut writer = conn.try_clone().expect("clone");
    let sender = std::thread::spawn(move || {
        writer.set_write_timeout(Some(Duration::from_secs(20))).ok();
        writer.write_all(&body).is_ok()
    });
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while complete_message(&got).is_none() {
        let n = conn.read(&mut buf).expect("the early answer");
        assert!(n > 0, "closed before the early answer");
        got.extend_from_slice(&buf[..n]);
    }
    assert!(
        got.starts_with(b"HTTP/1.1 413"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    let started = Instant::now();
    let body_sent = sender.join().expect("writer");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the rest of the body took {:?} to go (the balancer stopped reading it)",
        started.elapsed()
    );
    if body_sent {
        // The client connection carries on: a next request gets an answer (or, if the
        // balancer chose to close rather than skip the body, a clean end).
        let _ = conn.write_all(b"GET / HTTP/1.1\r\nHost: lb.test\r\n\r\n");
        let mut rest = Vec::new();
        let (_, consumed) = complete_message(&got).expect("whole");
        rest.extend_from_slice(&got[consumed..]);
        loop {
            if complete_message(&rest).is_some() {
                let text = String::from_utf8_lossy(&rest);
                assert!(text.starts_with("HTTP/1.1 200"), "{text}");
                break;
            }
            match conn.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => rest.extend_from_slice(&buf[..n]),
                Err(e) => panic!("the client connection stalled after the early answer: {e}"),
            }
        }
    }
    // Other clients are served meanwhile.
    assert!(http_ok(&lb), "a new client after the early answer");
}

/// Requests reuse keep-alive connections to the backend instead of opening one each,
/// and a pooled connection the backend closed while it was idle is noticed before a
/// request is put on it: even a POST, which is never retried, gets through.
#[test]
fn backend_connections_are_reused_and_closed_ones_are_not_used() {
    use std::io::{Read, Write};
    let backend = KeepAliveBackend::start();
    let (ws, lb) = balancer_for("pooled-lb", backend.port);
    let _cleanup = Cleanup(&ws);
    start_balancer(&ws, &lb);
    let before = backend.accepted();
    for i in 0..30 {
        assert!(http_ok(&lb), "request {i} through the balancer failed");
    }
    // Sequential requests need one connection per data-plane worker at most.
    let opened = backend.accepted() - before;
    assert!(
        opened <= 2,
        "30 sequential requests opened {opened} backend connections"
    );
    let series = format!(
        "terrane_lb_backend_connections_opened_total{{lb=\"pooled-lb\",backend=\"127.0.0.1:{}\"}} ",
        backend.port
    );
    assert_eq!(
        metric(&ws, &series),
        Some(backend.accepted() as f64),
        "the metric counts the connections the backend accepted"
    );

    // Large and slowly streamed bodies come through whole, and the connection that
    // carried them is used again afterwards.
    let mut client = std::net::TcpStream::connect(&lb).expect("connect");
    client.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let accepted = backend.accepted();
    for (path, want) in [
        ("/big", "x".repeat(4 << 20)),
        ("/chunked", (0..10).map(|i| format!("part-{i}")).collect()),
        ("/big", "x".repeat(4 << 20)),
    ] {
        client
            .write_all(format!("GET {path} HTTP/1.1\r\nHost: lb.test\r\n\r\n").as_bytes())
            .expect("send");
        let body = read_body(&mut client);
        assert!(body == want.as_bytes(), "{path}: got {} bytes", body.len());
    }
    assert!(
        backend.accepted() <= accepted + 2,
        "bodies read to the end leave their connections reusable"
    );

    backend.close_all();
    std::thread::sleep(Duration::from_millis(200));
    for i in 0..4 {
        let mut conn = std::net::TcpStream::connect(&lb).expect("connect");
        conn.set_read_timeout(Some(Duration::from_secs(5))).ok();
        conn.write_all(
            b"POST /submit HTTP/1.1\r\nHost: lb.test\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
        )
        .expect("send");
        let mut response = String::new();
        let _ = conn.read_to_string(&mut response);
        assert!(
            response.starts_with("HTTP/1.1 200"),
            "POST {i} after the backend closed its idle connections: {response}"
        );
    }
}

/// Reads one HTTP/1.1 response from `conn` and returns its body (Content-Length or
/// chunked).
fn read_body(conn: &mut std::net::TcpStream) -> Vec<u8> {
    use std::io::{BufRead, BufReader, Read};
    let mut r = BufReader::new(conn);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        r.read_line(&mut line).expect("read the response head");
        if line == "\r\n" || line.is_empty() {
            break;
        }
        head.push_str(&line);
    }
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let header = |name: &str| {
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    };
    let mut body = Vec::new();
    if let Some(len) = header("content-length") {
        body.resize(len.parse().expect("a length"), 0);
        r.read_exact(&mut body).expect("read the body");
    } else {
        assert_eq!(
            header("transfer-encoding").as_deref(),
            Some("chunked"),
            "{head}"
        );
        loop {
            let mut size = String::new();
            r.read_line(&mut size).expect("read a chunk size");
            let n = usize::from_str_radix(size.trim(), 16).expect("a chunk size");
            let mut chunk = vec![0; n + 2];
            r.read_exact(&mut chunk).expect("read a chunk");
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    }
    // Nothing of the next response may have been read ahead.
    assert!(r.buffer().is_empty());
    body
}

/// A client that shuts down its sending side after its request (`nc -N`, some HTTP/1.0
/// clients) still gets the response.
#[test]
fn a_client_that_half_closes_still_gets_its_response() {
    use std::io::{Read, Write};
    let backend = KeepAliveBackend::start();
    let (ws, lb) = balancer_for("half-lb", backend.port);
    let _cleanup = Cleanup(&ws);
    start_balancer(&ws, &lb);
    for path in ["/", "/chunked"] {
        let mut conn = std::net::TcpStream::connect(&lb).expect("connect");
        conn.set_read_timeout(Some(Duration::from_secs(5))).ok();
        conn.write_all(format!("GET {path} HTTP/1.1\r\nHost: lb.test\r\n\r\n").as_bytes())
            .expect("send");
        conn.shutdown(std::net::Shutdown::Write)
            .expect("half-close");
        let mut response = String::new();
        let _ = conn.read_to_string(&mut response);
        assert!(response.starts_with("HTTP/1.1 200"), "{path}: {response:?}");
    }
}

/// Removing a balancer drains it: a request in flight (a body streamed over half a
/// second) still completes, and an idle keep-alive connection is closed.
#[test]
fn removing_a_balancer_finishes_requests_in_flight_and_closes_idle_connections() {
    use std::io::{Read, Write};
    let backend = KeepAliveBackend::start();
    let (ws, lb) = balancer_for("drain-lb", backend.port);
    let _cleanup = Cleanup(&ws);
    start_balancer(&ws, &lb);
    let mut idle = std::net::TcpStream::connect(&lb).expect("connect");
    idle.set_read_timeout(Some(Duration::from_secs(10))).ok();
    assert!(exchange(&mut idle).starts_with("HTTP/1.1 200"));
    let mut busy = std::net::TcpStream::connect(&lb).expect("connect");
    busy.set_read_timeout(Some(Duration::from_secs(10))).ok();
    busy.write_all(b"GET /chunked HTTP/1.1\r\nHost: lb.test\r\n\r\n")
        .expect("send");
    std::thread::sleep(Duration::from_millis(100));

    ws.write("main.tf", "");
    ws.apply().contains("1 destroyed");
    let want: String = (0..10).map(|i| format!("part-{i}")).collect();
    assert_eq!(read_body(&mut busy), want.as_bytes());
    let mut buf = [0u8; 64];
    assert_eq!(
        idle.read(&mut buf)
            .expect("the idle connection is closed, not left hanging"),
        0
    );
    assert!(
        std::net::TcpStream::connect(&lb).is_err(),
        "the balancer no longer listens"
    );
}
