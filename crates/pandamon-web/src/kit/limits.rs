//! What one request and one client may cost: each request ends at the request time limit, and
//! one client address has at most a few requests in progress at once (more answer 429 with
//! `Retry-After`), so a script cannot starve the people using the pages. Static files and the
//! health probe are not counted.

use crate::kit::error::AppError;
use crate::kit::state::AppState;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The limits of the HTTP side, from `[server]` in `pandamon.toml`.
#[derive(Debug, Clone)]
pub struct ServerLimits {
    /// Connections served at once; 0 picks one below the process's file-descriptor limit.
    pub max_connections: usize,
    /// How long a client may take to send a request's headers (also how long an idle
    /// keep-alive connection stays open).
    pub header_timeout: Duration,
    /// How long one request may take before it answers 503.
    pub request_timeout: Duration,
    /// Requests one client address may have in progress at once; 0 means no limit.
    pub per_client: usize,
    /// How answering requests shares the memory ceiling.
    pub memory: MemoryBudget,
}

impl Default for ServerLimits {
    fn default() -> ServerLimits {
        ServerLimits {
            max_connections: 0,
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            per_client: 8,
            memory: MemoryBudget::new(MemoryBudget::default_ceiling(), None),
        }
    }
}

/// The most memory one computation of an answer is taken to need: the largest answer (a page of
/// 10 000 jobs, about 8 MB as JSON) with the rows and view model it is built from took about
/// 70 MB at its peak (`tests/memory.rs`).
pub const COMPUTATION_BYTES: usize = 96 << 20;

/// How the memory that answering requests may use (the ceiling; the live index is apart) is
/// shared: the answer cache keeps at most `cache_bytes` (a quarter by default), and at most
/// `computations` answers are computed at once, each taken to need [`COMPUTATION_BYTES`].
/// Requests that find every computation slot busy wait for one (within the request time limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryBudget {
    pub ceiling: usize,
    pub cache_bytes: usize,
    pub computations: usize,
}

impl MemoryBudget {
    /// The budget under `ceiling` bytes, with the cache's own size if one is given.
    pub fn new(ceiling: usize, cache_bytes: Option<usize>) -> MemoryBudget {
        let cache_bytes = cache_bytes.unwrap_or(ceiling / 4);
        MemoryBudget {
            ceiling,
            cache_bytes,
            computations: (ceiling.saturating_sub(cache_bytes) / COMPUTATION_BYTES).max(2),
        }
    }

    /// 1 GiB, or a quarter of the memory this process may use when that is less (the
    /// machine's memory, or its cgroup's limit in a container).
    pub fn default_ceiling() -> usize {
        // Read once: every default set of limits asks.
        static CEILING: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
        *CEILING.get_or_init(|| {
            let gib = 1 << 30;
            available_memory().map_or(gib, |m| gib.min(m / 4))
        })
    }
}

/// The memory this process may use: the cgroup's limit when one is set, else the machine's.
fn available_memory() -> Option<usize> {
    let cgroup = std::fs::read_to_string("/sys/fs/cgroup/memory.max")
        .ok()
        .and_then(|t| t.trim().parse::<usize>().ok());
    let total = std::fs::read_to_string("/proc/meminfo").ok().and_then(|t| {
        let line = t.lines().find(|l| l.starts_with("MemTotal:"))?;
        let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    });
    match (cgroup, total) {
        (Some(c), Some(t)) => Some(c.min(t)),
        (c, t) => c.or(t),
    }
}

/// The address a request came from, put on the request by the server loop.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub IpAddr);

/// Requests in progress per client address.
#[derive(Debug, Default)]
pub struct ClientSlots {
    busy: Mutex<HashMap<IpAddr, usize>>,
}

/// One request's slot; dropping it frees the slot.
pub struct Slot {
    slots: Arc<ClientSlots>,
    addr: IpAddr,
}

impl ClientSlots {
    /// A slot for `addr` when it has fewer than `limit` requests in progress.
    pub fn take(self: &Arc<Self>, addr: IpAddr, limit: usize) -> Option<Slot> {
        let mut busy = self.busy.lock().ok()?;
        let n = busy.entry(addr).or_default();
        if *n >= limit {
            return None;
        }
        *n += 1;
        Some(Slot {
            slots: self.clone(),
            addr,
        })
    }

    /// Requests in progress for `addr`.
    pub fn busy(&self, addr: IpAddr) -> usize {
        self.busy
            .lock()
            .map_or(0, |b| b.get(&addr).copied().unwrap_or(0))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut busy) = self.slots.busy.lock()
            && let Some(n) = busy.get_mut(&self.addr)
        {
            *n -= 1;
            if *n == 0 {
                busy.remove(&self.addr);
            }
        }
    }
}

fn counted(path: &str) -> bool {
    !(path.starts_with("/static/") || path == "/healthz" || path == "/favicon.ico")
}

/// The middleware: see the module documentation.
pub async fn limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let limits = &state.settings.server;
    let _slot = match request.extensions().get::<ClientAddr>() {
        Some(ClientAddr(addr)) if limits.per_client > 0 && counted(request.uri().path()) => {
            match state.clients.take(*addr, limits.per_client) {
                Some(slot) => Some(slot),
                None => {
                    tracing::info!(client = %addr, limit = limits.per_client, "client over its concurrent requests");
                    return AppError::TooManyRequests(limits.per_client).into_response();
                }
            }
        }
        _ => None,
    };
    match tokio::time::timeout(limits.request_timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => AppError::Timeout(limits.request_timeout).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_gets_its_limit_of_slots_and_they_come_back() {
        let slots = Arc::new(ClientSlots::default());
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let first = slots.take(a, 2).unwrap();
        let _second = slots.take(a, 2).unwrap();
        assert!(slots.take(a, 2).is_none(), "a third request waits its turn");
        assert!(slots.take(b, 2).is_some(), "other clients are not affected");
        drop(first);
        assert_eq!(slots.busy(a), 1);
        assert!(slots.take(a, 2).is_some());
    }
}
