//! `sluice-proxy`: the SMTP DLP relay (SPEC §6).
//!
//! Thin: loads the configuration, wires `sluice-smtp`'s server to the
//! relay handler, and stops on SIGTERM/SIGINT after the transactions in
//! flight.

mod relay;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use sluice_policy::{Config, Inspector};
use sluice_smtp::{serve, ServerConfig, SessionConfig};

use relay::{Destination, Live, Proxy, SharedProxy};

#[derive(Parser)]
#[command(
    name = "sluice-proxy",
    version,
    about = "Sluice SMTP proxy: outbound-mail DLP in the mail path"
)]
struct Cli {
    /// The configuration (sluice.toml).
    #[arg(long)]
    config: PathBuf,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let cli_config = cli.config.clone();
    let config = Config::load(&cli.config).map_err(|e| anyhow::anyhow!("{e}"))?;
    let inspector = Inspector::new(config.clone()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let upstream = config
        .upstream
        .clone()
        .context("[upstream] is needed to run the proxy (address or maildir)")?;
    let destination = match (&upstream.maildir, &upstream.address) {
        (Some(dir), _) => Destination::Maildir(dir.clone()),
        (None, Some(a)) => {
            use sluice_smtp::tls::{UpstreamTls, UpstreamTlsMode};
            let mode = match upstream.starttls.as_str() {
                "off" => UpstreamTlsMode::Off,
                "required" => UpstreamTlsMode::Required,
                _ => UpstreamTlsMode::Opportunistic,
            };
            {
                let auth = match (&upstream.username, &upstream.password_file) {
                    (Some(user), Some(file)) => {
                        let password = std::fs::read_to_string(file).with_context(|| {
                            format!("upstream.password_file {}", file.display())
                        })?;
                        Some((
                            user.clone(),
                            password.trim_end_matches(['\r', '\n']).to_owned(),
                        ))
                    }
                    _ => None,
                };
                Destination::Relay {
                    addresses: a.to_vec(),
                    timeout: upstream.timeout,
                    tls: UpstreamTls::new(mode, upstream.tls_name.clone(), None)?,
                    auth,
                }
            }
        }
        (None, None) => anyhow::bail!("[upstream] needs address or maildir"),
    };
    let tls = match &config.proxy.tls {
        Some(t) => {
            if t.client_ca.is_some() {
                log("warning: [proxy.tls] client_ca is not supported yet; client certificates are not verified");
            }
            Some(sluice_smtp::tls::server_config(&t.cert, &t.key)?)
        }
        None => None,
    };
    let tls_required = config.proxy.tls.as_ref().is_some_and(|t| t.required);
    let data_dir = config
        .store
        .path
        .parent()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("sluice-data"));
    let proxy = Proxy {
        live: std::sync::RwLock::new(Arc::new(Live {
            inspector,
            allowed_clients: config.proxy.allowed_clients.clone(),
        })),
        log_json: config.proxy.log_format == "json",
        hostname: config.proxy.hostname.clone(),
        destination,
        data_dir,
    };
    let server_config = ServerConfig {
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
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&config.proxy.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.proxy.listen))?;
        log(&format!("listening on {}", listener.local_addr()?));
        let proxy = Arc::new(proxy);
        tokio::spawn(reload_on_hangup(cli_config, proxy.clone()));
        serve(
            listener,
            server_config,
            Arc::new(SharedProxy(proxy)),
            shutdown_signal(),
        )
        .await;
        log("stopped");
        Ok(())
    })
}

/// One log line on stderr. A closed stderr (a daemon whose log pipe went
/// away) must not take the proxy down, as `eprintln!` would.
pub fn log(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "sluice-proxy: {line}");
}

/// SIGHUP: reload the policies, entities and allowed clients atomically; a
/// broken configuration is refused and logged and the running one kept.
/// (Listener, limits and upstream changes need a restart.)
async fn reload_on_hangup(path: PathBuf, proxy: Arc<Proxy>) {
    let Ok(mut hangup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
    else {
        return;
    };
    while hangup.recv().await.is_some() {
        let loaded = tokio::task::spawn_blocking({
            let path = path.clone();
            move || Config::load(&path).and_then(|c| Inspector::new(c.clone()).map(|i| (c, i)))
        })
        .await;
        match loaded {
            Ok(Ok((config, inspector))) => {
                let live = Arc::new(Live {
                    inspector,
                    allowed_clients: config.proxy.allowed_clients.clone(),
                });
                *proxy.live.write().unwrap_or_else(|e| e.into_inner()) = live;
                log(&format!("reloaded {}", path.display()));
            }
            Ok(Err(errors)) => log(&format!(
                "reload refused, keeping the running configuration: {errors}"
            )),
            Err(e) => log(&format!("reload failed: {e}")),
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
