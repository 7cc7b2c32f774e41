//! Start-up and shutdown of the service, and the key commands that work beside a running agent.

use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::config::{Config, LogFormat};
use crate::db::{Db, DbError};
use crate::http::metrics::Metrics;
use crate::http::tls::{self, write_private};
use crate::http::AppState;
use crate::keys::{store as keys, Role};
use crate::tasks::operation::Noop;
use crate::tasks::{self, EngineConfig, Operation, TaskQueue};
use std::os::unix::fs::OpenOptionsExt;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    DataDirUnsafe(#[from] crate::data_dir::DataDirError),
    #[error("another agent is already running on {0}")]
    Locked(String),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Demo(#[from] crate::demo::DemoError),
}

pub fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.logging.level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = match config.logging.format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Opens the data directory's database, creating the directory (0700) if needed and making
/// what is in it private.
pub fn open_db(config: &Config) -> Result<Db, ServeError> {
    secure_data_dir(config)?;
    crate::data_dir::create_private_file(&config.db_path())?;
    Ok(Db::open(&config.db_path())?)
}

/// [`crate::data_dir::secure`] on the configured directory; the demo's emulated host inside it
/// keeps its own modes.
fn secure_data_dir(config: &Config) -> Result<(), ServeError> {
    let foreign: Vec<PathBuf> = config
        .host
        .root
        .parent()
        .filter(|h| h.parent() == Some(config.data_dir.as_path()))
        .map(Path::to_path_buf)
        .into_iter()
        .collect();
    Ok(crate::data_dir::secure(&config.data_dir, &foreign)?)
}

/// One agent per data directory: two would both claim tasks.
fn lock_data_dir(config: &Config) -> Result<File, ServeError> {
    let path = config.data_dir.join("agent.lock");
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .map_err(|source| ServeError::DataDir {
            path: path.display().to_string(),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => {
            Err(ServeError::Locked(config.data_dir.display().to_string()))
        }
        Err(std::fs::TryLockError::Error(e)) => {
            tracing::warn!(error = %e, "cannot lock the data directory; continuing without the guard");
            Ok(file)
        }
    }
}

/// With no active key, creates an admin key and writes it to `bootstrap-api-key` (0600).
/// Returns the token when it is readable there (the demo prints it).
fn bootstrap_key(config: &Config, db: &Db) -> Result<Option<String>, ServeError> {
    let path = config.bootstrap_key_path();
    if db.read_blocking(keys::count_active)? == 0 {
        let (key, token) =
            db.write_blocking(|c| keys::create(c, "bootstrap", Role::Admin, None))?;
        write_private(&path, format!("{token}\n").as_bytes())?;
        tracing::info!(key_id = %key.id, path = %path.display(), "no API keys existed: created an admin key and wrote it to this file (mode 0600)");
    }
    Ok(std::fs::read_to_string(&path)
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|t| {
            db.read_blocking(|c| keys::verify(c, t))
                .ok()
                .flatten()
                .is_some()
        }))
}

/// The operations the engine can run, area by area.
fn operations(
    zones: &Arc<crate::zones::ZoneServices>,
    network: &Arc<crate::network::NetworkServices>,
    provisioning: &Arc<crate::provisioning::ProvisioningServices>,
) -> Vec<Arc<dyn Operation>> {
    let mut ops: Vec<Arc<dyn Operation>> = vec![crate::tasks::op(Noop)];
    ops.extend(crate::zones::operations(zones));
    ops.extend(crate::network::operations(network));
    ops.extend(crate::provisioning::operations(provisioning));
    ops.extend(crate::consoles::operations());
    ops.extend(crate::services::operations());
    ops.extend(crate::host::operations(&zones.config));
    ops
}

pub struct ServeOptions {
    pub demo: bool,
    pub explicit_config: bool,
    /// `--pool-size`: the emulated pool's size when the demo host is made.
    pub demo_pool_size: Option<String>,
}

pub async fn serve(mut config: Config, options: ServeOptions) -> Result<(), ServeError> {
    let demo_host = if options.demo {
        Some(crate::demo::prepare(
            &mut config,
            options.explicit_config,
            options.demo_pool_size.as_deref(),
        )?)
    } else {
        None
    };
    init_logging(&config);
    let _ = rustls::crypto::ring::default_provider().install_default();
    secure_data_dir(&config)?;
    let _lock = lock_data_dir(&config)?;
    let db = open_db(&config)?;
    let mut demo_key = bootstrap_key(&config, &db)?;
    if options.demo && demo_key.is_none() {
        // The bootstrap key was revoked or its file removed: the demo still needs one to show.
        let (_, token) = db.write_blocking(|c| keys::create(c, "demo", Role::Admin, None))?;
        write_private(
            &config.bootstrap_key_path(),
            format!("{token}\n").as_bytes(),
        )?;
        demo_key = Some(token);
    }
    let (cert, key) = tls::ensure_certificate(&config)?;
    raise_fd_limit(config.server.max_connections);

    let metrics = Arc::new(Metrics::default());
    let runner = illumos::Runner::new(config.runner_config()).with_sink(metrics.clone());
    let engine_config = EngineConfig {
        max_concurrent: config.zones.max_concurrent_tasks,
        operation_timeout: config.operation_timeout(),
        cancel_grace: Duration::from_secs(config.tasks.kill_grace_seconds + 5),
        max_output_bytes: config.tasks.max_output_bytes,
    };
    let config = Arc::new(config);
    let zones = Arc::new(crate::zones::ZoneServices::new(
        config.clone(),
        runner.clone(),
        db.clone(),
    ));
    let network = Arc::new(crate::network::NetworkServices::new(
        config.clone(),
        runner.clone(),
    ));
    let provisioning = Arc::new(crate::provisioning::ProvisioningServices::new(
        config.clone(),
        runner.clone(),
        db.clone(),
        network.clone(),
        zones.clone(),
    ));
    let queue = TaskQueue::start(
        db.clone(),
        runner.clone(),
        operations(&zones, &network, &provisioning),
        engine_config,
        Some(Arc::new(crate::tasks::engine::Observers(vec![
            metrics.clone(),
            zones.host.clone(),
        ]))),
    )
    .await?;
    spawn_retention(config.clone(), db.clone());
    let state = AppState::new(
        config.clone(),
        db,
        queue,
        runner,
        metrics,
        zones,
        network,
        provisioning,
    );
    state.monitoring.sampler.spawn();
    let app = crate::http::router(state);

    let tls_config = tls::Settings::load(&cert, &key)?;
    let handle = axum_server::Handle::new();
    let https_addr = SocketAddr::new(config.server.bind_address, config.server.https_port);
    let https_listener = bind(https_addr)?;
    let mut servers = tokio::task::JoinSet::new();
    // One cap over both listeners; a connection over it is closed before any TLS work.
    let guard = crate::http::conn::Guard::new(&config.server);
    {
        let app = app.clone();
        let acceptor = crate::http::handshake::Acceptor::new(
            guard.clone(),
            tls_config,
            Duration::from_secs(config.server.header_read_timeout_seconds),
        );
        let mut server = axum_server::from_tcp(https_listener)
            .map_err(|source| ServeError::Listen {
                addr: https_addr,
                source,
            })?
            .acceptor(acceptor)
            .handle(handle.clone());
        limit_protocols(&mut server, &config.server);
        servers.spawn(async move { server.serve(app.into_make_service()).await });
    }
    tracing::info!(addr = %https_addr, "listening (HTTPS)");
    if let Some(port) = config.server.http_port {
        let addr = SocketAddr::new(config.server.bind_address, port);
        let mut server = axum_server::from_tcp(bind(addr)?)
            .map_err(|source| ServeError::Listen { addr, source })?
            .acceptor(guard)
            .handle(handle.clone());
        limit_protocols(&mut server, &config.server);
        let app = app.clone();
        servers.spawn(async move { server.serve(app.into_make_service()).await });
        tracing::warn!(%addr, "listening (plain HTTP): API keys cross the network in clear text");
    }
    if let (Some(host), Some(key)) = (&demo_host, &demo_key) {
        let shown = if config.server.bind_address.is_unspecified() {
            "127.0.0.1".to_owned()
        } else {
            match config.server.bind_address {
                std::net::IpAddr::V6(a) => format!("[{a}]"),
                a => a.to_string(),
            }
        };
        let url = format!("https://{shown}:{}", config.server.https_port);
        println!("{}", crate::demo::banner(host, &url, key));
    }

    let shutdown = handle.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down");
        shutdown.graceful_shutdown(Some(Duration::from_secs(10)));
    });
    while let Some(result) = servers.join_next().await {
        if let Ok(Err(e)) = result {
            tracing::error!(error = %e, "listener stopped");
        }
    }
    Ok(())
}

/// File descriptors the agent needs beside its connections: the database, the listeners, logs
/// and the pipes of the host commands it runs.
const FDS_BESIDE_CONNECTIONS: libc::rlim_t = 256;

/// Raises the soft open-file limit to what `server.max_connections` needs. An unprivileged
/// process may raise it up to the hard limit, and OmniOS starts services with a soft limit of
/// 256 (rlim_fd_cur) under a hard limit of 65536 (rlim_fd_max), so the cap, not the kernel,
/// decides how many connections are held. A hard limit below the need is only warned about.
fn raise_fd_limit(max_connections: usize) {
    let needed = max_connections as libc::rlim_t + FDS_BESIDE_CONNECTIONS;
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed to them.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return;
    }
    let (soft, hard) = (lim.rlim_cur, lim.rlim_max);
    if soft >= needed {
        return;
    }
    lim.rlim_cur = needed.min(hard);
    // SAFETY: as above.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
        tracing::warn!(soft, hard, needed, "cannot raise the open-file limit");
    } else if hard < needed {
        tracing::warn!(
            hard,
            needed,
            "the open-file hard limit is below what server.max_connections needs: raise it (SMF: process.max-file-descriptor) or lower the cap"
        );
    }
}

/// What one connection may ask of the HTTP layer: header buffers and HTTP/2 streams.
fn limit_protocols<Acc>(
    server: &mut axum_server::Server<SocketAddr, Acc>,
    config: &crate::config::ServerConfig,
) {
    // Request heads larger than this are refused (hyper's default lets one grow to ~400 KiB).
    const MAX_HEAD_BYTES: usize = 64 * 1024;
    let builder = server.http_builder();
    builder.http1().max_buf_size(MAX_HEAD_BYTES);
    builder
        .http2()
        .max_concurrent_streams(config.http2_max_concurrent_streams)
        .max_header_list_size(MAX_HEAD_BYTES as u32);
}

fn bind(addr: SocketAddr) -> Result<std::net::TcpListener, ServeError> {
    let listener =
        std::net::TcpListener::bind(addr).map_err(|source| ServeError::Listen { addr, source })?;
    listener
        .set_nonblocking(true)
        .map_err(|source| ServeError::Listen { addr, source })?;
    Ok(listener)
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// Prunes old finished tasks at start and then hourly (retention is housekeeping, not
/// scheduling: a timer is right here).
fn spawn_retention(config: Arc<Config>, db: Db) {
    let days = config.tasks.retention_days;
    if days == 0 {
        return;
    }
    tokio::spawn(async move {
        loop {
            let cutoff = crate::time::ago(Duration::from_secs(days * 86_400));
            match db.write(move |c| tasks::store::prune(c, &cutoff)).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(pruned = n, "pruned finished tasks"),
                Err(e) => tracing::warn!(error = %e, "cannot prune tasks"),
            }
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
    });
}

/// The data directory a key command works on (the demo's when `--demo`).
pub fn data_dir_for(config: &mut Config, demo: bool, explicit_config: bool) -> PathBuf {
    if demo && !explicit_config {
        config.data_dir = std::env::current_dir()
            .unwrap_or_else(|_| PathBuf::from("."))
            .join(crate::demo::DEFAULT_DIR);
    }
    config.data_dir.clone()
}

pub fn key_db(config: &Config) -> Result<Db, ServeError> {
    if !Path::new(&config.db_path()).exists() {
        tracing::info!(path = %config.db_path().display(), "creating the database");
    }
    open_db(config)
}
