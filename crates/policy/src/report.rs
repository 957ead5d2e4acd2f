//! Scan and policy results as people and tools read them: grouped text, JSON, SARIF
//! 2.1.0 (for code-scanning tools) and JUnit XML (for CI test reports).

use std::fmt::Write as _;

use serde_json::json;

use crate::rego::SetOutcome;
use crate::scan::{catalog, Finding, ScanReport, Severity};

/// Text styling, so this crate does not depend on the CLI's terminal code.
pub trait Paint {
    fn severity(&self, s: Severity, text: &str) -> String;
    fn bold(&self, text: &str) -> String;
    fn dim(&self, text: &str) -> String;
}

/// No colors.
pub struct Plain;

impl Paint for Plain {
    fn severity(&self, _: Severity, text: &str) -> String {
        text.to_string()
    }
    fn bold(&self, text: &str) -> String {
        text.to_string()
    }
    fn dim(&self, text: &str) -> String {
        text.to_string()
    }
}

fn location(f: &Finding) -> String {
    match (&f.file, f.line) {
        (Some(file), Some(line)) => format!("{file}:{line}"),
        (Some(file), None) => file.clone(),
        _ => "(no source location)".to_string(),
    }
}

/// Findings grouped by severity, each with its source line and remediation; suppressed
/// findings listed after them with their reasons; then a summary line.
pub fn human(
    report: &ScanReport,
    paint: &dyn Paint,
    source_line: &dyn Fn(&str, usize) -> Option<String>,
) -> String {
    let mut out = String::new();
    for sev in Severity::ALL {
        let group: Vec<&Finding> = report.active().filter(|f| f.severity == sev).collect();
        if group.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "{}\n",
            paint.severity(
                sev,
                &format!("{} ({})", sev.as_str().to_uppercase(), group.len())
            )
        );
        for f in group {
            let _ = writeln!(
                out,
                "  {} {}  {}",
                paint.severity(sev, &f.rule),
                paint.bold(&f.address),
                paint.dim(&location(f))
            );
            let _ = writeln!(out, "    {}", f.message);
            if let (Some(file), Some(line)) = (&f.file, f.line) {
                if let Some(text) = source_line(file, line) {
                    let _ = writeln!(
                        out,
                        "    {}",
                        paint.dim(&format!("{line:>4} | {}", text.trim_end()))
                    );
                }
            }
            let _ = writeln!(out, "    fix: {}\n", f.remediation);
        }
    }
    let suppressed: Vec<&Finding> = report.suppressed().collect();
    if !suppressed.is_empty() {
        let _ = writeln!(
            out,
            "{}\n",
            paint.bold(&format!("SUPPRESSED ({})", suppressed.len()))
        );
        for f in suppressed {
            let _ = writeln!(
                out,
                "  {} {}  {}\n    reason: {}\n",
                f.rule,
                f.address,
                paint.dim(&location(f)),
                f.suppressed.as_deref().unwrap_or_default()
            );
        }
    }
    let _ = writeln!(out, "{}", summary_line(report));
    out
}

pub fn summary_line(report: &ScanReport) -> String {
    let active: Vec<&Finding> = report.active().collect();
    let counts: Vec<String> = Severity::ALL
        .iter()
        .filter_map(|s| {
            let n = active.iter().filter(|f| f.severity == *s).count();
            (n > 0).then(|| format!("{n} {}", s.as_str()))
        })
        .collect();
    let found = if active.is_empty() {
        "no findings".to_string()
    } else {
        format!(
            "{} finding{} ({})",
            active.len(),
            if active.len() == 1 { "" } else { "s" },
            counts.join(", ")
        )
    };
    format!(
        "Scan: {found}, {} suppressed; {} resources checked against {} rules.",
        report.suppressed().count(),
        report.resources,
        report.rules
    )
}

pub fn json(report: &ScanReport) -> serde_json::Value {
    let mut by_severity = serde_json::Map::new();
    for s in Severity::ALL {
        by_severity.insert(
            s.as_str().into(),
            json!(report.active().filter(|f| f.severity == s).count()),
        );
    }
    json!({
        "findings": report.findings,
        "summary": {
            "findings": report.active().count(),
            "suppressed": report.suppressed().count(),
            "by_severity": by_severity,
            "resources": report.resources,
            "rules": report.rules,
        }
    })
}

fn sarif_level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low => "note",
    }
}

/// GitHub code scanning reads `security-severity` (a CVSS-like score) to rank results.
fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
    }
}

/// SARIF 2.1.0: one run, every rule of the pack as a reporting descriptor, one result
/// per finding (suppressed ones carry a `suppressions` entry with the reason).
pub fn sarif(report: &ScanReport, version: &str) -> serde_json::Value {
    let rules: Vec<serde_json::Value> = catalog()
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "name": r.id.replace('-', ""),
                "shortDescription": { "text": r.title },
                "fullDescription": { "text": r.title },
                "help": { "text": r.remediation },
                "defaultConfiguration": { "level": sarif_level(r.severity) },
                "properties": {
                    "tags": ["security", "terrane"],
                    "security-severity": security_severity(r.severity),
                    "severity": r.severity.as_str(),
                }
            })
        })
        .collect();
    let results: Vec<serde_json::Value> = report
        .findings
        .iter()
        .map(|f| {
            let index = catalog().iter().position(|r| r.id == f.rule).unwrap_or(0);
            let mut physical =
                json!({ "artifactLocation": { "uri": f.file.clone().unwrap_or_default() } });
            if let Some(line) = f.line {
                physical["region"] = json!({ "startLine": line });
            }
            let mut r = json!({
                "ruleId": f.rule,
                "ruleIndex": index,
                "level": sarif_level(f.severity),
                "message": { "text": format!("{}: {}", f.address, f.message) },
                "locations": [{
                    "physicalLocation": physical,
                    "logicalLocations": [{ "fullyQualifiedName": f.address, "kind": "resource" }],
                }],
            });
            if let Some(reason) = &f.suppressed {
                r["suppressions"] = json!([{ "kind": "inSource", "justification": reason }]);
            }
            r
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "terrane",
                "version": version,
                "informationUri": "https://github.com/terrane",
                "rules": rules,
            }},
            "results": results,
        }]
    })
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

/// JUnit XML: one test suite per rule; a failing test case per finding, a skipped one
/// per suppressed finding, and one passing case for a rule with no findings.
pub fn junit(report: &ScanReport) -> String {
    let mut suites = String::new();
    let (mut total, mut failures, mut skipped) = (0, 0, 0);
    for r in catalog() {
        let mine: Vec<&Finding> = report.findings.iter().filter(|f| f.rule == r.id).collect();
        let mut cases = String::new();
        let (mut t, mut fl, mut sk) = (0, 0, 0);
        for f in &mine {
            t += 1;
            let _ = writeln!(
                cases,
                "    <testcase classname=\"{}\" name=\"{}\" file=\"{}\">",
                xml_escape(&r.id),
                xml_escape(&f.address),
                xml_escape(f.file.as_deref().unwrap_or_default())
            );
            match &f.suppressed {
                Some(reason) => {
                    sk += 1;
                    let _ = writeln!(cases, "      <skipped message=\"{}\"/>", xml_escape(reason));
                }
                None => {
                    fl += 1;
                    let _ = writeln!(
                        cases,
                        "      <failure type=\"{}\" message=\"{}\">{}: {}\nfix: {}</failure>",
                        f.severity.as_str(),
                        xml_escape(&f.message),
                        xml_escape(&location(f)),
                        xml_escape(&f.message),
                        xml_escape(&f.remediation)
                    );
                }
            }
            cases.push_str("    </testcase>\n");
        }
        if mine.is_empty() {
            t += 1;
            let _ = writeln!(
                cases,
                "    <testcase classname=\"{}\" name=\"no findings\"/>",
                xml_escape(&r.id)
            );
        }
        total += t;
        failures += fl;
        skipped += sk;
        let _ = write!(
            suites,
            "  <testsuite name=\"{} {}\" tests=\"{t}\" failures=\"{fl}\" skipped=\"{sk}\">\n{cases}  </testsuite>\n",
            xml_escape(&r.id),
            xml_escape(&r.title)
        );
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"terrane scan\" tests=\"{total}\" failures=\"{failures}\" skipped=\"{skipped}\">\n{suites}</testsuites>\n"
    )
}

/// Policy set outcomes as text: each set with its level and verdict, then every denial,
/// error and warning.
pub fn policy_human(outcomes: &[SetOutcome], overridden: bool, paint: &dyn Paint) -> String {
    let mut out = String::new();
    for o in outcomes {
        let verdict = if !o.failed() {
            "passed".to_string()
        } else if o.blocks(overridden) {
            "FAILED (blocks apply)".to_string()
        } else if overridden && o.blocks(false) {
            "FAILED (overridden)".to_string()
        } else {
            "FAILED (advisory)".to_string()
        };
        let _ = writeln!(
            out,
            "Policy set {:?} ({}): {}",
            o.name,
            o.level.as_str(),
            paint.bold(&verdict)
        );
        for e in &o.errors {
            let _ = writeln!(out, "  error: {e}");
        }
        for d in &o.denials {
            let _ = writeln!(
                out,
                "  deny: {}  {}",
                d.message,
                paint.dim(&format!("({} in {})", d.rule, d.file))
            );
        }
        for w in &o.warnings {
            let _ = writeln!(
                out,
                "  warn: {}  {}",
                w.message,
                paint.dim(&format!("({} in {})", w.rule, w.file))
            );
        }
    }
    out
}

pub fn policy_json(outcomes: &[SetOutcome], overridden: bool) -> serde_json::Value {
    let verdict = |v: &crate::Verdict| json!({ "rule": v.rule, "file": v.file, "msg": v.message, "details": v.details });
    json!(outcomes
        .iter()
        .map(|o| json!({
            "name": o.name,
            "enforcement_level": o.level.as_str(),
            "passed": !o.failed(),
            "blocks_apply": o.blocks(overridden),
            "denials": o.denials.iter().map(verdict).collect::<Vec<_>>(),
            "warnings": o.warnings.iter().map(verdict).collect::<Vec<_>>(),
            "errors": o.errors,
        }))
        .collect::<Vec<_>>())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> ScanReport {
        let r = &catalog()[0];
        let f = |addr: &str, suppressed: Option<&str>| Finding {
            rule: r.id.clone(),
            severity: r.severity,
            title: r.title.clone(),
            address: addr.into(),
            file: Some("main.tf".into()),
            line: Some(3),
            message: "bad <thing> & more".into(),
            remediation: r.remediation.clone(),
            suppressed: suppressed.map(str::to_string),
        };
        ScanReport {
            findings: vec![
                f("aws_s3_bucket.a", None),
                f("aws_s3_bucket.b", Some("accepted")),
            ],
            resources: 2,
            rules: catalog().len(),
        }
    }

    #[test]
    fn sarif_has_rules_results_and_suppressions() {
        let s = sarif(&report(), "0.1.0");
        assert_eq!(s["version"], "2.1.0");
        let run = &s["runs"][0];
        assert_eq!(
            run["tool"]["driver"]["rules"].as_array().unwrap().len(),
            catalog().len()
        );
        let results = run["results"].as_array().unwrap();
        assert_eq!(results.len(), 2);
        assert_eq!(
            results[0]["locations"][0]["physicalLocation"]["region"]["startLine"],
            3
        );
        assert_eq!(results[0]["ruleId"], catalog()[0].id.as_str());
        assert!(results[0].get("suppressions").is_none());
        assert_eq!(results[1]["suppressions"][0]["justification"], "accepted");
    }

    #[test]
    fn junit_counts_failures_and_skips_and_escapes_text() {
        let x = junit(&report());
        assert!(x.starts_with("<?xml"));
        let head = x.lines().nth(1).unwrap();
        assert!(
            head.contains("failures=\"1\"") && head.contains("skipped=\"1\""),
            "{head}"
        );
        assert!(x.contains("bad &lt;thing&gt; &amp; more"));
        assert!(!x.contains("bad <thing>"));
    }

    #[test]
    fn human_output_groups_by_severity_and_lists_suppressed() {
        let text = human(&report(), &Plain, &|_, _| {
            Some("resource \"aws_s3_bucket\" \"a\" {".into())
        });
        assert!(text.contains("aws_s3_bucket.a  main.tf:3"), "{text}");
        assert!(text.contains("   3 | resource"), "{text}");
        assert!(
            text.contains("SUPPRESSED (1)") && text.contains("reason: accepted"),
            "{text}"
        );
        assert!(text.contains("Scan: 1 finding ("), "{text}");
    }
}
