//! The feed configuration file (see `config/ingest.example.toml`): which broker the source rows
//! come from, how they are batched, and the limits that keep a bad message from blocking or
//! bouncing forever. Like the sync configuration it names servers, so passwords are never
//! written in it: `password_env` or `password_file` says where the broker password is.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::error::{Error, IoContext, Result};

/// Which broker a feed reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FeedKind {
    /// NATS JetStream: a stream, a durable pull consumer, explicit acks.
    Nats,
    /// RabbitMQ: a durable queue, manual acks.
    Rabbitmq,
}

/// The whole feed configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestConfig {
    /// The feed's name in the lake: its position is `<lake>/feed/<name>.json`, its quarantine
    /// `<lake>/quarantine/feed/<name>/`.
    #[serde(default = "default_name")]
    pub name: String,
    pub kind: FeedKind,
    /// `nats://host:port` or `amqp://user@host:port/vhost` (no password here).
    pub url: String,
    /// Environment variable holding the broker password.
    pub password_env: Option<String>,
    /// File holding the broker password (trailing newline ignored).
    pub password_file: Option<PathBuf>,
    /// Seconds the feed keeps reconnecting after the broker fails (a restart, a lost
    /// connection) before it gives up with an error.
    #[serde(default = "default_reconnect_secs")]
    pub reconnect_secs: f64,
    #[serde(default)]
    pub nats: NatsConfig,
    #[serde(default)]
    pub rabbitmq: RabbitConfig,
    #[serde(default)]
    pub batch: BatchConfig,
}

/// JetStream settings. Rows are published on `<subject_prefix>.<db>.<table>`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NatsConfig {
    pub stream: String,
    pub subject_prefix: String,
    /// Durable consumer name.
    pub consumer: String,
    /// Seconds the server waits for an ack before it delivers a message again. Longer than a
    /// batch takes to land.
    pub ack_wait_secs: f64,
}

/// RabbitMQ settings. A row names its table in the message's `type` property (or `_table` in
/// the JSON).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RabbitConfig {
    pub queue: String,
    /// `quorum` (the default: counts deliveries in `x-delivery-count`) or `classic`.
    pub queue_type: String,
}

/// How rows are grouped into commits, and the limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BatchConfig {
    /// A batch is committed at this many messages ...
    pub max_rows: usize,
    /// ... or this many seconds after its first message, whichever comes first.
    pub max_seconds: f64,
    /// A message delivered more often than this is quarantined instead of landed (the bounce
    /// limit: something made every earlier attempt fail).
    pub max_deliveries: u64,
    /// A partition with this many files is compacted into one.
    pub compact_files: usize,
    /// Seconds after a trade date's end (UTC midnight) before a caught-up feed declares the
    /// date complete: every table gets its partition (empty where no row came) and each
    /// partition becomes one file. Publishers' delay must stay under it.
    pub close_after_secs: f64,
}

fn default_reconnect_secs() -> f64 {
    120.0
}

fn default_name() -> String {
    "main".into()
}

impl Default for NatsConfig {
    fn default() -> Self {
        NatsConfig {
            stream: "ORDERTRAIL_RAW".into(),
            subject_prefix: "ordertrail.raw".into(),
            consumer: "ordertrail-ingest".into(),
            ack_wait_secs: 60.0,
        }
    }
}

impl Default for RabbitConfig {
    fn default() -> Self {
        RabbitConfig {
            queue: "ordertrail.raw".into(),
            queue_type: "quorum".into(),
        }
    }
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            max_rows: 20_000,
            max_seconds: 1.0,
            max_deliveries: 5,
            compact_files: 16,
            close_after_secs: 300.0,
        }
    }
}

impl BatchConfig {
    pub fn max_wait(&self) -> Duration {
        Duration::from_secs_f64(self.max_seconds)
    }
}

impl IngestConfig {
    pub fn load(path: &Path) -> Result<IngestConfig> {
        let text = std::fs::read_to_string(path).at(path)?;
        Self::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<IngestConfig> {
        let config: IngestConfig = toml::from_str(text).map_err(|e| {
            Error::input_hint(
                crate::config::toml_error(path, text, &e),
                "see config/ingest.example.toml for the keys a feed config has",
            )
        })?;
        let b = &config.batch;
        let bad = |what: &str| {
            Err(Error::input(format!(
                "{}: {what} (see config/ingest.example.toml)",
                path.display()
            )))
        };
        if b.max_rows == 0 || b.max_deliveries == 0 || b.compact_files < 2 {
            return bad(
                "batch.max_rows and batch.max_deliveries must be at least 1, batch.compact_files at least 2",
            );
        }
        let seconds_ok = b.max_seconds > 0.0 && b.max_seconds <= 3600.0;
        let close_ok = b.close_after_secs >= 0.0;
        if !seconds_ok || !close_ok {
            return bad(
                "batch.max_seconds must be in (0, 3600], batch.close_after_secs at least 0",
            );
        }
        if config.kind == FeedKind::Rabbitmq && b.max_rows > usize::from(u16::MAX) {
            return bad("batch.max_rows is at most 65535 for RabbitMQ (it is the prefetch count)");
        }
        let ack_wait_ok = config.nats.ack_wait_secs >= 1.0;
        if !ack_wait_ok {
            return bad("nats.ack_wait_secs must be at least 1");
        }
        if !matches!(config.rabbitmq.queue_type.as_str(), "quorum" | "classic") {
            return bad("rabbitmq.queue_type is `quorum` or `classic`");
        }
        if config.name.is_empty()
            || !config
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return bad("name may hold letters, digits, `_` and `-` only");
        }
        if let Some((_, rest)) = config.url.split_once("://")
            && let Some((userinfo, _)) = rest.split_once('@')
            && userinfo.contains(':')
        {
            return Err(Error::input_hint(
                format!("{}: url contains a password", path.display()),
                "remove it from the URL and set password_env or password_file instead",
            ));
        }
        Ok(config)
    }

    /// The broker password, from the environment or a file; `None` when neither is set.
    pub fn password(&self) -> Result<Option<String>> {
        crate::config::read_secret(
            &format!("feed {}", self.name),
            self.password_env.as_deref(),
            self.password_file.as_deref(),
        )
    }

    /// The URL with the password put in (for the client only; never printed).
    pub fn url_with_password(&self) -> Result<String> {
        let Some(password) = self.password()? else {
            return Ok(self.url.clone());
        };
        let Some((scheme, rest)) = self.url.split_once("://") else {
            return Ok(self.url.clone());
        };
        let Some((user, host)) = rest.split_once('@') else {
            return Err(Error::input(format!(
                "the feed url {} names no user for the password (write scheme://user@host)",
                self.url
            )));
        };
        Ok(format!(
            "{scheme}://{user}:{}@{host}",
            percent_encode(&password)
        ))
    }

    /// Where the feed reads from, for messages (no password).
    pub fn describe(&self) -> String {
        match self.kind {
            FeedKind::Nats => format!("{} stream {}", self.url, self.nats.stream),
            FeedKind::Rabbitmq => format!("{} queue {}", self.url, self.rabbitmq.queue),
        }
    }
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_defaults_and_refuses_passwords_in_urls() {
        let c = IngestConfig::parse(
            Path::new("f.toml"),
            "kind = \"nats\"\nurl = \"nats://127.0.0.1:4222\"\n",
        )
        .unwrap();
        assert_eq!(c.name, "main");
        assert_eq!(c.batch.max_rows, 20_000);
        assert_eq!(c.nats.stream, "ORDERTRAIL_RAW");
        let err = IngestConfig::parse(
            Path::new("f.toml"),
            "kind = \"rabbitmq\"\nurl = \"amqp://guest:guest@127.0.0.1:5672/%2f\"\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("contains a password"), "{err}");
        assert!(!err.to_string().contains("guest:guest"), "{err}");
        let err = IngestConfig::parse(
            Path::new("f.toml"),
            "kind = \"rabbitmq\"\nurl = \"amqp://x@h/\"\n[batch]\nmax_rows = 100000\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("65535"), "{err}");
    }

    #[test]
    fn password_goes_into_the_url_encoded() {
        let mut c = IngestConfig::parse(
            Path::new("f.toml"),
            "kind = \"rabbitmq\"\nurl = \"amqp://guest@127.0.0.1:5672/%2f\"\npassword_env = \"OT_TEST_FEED_PW\"\n",
        )
        .unwrap();
        // SAFETY: this test is the only reader and writer of the variable.
        unsafe { std::env::set_var("OT_TEST_FEED_PW", "a b@c") };
        assert_eq!(
            c.url_with_password().unwrap(),
            "amqp://guest:a%20b%40c@127.0.0.1:5672/%2f"
        );
        c.password_env = Some("OT_TEST_FEED_PW_UNSET".into());
        let err = c.url_with_password().unwrap_err();
        assert!(err.to_string().contains("OT_TEST_FEED_PW_UNSET"), "{err}");
    }
}
