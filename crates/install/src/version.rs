//! Provider versions and version constraints, with Terraform's exact semantics.
//!
//! Terraform validates a `version` argument with `hashicorp/go-version` and then
//! interprets it with `apparentlymart/go-versions` ("Ruby-style" constraints); a
//! constraint string is accepted here only if both would accept it, and it selects
//! exactly the versions `go-versions`' `MeetingConstraints` selects:
//!
//! - `=` (or a bare version), `!=`, `>`, `>=`, `<`, `<=`, and the pessimistic `~>`:
//!   `~> 1.2` is `>= 1.2.0, < 2.0.0`, `~> 1.2.3` is `>= 1.2.3, < 1.3.0`;
//! - omitted parts are zero: `>= 1` is `>= 1.0.0`;
//! - comma-separated constraints must all hold;
//! - a prerelease version is selected only when an exact (`=`) constraint names it, and
//!   it satisfies all the others too.
//!
//! [`Constraints`]' `Display` is Terraform's normalised form, the one the lock file
//! records: duplicates removed, sorted by version then operator, every version written
//! out in full (`~> 1.0` keeps its two parts because the number of parts is its meaning).

use std::cmp::Ordering;
use std::fmt;

/// A provider version: `MAJOR.MINOR.PATCH[-PRERELEASE][+METADATA]`.
///
/// Equality compares every part, including the metadata, as Terraform does when it looks
/// a version up; ordering is semantic-version precedence (metadata only breaks ties).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    /// The prerelease label without its leading `-`; empty for a release.
    pub prerelease: String,
    /// The build metadata without its leading `+`; usually empty.
    pub metadata: String,
}

/// Why a version or a constraint string is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    #[error("invalid version {given:?}: {reason}")]
    Version { given: String, reason: String },
    #[error("invalid version constraint {given:?}: {reason}")]
    Constraint { given: String, reason: String },
}

impl Version {
    /// A release version `major.minor.patch`.
    pub fn new(major: u64, minor: u64, patch: u64) -> Version {
        Version {
            major,
            minor,
            patch,
            prerelease: String::new(),
            metadata: String::new(),
        }
    }

    /// Parses an exact version as Terraform's `ParseVersion` does: no operator, no `v`
    /// prefix, up to three numbers (missing ones are zero, so `1.2` is `1.2.0`), then an
    /// optional prerelease and metadata.
    pub fn parse(given: &str) -> Result<Version, VersionError> {
        let error = |reason: &str| VersionError::Version {
            given: given.to_string(),
            reason: reason.to_string(),
        };
        if given.trim().is_empty() {
            return Err(error("empty specification"));
        }
        if given.starts_with('v') {
            return Err(error("a \"v\" prefix should not be used"));
        }
        let raw = scan(given).map_err(|reason| error(&reason))?;
        if !raw.op.is_empty() {
            return Err(error(&format!(
                "can't use constraint operator {:?}; an exact version is required",
                raw.op
            )));
        }
        if !raw.sep.is_empty() {
            return Err(error("extraneous spaces at start of specification"));
        }
        if !raw.rest.is_empty() {
            return Err(error(
                "invalid specification; required format is three positive integers separated by periods",
            ));
        }
        let number = |i: usize| raw.nums.get(i).copied().unwrap_or(0);
        Ok(Version {
            major: number(0),
            minor: number(1),
            patch: number(2),
            prerelease: raw.prerelease,
            metadata: raw.metadata,
        })
    }

    /// Whether this is a prerelease (`1.0.0-beta1`).
    pub fn is_prerelease(&self) -> bool {
        !self.prerelease.is_empty()
    }

    /// Semantic-version precedence, Terraform's `LessThan`/`GreaterThan`, ignoring metadata.
    pub fn precedence(&self, other: &Version) -> Ordering {
        self.major
            .cmp(&other.major)
            .then(self.minor.cmp(&other.minor))
            .then(self.patch.cmp(&other.patch))
            .then_with(|| compare_prerelease(&self.prerelease, &other.prerelease))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.precedence(other)
            .then_with(|| self.metadata.cmp(&other.metadata))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if !self.prerelease.is_empty() {
            write!(f, "-{}", self.prerelease)?;
        }
        if !self.metadata.is_empty() {
            write!(f, "+{}", self.metadata)?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Version {
    type Err = VersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Version::parse(s)
    }
}

/// Prerelease precedence exactly as `go-versions` computes it: dot-separated parts are
/// compared in turn (numeric parts numerically and before alphanumeric ones), and when
/// one label runs out of parts first it is the lesser.
fn compare_prerelease(a: &str, b: &str) -> Ordering {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        (false, false) => {}
    }
    if a == b {
        return Ordering::Equal;
    }
    let (mut s1, mut s2) = (a, b);
    loop {
        match (s1.find('.'), s2.find('.')) {
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (None, None) => return compare_prerelease_part(s1, s2),
            (Some(d1), Some(d2)) => {
                let (p1, p2) = (&s1[..d1], &s2[..d2]);
                if p1 != p2 {
                    return compare_prerelease_part(p1, p2);
                }
                s1 = &s1[d1 + 1..];
                s2 = &s2[d2 + 1..];
            }
        }
    }
}

fn compare_prerelease_part(a: &str, b: &str) -> Ordering {
    let numeric = |s: &str| s.bytes().all(|c| c.is_ascii_digit());
    match (numeric(a), numeric(b)) {
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (true, true) => a.len().cmp(&b.len()).then_with(|| a.cmp(b)),
        (false, false) => a.cmp(b),
    }
}

/// A constraint's operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operator {
    /// `=` or no operator.
    Equal,
    NotEqual,
    Greater,
    GreaterOrEqual,
    Less,
    LessOrEqual,
    /// `~>` with one or two numbers: the rightmost given number may grow, `~> 1.2`
    /// allows `1.x` from `1.2`.
    PessimisticMinor,
    /// `~>` with three numbers: only the patch may grow, `~> 1.2.3` allows `1.2.x` from
    /// `1.2.3`.
    PessimisticPatch,
}

impl Operator {
    /// The order Terraform sorts operators on the same version in its normalised form.
    fn priority(self) -> u8 {
        match self {
            Operator::Greater => 1,
            Operator::GreaterOrEqual => 2,
            Operator::Equal => 3,
            Operator::PessimisticPatch => 4,
            Operator::PessimisticMinor => 5,
            Operator::LessOrEqual => 6,
            Operator::Less => 7,
            Operator::NotEqual => 8,
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            Operator::Equal => "",
            Operator::NotEqual => "!= ",
            Operator::Greater => "> ",
            Operator::GreaterOrEqual => ">= ",
            Operator::Less => "< ",
            Operator::LessOrEqual => "<= ",
            Operator::PessimisticMinor | Operator::PessimisticPatch => "~> ",
        }
    }
}

/// One constraint: an operator and the version it compares with. The version's
/// numbers are as written, `None` where a number was omitted (`~> 1.2` has no patch).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Constraint {
    pub operator: Operator,
    pub major: Option<u64>,
    pub minor: Option<u64>,
    pub patch: Option<u64>,
    pub prerelease: String,
    pub metadata: String,
}

impl Constraint {
    /// The boundary with omitted numbers as zero (go-versions' `ConstrainToZero`): the
    /// version this constraint compares with.
    fn boundary(&self) -> Version {
        let zeroed = |major: u64, minor: u64, patch: u64| Version::new(major, minor, patch);
        match (self.major, self.minor, self.patch) {
            (None, _, _) => zeroed(0, 0, 0),
            (Some(major), None, _) => zeroed(major, 0, 0),
            (Some(major), Some(minor), None) => zeroed(major, minor, 0),
            (Some(major), Some(minor), Some(patch)) => Version {
                major,
                minor,
                patch,
                prerelease: self.prerelease.clone(),
                metadata: self.metadata.clone(),
            },
        }
    }

    /// Whether `version` is in this constraint's set, before the prerelease rule.
    fn contains(&self, version: &Version) -> bool {
        let mut lower = self.boundary();
        if !matches!(self.operator, Operator::Equal | Operator::NotEqual) {
            lower.metadata.clear();
        }
        let cmp = version.precedence(&lower);
        match self.operator {
            Operator::Equal => *version == lower,
            Operator::NotEqual => *version != lower,
            Operator::Greater => cmp == Ordering::Greater,
            Operator::GreaterOrEqual => cmp != Ordering::Less,
            Operator::Less => cmp == Ordering::Less,
            Operator::LessOrEqual => cmp != Ordering::Greater,
            Operator::PessimisticMinor => {
                let upper = Version::new(lower.major + 1, 0, 0);
                cmp != Ordering::Less && version.precedence(&upper) == Ordering::Less
            }
            Operator::PessimisticPatch => {
                let upper = Version::new(lower.major, lower.minor + 1, 0);
                cmp != Ordering::Less && version.precedence(&upper) == Ordering::Less
            }
        }
    }

    /// Whether this constraint names `version` exactly, which is what lets a prerelease
    /// be selected.
    fn requests(&self, version: &Version) -> bool {
        self.operator == Operator::Equal && self.boundary() == *version
    }

    /// The normalised key Terraform deduplicates constraints by.
    fn normalized(&self) -> (Operator, Version) {
        (self.operator, self.boundary())
    }
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let boundary = self.boundary();
        f.write_str(self.operator.prefix())?;
        if self.operator == Operator::PessimisticMinor {
            write!(f, "{}.{}", boundary.major, boundary.minor)?;
        } else {
            write!(
                f,
                "{}.{}.{}",
                boundary.major, boundary.minor, boundary.patch
            )?;
        }
        if !boundary.prerelease.is_empty() {
            write!(f, "-{}", boundary.prerelease)?;
        }
        if !boundary.metadata.is_empty() {
            write!(f, "+{}", boundary.metadata)?;
        }
        Ok(())
    }
}

/// A provider's version constraints, possibly gathered from several modules; a version
/// is allowed when it meets all of them. No constraints allow every release.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Constraints {
    constraints: Vec<Constraint>,
}

impl Constraints {
    /// No constraints: any release is allowed.
    pub fn none() -> Constraints {
        Constraints::default()
    }

    /// Parses a `version` argument, one or more comma-separated constraints.
    pub fn parse(given: &str) -> Result<Constraints, VersionError> {
        let mut constraints = Vec::new();
        for piece in given.split(',') {
            constraints.push(parse_constraint(given, piece)?);
        }
        Ok(Constraints { constraints })
    }

    /// Parses a lock file's `constraints`, where (as in Terraform) an empty string means
    /// no constraints.
    pub(crate) fn parse_recorded(given: &str) -> Result<Constraints, VersionError> {
        if given.trim().is_empty() {
            return Ok(Constraints::none());
        }
        Constraints::parse(given)
    }

    /// Adds another module's constraints for the same provider.
    pub fn extend(&mut self, other: &Constraints) {
        self.constraints.extend(other.constraints.iter().cloned());
    }

    /// The constraints, in the order given.
    pub fn iter(&self) -> impl Iterator<Item = &Constraint> {
        self.constraints.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.constraints.is_empty()
    }

    /// Whether `version` meets every constraint; a prerelease must also be named by an
    /// exact (`=`) constraint.
    pub fn allows(&self, version: &Version) -> bool {
        let in_set = self.constraints.iter().all(|c| c.contains(version));
        in_set && (!version.is_prerelease() || self.constraints.iter().any(|c| c.requests(version)))
    }

    /// The newest of `versions` that the constraints allow.
    pub fn newest<'a>(
        &self,
        versions: impl IntoIterator<Item = &'a Version>,
    ) -> Option<&'a Version> {
        versions
            .into_iter()
            .filter(|v| self.allows(v))
            .max_by(|a, b| a.cmp(b))
    }
}

impl FromIterator<Constraint> for Constraints {
    fn from_iter<I: IntoIterator<Item = Constraint>>(iter: I) -> Self {
        Constraints {
            constraints: iter.into_iter().collect(),
        }
    }
}

impl fmt::Display for Constraints {
    /// Terraform's normalised form (`VersionConstraintsString`), as written to the lock
    /// file: duplicates dropped, sorted by version and then operator, `", "` between.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut unique: Vec<&Constraint> = Vec::new();
        for constraint in &self.constraints {
            if !unique
                .iter()
                .any(|seen| seen.normalized() == constraint.normalized())
            {
                unique.push(constraint);
            }
        }
        unique.sort_by(|a, b| {
            let (va, vb) = (a.boundary(), b.boundary());
            va.precedence(&vb)
                .then_with(|| compare_metadata(&va.metadata, &vb.metadata))
                .then(a.operator.priority().cmp(&b.operator.priority()))
        });
        for (i, constraint) in unique.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{constraint}")?;
        }
        Ok(())
    }
}

/// Metadata order for sorting constraints on the same version; go-versions compares it
/// as it compares prereleases.
fn compare_metadata(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    match (a.is_empty(), b.is_empty()) {
        (true, _) => Ordering::Less,
        (_, true) => Ordering::Greater,
        _ => compare_prerelease(a, b),
    }
}

/// One constraint as scanned: the operator text, the separator after it, the numbers,
/// prerelease and metadata, and what is left unscanned.
struct RawConstraint {
    op: String,
    sep: String,
    nums: Vec<u64>,
    prerelease: String,
    metadata: String,
    rest: String,
}

/// Scans `op sep nums [-pre] [+meta]` as go-versions' scanner does. Errors are for
/// what neither of Terraform's parsers would accept (wildcards, malformed numbers).
fn scan(text: &str) -> Result<RawConstraint, String> {
    let bytes = text.as_bytes();
    let mut i = 0;
    let is_op = |b: u8| {
        !(b.is_ascii_digit()
            || b.is_ascii_whitespace()
            || b.is_ascii_alphabetic()
            || b == b'.'
            || b == b'*')
    };
    while i < bytes.len() && is_op(bytes[i]) {
        i += 1;
    }
    let op = text[..i].to_string();
    let sep_start = i;
    while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b'v') {
        i += 1;
    }
    let sep = text[sep_start..i].to_string();
    let mut nums = Vec::new();
    loop {
        let start = i;
        if i < bytes.len() && matches!(bytes[i], b'*' | b'x' | b'X') {
            return Err(format!(
                "can't use wildcard for {} number; omit segments that should be unconstrained",
                ["major", "minor", "patch"].get(nums.len()).unwrap_or(&"a")
            ));
        }
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if start == i {
            if nums.is_empty() {
                return Err("a version number is required, such as \"1.2.0\"".to_string());
            }
            return Err("a version number cannot end with a period".to_string());
        }
        let number = text[start..i]
            .parse::<u64>()
            .map_err(|_| format!("the number {:?} is too large", &text[start..i]))?;
        nums.push(number);
        if i < bytes.len() && bytes[i] == b'.' {
            i += 1;
            continue;
        }
        break;
    }
    if nums.len() > 3 {
        return Err(
            "too many numbered portions; only three are allowed (major, minor, patch)".to_string(),
        );
    }
    let mut extra = |marker: u8, what: &str| -> Result<String, String> {
        if i < bytes.len() && bytes[i] == marker {
            let start = i + 1;
            i = start;
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'.' || bytes[i] == b'-')
            {
                i += 1;
            }
            let label = &text[start..i];
            if label.is_empty() || label.split('.').any(str::is_empty) {
                return Err(format!("the {what} {label:?} is not valid"));
            }
            Ok(label.to_string())
        } else {
            Ok(String::new())
        }
    };
    let prerelease = extra(b'-', "prerelease")?;
    let metadata = extra(b'+', "build metadata")?;
    Ok(RawConstraint {
        op,
        sep,
        nums,
        prerelease,
        metadata,
        rest: text[i..].to_string(),
    })
}

fn parse_constraint(whole: &str, piece: &str) -> Result<Constraint, VersionError> {
    let error = |reason: String| VersionError::Constraint {
        given: whole.to_string(),
        reason,
    };
    let text = piece.trim_start();
    if text.trim().is_empty() {
        return Err(error(
            "an empty constraint, perhaps a stray comma".to_string(),
        ));
    }
    let raw = scan(text).map_err(|reason| error(format!("{piece:?}: {reason}")))?;
    let operator = match raw.op.as_str() {
        "" | "=" => Operator::Equal,
        "!=" => Operator::NotEqual,
        ">" => Operator::Greater,
        ">=" => Operator::GreaterOrEqual,
        "<" => Operator::Less,
        "<=" => Operator::LessOrEqual,
        "~>" if raw.nums.len() == 3 => Operator::PessimisticPatch,
        "~>" => Operator::PessimisticMinor,
        "=<" => {
            return Err(error(
                "invalid constraint operator \"=<\"; did you mean \"<=\"?".to_string(),
            ))
        }
        "=>" => {
            return Err(error(
                "invalid constraint operator \"=>\"; did you mean \">=\"?".to_string(),
            ))
        }
        other => return Err(error(format!("invalid constraint operator {other:?}"))),
    };
    match raw.sep.as_str() {
        "" => {}
        " " if !raw.op.is_empty() => {}
        sep if sep.contains('v') => {
            return Err(error(
                "a \"v\" prefix should not be used when specifying versions".to_string(),
            ))
        }
        _ if raw.op.is_empty() => {
            return Err(error(
                "extraneous spaces at start of specification".to_string(),
            ))
        }
        _ => {
            return Err(error(format!(
                "only one space is expected after the operator {:?}",
                raw.op
            )))
        }
    }
    if !raw.rest.trim().is_empty() {
        return Err(error(format!("invalid characters {:?}", raw.rest.trim())));
    }
    let mut nums: Vec<Option<u64>> = raw.nums.iter().copied().map(Some).collect();
    if !raw.prerelease.is_empty() || !raw.metadata.is_empty() {
        nums.resize(3, Some(0));
    }
    nums.resize(3, None);
    Ok(Constraint {
        operator,
        major: nums[0],
        minor: nums[1],
        patch: nums[2],
        prerelease: raw.prerelease,
        metadata: raw.metadata,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    fn allows(constraints: &str, version: &str) -> bool {
        Constraints::parse(constraints).unwrap().allows(&v(version))
    }

    fn normalized(constraints: &[&str]) -> String {
        let mut all = Constraints::none();
        for c in constraints {
            all.extend(&Constraints::parse(c).unwrap());
        }
        all.to_string()
    }

    #[test]
    fn versions_parse_and_print() {
        assert_eq!(v("1.2.3").to_string(), "1.2.3");
        assert_eq!(v("1.2").to_string(), "1.2.0");
        assert_eq!(v("1.2.3-beta.1+abc").to_string(), "1.2.3-beta.1+abc");
        for bad in [
            "", "v1.2.3", ">= 1.0", "1.2.3.4", "1.x", "1.2.3 ", "abc", "1..2",
        ] {
            assert!(Version::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn version_precedence() {
        let mut versions: Vec<Version> = [
            "1.0.0",
            "1.0.0-rc.1",
            "1.0.0-beta.11",
            "1.0.0-beta.2",
            "0.9.9",
            "1.0.0-alpha",
            "1.10.0",
            "1.9.0",
        ]
        .iter()
        .map(|s| v(s))
        .collect();
        versions.sort();
        let sorted: Vec<String> = versions.iter().map(ToString::to_string).collect();
        assert_eq!(
            sorted,
            [
                "0.9.9",
                "1.0.0-alpha",
                "1.0.0-beta.2",
                "1.0.0-beta.11",
                "1.0.0-rc.1",
                "1.0.0",
                "1.9.0",
                "1.10.0"
            ]
        );
    }

    #[test]
    fn operators() {
        assert!(allows("1.2.3", "1.2.3"));
        assert!(allows("= 1.2.3", "1.2.3"));
        assert!(!allows("= 1.2.3", "1.2.4"));
        assert!(allows("!= 1.2.3", "1.2.4"));
        assert!(!allows("!= 1.2.3", "1.2.3"));
        assert!(allows("> 1.2", "1.2.1"));
        assert!(!allows("> 1.2", "1.2.0"));
        assert!(allows(">= 1", "1.0.0"));
        assert!(allows("< 2", "1.99.0"));
        assert!(!allows("< 2", "2.0.0"));
        assert!(allows("<= 2.0.0", "2.0.0"));
        assert!(allows(">=1.0,<2.0", "1.5.0"));
        assert!(allows("  >= 1.0 ,  < 2.0  ", "1.5.0"));
    }

    #[test]
    fn pessimistic_constraints() {
        assert!(allows("~> 1.2", "1.2.0"));
        assert!(allows("~> 1.2", "1.9.9"));
        assert!(!allows("~> 1.2", "2.0.0"));
        assert!(!allows("~> 1.2", "1.1.9"));
        assert!(allows("~> 1.2.3", "1.2.9"));
        assert!(!allows("~> 1.2.3", "1.3.0"));
        assert!(!allows("~> 1.2.3", "1.2.2"));
        assert!(allows("~> 1", "1.9.0"));
        assert!(!allows("~> 1", "2.0.0"));
        assert!(allows("~>0.1", "0.9.0"));
    }

    #[test]
    fn prereleases_need_an_exact_constraint() {
        assert!(!allows("~> 1.0", "1.3.0-beta1"));
        assert!(allows("1.3.0-beta1", "1.3.0-beta1"));
        assert!(!allows(">= 1.3.0-beta1", "1.3.0-beta1"));
        assert!(allows("1.3.0-beta1, >= 1.0", "1.3.0-beta1"));
        assert!(!allows("1.3.0-beta1, >= 2.0", "1.3.0-beta1"));
        assert!(!allows("~> 1.3.0-beta1", "1.3.0-beta1"));
        assert!(allows(">= 1.0.0-a", "1.2.0"));
        assert!(!Constraints::none().allows(&v("1.0.0-rc1")));
        assert!(Constraints::none().allows(&v("0.0.1")));
    }

    #[test]
    fn newest_allowed() {
        let versions: Vec<Version> = ["1.2.3", "1.3.0", "2.0.0", "1.4.0-rc1"]
            .iter()
            .map(|s| v(s))
            .collect();
        let c = Constraints::parse("~> 1.0").unwrap();
        assert_eq!(c.newest(&versions), Some(&v("1.3.0")));
        assert_eq!(Constraints::none().newest(&versions), Some(&v("2.0.0")));
        assert_eq!(Constraints::parse("> 5").unwrap().newest(&versions), None);
    }

    /// The normalised forms Terraform 1.15 wrote into lock files for these inputs.
    #[test]
    fn normalised_form_matches_terraform() {
        assert_eq!(normalized(&["~> 1.0"]), "~> 1.0");
        assert_eq!(normalized(&["~> 1.2.0"]), "~> 1.2.0");
        assert_eq!(normalized(&[">= 1.1"]), ">= 1.1.0");
        assert_eq!(
            normalized(&[
                ">= 1.0, < 2.0.0,~>1",
                "~> 1.2",
                "!= 1.2.5, ~> 1.2,>= 1.0.0, 1.3.0"
            ]),
            ">= 1.0.0, ~> 1.0, ~> 1.2, != 1.2.5, 1.3.0, < 2.0.0"
        );
        assert_eq!(
            normalized(&["1.3.0-beta1, >= 1.0"]),
            ">= 1.0.0, 1.3.0-beta1"
        );
        assert_eq!(normalized(&[">= 1.0.0-a"]), ">= 1.0.0-a");
        assert_eq!(
            normalized(&[
                "> 1.0", ">= 1.0", "= 1.0", "~> 1.0.0", "~> 1.0", "<= 1.0", "< 1.0", "!= 1.0"
            ]),
            "> 1.0.0, >= 1.0.0, 1.0.0, ~> 1.0.0, ~> 1.0, <= 1.0.0, < 1.0.0, != 1.0.0"
        );
        assert_eq!(Constraints::none().to_string(), "");
    }

    #[test]
    fn invalid_constraints_say_why() {
        let cases = [
            ("", "empty constraint"),
            ("1.0,", "empty constraint"),
            ("v1.0", "\"v\" prefix"),
            (">=  1.0", "only one space"),
            ("=> 1.0", "did you mean \">=\""),
            ("=< 1.0", "did you mean \"<=\""),
            ("^1.0", "invalid constraint operator"),
            ("1.*", "wildcard"),
            ("1.0.0.0", "too many"),
            ("1.0 2.0", "invalid characters"),
            ("1.0beta", "invalid characters"),
            ("~>", "version number is required"),
        ];
        for (given, wanted) in cases {
            let message = Constraints::parse(given).unwrap_err().to_string();
            assert!(message.contains(wanted), "{given:?}: {message}");
        }
    }
}
