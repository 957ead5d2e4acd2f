//! Module installation against Terraform's: a module registry on the loopback HTTPS
//! server (service discovery, the version list, `download` with a relative
//! `X-Terraform-Get`), an HTTP archive with a checksum, and git repositories the test
//! makes (`git::file://`, with `?ref=` and `//subdir`). `terraform init` and terrane
//! install the same configuration side by side; the module manifests and the installed
//! files must agree.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::path::Path;
use std::process::Command;

use sha2::{Digest as _, Sha256};
use terrane_core::modsource::Manifest;
use terrane_install::modules::{install_modules, ModuleCallDecl, ModuleError};
use terrane_install::{CliConfig, CliEnv};

use crate::registry::{Registry, Reply};
use crate::Case;

/// A module's files: (path, contents).
type Files<'a> = &'a [(&'a str, &'a str)];

fn tar_gz(files: Files<'_>, prefix: &str) -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    for (path, text) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(&mut header, format!("{prefix}{path}"), text.as_bytes())
            .expect("tar entry");
    }
    builder.into_inner().expect("tar").finish().expect("gzip")
}

fn zip_of(files: Files<'_>) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().unix_permissions(0o644);
    for (path, text) in files {
        zip.start_file(*path, options).expect("zip entry");
        zip.write_all(text.as_bytes()).expect("zip write");
    }
    zip.finish().expect("zip").into_inner()
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A git repository with `v1` (files `one`) and a later commit on main (files `two`).
fn git_repo(dir: &Path, one: Files<'_>, two: Files<'_>) {
    fs::create_dir_all(dir).expect("repo dir");
    git(dir, &["init", "-q", "-b", "main"]);
    for (files, tag) in [(one, Some("v1")), (two, None)] {
        for (path, text) in files {
            let p = dir.join(path);
            fs::create_dir_all(p.parent().expect("a parent")).expect("dirs");
            fs::write(p, text).expect("file");
        }
        git(dir, &["add", "-A"]);
        git(dir, &["commit", "-q", "-m", "c"]);
        if let Some(tag) = tag {
            git(dir, &["tag", tag]);
        }
    }
}

fn calls_of(dir: &Path) -> Result<Vec<ModuleCallDecl>, String> {
    Ok(terrane_lang::module_calls(dir)?
        .into_iter()
        .map(|c| ModuleCallDecl {
            name: c.name,
            source: c.source,
            version: c.version,
            at: c.at,
        })
        .collect())
}

fn terrane_modules(case: &Case, upgrade: bool) -> Result<(Manifest, Vec<String>), ModuleError> {
    let env = CliEnv {
        config_file: Some(case.path("cli.tfrc")).filter(|p| p.exists()),
        home: Some(case.path("home")),
        ssl_cert_file: case.ca_file.clone(),
        ..CliEnv::default()
    };
    let (cli, _) = CliConfig::load(&env);
    let mut lines = Vec::new();
    let manifest = install_modules(&case.path("tr"), &cli, upgrade, &calls_of, &mut |l| {
        lines.push(l.to_string())
    })?;
    Ok((manifest, lines))
}

/// Every file under `.terraform/modules` outside `.git`, with a digest of its contents.
fn module_files(dir: &Path) -> BTreeMap<String, String> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            let rel = path
                .strip_prefix(base)
                .expect("under base")
                .display()
                .to_string();
            if rel.ends_with(".git") || rel.contains("/.git/") || rel.ends_with("modules.json") {
                continue;
            }
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                let digest = hex::encode(Sha256::digest(fs::read(&path).expect("file")));
                out.insert(rel, digest);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn write_config(case: &Case, text: &str) {
    for w in ["tf", "tr"] {
        fs::write(case.path(w).join("main.tf"), text).expect("main.tf");
    }
}

const NET_1_2: Files<'_> = &[
    ("main.tf", "module \"inner\" {\n  source = \"./modules/inner\"\n}\noutput \"v\" {\n  value = \"net 1.2.0\"\n}\n"),
    ("modules/inner/main.tf", "output \"v\" {\n  value = \"inner\"\n}\n"),
    ("modules/extra/main.tf", "output \"v\" {\n  value = \"extra\"\n}\n"),
];

#[test]
fn registry_git_and_archive_modules_install_as_terraform_installs_them() {
    let registry = Registry::start();
    let server = &registry.server;
    let host = server.host();
    server.set(
        "/v1/modules/acme/net/aws/versions",
        Reply::json(&serde_json::json!({"modules": [{"versions": [
            {"version": "1.0.0"}, {"version": "1.2.0"}, {"version": "2.0.0"}, {"version": "1.3.0-beta1"}
        ]}]})),
    );
    server.set(
        "/v1/modules/acme/net/aws/1.2.0/download",
        Reply::status(204).with_header("X-Terraform-Get", "./net-1.2.0.tar.gz"),
    );
    server.set(
        "/v1/modules/acme/net/aws/1.2.0/net-1.2.0.tar.gz",
        Reply::bytes(tar_gz(NET_1_2, "")),
    );
    let archive = zip_of(&[("main.tf", "output \"v\" {\n  value = \"zipped\"\n}\n")]);
    let sum = hex::encode(Sha256::digest(&archive));
    server.set("/pkg/tools.zip", Reply::bytes(archive));

    let mut case = Case::setup();
    case.ca_file = Some(crate::registry::test_ca_file());
    let repo = case.path("repos/app");
    git_repo(
        &repo,
        &[("svc/main.tf", "output \"v\" {\n  value = \"v1\"\n}\n")],
        &[("svc/main.tf", "output \"v\" {\n  value = \"main\"\n}\n")],
    );
    fs::create_dir_all(case.path("tr/local")).expect("local module");
    fs::create_dir_all(case.path("tf/local")).expect("local module");
    for w in ["tf", "tr"] {
        fs::write(
            case.path(w).join("local/main.tf"),
            "module \"deep\" {\n  source = \"../shared\"\n}\n",
        )
        .expect("local module");
        fs::create_dir_all(case.path(w).join("shared")).expect("shared");
        fs::write(case.path(w).join("shared/main.tf"), "").expect("shared");
    }
    write_config(
        &case,
        &format!(
            r#"
module "net" {{
  source  = "{host}/acme/net/aws"
  version = "~> 1.0"
}}
module "extra" {{
  source = "{host}/acme/net/aws//modules/extra"
  version = "1.2.0"
}}
module "tools" {{
  source = "https://{host}/pkg/tools.zip?checksum=sha256:{sum}"
}}
module "svc" {{
  source = "git::file://{repo}//svc?ref=v1"
}}
module "svc_main" {{
  source = "git::file://{repo}//svc"
}}
module "local" {{
  source = "./local"
}}
module "mirrored" {{
  source  = "acme/net/aws"
  version = "1.2.0"
}}
"#,
            repo = repo.display()
        ),
    );

    // The public registry's host answers from the CLI configuration: a mirror.
    case.cli_config(&format!(
        "host \"registry.terraform.io\" {{\n  services = {{\n    \"modules.v1\" = \"https://{host}/v1/modules/\"\n  }}\n}}\n"
    ));
    let terraform = case.terraform_init(&["-backend=false"]);
    assert!(
        terraform.success,
        "terraform init failed:\n{}",
        terraform.output
    );
    let (manifest, lines) = terrane_modules(&case, false).unwrap_or_else(|e| panic!("{e}"));

    let theirs = Manifest::parse(
        &fs::read_to_string(case.path("tf/.terraform/modules/modules.json"))
            .expect("Terraform's manifest"),
    )
    .expect("Terraform's manifest parses");
    assert_eq!(
        theirs
            .records
            .keys()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        [
            "",
            "extra",
            "local",
            "local.deep",
            "mirrored",
            "mirrored.inner",
            "net",
            "net.inner",
            "svc",
            "svc_main",
            "tools"
        ]
    );
    assert_eq!(manifest, theirs, "the module manifests differ");
    let ours_on_disk = Manifest::parse(
        &fs::read_to_string(case.path("tr/.terraform/modules/modules.json")).expect("our manifest"),
    )
    .expect("our manifest parses");
    assert_eq!(ours_on_disk, theirs);
    assert_eq!(
        manifest.records["net"].version.as_deref(),
        Some("1.2.0"),
        "newest allowed, no prerelease"
    );
    assert_eq!(
        manifest.records["extra"].dir,
        ".terraform/modules/extra/modules/extra"
    );
    assert_eq!(manifest.records["local.deep"].dir, "shared");
    assert_eq!(
        module_files(&case.path("tr/.terraform/modules")),
        module_files(&case.path("tf/.terraform/modules")),
        "the installed files differ"
    );
    let svc = fs::read_to_string(case.path("tr/.terraform/modules/svc/svc/main.tf")).expect("svc");
    assert!(svc.contains("\"v1\""), "ref=v1 is checked out: {svc}");
    assert!(
        lines
            .iter()
            .any(|l| l == &format!("Downloading {host}/acme/net/aws 1.2.0 for net...")),
        "{lines:?}"
    );

    // A second init keeps what is installed: no request reaches the registry.
    let before = server.requests().len();
    terrane_modules(&case, false).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(server.requests().len(), before, "nothing is fetched again");
    // A new version within the constraints is taken by -upgrade only.
    server.set(
        "/v1/modules/acme/net/aws/versions",
        Reply::json(&serde_json::json!({"modules": [{"versions": [{"version": "1.2.0"}, {"version": "1.4.0"}]}]})),
    );
    server.set(
        "/v1/modules/acme/net/aws/1.4.0/download",
        Reply::json(&serde_json::json!({"location": format!("https://{host}/v1/modules/acme/net/aws/1.2.0/net-1.2.0.tar.gz")})),
    );
    let (manifest, _) = terrane_modules(&case, true).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(manifest.records["net"].version.as_deref(), Some("1.4.0"));
}

#[test]
fn sources_that_cannot_be_installed_say_which_and_why() {
    let registry = Registry::start();
    let server = &registry.server;
    let host = server.host();
    let archive = zip_of(&[("main.tf", "")]);
    server.set("/pkg/tools.zip", Reply::bytes(archive));
    server.set(
        "/v1/modules/acme/net/aws/versions",
        Reply::json(&serde_json::json!({"modules": [{"versions": [{"version": "1.0.0"}]}]})),
    );
    let mut case = Case::setup();
    case.ca_file = Some(crate::registry::test_ca_file());
    let repo = case.path("repos/app");
    git_repo(&repo, &[("main.tf", "")], &[("main.tf", "\n")]);
    let wrong = "0".repeat(64);
    let cases = [
        (
            format!("module \"m\" {{\n  source = \"https://{host}/pkg/tools.zip?checksum=sha256:{wrong}\"\n}}\n"),
            vec!["module \"m\"", "checksums did not match"],
        ),
        (
            format!("module \"m\" {{\n  source = \"git::file://{}?ref=nope\"\n}}\n", repo.display()),
            vec!["module \"m\"", "the ref \"nope\" does not exist"],
        ),
        (
            format!("module \"m\" {{\n  source = \"git::file://{}/missing\"\n}}\n", case.path("repos").display()),
            vec!["module \"m\"", "git clone failed"],
        ),
        (
            format!("module \"m\" {{\n  source = \"{host}/acme/net/aws\"\n  version = \">= 2.0\"\n}}\n"),
            vec!["no available version", "Available versions: 1.0.0"],
        ),
        (
            format!("module \"m\" {{\n  source = \"{host}/acme/none/aws\"\n}}\n"),
            vec!["does not have", "acme/none/aws"],
        ),
        (
            "module \"m\" {\n  source = \"./local\"\n  version = \"1.0\"\n}\n".to_string(),
            vec!["doesn't come from a module registry"],
        ),
        (
            "module \"m\" {\n  source = \"hg::https://example.com/x\"\n}\n".to_string(),
            vec!["Mercurial", "main.tf:1"],
        ),
    ];
    for (config, wants) in cases {
        fs::write(case.path("tr/main.tf"), &config).expect("main.tf");
        let err = terrane_modules(&case, false)
            .expect_err(&config)
            .to_string();
        for want in wants {
            assert!(
                err.contains(want),
                "for\n{config}\nthe error\n{err}\nlacks {want:?}"
            );
        }
        assert!(
            !case.path("tr/.terraform/modules/m").exists(),
            "nothing half installed for\n{config}"
        );
    }
}
