//! The authoritative DNS server for `local_dns_zone`s, built on hickory-server.
//!
//! Each zone listens on its own UDP and TCP address and answers A, AAAA, CNAME, TXT and
//! SRV records from an in-memory zone, rebuilt (with a new SOA serial) whenever a record
//! changes. The zone and record specs, and the checks that turn a record into DNS
//! records, are the API's ([`terrane_agent_api::dns`]).

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use hickory_server::net::runtime::TokioRuntimeProvider;
use hickory_server::proto::rr::rdata::SOA;
use hickory_server::proto::rr::{LowerName, Name, RData, Record};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneHandler, ZoneType};
use hickory_server::Server;

pub use terrane_agent_api::dns::{build_records, parse_origin, RecordSpec, ZoneSpec, ZoneStatus};

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
