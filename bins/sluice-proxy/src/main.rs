//! `sluice-proxy`: the SMTP DLP relay (SPEC §6) with its incident store,
//! HTTP API (§8) and reviewers' web console (§9, `console/`), plus
//! administration subcommands for the store and the console's users.
//!
//! Thin: loads the configuration, wires `sluice-smtp`'s server to the
//! relay handler and the API to the store, and stops on SIGTERM/SIGINT
//! after the transactions in flight.

mod admin;
mod api;
mod console;
mod delivery;
mod execute;
mod https;
mod incident;
mod incidents;
mod metrics;
mod milter;
mod notify;
mod quarantine;
mod relay;
mod retry;
mod stamps;
mod store_call;
mod transaction_log;
mod upstream;
mod webhook;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use sluice_config::{Config, Forensics, LogFormat, Starttls};
use sluice_milter::{serve_milter, MilterAddress};
use sluice_policy::{Excerpts, Inspector};
use sluice_smtp::inflight::InflightBudget;
use sluice_smtp::tls::{UpstreamTls, UpstreamTlsMode};
use sluice_smtp::{serve, ServerConfig, SessionConfig};
use sluice_store::{IncidentQueue, Store};

use api::Api;
use delivery::Destination;
use metrics::Metrics;
use notify::Notifier;
use quarantine::Quarantine;
use relay::{Live, Proxy, SharedProxy};
use webhook::Webhook;

#[derive(Parser)]
#[command(
    name = "sluice-proxy",
    version,
    about = "Sluice SMTP proxy: outbound-mail DLP in the mail path"
)]
struct Cli {
    /// The configuration (sluice.toml).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the proxy (the default).
    Run,
    /// List incidents, newest first (as GET /api/v1/incidents).
    Incidents {
        /// Filter, e.g. "(policy in ['Customer email Hold'])".
        #[arg(long, default_value = "")]
        query: String,
        #[command(flatten)]
        listing: Listing,
    },
    /// The audit trail, newest first (as GET /api/v1/audit).
    Audit {
        /// Only the entries about this held message.
        #[arg(long)]
        quarantine: Option<String>,
        #[command(flatten)]
        listing: Listing,
    },
    /// Held messages: list, release (relay upstream, then remove), delete.
    Quarantine {
        #[command(subcommand)]
        action: QuarantineCommand,
    },
    /// The console's users (`[console] users_file`).
    User {
        #[command(subcommand)]
        action: console::accounts::UserCommand,
    },
}

/// Time, paging and format of `incidents` and `audit`.
#[derive(clap::Args)]
struct Listing {
    /// Only the last period: "3600", "90s", "5m", "1h", "7d".
    #[arg(long, value_parser = admin::period)]
    timeperiod: Option<u64>,
    /// At most N (default 100, at most 1000).
    #[arg(long)]
    limit: Option<u32>,
    /// Skip the first M.
    #[arg(long)]
    offset: Option<u32>,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum QuarantineCommand {
    /// List held messages.
    List,
    /// Relay a held message upstream, then remove it.
    Release { id: String },
    /// Remove a held message without relaying it.
    Delete { id: String },
}

fn main() -> std::process::ExitCode {
    // A re-executed extraction worker serves its parent and nothing else.
    if let Some(code) = sluice_mime::worker::serve_if_worker() {
        return code;
    }
    let cli = Cli::parse();
    let Some(config) = cli.config.clone() else {
        eprintln!("sluice-proxy: --config FILE is required");
        return std::process::ExitCode::from(2);
    };
    let result = match cli.command.unwrap_or(Command::Run) {
        Command::Run => run(config),
        Command::User { action } => load(&config)
            .and_then(|c| console::accounts::run(&c, action, &mut std::io::stdout().lock())),
        command => admin::administer(config, command),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sluice-proxy: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

fn load(path: &std::path::Path) -> anyhow::Result<Config> {
    Config::load(path).map_err(|e| anyhow::anyhow!("{e}"))
}

/// The inspector for a loaded configuration. The proxy logs decisions,
/// never their prose explanation, so none is formatted; excerpts are cut
/// only for what incidents keep (the rules of triggered policies, and
/// nothing with `forensics = "none"`), not for every match of every
/// message.
fn inspector(config: &Config) -> anyhow::Result<Inspector> {
    let excerpts = match config.store.forensics {
        Forensics::None => Excerpts::None,
        Forensics::Excerpts | Forensics::Full => Excerpts::Triggered,
    };
    Ok(Inspector::new(config.clone())
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .without_explanations()
        .with_excerpts(excerpts))
}

/// `[upstream]` as a destination.
fn destination(config: &Config) -> anyhow::Result<Destination> {
    let upstream = config
        .upstream
        .clone()
        .context("[upstream] is needed (address or maildir)")?;
    match (&upstream.maildir, &upstream.address) {
        (Some(dir), _) => Ok(Destination::Maildir(dir.clone())),
        (None, Some(a)) => {
            let mode = match upstream.starttls {
                Starttls::Off => UpstreamTlsMode::Off,
                Starttls::Opportunistic => UpstreamTlsMode::Opportunistic,
                Starttls::Required => UpstreamTlsMode::Required,
            };
            let auth = match (&upstream.username, &upstream.password_file) {
                (Some(user), Some(file)) => {
                    let password = std::fs::read_to_string(file)
                        .with_context(|| format!("upstream.password_file {}", file.display()))?;
                    Some(sluice_smtp::Auth {
                        user: user.clone(),
                        password: password.trim_end_matches(['\r', '\n']).to_owned(),
                        allow_plaintext: upstream.allow_plaintext_auth,
                    })
                }
                _ => None,
            };
            Ok(Destination::Relay {
                addresses: a.to_vec(),
                timeout: upstream.timeout,
                tls: UpstreamTls::new(mode, upstream.tls_name.clone(), None)?,
                auth,
            })
        }
        (None, None) => anyhow::bail!("[upstream] needs address or maildir"),
    }
}

fn run(config_path: PathBuf) -> anyhow::Result<()> {
    let config = load(&config_path)?;
    init_logging(config.proxy.log_format == LogFormat::Json);
    // PDFs and spreadsheets are extracted in worker processes capped by
    // [limits] (SPEC §3.1); they are started on first use.
    sluice_mime::worker::enable_workers(
        config
            .limits
            .workers()
            .context("cannot start extraction workers")?,
    );
    let inspector = inspector(&config)?;
    let destination = Arc::new(destination(&config)?);
    let store = Arc::new(Store::open(&config.store.path)?);
    let api_tokens = match &config.api {
        Some(a) => Some(api::load_tokens(a)?),
        None => None,
    };
    let notify = config.notify.clone().unwrap_or_default();
    let notice_files = notice_files(&notify)?;
    // The console's users and key are read at start: a broken users file
    // is a configuration error, not a surprise at the first sign-in.
    let console_files = match &config.console {
        Some(c) => {
            if console::signing::Secret::create_if_missing(&c.secret_file)? {
                tracing::info!("created console.secret_file {}", c.secret_file.display());
            }
            Some((
                console::users::Users::load(&c.users_file)?,
                console::signing::Secret::load(&c.secret_file)?,
            ))
        }
        None => None,
    };
    let links = match (&notify.console_url, &console_files) {
        (Some(url), Some((_, secret))) => Some(notify::ReleaseLinks {
            base: url.trim_end_matches('/').to_owned(),
            secret: secret.clone(),
            ttl: notify.link_ttl,
        }),
        _ => None,
    };
    // One budget for both front ends: the bytes all messages hold at once.
    let inflight = InflightBudget::new(config.limits.max_inflight_bytes.0);
    let server_config = server_config(&config, &inflight)?;
    let metrics = Arc::new(Metrics::new());
    let lost = metrics.incidents_lost.clone();
    let (incidents, writer) = IncidentQueue::start(store.clone(), 10_000, move |e, n| {
        lost.inc_by(n as u64);
        tracing::error!("{n} incident(s) not recorded: {e}")
    })?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        // An empty listen address: a milter-only deployment.
        let listener = match config.proxy.listen.as_str() {
            "" => None,
            listen => {
                let l = tokio::net::TcpListener::bind(listen)
                    .await
                    .with_context(|| format!("cannot listen on {listen}"))?;
                tracing::info!("listening on {}", l.local_addr()?);
                Some(l)
            }
        };
        let hostname = config.proxy.hostname.clone();
        let (notifier, webhook) = announcers(
            &notify,
            notice_files,
            links,
            &destination,
            (&hostname, &metrics),
        )?;
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown_signal().await;
            let _ = stop_tx.send(true);
        });
        let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        tokio::spawn(prune_periodically(
            store.clone(),
            notifier.clone(),
            config.store.retention,
            config.store.audit_retention,
        ));
        let console_notifier = notifier.clone();
        let proxy = Arc::new(Proxy {
            live: std::sync::RwLock::new(Arc::new(Live {
                inspector,
                allowed_clients: config.proxy.allowed_clients.clone(),
                xforward_clients: config.proxy.xforward_clients.clone(),
                proxy_protocol: config.proxy.proxy_protocol.clone(),
            })),
            client_certificates: config
                .proxy
                .tls
                .as_ref()
                .is_some_and(|t| t.client_ca.is_some()),
            hostname,
            destination,
            store,
            incidents,
            forensics: config.store.forensics,
            notifier,
            webhook,
            metrics,
            pool: upstream::UpstreamPool::default(),
            scan_slots: Arc::new(tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(1, |n| n.get()),
            )),
        });
        let api = match (&config.api, api_tokens) {
            (Some(a), Some(tokens)) => {
                let api = Arc::new(Api {
                    store: proxy.store.clone(),
                    metrics: proxy.metrics.clone(),
                    quarantine: Quarantine::new(
                        proxy.store.clone(),
                        proxy.destination.clone(),
                        proxy.hostname.clone(),
                        proxy.metrics.clone(),
                    ),
                    tokens: std::sync::RwLock::new(tokens),
                });
                let mut app = api::router(api.clone());
                if let (Some(c), Some((users, secret))) = (&config.console, console_files) {
                    let console = Arc::new(console::Console {
                        api: api.clone(),
                        proxy: proxy.clone(),
                        users,
                        secret,
                        session_ttl: c.session_ttl,
                        tls: a.tls.is_some(),
                        limiter: Default::default(),
                        revoked: Default::default(),
                        notifier: console_notifier,
                        notify: c.notify.clone(),
                        console_url: notify.console_url.clone(),
                    });
                    app = app.merge(console::router(console));
                }
                serve_api(a, app, stopped(stop_rx.clone())).await?;
                Some(api)
            }
            _ => None,
        };
        tokio::spawn(reload_on_hangup(config_path, proxy.clone(), api));
        let milter = match &config.milter {
            Some(m) => {
                let address = MilterAddress::parse(&m.listen).map_err(anyhow::Error::msg)?;
                let front = Arc::new(milter::MilterFront {
                    proxy: proxy.clone(),
                    allowed_clients: m.allowed_clients.clone(),
                });
                let settings = sluice_milter::MilterConfig {
                    max_message_size: config.proxy.max_message_size.0 as usize,
                    timeout: config.proxy.command_timeout,
                    inflight,
                };
                let stop = stopped(stop_rx.clone());
                Some(tokio::spawn(async move {
                    serve_milter(&address, settings, front, stop).await
                }))
            }
            None => None,
        };
        if let Some(listener) = listener {
            serve(
                listener,
                server_config,
                Arc::new(SharedProxy(proxy)),
                stopped(stop_rx),
            )
            .await;
        }
        if let Some(milter) = milter {
            milter
                .await
                .context("milter front end")?
                .context("milter front end")?;
        }
        Ok::<_, anyhow::Error>(())
    })?;
    drain(runtime, writer);
    tracing::info!("stopped");
    Ok(())
}

/// The SMTP server's settings: sessions, limits and STARTTLS.
fn server_config(config: &Config, inflight: &InflightBudget) -> anyhow::Result<ServerConfig> {
    let tls = match &config.proxy.tls {
        Some(t) => Some(sluice_smtp::tls::server_config(
            &t.cert,
            &t.key,
            t.client_ca.as_deref(),
        )?),
        None => None,
    };
    let tls_required = config.proxy.tls.as_ref().is_some_and(|t| t.required);
    Ok(ServerConfig {
        session: SessionConfig {
            hostname: config.proxy.hostname.clone(),
            max_message_size: config.proxy.max_message_size.0 as usize,
            max_recipients: config.proxy.max_recipients as usize,
            starttls: tls.is_some(),
            tls_required,
        },
        max_connections: config.proxy.max_connections as usize,
        command_timeout: config.proxy.command_timeout,
        tls,
        // A transaction in flight gets as long as a client may stay silent.
        shutdown_grace: config.proxy.command_timeout,
        inflight: inflight.clone(),
        session_timeout: config.proxy.session_timeout,
        max_connections_per_client: config.proxy.max_connections_per_client,
    })
}

/// The notice template (`[notify] template`, else the built-in one) and
/// the webhook's signing secret.
fn notice_files(notify: &sluice_config::NotifyConfig) -> anyhow::Result<(String, Option<Vec<u8>>)> {
    let template = match &notify.template {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("notify.template {}", path.display()))?,
        None => notify::BUILT_IN_TEMPLATE.to_owned(),
    };
    let webhook_secret = match &notify.webhook_secret_file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("notify.webhook_secret_file {}", path.display()))?
                .trim_end_matches(['\r', '\n'])
                .as_bytes()
                .to_vec(),
        ),
        None => None,
    };
    Ok((template, webhook_secret))
}

/// The sender notifier and the webhook (inside the runtime: both start
/// their delivery tasks).
fn announcers(
    notify: &sluice_config::NotifyConfig,
    (template, webhook_secret): (String, Option<Vec<u8>>),
    links: Option<notify::ReleaseLinks>,
    destination: &Arc<Destination>,
    (hostname, metrics): (&str, &Arc<Metrics>),
) -> anyhow::Result<(Notifier, Option<Webhook>)> {
    let notifier = Notifier::start(
        destination.clone(),
        hostname.to_owned(),
        notify
            .from
            .clone()
            .unwrap_or_else(|| format!("Sluice DLP <postmaster@{hostname}>")),
        template,
        metrics.clone(),
        links,
    );
    let webhook = match &notify.webhook {
        Some(url) => Some(Webhook::start(
            url,
            webhook_secret,
            webhook::https_client_config()?,
            metrics.clone(),
        )?),
        None => None,
    };
    Ok((notifier, webhook))
}

/// Waits for the end after the runtime: sessions still running past the
/// grace must not keep the process alive, and queued incidents are
/// committed.
fn drain(runtime: tokio::runtime::Runtime, writer: std::thread::JoinHandle<()>) {
    // Sessions still running past the grace (a scan that does not end)
    // must not keep the process alive.
    runtime.shutdown_timeout(Duration::from_secs(10));
    // Every session has ended and dropped its queue handle: the writer
    // commits what is queued and exits (waited for a bounded time, as a
    // stuck session may still hold a handle).
    let waited = std::time::Instant::now();
    while !writer.is_finished() && waited.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Serves the HTTP API and the console (HTTPS with `[api] tls`) until
/// `stop`.
async fn serve_api(
    config: &sluice_config::ApiConfig,
    app: axum::Router,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let listen = &config.listen;
    let http = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} (api)"))?;
    let local = http.local_addr()?;
    // The peer's address goes with each request: the audit trail names it.
    let app = app.into_make_service_with_connect_info::<api::Peer>();
    match &config.tls {
        None => {
            tracing::info!("API listening on {local}");
            tokio::spawn(async move {
                if let Err(e) = axum::serve(http, app).with_graceful_shutdown(stop).await {
                    tracing::error!("API server failed: {e}");
                }
            });
        }
        Some(tls) => {
            let tls =
                sluice_smtp::tls::server_config(&tls.cert, &tls.key, None).context("api.tls")?;
            let https = https::TlsListener::start(http, tls)?;
            tracing::info!("API listening on {local} (HTTPS)");
            tokio::spawn(async move {
                if let Err(e) = axum::serve(https, app).with_graceful_shutdown(stop).await {
                    tracing::error!("API server failed: {e}");
                }
            });
        }
    }
    Ok(())
}

/// Log events on stderr, one line each, as text or JSON. (A closed stderr
/// loses lines; tracing-subscriber ignores write errors, so it never takes
/// the proxy down.)
fn init_logging(json: bool) {
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO);
    if json {
        builder.json().flatten_event(true).init();
    } else {
        builder.init();
    }
}

/// `[store] retention` and `audit_retention`: prune at start and every
/// hour.
async fn prune_periodically(
    store: Arc<Store>,
    notifier: Notifier,
    retention: Duration,
    audit_retention: Duration,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    let before = |age: Duration| {
        jiff::Timestamp::now()
            .checked_sub(jiff::SignedDuration::try_from(age).unwrap_or(jiff::SignedDuration::MAX))
            .unwrap_or(jiff::Timestamp::MIN)
    };
    loop {
        tick.tick().await;
        let store = store.clone();
        let (records, audit) = (before(retention), before(audit_retention));
        let pruned =
            store_call::run(move || Ok((store.prune(records)?, store.prune_audit(audit)?)));
        match pruned.await {
            Ok((p, audited)) => {
                if p.incidents + p.quarantined + audited > 0 {
                    tracing::info!(
                        "retention: pruned {} incident(s), {} held message(s) and {audited} audit entries",
                        p.incidents,
                        p.quarantined
                    );
                }
                for r in &p.requests_expired {
                    console::requests::tell_sender(
                        &notifier,
                        r,
                        sluice_store::RequestState::Expired,
                    );
                }
            }
            Err(e) => tracing::error!("retention: {e}"),
        }
    }
}

/// SIGHUP: reload the policies, entities, allowed clients and API tokens
/// atomically; a broken configuration is refused and logged and the
/// running one kept. (Listeners, limits, the store and the upstream need a
/// restart.)
async fn reload_on_hangup(path: PathBuf, proxy: Arc<Proxy>, api: Option<Arc<Api>>) {
    let Ok(mut hangup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
    else {
        return;
    };
    while hangup.recv().await.is_some() {
        let loaded = tokio::task::spawn_blocking({
            let path = path.clone();
            move || -> anyhow::Result<_> {
                let config = load(&path)?;
                let inspector = inspector(&config)?;
                let tokens = match &config.api {
                    Some(a) => Some(api::load_tokens(a)?),
                    None => None,
                };
                Ok((config, inspector, tokens))
            }
        })
        .await;
        match loaded {
            Ok(Ok((config, inspector, tokens))) => {
                let live = Arc::new(Live {
                    inspector,
                    allowed_clients: config.proxy.allowed_clients.clone(),
                    xforward_clients: config.proxy.xforward_clients.clone(),
                    proxy_protocol: config.proxy.proxy_protocol.clone(),
                });
                *proxy.live.write().unwrap_or_else(|e| e.into_inner()) = live;
                if let (Some(api), Some(tokens)) = (&api, tokens) {
                    *api.tokens.write().unwrap_or_else(|e| e.into_inner()) = tokens;
                }
                tracing::info!("reloaded {}", path.display());
            }
            Ok(Err(errors)) => {
                tracing::error!("reload refused, keeping the running configuration: {errors:#}")
            }
            Err(e) => tracing::error!("reload failed: {e}"),
        }
    }
}

/// SIGTERM or SIGINT.
async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("signal handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
