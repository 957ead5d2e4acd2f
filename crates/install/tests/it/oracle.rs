//! The cases, each checked against `terraform init`.

use std::fs;

use terrane_install::install::{InstallAction, InstallError, ProviderError, ProviderErrorKind};
use terrane_install::{locate, CliConfig, InstallMode, LockFile, ProviderSource};

use crate::{Case, Module};

const X: &str = "registry.terraform.io/example/x";
const Y: &str = "registry.terraform.io/example/y";

fn mirror_config(case: &Case) {
    case.cli_config(
        "provider_installation {\n  filesystem_mirror {\n    path = \"$ROOT/mirror\"\n  }\n}\n",
    );
}

fn failure(result: Result<terrane_install::InstallOutcome, InstallError>) -> Vec<ProviderError> {
    match result {
        Err(InstallError::Providers(failures)) => failures.into_iter().map(|(_, e)| e).collect(),
        Err(other) => panic!("unexpected error: {other}"),
        Ok(_) => panic!("terrane succeeded where terraform failed"),
    }
}

#[test]
fn unpacked_mirror_is_symlinked() {
    let case = Case::setup();
    case.unpacked("mirror", X, "1.2.3");
    mirror_config(&case);
    let modules: Vec<Module> = vec![vec![("x", "example/x", Some("~> 1.0"))]];
    case.configuration(&modules);
    let outcome = case.init_both(&modules, InstallMode::KeepLocked);
    assert!(outcome.lock_changed);
    assert_eq!(
        outcome.incomplete_lock,
        [ProviderSource::parse("example/x").unwrap()]
    );
    assert!(matches!(
        &outcome.providers[0].action,
        InstallAction::Installed {
            authenticated: false,
            ..
        }
    ));
}

#[test]
fn packed_mirror_is_extracted_with_modes() {
    let case = Case::setup();
    case.packed("mirror", X, "1.2.3");
    mirror_config(&case);
    let modules: Vec<Module> = vec![vec![("x", "example/x", Some("~> 1.2.0"))]];
    case.configuration(&modules);
    case.init_both(&modules, InstallMode::KeepLocked);
}

#[test]
fn the_constraint_picks_among_versions_and_layouts() {
    let case = Case::setup();
    case.packed("mirror", X, "1.2.3");
    case.unpacked("mirror", X, "1.3.0");
    case.unpacked("mirror", X, "2.0.0");
    case.packed("mirror", X, "2.0.0");
    case.unpacked("mirror", X, "1.4.0-beta1");
    case.unpacked("mirror", Y, "0.1.0");
    case.unpacked("mirror", Y, "0.2.0-rc1");
    mirror_config(&case);
    let modules: Vec<Module> = vec![vec![
        ("x", "example/x", Some("~> 1.2.0")),
        ("y", "example/y", Some("0.2.0-rc1")),
    ]];
    case.configuration(&modules);
    case.init_both(&modules, InstallMode::KeepLocked);

    // No constraint: the newest release, unpacked preferred over packed.
    let case2 = Case::setup();
    case2.packed("mirror", X, "2.0.0");
    case2.unpacked("mirror", X, "2.0.0");
    case2.unpacked("mirror", X, "1.0.0");
    mirror_config(&case2);
    let modules: Vec<Module> = vec![vec![("x", "example/x", None)]];
    case2.configuration(&modules);
    case2.init_both(&modules, InstallMode::KeepLocked);
}

#[test]
fn reinit_keeps_the_lock_and_upgrade_moves_within_constraints() {
    let case = Case::setup();
    case.unpacked("mirror", X, "1.2.3");
    case.packed("mirror", Y, "1.0.0");
    mirror_config(&case);
    let modules: Vec<Module> = vec![vec![
        ("x", "example/x", Some("~> 1.0")),
        ("y", "example/y", Some(">= 1.0")),
    ]];
    case.configuration(&modules);
    case.init_both(&modules, InstallMode::KeepLocked);
    let first = case.lock_file("tr");

    case.unpacked("mirror", X, "1.3.0");
    case.unpacked("mirror", X, "2.0.0");
    case.packed("mirror", Y, "1.1.0");
    let outcome = case.init_both(&modules, InstallMode::KeepLocked);
    assert_eq!(
        case.lock_file("tr"),
        first,
        "a re-init keeps the locked versions"
    );
    assert!(!outcome.lock_changed);
    assert!(
        outcome
            .providers
            .iter()
            .all(|p| p.action == InstallAction::Reused),
        "{:?}",
        outcome.providers
    );

    let outcome = case.init_both(&modules, InstallMode::Upgrade);
    assert!(outcome.lock_changed);
    let lock = LockFile::load(&case.path("tr/.terraform.lock.hcl")).unwrap();
    let x = ProviderSource::parse("example/x").unwrap();
    assert_eq!(lock.provider(&x).unwrap().version.to_string(), "1.3.0");

    // The lock file's package is verified before the provider is run.
    let cli = CliConfig::from_file(&case.path("cli.tfrc")).unwrap();
    let exe = locate(&x, &lock, &case.path("tr"), &cli).unwrap();
    assert!(
        exe.ends_with("1.3.0/linux_amd64/terraform-provider-x_v1.3.0")
            || !cfg!(all(target_os = "linux", target_arch = "x86_64"))
    );
}

#[test]
fn a_package_not_matching_the_lock_is_refused() {
    let case = Case::setup();
    case.unpacked("mirror", X, "1.2.3");
    case.packed("mirror", Y, "1.0.0");
    mirror_config(&case);
    let modules: Vec<Module> = vec![
        vec![("x", "example/x", None)],
        vec![("y", "example/y", None)],
    ];
    case.configuration(&modules);
    case.init_both(&modules, InstallMode::KeepLocked);
    let good = case.lock_file("tr").unwrap();
    let tampered = good.replace("\"h1:", "\"h1:AAAA");
    case.write_lock_file(&tampered);
    for workdir in ["tf", "tr"] {
        fs::remove_dir_all(case.path(workdir).join(".terraform")).unwrap();
    }

    let terraform = case.terraform_init(&[]);
    assert!(!terraform.success);
    assert!(
        terraform.says("doesn't match any of the checksums"),
        "{}",
        terraform.output
    );
    let errors = failure(case.terrane_init(&modules, InstallMode::KeepLocked));
    assert_eq!(errors.len(), 2);
    for error in &errors {
        assert!(
            matches!(error.kind(), ProviderErrorKind::ChecksumMismatch { .. }),
            "{error}"
        );
        let message = error.to_string();
        assert!(
            message.contains(".terraform.lock.hcl") && message.contains("h1:AAAA"),
            "{message}"
        );
    }
    case.assert_same_results();
    assert_eq!(
        case.lock_file("tr").unwrap(),
        tampered,
        "a failed init leaves the lock file alone"
    );

    // A package changed after installation is refused when it is about to run.
    case.write_lock_file(&good);
    case.init_both(&modules, InstallMode::KeepLocked);
    let x = ProviderSource::parse("example/x").unwrap();
    let lock = LockFile::load(&case.path("tr/.terraform.lock.hcl")).unwrap();
    let cli = CliConfig::from_file(&case.path("cli.tfrc")).unwrap();
    let exe = locate(&x, &lock, &case.path("tr"), &cli).unwrap();
    fs::write(&exe, "tampered").unwrap();
    let message = locate(&x, &lock, &case.path("tr"), &cli)
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("does not match any of the checksums"),
        "{message}"
    );
}

#[test]
fn constraints_from_several_modules_are_normalised() {
    let case = Case::setup();
    case.unpacked("mirror", X, "1.2.5");
    case.unpacked("mirror", X, "1.3.0");
    mirror_config(&case);
    let modules: Vec<Module> = vec![
        vec![("x", "example/x", Some(">= 1.0, < 2.0.0,~>1"))],
        vec![("x", "example/x", Some("~> 1.2"))],
        vec![("x", "example/x", Some("!= 1.2.5, ~> 1.2,>= 1.0.0, 1.3.0"))],
    ];
    case.configuration(&modules);
    case.init_both(&modules, InstallMode::KeepLocked);
    assert!(case
        .lock_file("tr")
        .unwrap()
        .contains("constraints = \">= 1.0.0, ~> 1.0, ~> 1.2, != 1.2.5, 1.3.0, < 2.0.0\""));
}

#[test]
fn changed_constraints_alone_do_not_rewrite_the_lock_file() {
    let case = Case::setup();
    case.unpacked("mirror", X, "1.3.0");
    mirror_config(&case);
    let before: Vec<Module> = vec![vec![("x", "example/x", Some("~> 1.0"))]];
    case.configuration(&before);
    case.init_both(&before, InstallMode::KeepLocked);
    let after: Vec<Module> = vec![vec![("x", "example/x", Some(">= 1.1"))]];
    case.configuration(&after);
    for workdir in ["tf", "tr"] {
        fs::remove_dir_all(case.path(workdir).join(".terraform")).unwrap();
    }
    let outcome = case.init_both(&after, InstallMode::KeepLocked);
    assert!(!outcome.lock_changed);
    assert!(
        case.lock_file("tr")
            .unwrap()
            .contains("constraints = \"~> 1.0\""),
        "Terraform keeps the stale constraints"
    );
}

#[test]
fn include_and_exclude_choose_the_method() {
    let case = Case::setup();
    case.unpacked("m1", X, "1.0.0");
    case.unpacked("m1", Y, "1.5.0");
    case.unpacked("m2", X, "2.0.0");
    case.packed("m2", Y, "1.0.0");
    case.cli_config(
        "provider_installation {\n  filesystem_mirror {\n    path    = \"$ROOT/m1\"\n    include = [\"example/x\"]\n  }\n  filesystem_mirror {\n    path    = \"$ROOT/m2\"\n    exclude = [\"registry.terraform.io/example/x\"]\n  }\n}\n",
    );
    let modules: Vec<Module> = vec![vec![("x", "example/x", None), ("y", "example/y", None)]];
    case.configuration(&modules);
    case.init_both(&modules, InstallMode::KeepLocked);

    // Without patterns every method is asked and the newest version wins.
    let case = Case::setup();
    case.unpacked("m1", X, "1.0.0");
    case.unpacked("m1", Y, "1.5.0");
    case.unpacked("m2", X, "2.0.0");
    case.packed("m2", Y, "1.0.0");
    case.cli_config("provider_installation {\n  filesystem_mirror {\n    path = \"$ROOT/m1\"\n  }\n  filesystem_mirror {\n    path    = \"$ROOT/m2\"\n    include = [\"*/*\"]\n  }\n}\n");
    case.configuration(&modules);
    case.init_both(&modules, InstallMode::KeepLocked);
}

#[test]
fn errors_match_terraforms() {
    let case = Case::setup();
    case.unpacked("mirror", X, "1.2.3");
    mirror_config(&case);
    let modules: Vec<Module> = vec![vec![("x", "example/x", Some("~> 1.0"))]];
    case.configuration(&modules);
    case.init_both(&modules, InstallMode::KeepLocked);

    // The locked version no longer meets the constraints.
    let conflicting: Vec<Module> = vec![vec![("x", "example/x", Some("~> 2.0"))]];
    case.configuration(&conflicting);
    let terraform = case.terraform_init(&[]);
    assert!(
        !terraform.success && terraform.says("does not match configured version constraint ~> 2.0"),
        "{}",
        terraform.output
    );
    let errors = failure(case.terrane_init(&conflicting, InstallMode::KeepLocked));
    assert_eq!(errors[0].to_string(), "locked provider registry.terraform.io/example/x 1.2.3 does not match configured version constraint ~> 2.0; must use `terrane init -upgrade` to allow selection of new versions");

    // No version meets them.
    let terraform = case.terraform_init(&["-upgrade"]);
    assert!(
        !terraform.success
            && terraform.says("no available releases match the given constraints ~> 2.0"),
        "{}",
        terraform.output
    );
    let errors = failure(case.terrane_init(&conflicting, InstallMode::Upgrade));
    assert_eq!(
        errors[0].to_string(),
        "no version of registry.terraform.io/example/x matches \"~> 2.0\"; available: 1.2.3"
    );

    // No method has the provider.
    let missing: Vec<Module> = vec![vec![("z", "example/z", None)]];
    case.configuration(&missing);
    let terraform = case.terraform_init(&[]);
    assert!(
        !terraform.success && terraform.says("was not found in any of the search locations"),
        "{}",
        terraform.output
    );
    let errors = failure(case.terrane_init(&missing, InstallMode::KeepLocked));
    assert_eq!(errors[0].to_string(), format!("provider registry.terraform.io/example/z was not found in any of the search locations\n  - {}", case.path("mirror").display()));
    case.assert_same_results();
}

#[test]
fn dev_overrides_are_neither_installed_nor_locked() {
    let case = Case::setup();
    case.unpacked("mirror", X, "1.0.0");
    case.unpacked("mirror", Y, "1.0.0");
    mirror_config(&case);
    let modules: Vec<Module> = vec![vec![
        ("x", "example/x", Some("1.0.0")),
        ("y", "example/y", None),
    ]];
    case.configuration(&modules);
    case.init_both(&modules, InstallMode::KeepLocked);

    fs::create_dir_all(case.path("dev")).unwrap();
    fs::write(case.path("dev/terraform-provider-x"), "#!/bin/sh\n").unwrap();
    case.cli_config("provider_installation {\n  dev_overrides {\n    \"example/x\" = \"$ROOT/dev\"\n  }\n  filesystem_mirror {\n    path = \"$ROOT/mirror\"\n  }\n}\n");
    let outcome = case.init_both(&modules, InstallMode::KeepLocked);
    assert!(
        !case.lock_file("tr").unwrap().contains("example/x"),
        "Terraform 1.15 drops the overridden provider's lock entry"
    );
    assert_eq!(outcome.dev_overrides.len(), 1);
    assert_eq!(outcome.dev_overrides[0].dir, case.path("dev"));
    let cli = CliConfig::from_file(&case.path("cli.tfrc")).unwrap();
    let lock = LockFile::load(&case.path("tr/.terraform.lock.hcl")).unwrap();
    let x = ProviderSource::parse("example/x").unwrap();
    assert_eq!(
        locate(&x, &lock, &case.path("tr"), &cli).unwrap(),
        case.path("dev/terraform-provider-x")
    );
}

#[test]
fn the_plugin_cache_is_filled_then_linked() {
    let case = Case::setup();
    case.unpacked("mirror", X, "1.0.0");
    case.packed("mirror", Y, "1.0.0");
    fs::create_dir_all(case.path("cache-tf")).unwrap();
    fs::create_dir_all(case.path("cache-tr")).unwrap();
    let modules: Vec<Module> = vec![vec![("x", "example/x", None), ("y", "example/y", None)]];
    case.configuration(&modules);
    let config = |cache: &str| {
        format!("plugin_cache_dir = \"$ROOT/{cache}\"\nprovider_installation {{\n  filesystem_mirror {{\n    path = \"$ROOT/mirror\"\n  }}\n}}\n")
    };
    let run = |mode: InstallMode| {
        case.cli_config(&config("cache-tf"));
        let terraform = case.terraform_init(if mode == InstallMode::Upgrade {
            &["-upgrade"]
        } else {
            &[]
        });
        assert!(terraform.success, "{}", terraform.output);
        case.cli_config(&config("cache-tr"));
        let outcome = case.terrane_init(&modules, mode).unwrap();
        case.assert_same_results();
        assert_eq!(
            crate::snapshot(&case.path("cache-tr"), &case.root, "tr"),
            crate::snapshot(&case.path("cache-tf"), &case.root, "tf"),
            "plugin cache directories differ"
        );
        outcome
    };
    run(InstallMode::KeepLocked);
    // A second working directory with the lock file links from the cache.
    for workdir in ["tf", "tr"] {
        fs::remove_dir_all(case.path(workdir).join(".terraform")).unwrap();
    }
    let outcome = run(InstallMode::KeepLocked);
    assert!(
        outcome
            .providers
            .iter()
            .all(|p| matches!(p.action, InstallAction::LinkedFromCache { .. })),
        "{:?}",
        outcome.providers
    );
}

#[test]
fn implied_local_plugin_directories() {
    let case = Case::setup();
    case.unpacked("tf/terraform.d/plugins", X, "1.0.0");
    case.packed("tf/terraform.d/plugins", X, "1.1.0");
    case.unpacked("tr/terraform.d/plugins", X, "1.0.0");
    case.packed("tr/terraform.d/plugins", X, "1.1.0");
    case.unpacked("home/.terraform.d/plugins", Y, "1.0.0");
    let modules: Vec<Module> = vec![vec![
        ("x", "example/x", None),
        ("y", "example/y", Some("~> 1.0")),
    ]];
    case.configuration(&modules);
    case.init_both(&modules, InstallMode::KeepLocked);
}

#[test]
fn removed_providers_leave_the_lock() {
    let case = Case::setup();
    case.unpacked("mirror", X, "1.0.0");
    case.unpacked("mirror", Y, "1.0.0");
    mirror_config(&case);
    let both: Vec<Module> = vec![vec![("x", "example/x", None), ("y", "example/y", None)]];
    case.configuration(&both);
    case.init_both(&both, InstallMode::KeepLocked);
    let one: Vec<Module> = vec![vec![("x", "example/x", None)]];
    case.configuration(&one);
    let outcome = case.init_both(&one, InstallMode::KeepLocked);
    assert!(outcome.lock_changed);
}

#[test]
fn an_archive_is_not_extracted_over_a_linked_package() {
    let case = Case::setup();
    case.unpacked("mirror", X, "1.0.0");
    mirror_config(&case);
    let modules: Vec<Module> = vec![vec![("x", "example/x", None)]];
    case.configuration(&modules);
    case.init_both(&modules, InstallMode::KeepLocked);
    // The mirror now has only the packed form, and nothing is locked: Terraform refuses
    // to extract into the symlink it made before.
    fs::remove_dir_all(case.path("mirror").join(X).join("1.0.0")).unwrap();
    case.packed("mirror", X, "1.0.0");
    for workdir in ["tf", "tr"] {
        fs::remove_file(case.path(workdir).join(".terraform.lock.hcl")).unwrap();
    }
    let terraform = case.terraform_init(&[]);
    assert!(
        !terraform.success && terraform.says("because it is a symlink"),
        "{}",
        terraform.output
    );
    let errors = failure(case.terrane_init(&modules, InstallMode::KeepLocked));
    assert!(
        matches!(errors[0].kind(), ProviderErrorKind::TargetIsSymlink(_)),
        "{}",
        errors[0]
    );
    case.assert_same_results();
}
