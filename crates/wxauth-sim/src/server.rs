//! Binding and running the simulator: [`Simulator::spawn`] and the [`SimHandle`] it returns.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpServer, web};
use tokio::task::JoinHandle;

use crate::config::SimConfig;
use crate::state::SimState;

/// How long a graceful stop waits for open connections (keep-alive clients included).
const SHUTDOWN_TIMEOUT_SECS: u64 = 1;

/// Starts simulators.
pub struct Simulator;

impl Simulator {
    /// Binds `config.listen` (port 0 picks a free port) and serves the WeChat APIs, OAuth pages,
    /// QR images and the `/__sim/` control API on it, in the background of the current tokio
    /// runtime.
    ///
    /// Must be called inside a tokio runtime (`#[tokio::test]` is fine). Invalid apps in the
    /// configuration are reported as `InvalidInput`.
    #[expect(
        clippy::unused_async,
        reason = "async marks that this must run inside a tokio runtime (it spawns the server)"
    )]
    pub async fn spawn(config: SimConfig) -> io::Result<SimHandle> {
        let state = SimState::new(&config)
            .map_err(|err| io::Error::new(io::ErrorKind::InvalidInput, err.to_string()))?;
        let listener = TcpListener::bind(config.listen)?;
        let addr = listener.local_addr()?;
        let data = web::Data::new(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .configure(crate::api::configure)
                .configure(crate::control::configure)
                .default_service(web::to(crate::api::not_simulated))
        })
        .workers(config.workers.max(1))
        // In-process simulators must not take over the test binary's signals; the binary
        // handles them itself.
        .disable_signals()
        .shutdown_timeout(SHUTDOWN_TIMEOUT_SECS)
        .listen(listener)?
        .run();
        let server_handle = server.handle();
        let task = tokio::spawn(server);
        tracing::info!(%addr, "wxauth-sim listening");
        Ok(SimHandle {
            addr,
            state,
            server: Some(server_handle),
            task: Some(task),
        })
    }
}

/// A running simulator. Dropping it stops the server (without waiting).
pub struct SimHandle {
    addr: SocketAddr,
    state: SimState,
    server: Option<ServerHandle>,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl SimHandle {
    /// `http://127.0.0.1:PORT`: the stand-in for api.weixin.qq.com, open.weixin.qq.com and
    /// mp.weixin.qq.com alike. A wildcard bind address is reported as loopback.
    pub fn base_url(&self) -> String {
        let ip = match self.addr {
            SocketAddr::V4(v4) if v4.ip().is_unspecified() => Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(v6) if v6.ip().is_unspecified() => Ipv6Addr::LOCALHOST.into(),
            addr => addr.ip(),
        };
        format!("http://{}", SocketAddr::new(ip, self.addr.port()))
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// In-process control: the same operations as the `/__sim/` HTTP API.
    pub fn state(&self) -> &SimState {
        &self.state
    }

    /// Stops accepting connections, lets in-flight requests finish (up to a second), and waits
    /// for the server to exit.
    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.stop(true).await;
        }
        if let Some(task) = self.task.take() {
            match task.await {
                Ok(Ok(())) => {}
                Ok(Err(err)) => tracing::warn!(%err, "simulator server ended with an error"),
                Err(err) => tracing::warn!(%err, "simulator server task failed"),
            }
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            // The stop command is sent synchronously; the returned future only waits for it.
            drop(server.stop(false));
        }
    }
}

impl std::fmt::Debug for SimHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimHandle")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}
