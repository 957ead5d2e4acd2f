//! Disaster recovery on the local cloud: scheduled backups run by the agent, and the
//! whole drill — primary and standby behind a DNS name and a health-checked load
//! balancer, the primary site lost, traffic failing over, the primary's data restored
//! from its latest backup, the primary back — with RPO and RTO measured.

use std::time::{Duration, Instant};

use crate::agent::{agent_get, dns_a, status, wait_until};
use crate::{free_port, Cleanup, Ws};

/// A service that appends a numbered, timestamped record to SITE/data/log.txt every
/// 100 ms and answers GET with its site name. It refuses to start without its data
/// directory (a lost site stays down until its data is restored).
const APP: &str = r#"
import http.server, os, sys, threading, time
site = sys.argv[1]
data = os.path.join(site, "data")
if not os.path.isdir(data):
    sys.stderr.write("data directory missing: " + data + "\n")
    sys.exit(1)
log = os.path.join(data, "log.txt")
seq = 0
if os.path.exists(log):
    lines = [l for l in open(log).read().splitlines() if l.strip()]
    seq = int(lines[-1].split()[0]) if lines else 0
def writer():
    global seq
    while True:
        seq += 1
        with open(log, "a") as f:
            f.write("%d %d\n" % (seq, int(time.time() * 1000)))
            f.flush()
            os.fsync(f.fileno())
        time.sleep(0.1)
threading.Thread(target=writer, daemon=True).start()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("site=%s seq=%d\n" % (os.path.basename(site), seq)).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer((os.environ["HOST"], int(os.environ["PORT"])), H).serve_forever()
"#;

/// GET / through `address`; the body on a 200.
fn get(address: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(address).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: app.dr.test\r\n\r\n")
        .ok()?;
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    if buf.starts_with("HTTP/1.0 200") || buf.starts_with("HTTP/1.1 200") {
        buf.split("\r\n\r\n").nth(1).map(str::to_string)
    } else {
        None
    }
}

/// (sequence, time in ms) of every record in a site's log.
fn records(path: &std::path::Path) -> Vec<(u64, u64)> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
        })
        .collect()
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[test]
fn the_agent_runs_scheduled_state_and_data_backups() {
    let ws = Ws::new();
    let data = ws.file("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("orders.db"), "order 1\n").unwrap();
    ws.write(
        "main.tf",
        &format!(
            r#"
terraform {{
  backup {{
    schedule  = "*/1 * * * * *"
    to        = "state-backups"
    keep_last = 3
  }}
}}
resource "local_backup_policy" "orders" {{
  paths       = ["{data}"]
  destination = "{dest}"
  schedule    = "*/1 * * * * *"
  keep_last   = 2
}}
"#,
            data = data.display(),
            dest = ws.file("snapshots").display()
        ),
    );
    let _cleanup = Cleanup(&ws);
    ws.apply().contains("1 added");
    wait_until(
        "three state backups and two snapshots exist",
        Duration::from_secs(15),
        || {
            let list = ws
                .run(&["backup", "list", "--from", "state-backups"])
                .stdout;
            let n = list.lines().filter(|l| l.starts_with("20")).count();
            n >= 3
                && std::fs::read_dir(ws.file("snapshots"))
                    .map(|d| d.count())
                    .unwrap_or(0)
                    >= 2
        },
    );
    std::thread::sleep(Duration::from_millis(1500));
    // Retention holds: keep_last 3 state backups, 2 data snapshots.
    let list = ws
        .run(&["backup", "list", "--from", "state-backups"])
        .success()
        .stdout
        .clone();
    assert_eq!(
        list.lines().filter(|l| l.starts_with("20")).count(),
        3,
        "{list}"
    );
    assert_eq!(std::fs::read_dir(ws.file("snapshots")).unwrap().count(), 2);
    let newest = list
        .lines()
        .rfind(|l| l.starts_with("20"))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    ws.run(&["backup", "verify", &newest, "--from", "state-backups"])
        .success();
    // Events and metrics record the runs.
    ws.run(&["events"])
        .success()
        .contains("Backup state done")
        .contains("Backup policy/");
    let metrics = agent_get(&ws, "/metrics");
    let runs = |job: &str| -> u64 {
        metrics
            .lines()
            .find(|l| l.starts_with(&format!("terrane_backup_runs_total{{job=\"{job}")))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap_or(0)
    };
    assert!(runs("state") >= 3 && runs("policy/") >= 2, "{metrics}");
    assert!(metrics.contains("terrane_backup_last_success_timestamp_seconds{job=\"state\"}"));
    // Removing the policy stops the snapshots and keeps those taken.
    ws.run(&[
        "destroy",
        "--auto-approve",
        "--target",
        "local_backup_policy.orders",
    ])
    .success()
    .contains("1 destroyed");
    ws.run(&["events"])
        .success()
        .contains("Backup policy bk-")
        .contains("removed; its snapshots are kept");
    assert_eq!(std::fs::read_dir(ws.file("snapshots")).unwrap().count(), 2);
    // Restore the data from the latest snapshot.
    std::fs::write(data.join("orders.db"), "corrupted by a bad deploy\n").unwrap();
    ws.run(&["backup", "restore-data", "--from", "snapshots"])
        .success()
        .contains("1 files written back");
    assert_eq!(
        std::fs::read_to_string(data.join("orders.db")).unwrap(),
        "order 1\n"
    );
    // An invalid schedule is refused at plan time.
    ws.write(
        "bad.tf",
        "resource \"local_backup_policy\" \"bad\" {\n  paths = [\"/tmp\"]\n  destination = \"/tmp/x\"\n  schedule = \"every day\"\n}\n",
    );
    ws.run(&["plan"])
        .expect_code(1)
        .contains("local_backup_policy.bad")
        .contains("not a cron expression");
    std::fs::remove_file(ws.file("bad.tf")).unwrap();
}

#[test]
fn disaster_recovery_drill_measures_rpo_and_rto() {
    let (dns_port, lb_port) = (free_port(), free_port());
    let ws = Ws::new();
    ws.write("app.py", APP);
    let (site_a, site_b, backups) = (ws.file("site-a"), ws.file("site-b"), ws.file("backups"));
    for s in [&site_a, &site_b] {
        std::fs::create_dir_all(s.join("data")).unwrap();
    }
    let service = |name: &str, site: &std::path::Path| {
        format!(
            r#"
resource "local_service" "{name}" {{
  name     = "{name}"
  command  = "python3"
  args     = ["${{path.module}}/app.py", "{site}"]
  replicas = 1
  grace_period = "1s"
  health_check {{
    http_path           = "/"
    interval            = "200ms"
    timeout             = "500ms"
    healthy_threshold   = 1
    unhealthy_threshold = 1
  }}
}}
"#,
            site = site.display()
        )
    };
    ws.write(
        "main.tf",
        &format!(
            r#"
{primary}
{standby}
resource "local_load_balancer" "app" {{
  listen    = "127.0.0.1:{lb_port}"
  algorithm = "round_robin"
  services  = [local_service.primary.id, local_service.standby.id]
}}
resource "local_dns_zone" "dr" {{
  name   = "dr.test."
  listen = "127.0.0.1:{dns_port}"
}}
resource "local_dns_record" "app" {{
  zone_id = local_dns_zone.dr.id
  name    = "app"
  type    = "A"
  ttl     = 5
  records = ["127.0.0.1"]
}}
resource "local_backup_policy" "primary" {{
  paths       = ["{a_data}"]
  destination = "{backups}"
  schedule    = "*/1 * * * * *"
  keep_last   = 10
}}
"#,
            primary = service("primary", &site_a),
            standby = service("standby", &site_b),
            a_data = site_a.join("data").display(),
            backups = backups.display(),
        ),
    );
    let _cleanup = Cleanup(&ws);
    ws.apply().contains("6 added");

    // Clients find the service by its DNS name.
    let (ips, _) = dns_a(&format!("127.0.0.1:{dns_port}"), "app.dr.test");
    assert_eq!(ips, vec![std::net::Ipv4Addr::new(127, 0, 0, 1)]);
    let address = format!("{}:{lb_port}", ips[0]);
    wait_until("both sites serve", Duration::from_secs(15), || {
        let seen: Vec<String> = (0..6).filter_map(|_| get(&address)).collect();
        seen.iter().any(|b| b.contains("site=site-a"))
            && seen.iter().any(|b| b.contains("site=site-b"))
    });
    wait_until(
        "the primary wrote 30 records and was backed up 3 times",
        Duration::from_secs(15),
        || {
            records(&site_a.join("data").join("log.txt")).len() >= 30
                && std::fs::read_dir(&backups).map(|d| d.count()).unwrap_or(0) >= 3
        },
    );

    // Disaster: site A loses its data and its process.
    let log = site_a.join("data").join("log.txt");
    let primary_pid = status(&ws)["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "primary")
        .and_then(|s| s["replicas"][0]["pid"].as_u64())
        .expect("the primary's pid");
    let before = records(&log);
    std::fs::remove_dir_all(site_a.join("data")).unwrap();
    let lost_at = now_ms();
    let _ = std::process::Command::new("kill")
        .args(["-9", &primary_pid.to_string()])
        .status();
    let last_written = before.last().copied().unwrap();

    // Failover: requests succeed again, served by the standby.
    let started = Instant::now();
    let mut rto = None;
    let mut failed = 0;
    while started.elapsed() < Duration::from_secs(15) {
        match get(&address) {
            Some(b) if b.contains("site=site-b") => {
                rto.get_or_insert(started.elapsed());
                // Keep going until the primary is out of rotation: 10 in a row from B.
                if (0..10).all(|_| get(&address).is_some_and(|b| b.contains("site=site-b"))) {
                    break;
                }
            }
            Some(_) => {}
            None => failed += 1,
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let rto = rto.expect("traffic never failed over to the standby");
    let out_of_rotation = started.elapsed();

    // Restore the primary's data from the last backup taken before the loss (the
    // agent keeps snapshotting, so a later one may hold the emptied directory); the
    // primary comes back.
    let before_loss = std::fs::read_dir(&backups)
        .unwrap()
        .filter_map(|e| {
            let id = e.ok()?.file_name().to_string_lossy().to_string();
            let m: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(backups.join(&id).join("manifest.json")).ok()?,
            )
            .ok()?;
            let at = m["created_at_ms"].as_u64()?;
            (at <= lost_at).then_some((at, id))
        })
        .max()
        .map(|(_, id)| id)
        .expect("a backup from before the loss");
    let out = ws
        .run(&[
            "backup",
            "restore-data",
            "--from",
            backups.to_str().unwrap(),
            "--snapshot",
            &before_loss,
        ])
        .success()
        .contains("files written back")
        .stdout
        .clone();
    // "Restored snapshot ID of policy ...": when that snapshot read the data.
    let snapshot = out.split_whitespace().nth(2).unwrap().to_string();
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(backups.join(&snapshot).join("manifest.json")).unwrap(),
    )
    .unwrap();
    let backed_up_at = manifest["created_at_ms"].as_u64().unwrap();
    let restored = records(&log);
    let (restored_seq, restored_ms) = *restored.last().expect("the backup holds records");
    // Zero corruption: every record 1..=n, in order, each a well-formed line.
    assert!(
        restored
            .iter()
            .enumerate()
            .all(|(i, (seq, _))| *seq == i as u64 + 1),
        "the restored log is not the unbroken sequence 1..={restored_seq}"
    );
    let lost_records = last_written.0 - restored_seq;
    // RPO: the window of writes that were lost — from when the last backup read the
    // data to the loss. (The last restored record is at most one write period older.)
    let rpo_ms = lost_at - backed_up_at;
    assert!(
        restored_ms <= backed_up_at + 100,
        "the snapshot holds data from after it started"
    );
    wait_until(
        "traffic returns to the primary",
        Duration::from_secs(30),
        || {
            (0..6)
                .filter_map(|_| get(&address))
                .any(|b| b.contains("site=site-a"))
        },
    );
    let back = records(&log);
    assert!(
        back.len() > restored.len() && back[restored.len()].0 == restored_seq + 1,
        "the primary continued from the restored data"
    );
    println!(
        "DR drill: RTO {:.0} ms to the first request served by the standby ({failed} failed requests; primary out of rotation after {:.0} ms); RPO {rpo_ms} ms ({lost_records} of {} records written after the last backup were lost; backup interval 1000 ms)",
        rto.as_secs_f64() * 1000.0,
        out_of_rotation.as_secs_f64() * 1000.0,
        last_written.0
    );
    assert!(rto <= Duration::from_secs(10), "RTO {rto:?} exceeds 10 s");
    assert!(
        rpo_ms <= 1000 + 50,
        "RPO {rpo_ms} ms exceeds the 1 s backup interval (+ 50 ms of scheduling slack)"
    );
}
