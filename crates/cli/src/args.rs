//! The command line: every command, flag and argument, with the help text `--help`
//! prints (clap derive).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use terrane_workspace::cost::{PriceFiles, PRICING_FILE_ENV};

/// Infrastructure as code: plan and apply HCL configurations, with state, locking and
/// history.
#[derive(Parser, Debug)]
#[command(name = "terrane", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Run as if terrane was started in DIR.
    #[arg(short = 'C', long = "chdir", global = true, value_name = "DIR")]
    pub chdir: Option<PathBuf>,
    /// Disable colored output (also honoured: the NO_COLOR environment variable).
    #[arg(long, global = true)]
    pub no_color: bool,
    /// Take the state lock (default true). -lock=false runs without it: only when it
    /// cannot be taken and you know no other run is going on.
    #[arg(long, global = true, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub lock: bool,
    /// How long to wait for a state lock another run holds, e.g. 30s or 5m (default 0s).
    #[arg(long, global = true, value_name = "DURATION", default_value = "0s")]
    pub lock_timeout: String,
    /// Ask for input when needed (default true; also TF_INPUT=0). With false, apply
    /// without --auto-approve stops instead of asking.
    #[arg(long, global = true, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub input: bool,
    /// Accepted for Terraform's scripts; warnings are always shown in full.
    #[arg(long, global = true, hide = true)]
    pub compact_warnings: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone, Default)]
pub struct VarArgs {
    /// Set a root variable: --var NAME=VALUE (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Read variables from a .tfvars file (repeatable).
    #[arg(long = "var-file", value_name = "FILE")]
    pub var_files: Vec<PathBuf>,
}

impl VarArgs {
    pub fn inputs(&self) -> terrane_lang::vars::VarInputs {
        terrane_lang::vars::VarInputs {
            var_files: self.var_files.clone(),
            vars: self.vars.clone(),
        }
    }
}

#[derive(Args, Debug, Clone)]
pub struct PlanArgs {
    #[command(flatten)]
    pub vars: VarArgs,
    /// Limit the plan to a resource (and what it depends on). Repeatable.
    #[arg(long = "target", value_name = "ADDRESS")]
    pub targets: Vec<String>,
    /// Read the real state of managed objects before planning (default true).
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub refresh: bool,
    /// Plan to destroy every object in state.
    #[arg(long)]
    pub destroy: bool,
    /// Replace this instance although nothing forces it (repeatable).
    #[arg(long = "replace", value_name = "ADDRESS")]
    pub replace: Vec<String>,
    /// Only record in state what changed outside terrane; change nothing real.
    #[arg(long, conflicts_with = "destroy")]
    pub refresh_only: bool,
    /// How many provider operations run at once.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub parallelism: usize,
    /// Also check the plan against the Rego policies in DIR (a directory of .rego
    /// files, or one file), as a hard_mandatory set. Repeatable.
    #[arg(long = "policy", value_name = "DIR")]
    pub policy: Vec<PathBuf>,
    /// Apply although soft_mandatory policy sets fail; the reason is written to the
    /// workspace's audit log. hard_mandatory sets cannot be overridden.
    #[arg(long = "override-policy", value_name = "REASON")]
    pub override_policy: Option<String>,
    /// Write configuration for `import` targets not declared yet to FILE (a new file).
    #[arg(long, value_name = "FILE")]
    pub generate_config_out: Option<PathBuf>,
}

impl PlanArgs {
    pub fn request(&self) -> terrane_workspace::ops::PlanRequest {
        terrane_workspace::ops::PlanRequest {
            vars: self.vars.inputs(),
            targets: self.targets.clone(),
            replace: self.replace.clone(),
            refresh_only: self.refresh_only,
            refresh: self.refresh,
            destroy: self.destroy,
            parallelism: self.parallelism,
            generate_config_out: self.generate_config_out.clone(),
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Install the provider plugins the configuration requires (from the mirrors and
    /// registries in Terraform's CLI configuration) and record them in the dependency
    /// lock file, .terraform.lock.hcl.
    Init {
        /// Choose the newest versions the constraints allow, even when the lock file
        /// records others.
        #[arg(long)]
        upgrade: bool,
    },
    /// The providers the configuration requires: where each comes from, its version
    /// and whether terrane serves it natively or through a plugin.
    #[command(subcommand_negates_reqs = true)]
    Providers {
        #[command(subcommand)]
        command: Option<ProvidersCommand>,
    },
    /// Check the configuration without touching state or providers.
    Validate {
        /// Print diagnostics as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show the changes that apply would make.
    Plan {
        #[command(flatten)]
        args: PlanArgs,
        /// Save the plan to FILE for `terrane apply FILE`.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Print the plan as JSON in Terraform's plan format.
        #[arg(long)]
        json: bool,
        /// Exit 0 when there are no changes, 2 when there are changes, 1 on error.
        #[arg(long)]
        detailed_exitcode: bool,
    },
    /// Make the changes: from a saved plan file, or plan and ask for confirmation.
    Apply {
        /// A plan file made by `terrane plan --out`.
        planfile: Option<PathBuf>,
        #[command(flatten)]
        args: PlanArgs,
        /// Do not ask for confirmation.
        #[arg(long)]
        auto_approve: bool,
    },
    /// Destroy every object terrane manages in this workspace.
    Destroy {
        #[command(flatten)]
        vars: VarArgs,
        /// Do not ask for confirmation.
        #[arg(long)]
        auto_approve: bool,
        #[arg(long, default_value_t = 10, value_name = "N")]
        parallelism: usize,
        #[arg(long = "target", value_name = "ADDRESS")]
        targets: Vec<String>,
    },
    /// Show a saved plan, or the current state.
    Show {
        planfile: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Print output values from state (a sensitive value only by NAME or with --json).
    Output {
        name: Option<String>,
        #[arg(long)]
        json: bool,
        /// Print a string, number or bool output as it is, without quotes.
        #[arg(long)]
        raw: bool,
    },
    /// Workspaces: several states for one configuration, as Terraform's (the selected
    /// one is `terraform.workspace`; TF_WORKSPACE overrides the selection).
    #[command(subcommand)]
    Workspace(WorkspaceCommand),
    /// Evaluate expressions (one per line, from the terminal or stdin) against the
    /// configuration and the state, as Terraform's console does; `exit` ends it.
    Console {
        #[command(flatten)]
        vars: VarArgs,
    },
    /// Print the dependency graph in DOT format.
    Graph,
    /// Rewrite configuration files in the canonical style.
    Fmt {
        /// Do not write; exit 3 when files are not formatted.
        #[arg(long)]
        check: bool,
        /// Also format modules in subdirectories.
        #[arg(long)]
        recursive: bool,
        /// Files or directories (default: the working directory).
        paths: Vec<PathBuf>,
    },
    /// Inspect and change state.
    #[command(subcommand)]
    State(StateCommand),
    /// Mark an instance tainted: the next apply replaces it (as -replace ADDR does).
    Taint { address: String },
    /// Clear an instance's taint (a failed provisioner's): the next apply keeps it.
    Untaint { address: String },
    /// The encrypted secret store: set, get, list, rm, rotate-key.
    #[command(subcommand)]
    Secret(SecretCommand),
    /// Backups of the workspace: state with its history, secrets (still encrypted)
    /// and policy files, checksummed and encrypted. create, list, verify, prune.
    #[command(subcommand)]
    Backup(BackupCommand),
    /// Rebuild the workspace's state from a backup, into an empty backend (e.g. on a
    /// new machine). BACKUP is a backup directory, or an ID in --from DIR.
    Restore {
        backup: PathBuf,
        /// Where the backups are (default .terrane/backups).
        #[arg(long, value_name = "DIR")]
        from: Option<PathBuf>,
        /// The age identity the backup's keys are wrapped with (the original
        /// workspace's .terrane/identity.txt); installed as this workspace's identity.
        #[arg(long, value_name = "FILE", env = "TERRANE_IDENTITY_FILE")]
        identity: Option<PathBuf>,
    },
    /// Bring an existing object under management: terrane import ADDRESS ID.
    Import {
        address: String,
        id: String,
        #[command(flatten)]
        vars: VarArgs,
    },
    /// Run the workspace agent in the foreground (it supervises local services), or stop it.
    Agent {
        #[command(subcommand)]
        action: Option<AgentAction>,
        /// Address for the agent's API (health, readiness, metrics, services). The
        /// default, port 0, picks a free loopback port and records it in
        /// .terrane/agent/agent.json for the CLI, so each workspace has its own agent.
        #[arg(long, env = "TERRANE_AGENT_LISTEN", default_value = terrane_agent::client::DEFAULT_LISTEN)]
        listen: String,
        /// Run one agent process without a keeper (the keeper starts agents this way).
        #[arg(long, hide = true)]
        worker: bool,
    },
    /// Show every local service with its replicas (pid, address), state and health.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Print a local service's logs (SERVICE is its resource address or agent name).
    Logs {
        service: String,
        /// Keep printing new lines as they are written.
        #[arg(long, short)]
        follow: bool,
    },
    /// Print what the agent did: starts, restarts, health changes.
    Events {
        #[arg(long, short)]
        follow: bool,
    },
    /// Release a state lock left by a run that is gone.
    ForceUnlock { lock_id: String },
    /// Scan the configuration for security misconfigurations with the built-in rule
    /// pack, without state or credentials. Exit codes: 0 no findings at or above
    /// --fail-on, 2 findings at or above it, 1 the scan could not run.
    Scan {
        /// The configuration directory (default: the working directory).
        dir: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "human")]
        format: ScanFormat,
        /// The lowest severity that fails the scan: low, medium, high or critical.
        #[arg(long, default_value = "low", value_parser = parse_severity, value_name = "SEVERITY")]
        fail_on: terrane_policy::Severity,
        /// List the rules of the built-in pack and exit.
        #[arg(long)]
        list_rules: bool,
        #[command(flatten)]
        vars: VarArgs,
    },
    /// Check plans against Rego policy sets, and test the policies.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Estimate the monthly cost of the workspace before and after a plan, per
    /// resource and per cost component (on-demand list prices, 730 hours a month).
    Cost(CostCommand),
}

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct CostCommand {
    #[command(subcommand)]
    pub action: Option<CostAction>,
    #[command(flatten)]
    pub opts: CostOpts,
}

#[derive(Args, Debug, Clone)]
pub struct CostOpts {
    /// Price a saved plan: a terrane plan file (`terrane plan --out`) or a Terraform
    /// JSON plan (`terraform show -json`). Without it, terrane plans the workspace.
    #[arg(long = "plan", value_name = "FILE")]
    pub planfile: Option<PathBuf>,
    /// table: the breakdown for people; json: the cost document (what policies read
    /// as input.cost, and what `cost diff --compare-to` takes).
    #[arg(long, value_enum, default_value = "table")]
    pub format: CostFormat,
    #[command(flatten)]
    pub prices: PriceArgs,
    #[command(flatten)]
    pub vars: VarArgs,
    /// Read the real state of managed objects before planning (default true).
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub refresh: bool,
}

#[derive(Subcommand, Debug)]
pub enum CostAction {
    /// Compare the cost of a plan with a breakdown saved earlier
    /// (`terrane cost --format json > baseline.json`), per resource and component.
    Diff {
        /// The saved breakdown to compare against.
        #[arg(long = "compare-to", value_name = "BASELINE.json")]
        compare_to: PathBuf,
        #[command(flatten)]
        opts: CostOpts,
    },
    /// Show the price catalog: what it prices, in which regions, and its sources.
    Catalog {
        #[command(flatten)]
        prices: PriceArgs,
    },
}

fn parse_severity(s: &str) -> Result<terrane_policy::Severity, String> {
    terrane_policy::Severity::parse(s)
        .ok_or_else(|| format!("{s:?} is not a severity; use low, medium, high or critical"))
}

#[derive(Subcommand, Debug)]
pub enum PolicyCommand {
    /// Evaluate the policy sets and the built-in scan against a plan: a saved plan file
    /// (--plan FILE), or a fresh plan of the configuration. Exit 1 when an apply of the
    /// plan would be blocked.
    Check {
        /// A plan file made by `terrane plan --out`.
        #[arg(long = "plan", value_name = "FILE")]
        planfile: Option<PathBuf>,
        #[command(flatten)]
        args: PlanArgs,
        /// Print the results as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Evaluate the policy sets and the scan against the current state (what is
    /// deployed now), and show what the agent's compliance monitoring last found.
    /// Exit 0 in policy, 2 out of policy, 1 on error.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Run the policies' own `test_` rules, like `opa test`.
    Test {
        /// Test the policies in DIR too (besides the configuration's policy sets).
        #[arg(long = "policy", value_name = "DIR")]
        policy: Vec<PathBuf>,
        /// Also show how long each test took.
        #[arg(long, short)]
        verbose: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum AgentAction {
    /// Stop the workspace's agent; services keep running and are re-adopted next time.
    Stop,
}

#[derive(Subcommand, Debug)]
pub enum StateCommand {
    /// List resource instances in state.
    List {
        /// Only addresses starting with these prefixes.
        filters: Vec<String>,
    },
    /// Show one resource instance (sensitive values redacted).
    Show {
        address: String,
        /// Show the instance as it was at this serial.
        #[arg(long)]
        serial: Option<u64>,
    },
    /// Forget a resource instance without destroying it.
    Rm { addresses: Vec<String> },
    /// Move a resource instance to a new address.
    Mv { from: String, to: String },
    /// List every state serial: when, who, what.
    History,
    /// Print the current state as JSON (sensitive values stay encrypted).
    Pull,
    /// Replace the current state with a JSON document from `terrane state pull` (read
    /// from FILE, or stdin with `-`), as a new serial. Refused when the document is
    /// from another lineage or older than the state, unless --force.
    Push {
        file: PathBuf,
        #[arg(long)]
        force: bool,
    },
    /// Copy this workspace's whole state — every serial, the data keys and the
    /// secrets — to another backend, which must be empty. Then point the `backend`
    /// block at it. URL: sqlite:PATH, postgres://USER:PASS@HOST:PORT/DB?workspace=NAME,
    /// or s3://BUCKET/KEY?region=REGION&endpoint=URL. `--to FILE.tfstate` writes the
    /// state for Terraform; `--from FILE` takes a Terraform state (format 4) over into
    /// this empty workspace (docs/migrating.md).
    Migrate {
        #[arg(
            long,
            value_name = "URL|FILE.tfstate",
            required_unless_present = "from"
        )]
        to: Option<String>,
        #[arg(long, value_name = "FILE", conflicts_with = "to")]
        from: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
pub enum BackupCommand {
    /// Write a new backup (default destination .terrane/backups).
    Create {
        #[arg(long, value_name = "DIR")]
        to: Option<PathBuf>,
    },
    /// List complete backups, oldest first; interrupted ones are listed apart.
    List {
        #[arg(long, value_name = "DIR")]
        from: Option<PathBuf>,
    },
    /// Check a backup: checksum, decryption and the consistency of its state.
    Verify {
        backup: PathBuf,
        #[arg(long, value_name = "DIR")]
        from: Option<PathBuf>,
    },
    /// Put a `local_backup_policy` snapshot (the latest, or --snapshot ID) back where
    /// its files came from. Every file is checked against its checksum first.
    RestoreData {
        /// The policy's destination directory.
        #[arg(long, value_name = "DIR")]
        from: PathBuf,
        #[arg(long, value_name = "ID")]
        snapshot: Option<String>,
    },
    /// Apply retention: keep the newest N and/or those younger than DURATION (the
    /// union of both), remove the rest.
    Prune {
        #[arg(long, value_name = "DIR")]
        from: Option<PathBuf>,
        #[arg(long, value_name = "N")]
        keep_last: Option<usize>,
        /// e.g. 36h, 7d, 4w.
        #[arg(long, value_name = "DURATION")]
        keep_within: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum SecretCommand {
    /// Store a new version of a secret: from --from-file, --from-env, or stdin (asked
    /// for without echo on a terminal). The last 10 versions are kept.
    Set {
        name: String,
        /// Read the value from this file (all of it, byte for byte).
        #[arg(long, value_name = "FILE")]
        from_file: Option<PathBuf>,
        /// Read the value from this environment variable.
        #[arg(long, value_name = "VAR")]
        from_env: Option<String>,
    },
    /// Print a secret's value (the latest version, or --version N). This is the one
    /// command that prints a secret.
    #[command(disable_version_flag = true)]
    Get {
        name: String,
        #[arg(long)]
        version: Option<u64>,
    },
    /// List secrets: names, versions, when and by whom — never values.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Delete every version of a secret.
    Rm { name: String },
    /// Re-encrypt every secret and state value under a new data key, wrapped by the
    /// configured key provider (the previous provider may be given as `fallback`).
    RotateKey,
}

/// Where prices and usage come from (flags of `terrane cost`).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct PriceArgs {
    /// The usage file with quantities of usage-based components (default:
    /// terrane-usage.yml in the workspace, when it exists).
    #[arg(long = "usage-file", value_name = "FILE")]
    pub usage_file: Option<PathBuf>,
    /// A price catalog to use instead of the built-in one: a CSV file with the columns
    /// service,resource_kind,region,sku_or_type,unit,usd_per_unit,source_note.
    #[arg(long = "pricing-file", value_name = "FILE", env = PRICING_FILE_ENV)]
    pub pricing_file: Option<PathBuf>,
}

impl PriceArgs {
    pub fn files(&self) -> PriceFiles {
        PriceFiles {
            usage_file: self.usage_file.clone(),
            pricing_file: self.pricing_file.clone(),
        }
    }
}

/// Output formats of `terrane cost`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum CostFormat {
    Table,
    Json,
}

/// Output formats of `terrane scan`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ScanFormat {
    Human,
    Json,
    Sarif,
    Junit,
}

#[derive(Subcommand, Debug)]
pub enum ProvidersCommand {
    /// Print the providers' schemas.
    Schema {
        /// As JSON, in Terraform's format (`terraform providers schema -json`).
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum WorkspaceCommand {
    /// List the workspaces; the selected one is marked with *.
    List,
    /// Print the selected workspace's name.
    Show,
    /// Create a workspace with an empty state and select it.
    New { name: String },
    /// Select a workspace.
    Select {
        name: String,
        /// Create it when it does not exist.
        #[arg(long)]
        or_create: bool,
    },
    /// Delete a workspace's state; refused while it manages objects, unless --force
    /// (which forgets them without destroying them).
    Delete {
        name: String,
        #[arg(long)]
        force: bool,
    },
}
