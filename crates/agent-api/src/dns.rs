//! DNS zones and records: what a `local_dns_zone` and a `local_dns_record` ask the
//! agent to serve, the zone's status, and the checks of names and values (the plan
//! runs them; the agent's DNS server builds its records with [`build_records`]).

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use hickory_proto::rr::rdata::{A, AAAA, CNAME, SRV, TXT};
use hickory_proto::rr::{Name, RData, Record};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ZoneSpec {
    /// The zone's origin, such as `internal.test.`.
    pub name: String,
    pub listen: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordSpec {
    /// Relative to the zone (`www`), `@` for the apex, or a full name ending in a dot.
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub ttl: u32,
    pub records: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ZoneStatus {
    pub id: String,
    pub spec: ZoneSpec,
    pub address: String,
    pub records: BTreeMap<String, RecordSpec>,
}

/// Parses a zone origin, which must be a valid, absolute-able DNS name.
pub fn parse_origin(name: &str) -> Result<Name, String> {
    let n = Name::from_str(name).map_err(|e| format!("{name:?} is not a valid DNS name: {e}"))?;
    Ok(if n.is_fqdn() {
        n
    } else {
        n.append_domain(&Name::root()).map_err(|e| e.to_string())?
    })
}

fn record_name(origin: &Name, name: &str) -> Result<Name, String> {
    if name == "@" || name.is_empty() {
        return Ok(origin.clone());
    }
    let n = Name::from_str(name)
        .map_err(|e| format!("record name {name:?} is not a valid DNS name: {e}"))?;
    if n.is_fqdn() {
        if !origin.zone_of(&n) {
            return Err(format!("record name {name:?} is outside the zone {origin}"));
        }
        Ok(n)
    } else {
        n.append_domain(origin)
            .map_err(|e| format!("record name {name:?}: {e}"))
    }
}

/// Checks a record against the zone and builds its DNS records.
pub fn build_records(origin: &Name, r: &RecordSpec) -> Result<Vec<Record>, String> {
    let name = record_name(origin, &r.name)?;
    if r.records.is_empty() {
        return Err("records must list at least one value".into());
    }
    let mut out = Vec::new();
    for v in &r.records {
        let rdata = match r.kind.as_str() {
            "A" => RData::A(A(
                Ipv4Addr::from_str(v).map_err(|_| format!("{v:?} is not an IPv4 address"))?
            )),
            "AAAA" => RData::AAAA(AAAA(
                Ipv6Addr::from_str(v).map_err(|_| format!("{v:?} is not an IPv6 address"))?,
            )),
            "CNAME" => {
                if r.records.len() > 1 {
                    return Err("a CNAME record has exactly one value".into());
                }
                RData::CNAME(CNAME(
                    record_name(origin, v)
                        .or_else(|_| Name::from_str(v).map_err(|e| format!("{v:?}: {e}")))?,
                ))
            }
            "TXT" => RData::TXT(TXT::new(vec![v.clone()])),
            "SRV" => {
                let parts: Vec<&str> = v.split_whitespace().collect();
                let [prio, weight, port, target] = parts.as_slice() else {
                    return Err(format!(
                        "SRV value {v:?} must be \"PRIORITY WEIGHT PORT TARGET\""
                    ));
                };
                let num = |s: &str| {
                    s.parse::<u16>().map_err(|_| {
                        format!("{s:?} in SRV value {v:?} is not a number from 0 to 65535")
                    })
                };
                RData::SRV(SRV::new(
                    num(prio)?,
                    num(weight)?,
                    num(port)?,
                    record_name(origin, target)?,
                ))
            }
            other => {
                return Err(format!(
                    "record type {other:?} is not one of A, AAAA, CNAME, TXT, SRV"
                ))
            }
        };
        out.push(Record::from_rdata(name.clone(), r.ttl, rdata));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_checked_against_the_zone() {
        let origin = parse_origin("internal.test").unwrap();
        let r = |name: &str, kind: &str, v: &[&str]| RecordSpec {
            name: name.into(),
            kind: kind.into(),
            ttl: 60,
            records: v.iter().map(|s| s.to_string()).collect(),
        };
        assert_eq!(
            build_records(&origin, &r("www", "A", &["127.0.0.1", "127.0.0.2"]))
                .unwrap()
                .len(),
            2
        );
        assert!(build_records(&origin, &r("www", "A", &["::1"]))
            .unwrap_err()
            .contains("IPv4"));
        assert!(
            build_records(&origin, &r("x.other.test.", "A", &["127.0.0.1"]))
                .unwrap_err()
                .contains("outside the zone")
        );
        assert!(build_records(&origin, &r("_web._tcp", "SRV", &["0 5 8080 www"])).is_ok());
        assert!(build_records(&origin, &r("_web._tcp", "SRV", &["8080 www"])).is_err());
        assert!(build_records(&origin, &r("bad name!", "A", &["127.0.0.1"])).is_err());
        assert!(build_records(&origin, &r("www", "MX", &["10 mail"]))
            .unwrap_err()
            .contains("not one of"));
    }
}
