//! The sync configuration file: which replica each source database is read from, how many tables
//! and connections at once, and which tables (with their time and key columns).
//!
//! It is its own file (see `config/sync.example.toml`), separate from the report configuration,
//! because it names database servers. Passwords are never written in it: a source names the
//! environment variable or the file that holds its password, and nothing here prints either.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, IoContext, Result};

/// The whole sync configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncConfig {
    /// At most this many tables are dumped at the same time, over all sources.
    #[serde(default = "default_parallel_tables")]
    pub max_parallel_tables: usize,
    /// Rows per Arrow batch read from MySQL before it is handed to the Parquet writer.
    #[serde(default = "default_batch_rows")]
    pub batch_rows: usize,
    /// Attempts per table and window when the connection fails (1 = no retry).
    #[serde(default = "default_attempts")]
    pub attempts: u32,
    /// First retry delay in milliseconds; doubles with every further attempt.
    #[serde(default = "default_backoff_ms")]
    pub backoff_ms: u64,
    /// Source databases by their name in `sql/sources.sql` (the lake's `<db>`).
    #[serde(default)]
    pub sources: BTreeMap<String, SourceConfig>,
}

/// One source database and the replica it is read from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// `mysql://user@host:port` (no password here; a password in the URL is refused).
    pub url: String,
    /// Schema name on the replica [default: the source name].
    pub database: Option<String>,
    /// Environment variable holding the password.
    pub password_env: Option<String>,
    /// File holding the password (trailing newline ignored).
    pub password_file: Option<PathBuf>,
    /// Connections this source may open at once.
    #[serde(default = "default_connections")]
    pub max_connections: usize,
    /// The tables to sync [default: every table of this source in `sql/sources.sql`].
    #[serde(default)]
    pub tables: Vec<TableConfig>,
}

/// One table of a source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableConfig {
    pub name: String,
    /// Column whose UTC date is the row's trade date.
    #[serde(default = "default_time_column")]
    pub time_column: String,
    /// Unique key the rows are read in order of [default: the primary key in `sql/sources.sql`].
    pub key_column: Option<String>,
}

fn default_parallel_tables() -> usize {
    2
}
fn default_batch_rows() -> usize {
    8192
}
fn default_attempts() -> u32 {
    3
}
fn default_backoff_ms() -> u64 {
    500
}
fn default_connections() -> usize {
    2
}
fn default_time_column() -> String {
    "create_time".into()
}

impl SyncConfig {
    pub fn load(path: &Path) -> Result<SyncConfig> {
        let text = std::fs::read_to_string(path).at(path)?;
        Self::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<SyncConfig> {
        let config: SyncConfig = toml::from_str(text).map_err(|e| {
            Error::input_hint(
                crate::config::toml_error(path, text, &e),
                "see config/sync.example.toml for the keys a sync config has",
            )
        })?;
        if config.max_parallel_tables == 0 || config.batch_rows == 0 || config.attempts == 0 {
            return Err(Error::input(format!(
                "{}: max_parallel_tables, batch_rows and attempts must be at least 1",
                path.display()
            )));
        }
        for (name, source) in &config.sources {
            if source.max_connections == 0 {
                return Err(Error::input(format!(
                    "{}: sources.{name}.max_connections must be at least 1",
                    path.display()
                )));
            }
            if let Some((_, rest)) = source.url.split_once("://")
                && let Some((userinfo, _)) = rest.split_once('@')
                && userinfo.contains(':')
            {
                return Err(Error::input_hint(
                    format!("{}: sources.{name}.url contains a password", path.display()),
                    "remove it from the URL and set password_env or password_file instead",
                ));
            }
        }
        Ok(config)
    }
}

impl SourceConfig {
    /// The password, from the environment or a file; `None` when neither is configured.
    pub fn password(&self, source: &str) -> Result<Option<String>> {
        crate::config::read_secret(
            &format!("sources.{source}"),
            self.password_env.as_deref(),
            self.password_file.as_deref(),
        )
    }

    /// Schema name on the replica.
    pub fn database<'a>(&'a self, source: &'a str) -> &'a str {
        self.database.as_deref().unwrap_or(source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_never_print_a_password() {
        let secret = "hunter2-secret";
        for text in [
            format!("[sources.oms]\nurl = \"mysql://root@h/db\"\npassword = \"{secret}\"\n"),
            format!("[sources.oms]\nurl = \"mysql://root:{secret}@h/db\"\n"),
            format!("[sources.oms]\nurl = \"mysql://root:{secret}@h/db\n"),
            format!("[sources.oms]\nurl = [\"mysql://root:{secret}@h/db\"]\n"),
        ] {
            let err = SyncConfig::parse(Path::new("sync.toml"), &text)
                .err()
                .map(|e| format!("{e} {}", e.hint().unwrap_or_default()))
                .unwrap_or_default();
            assert!(!err.is_empty() && !err.contains(secret), "{text}: {err}");
        }
    }

    #[test]
    fn parses_defaults_and_refuses_url_passwords() {
        let c = SyncConfig::parse(
            Path::new("s.toml"),
            "[sources.inbound]\nurl = \"mysql://r@h:3306\"\n[[sources.inbound.tables]]\nname = \"fix_msg\"\n",
        )
        .unwrap();
        assert_eq!(c.max_parallel_tables, 2);
        let t = &c.sources["inbound"].tables[0];
        assert_eq!(t.time_column, "create_time");
        assert_eq!(c.sources["inbound"].database("inbound"), "inbound");

        let err = SyncConfig::parse(
            Path::new("s.toml"),
            "[sources.a]\nurl = \"mysql://r:secret@h:3306\"\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("contains a password"), "{err}");
        assert!(!err.to_string().contains("secret"), "{err}");

        let err =
            SyncConfig::parse(Path::new("s.toml"), "[sources.a]\nurll = \"x\"\n").unwrap_err();
        assert!(err.to_string().contains("s.toml"), "{err}");
    }
}
