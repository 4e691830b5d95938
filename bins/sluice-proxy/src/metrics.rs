//! Prometheus metrics (`GET /metrics`).

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

/// Every metric the proxy exports.
pub struct Metrics {
    registry: Registry,
    /// Messages received (end of DATA reached).
    pub messages: IntCounter,
    /// Their bytes.
    pub bytes: IntCounter,
    /// Decisions by policy, action and mode (`policy=""` for none).
    pub decisions: IntCounterVec,
    /// Time to decode and decide a message.
    pub scan_seconds: Histogram,
    /// Time from the decision to the upstream's reply to the data.
    pub relay_seconds: Histogram,
    /// Upstream connections or sessions that failed (the client got 451).
    pub upstream_errors: IntCounter,
    /// Quarantine writes that failed (the client got 451).
    pub quarantine_errors: IntCounter,
    /// Held messages, read from the store at each scrape.
    pub quarantine_messages: IntGauge,
    /// Their bytes.
    pub quarantine_bytes: IntGauge,
    /// Incidents dropped because the writer's queue was full, or lost to
    /// a failed write.
    pub incidents_lost: IntCounter,
    /// Sender notifications by result (`sent`, `failed`, `dropped`).
    pub notifications: IntCounterVec,
    /// Webhook deliveries by result (`sent`, `failed`, `dropped`).
    pub webhooks: IntCounterVec,
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let latency = vec![
            0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0,
        ];
        let counter = |name: &str, help: &str| IntCounter::new(name, help).expect("valid metric");
        let m = Metrics {
            messages: counter("sluice_messages_total", "Messages received"),
            bytes: counter("sluice_message_bytes_total", "Bytes of messages received"),
            decisions: IntCounterVec::new(
                Opts::new("sluice_decisions_total", "Decisions by policy and action"),
                &["policy", "action", "mode"],
            )
            .expect("valid metric"),
            scan_seconds: Histogram::with_opts(
                HistogramOpts::new("sluice_scan_seconds", "Time to decode and decide a message")
                    .buckets(latency.clone()),
            )
            .expect("valid metric"),
            relay_seconds: Histogram::with_opts(
                HistogramOpts::new(
                    "sluice_relay_seconds",
                    "Time from the decision to the upstream's reply to the data",
                )
                .buckets(latency),
            )
            .expect("valid metric"),
            upstream_errors: counter(
                "sluice_upstream_errors_total",
                "Upstream sessions that failed or could not be opened",
            ),
            quarantine_errors: counter(
                "sluice_quarantine_errors_total",
                "Quarantine writes that failed (answered 451)",
            ),
            quarantine_messages: IntGauge::new("sluice_quarantine_messages", "Held messages")
                .expect("valid metric"),
            quarantine_bytes: IntGauge::new("sluice_quarantine_bytes", "Bytes of held messages")
                .expect("valid metric"),
            incidents_lost: counter(
                "sluice_incidents_lost_total",
                "Incidents not recorded (writer queue full or write failed)",
            ),
            notifications: IntCounterVec::new(
                Opts::new(
                    "sluice_notifications_total",
                    "Sender notifications by result",
                ),
                &["result"],
            )
            .expect("valid metric"),
            webhooks: IntCounterVec::new(
                Opts::new("sluice_webhooks_total", "Webhook deliveries by result"),
                &["result"],
            )
            .expect("valid metric"),
            registry,
        };
        let collectors: Vec<Box<dyn prometheus::core::Collector>> = vec![
            Box::new(m.messages.clone()),
            Box::new(m.bytes.clone()),
            Box::new(m.decisions.clone()),
            Box::new(m.scan_seconds.clone()),
            Box::new(m.relay_seconds.clone()),
            Box::new(m.upstream_errors.clone()),
            Box::new(m.quarantine_errors.clone()),
            Box::new(m.quarantine_messages.clone()),
            Box::new(m.quarantine_bytes.clone()),
            Box::new(m.incidents_lost.clone()),
            Box::new(m.notifications.clone()),
            Box::new(m.webhooks.clone()),
        ];
        for c in collectors {
            m.registry.register(c).expect("unique metric names");
        }
        m
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}
