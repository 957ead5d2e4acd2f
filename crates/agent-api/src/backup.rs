//! Backup policies: what a `local_backup_policy` asks the agent to snapshot, where
//! and on which cron schedule, how its scheduled job is doing, and the check of a
//! schedule (the plan runs it; the agent's scheduler runs what it parses).

use serde::{Deserialize, Serialize};

/// What a `local_backup_policy` asks for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BackupPolicySpec {
    /// Absolute paths of files or directories to copy.
    pub paths: Vec<String>,
    /// The directory snapshots go to.
    pub destination: String,
    /// Cron expression (five fields, or six with seconds first), UTC.
    pub schedule: String,
    pub keep_last: Option<usize>,
}

/// How one scheduled job has been doing (the API and metrics show it).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct JobStatus {
    pub schedule: String,
    pub runs: u64,
    pub failures: u64,
    /// Seconds since the epoch.
    pub last_success: Option<u64>,
    pub last_error: Option<String>,
    pub next_run: Option<String>,
    #[serde(default)]
    pub last_duration_ms: u64,
}

/// Parses a cron expression; seconds are optional (a sixth, leading field).
pub fn parse_schedule(s: &str) -> Result<croner::Cron, String> {
    croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Optional)
        .build()
        .parse(s)
        .map_err(|e| format!("the schedule {s:?} is not a cron expression ({e}). Use five fields (minute hour day month weekday), e.g. \"0 3 * * *\", or six with seconds first, e.g. \"*/10 * * * * *\""))
}

/// A backup policy with how its job is doing.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct BackupPolicyStatus {
    pub name: String,
    pub spec: BackupPolicySpec,
    pub job: JobStatus,
    /// Complete snapshots at the destination.
    pub snapshots: usize,
}
