//! The HTTP server loop: HTTP/1.1 with a header-read timeout (which also closes idle keep-alive
//! connections), a cap on connections held at once below the file-descriptor limit, the client's
//! address on every request for the per-client limit, and a graceful shutdown. A crowd of slow
//! or idle connections thus cannot take the descriptors the database pool and the index sync
//! need.

use crate::kit::limits::ClientAddr;
use crate::kit::state::AppState;
use crate::router::router;
use axum::body::Body;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;

/// Descriptors kept free for the database pools, state files, logs and the index sync.
const RESERVED_DESCRIPTORS: u64 = 256;
/// The most connections pandamon holds at once unless configured otherwise.
const MAX_DEFAULT_CONNECTIONS: u64 = 16_384;

/// Raises the soft file-descriptor limit to the hard one where the system allows it, and
/// answers how many connections may be held at once below it.
pub fn connection_cap(configured: usize) -> usize {
    if configured > 0 {
        return configured;
    }
    let soft = raise_descriptor_limit();
    soft.saturating_sub(RESERVED_DESCRIPTORS)
        .clamp(16, MAX_DEFAULT_CONNECTIONS) as usize
}

#[cfg(unix)]
fn raise_descriptor_limit() -> u64 {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let soft = limit.current.unwrap_or(u64::MAX);
    let hard = limit.maximum;
    if hard.is_none_or(|h| h > soft) {
        let wanted = hard.unwrap_or(1 << 20).min(1 << 20);
        let raised = rustix::process::Rlimit {
            current: Some(wanted),
            maximum: hard,
        };
        if setrlimit(Resource::Nofile, raised).is_ok() {
            tracing::info!(from = soft, to = wanted, "file-descriptor limit raised");
            return wanted;
        }
    }
    soft
}

#[cfg(not(unix))]
fn raise_descriptor_limit() -> u64 {
    MAX_DEFAULT_CONNECTIONS + RESERVED_DESCRIPTORS
}

/// Serves `state`'s enabled modules on `listener` until `shutdown` resolves, with their
/// background tasks running beside it.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut tasks = start_background(&state);
    tasks.push(tokio::spawn(crate::kit::health::watch_database(
        state.clone(),
    )));
    let limits = state.settings.server.clone();
    let cap = connection_cap(limits.max_connections);
    tracing::info!(
        connections = cap,
        header_timeout_s = limits.header_timeout.as_secs_f64(),
        request_timeout_s = limits.request_timeout.as_secs_f64(),
        per_client = limits.per_client,
        "serving"
    );
    let app = router(state);
    let permits = Arc::new(Semaphore::new(cap));
    // Connections hold a receiver; when every one is dropped, the last connection has ended.
    let (closed_tx, closed_rx) = watch::channel(());
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of descriptors or a connection reset before accept: wait a moment.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let client = ClientAddr(peer.ip());
        let mut stop = stop_rx.clone();
        let closed = closed_rx.clone();
        let header_timeout = limits.header_timeout;
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |mut request: hyper::Request<_>| {
                request.extensions_mut().insert(client);
                app.clone().oneshot(request.map(Body::new))
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(TokioIo::new(stream), service);
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                _ = async { stop.wait_for(|stop| *stop).await.map(|_| ()) } => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
            drop(closed);
            drop(permit);
        });
    }
    let _ = stop_tx.send(true);
    drop(closed_rx);
    closed_tx.closed().await;
    for task in tasks {
        task.abort();
    }
    Ok(())
}

/// Starts the background tasks of the enabled modules (and only theirs).
pub fn start_background(state: &AppState) -> Vec<tokio::task::JoinHandle<()>> {
    state
        .modules
        .iter()
        .flat_map(|m| m.background().into_iter().map(move |t| (m.name(), t)))
        .map(|(module, task)| {
            tracing::info!(module, task = task.name, "background task started");
            tokio::spawn((task.run)(state.clone()))
        })
        .collect()
}
