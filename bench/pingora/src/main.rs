//! The smallest round-robin HTTP balancer pingora-proxy supports, configured like the
//! others in `bench/lb.py`: keep-alive to the backends (pingora's connection pool, on by
//! default), one thread per core, mimalloc as terrane uses.
//!
//! Usage: pingora-bench-proxy LISTEN THREADS BACKEND...

use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use pingora_core::server::configuration::ServerConf;
use pingora_core::server::Server;
use pingora_core::upstreams::peer::HttpPeer;
use pingora_proxy::{ProxyHttp, Session};

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct RoundRobin {
    peers: Vec<HttpPeer>,
    next: AtomicUsize,
}

#[async_trait]
impl ProxyHttp for RoundRobin {
    type CTX = ();

    fn new_ctx(&self) {}

    async fn upstream_peer(
        &self,
        _session: &mut Session,
        _ctx: &mut (),
    ) -> pingora_core::Result<Box<HttpPeer>> {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.peers.len();
        Ok(Box::new(self.peers[i].clone()))
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [listen, threads, backends @ ..] = args.as_slice() else {
        eprintln!("usage: pingora-bench-proxy LISTEN THREADS BACKEND...");
        std::process::exit(2);
    };
    let threads = threads.parse().expect("THREADS is a number");
    let peers = backends
        .iter()
        .map(|b| HttpPeer::new(b.as_str(), false, String::new()))
        .collect();
    let conf = ServerConf {
        threads,
        ..Default::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    let mut proxy = pingora_proxy::http_proxy_service(
        &server.configuration,
        RoundRobin {
            peers,
            next: AtomicUsize::new(0),
        },
    );
    proxy.add_tcp(listen);
    server.add_service(proxy);
    server.run_forever();
}
