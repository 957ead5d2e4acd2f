//! The authoritative DNS server for `local_dns_zone`s, built on hickory-server.
//!
//! Each zone listens on its own UDP and TCP address and answers A, AAAA, CNAME, TXT and
//! SRV records from an in-memory zone, rebuilt (with a new SOA serial) whenever a record
//! changes.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use hickory_server::net::runtime::TokioRuntimeProvider;
use hickory_server::proto::rr::rdata::{A, AAAA, CNAME, SOA, SRV, TXT};
use hickory_server::proto::rr::{LowerName, Name, RData, Record};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneHandler, ZoneType};
use hickory_server::Server;
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

pub struct Zone {
    pub id: String,
    pub spec: ZoneSpec,
    pub address: String,
    origin: Name,
    handler: Arc<InMemoryZoneHandler<TokioRuntimeProvider>>,
    records: tokio::sync::Mutex<BTreeMap<String, RecordSpec>>,
    serial: std::sync::atomic::AtomicU32,
    server: tokio::sync::Mutex<Server<Catalog>>,
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

impl Zone {
    pub async fn start(id: &str, spec: ZoneSpec) -> Result<Arc<Zone>, String> {
        let origin = parse_origin(&spec.name)?;
        let udp = crate::keeper::udp_socket(&spec.listen).map_err(|e| {
            format!(
                "DNS zone {}: cannot listen on {} (UDP): {e}",
                spec.name, spec.listen
            )
        })?;
        let address = udp.local_addr().map_err(|e| e.to_string())?;
        let tcp = crate::keeper::tcp_listener(&address.to_string()).map_err(|e| {
            format!(
                "DNS zone {}: cannot listen on {address} (TCP): {e}",
                spec.name
            )
        })?;
        let handler = Arc::new(InMemoryZoneHandler::<TokioRuntimeProvider>::empty(
            origin.clone(),
            ZoneType::Primary,
            AxfrPolicy::Deny,
        ));
        let mut catalog = Catalog::new();
        catalog.upsert(
            LowerName::new(&origin),
            vec![handler.clone() as Arc<dyn ZoneHandler>],
        );
        let mut server = Server::new(catalog);
        server.register_socket(udp);
        server.register_listener(tcp, Duration::from_secs(5), 64);
        let zone = Arc::new(Zone {
            id: id.to_string(),
            spec,
            address: address.to_string(),
            origin,
            handler,
            records: tokio::sync::Mutex::new(BTreeMap::new()),
            serial: std::sync::atomic::AtomicU32::new(1),
            server: tokio::sync::Mutex::new(server),
        });
        zone.rebuild(&BTreeMap::new()).await?;
        Ok(zone)
    }

    /// Replaces the zone's contents with the SOA and `records`.
    async fn rebuild(&self, records: &BTreeMap<String, RecordSpec>) -> Result<(), String> {
        let serial = self
            .serial
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            + 1;
        let mut all = Vec::new();
        for r in records.values() {
            all.extend(build_records(&self.origin, r)?);
        }
        self.handler.records_mut().await.clear();
        let soa = SOA::new(
            Name::from_str("ns")
                .and_then(|n| n.append_domain(&self.origin))
                .unwrap_or_else(|_| self.origin.clone()),
            Name::from_str("hostmaster")
                .and_then(|n| n.append_domain(&self.origin))
                .unwrap_or_else(|_| self.origin.clone()),
            serial,
            3600,
            600,
            86_400,
            60,
        );
        self.handler
            .upsert(
                Record::from_rdata(self.origin.clone(), 60, RData::SOA(soa)),
                serial,
            )
            .await;
        for rec in all {
            self.handler.upsert(rec, serial).await;
        }
        Ok(())
    }

    pub async fn put_record(&self, id: &str, spec: RecordSpec) -> Result<(), String> {
        build_records(&self.origin, &spec)?;
        let mut recs = self.records.lock().await;
        recs.insert(id.to_string(), spec);
        self.rebuild(&recs).await
    }

    pub async fn delete_record(&self, id: &str) -> Result<bool, String> {
        let mut recs = self.records.lock().await;
        let existed = recs.remove(id).is_some();
        self.rebuild(&recs).await?;
        Ok(existed)
    }

    pub async fn status(&self) -> ZoneStatus {
        ZoneStatus {
            id: self.id.clone(),
            spec: self.spec.clone(),
            address: self.address.clone(),
            records: self.records.lock().await.clone(),
        }
    }

    pub async fn stop(&self) {
        let _ = self.server.lock().await.shutdown_gracefully().await;
    }

    /// Closes the zone's sockets for good (the zone is deleted, not restarted).
    pub fn release_sockets(&self) {
        crate::keeper::release_udp(&self.spec.listen);
        crate::keeper::release_tcp(&self.address);
    }
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
