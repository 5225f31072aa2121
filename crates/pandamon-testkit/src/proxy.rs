//! A TCP proxy a test can cut: the database "goes down" for whoever connects through it while
//! the real server keeps running for every other test. A cut behaves as a network partition,
//! the worst kind of outage: open connections break and new ones are accepted but never
//! answered, so a client waits for its own timeouts.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Forwards connections on a local port to a server until [`CutProxy::cut`]; then every
/// connection through it is dropped and new ones hang unanswered, until [`CutProxy::restore`].
pub struct CutProxy {
    url: String,
    cut: Arc<AtomicBool>,
    held: Arc<Mutex<Vec<TcpStream>>>,
    epoch: watch::Sender<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl CutProxy {
    /// Starts forwarding to the server of database `url`; [`CutProxy::url`] is the same
    /// database through the proxy.
    pub async fn start(url: &str) -> CutProxy {
        let (_, rest) = url.split_once("://").expect("the url has a scheme");
        let authority = rest.split('/').next().unwrap_or(rest);
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let target: SocketAddr = tokio::net::lookup_host(host_port)
            .await
            .expect("the proxy's target resolves")
            .next()
            .expect("the proxy's target has an address");
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a local port for the proxy");
        let address = listener.local_addr().expect("the proxy's address");
        let cut = Arc::new(AtomicBool::new(false));
        let held = Arc::new(Mutex::new(Vec::new()));
        let (epoch, _) = watch::channel(0u64);
        let task = {
            let (cut, epoch, held) = (cut.clone(), epoch.clone(), held.clone());
            tokio::spawn(async move {
                while let Ok((client, _)) = listener.accept().await {
                    if cut.load(Ordering::SeqCst) {
                        held.lock().expect("not poisoned").push(client);
                        continue;
                    }
                    let mut cut_now = epoch.subscribe();
                    tokio::spawn(async move {
                        let Ok(server) = TcpStream::connect(target).await else {
                            return;
                        };
                        let (mut client, mut server) = (client, server);
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                            _ = cut_now.changed() => {}
                        }
                    });
                }
            })
        };
        let (scheme, rest) = url.split_once("://").expect("the url has a scheme");
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let user = authority
            .rsplit_once('@')
            .map_or(String::new(), |(u, _)| format!("{u}@"));
        CutProxy {
            url: format!("{scheme}://{user}{address}/{path}"),
            cut,
            held,
            epoch,
            task,
        }
    }

    /// The database's url through the proxy.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database goes away: open connections are dropped, new ones hang unanswered.
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        self.epoch.send_modify(|e| *e += 1);
    }

    /// The database is back.
    pub fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
        self.held.lock().expect("not poisoned").clear();
    }
}

impl Drop for CutProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}
