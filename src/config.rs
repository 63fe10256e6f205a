//! The configuration file (`config/ordertrail.toml`): report destinations, their IDs and field
//! mappings, and trading-calendar overrides.
//!
//! Destinations reach the SQL as two tables, so that report stages do the mapping:
//! `config.destinations` (one row per destination) and `config.destination_upstreams` (how each
//! upstream is reported to each destination). Errors name the file and the key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, RecordBatch, StringArray, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema};
use chrono::NaiveDate;
use datafusion::catalog::MemorySchemaProvider;
use datafusion::common::TableReference;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use serde::Deserialize;

use crate::calendar::TradingCalendar;
use crate::error::{Error, Result};

/// Tables the configuration provides to SQL, as `config.<name>`.
pub const CONFIG_TABLES: [&str; 2] = ["config.destinations", "config.destination_upstreams"];

/// Report kinds a destination can receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportKind {
    Cat,
    Oats,
    Summary,
    Kline,
}

impl ReportKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            ReportKind::Cat => "cat",
            ReportKind::Oats => "oats",
            ReportKind::Summary => "summary",
            ReportKind::Kline => "kline",
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarConfig {
    #[serde(default, deserialize_with = "dates")]
    pub holidays: Vec<NaiveDate>,
    #[serde(default, deserialize_with = "dates")]
    pub trading_days: Vec<NaiveDate>,
}

/// `["2026-12-24", ...]` as dates, with the bad value in the error.
fn dates<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Vec<NaiveDate>, D::Error> {
    let raw: Vec<String> = Vec::deserialize(d)?;
    raw.iter()
        .map(|s| {
            s.parse::<NaiveDate>().map_err(|e| {
                serde::de::Error::custom(format!("'{s}' is not a date YYYY-MM-DD: {e}"))
            })
        })
        .collect()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Upstream {
    /// Code the upstream is reported as.
    pub destination: String,
    /// CAT destinationType: E exchange, F industry member, N non-reporting foreign broker.
    pub destination_type: Option<String>,
    /// Exchange session (CAT `session`), for destination_type E.
    pub session: Option<String>,
    /// The firm's own desk: reported as an internal route.
    #[serde(default)]
    pub internal: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Destination {
    pub name: String,
    pub report: ReportKind,
    pub submitter_id: Option<String>,
    pub reporter_imid: Option<String>,
    pub group: Option<String>,
    pub records_per_file: Option<u64>,
    /// bzip2 block size of CAT data files, 1 (fastest) to 9 (smallest, the default). CAT
    /// requires bzip2 but no level; at 9 compression is most of a report's time.
    pub bzip2_level: Option<u32>,
    /// The firm's CAT identity as `CRD:IMID` (e.g. `12345:BRKR`): `senderIMID` of routes to
    /// industry members.
    pub sender_imid: Option<String>,
    /// CAT `fulfillmentLinkType` of the firm's fulfillments (MEOF); the firm's choice for how
    /// it fills client orders from street executions (default `Y`).
    pub fulfillment_link_type: Option<String>,
    /// `firmDesignatedID` of the firm account in MEOF `firmDetails`.
    pub firm_designated_id: Option<String>,
    /// `accountHolderType` of that firm account (default `P`, other proprietary).
    pub firm_account_holder_type: Option<String>,
    /// CAT `receivingDeskType` of internal routes (MEIR/MLIR) (default `O`, other).
    pub receiving_desk_type: Option<String>,
    pub fore_id: Option<String>,
    pub oso_id: Option<String>,
    pub user: Option<String>,
    /// Environment variable holding the password; never logged.
    pub password_env: Option<String>,
    #[serde(default)]
    pub upstreams: BTreeMap<String, Upstream>,
}

/// What happens when checks fail.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChecksConfig {
    /// Shell command that receives the check summary on stdin when an error-level check
    /// fails (e.g. `mail -s "ordertrail checks failed" ops@example.com`).
    pub alert_command: Option<String>,
}

/// How the lake is laid out.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LakeConfig {
    /// Bucket partitions of the chain stages, for a lake whose stages are written first
    /// (`--buckets` wins; a lake keeps the count it was first written with).
    pub buckets: Option<usize>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub calendar: CalendarConfig,
    #[serde(default)]
    pub lake: LakeConfig,
    #[serde(default)]
    pub checks: ChecksConfig,
    #[serde(default)]
    pub destinations: Vec<Destination>,
    #[serde(skip)]
    pub path: PathBuf,
}

/// A TOML error as `<file>: line L, column C: <what>`, without the offending line or any
/// quoted value: a config line may hold a secret (a password where none belongs, a URL with
/// credentials), and errors are printed and logged.
/// A secret named by a config file: the value of the environment variable `env`, or the
/// contents of `file` (trailing newline dropped); `None` when neither is named. `what` says
/// whose secret it is in the error; the secret itself is never in an error.
pub fn read_secret(what: &str, env: Option<&str>, file: Option<&Path>) -> Result<Option<String>> {
    if let Some(var) = env {
        return match std::env::var(var) {
            Ok(p) => Ok(Some(p)),
            Err(_) => Err(Error::input_hint(
                format!("{what}: environment variable {var} is not set"),
                format!("export {var} with the password, or use password_file"),
            )),
        };
    }
    if let Some(file) = file {
        let text = std::fs::read_to_string(file).map_err(|e| Error::io(file, e))?;
        return Ok(Some(text.trim_end_matches(['\n', '\r']).to_string()));
    }
    Ok(None)
}

pub fn toml_error(path: &Path, text: &str, e: &toml::de::Error) -> String {
    let mut what = String::new();
    let mut quoted = false;
    for c in e.message().trim_end().chars() {
        match c {
            '"' if !quoted => {
                quoted = true;
                what.push_str("\"...");
            }
            '"' => {
                quoted = false;
                what.push('"');
            }
            _ if quoted => {}
            c => what.push(c),
        }
    }
    match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let line_start = before.rfind('\n').map_or(0, |i| i + 1);
            let column = before.len() - line_start + 1;
            // The key of that line, never its value.
            let key = text[line_start..]
                .lines()
                .next()
                .and_then(|l| l.split_once('='))
                .map(|(k, _)| k.trim())
                .filter(|k| {
                    !k.is_empty()
                        && k.chars()
                            .all(|c| c.is_ascii_alphanumeric() || "_-.[] ".contains(c))
                })
                .map(|k| format!(" ({k})"))
                .unwrap_or_default();
            format!(
                "{}: line {line}, column {column}{key}: {what}",
                path.display()
            )
        }
        None => format!("{}: {what}", path.display()),
    }
}

impl Config {
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::input_hint(
                format!("cannot read config {}: {e}", path.display()),
                "pass the configuration file with --config",
            )
        })?;
        Self::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Config> {
        let mut config: Config = toml::from_str(text).map_err(|e| {
            Error::input_hint(
                toml_error(path, text, &e),
                "see config/ordertrail.toml in the repository for every key",
            )
        })?;
        config.path = path.to_path_buf();
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<()> {
        let mut seen = std::collections::BTreeSet::new();
        for (i, d) in self.destinations.iter().enumerate() {
            let key = format!("destinations[{i}] ({})", d.name);
            if !seen.insert(d.name.clone()) {
                return Err(self.key_error(&key, "name is used by another destination"));
            }
            let need = |field: &str, v: &Option<String>| -> Result<()> {
                match v {
                    Some(s) if !s.trim().is_empty() => Ok(()),
                    _ => Err(self.key_error(
                        &format!("{key}.{field}"),
                        &format!("is required for report = \"{}\"", d.report.as_str()),
                    )),
                }
            };
            match d.report {
                ReportKind::Cat => {
                    need("submitter_id", &d.submitter_id)?;
                    need("reporter_imid", &d.reporter_imid)?;
                    need("group", &d.group)?;
                    if d.records_per_file == Some(0) {
                        return Err(self
                            .key_error(&format!("{key}.records_per_file"), "must be at least 1"));
                    }
                    if d.bzip2_level.is_some_and(|l| !(1..=9).contains(&l)) {
                        return Err(self.key_error(
                            &format!("{key}.bzip2_level"),
                            "must be from 1 (fastest) to 9 (smallest)",
                        ));
                    }
                    for (name, u) in &d.upstreams {
                        if !u.internal && u.destination_type.is_none() {
                            return Err(self.key_error(
                                &format!("{key}.upstreams.{name}.destination_type"),
                                "is required unless internal = true",
                            ));
                        }
                    }
                }
                ReportKind::Oats => {
                    need("reporter_imid", &d.reporter_imid)?;
                    need("fore_id", &d.fore_id)?;
                    need("oso_id", &d.oso_id)?;
                    need("user", &d.user)?;
                }
                ReportKind::Summary | ReportKind::Kline => {}
            }
        }
        Ok(())
    }

    fn key_error(&self, key: &str, what: &str) -> Error {
        Error::input_hint(
            format!("{}: {key} {what}", self.path.display()),
            "see config/ordertrail.toml in the repository for every key",
        )
    }

    pub fn calendar(&self) -> TradingCalendar {
        TradingCalendar::with_overrides(
            self.calendar.holidays.iter().copied(),
            self.calendar.trading_days.iter().copied(),
        )
    }

    pub fn destination(&self, name: &str) -> Option<&Destination> {
        self.destinations.iter().find(|d| d.name == name)
    }

    /// Register `config.destinations` and `config.destination_upstreams` with `ctx`.
    pub fn register(&self, ctx: &SessionContext) -> Result<()> {
        let catalog = ctx
            .catalog("datafusion")
            .ok_or_else(|| Error::input("default catalog missing"))?;
        if catalog.schema("config").is_none() {
            catalog.register_schema("config", Arc::new(MemorySchemaProvider::new()))?;
        }
        let s = |v: Vec<Option<String>>| Arc::new(StringArray::from(v)) as ArrayRef;
        let ds = &self.destinations;
        let destinations = RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("destination", DataType::Utf8, false),
                Field::new("report", DataType::Utf8, false),
                Field::new("submitter_id", DataType::Utf8, true),
                Field::new("reporter_imid", DataType::Utf8, true),
                Field::new("records_per_file", DataType::UInt64, true),
                Field::new("sender_imid", DataType::Utf8, true),
                Field::new("fulfillment_link_type", DataType::Utf8, true),
                Field::new("firm_designated_id", DataType::Utf8, true),
                Field::new("firm_account_holder_type", DataType::Utf8, true),
                Field::new("receiving_desk_type", DataType::Utf8, true),
            ])),
            vec![
                s(ds.iter().map(|d| Some(d.name.clone())).collect()),
                s(ds.iter()
                    .map(|d| Some(d.report.as_str().to_string()))
                    .collect()),
                s(ds.iter().map(|d| d.submitter_id.clone()).collect()),
                s(ds.iter().map(|d| d.reporter_imid.clone()).collect()),
                Arc::new(UInt64Array::from(
                    ds.iter().map(|d| d.records_per_file).collect::<Vec<_>>(),
                )),
                s(ds.iter().map(|d| d.sender_imid.clone()).collect()),
                s(ds.iter().map(|d| d.fulfillment_link_type.clone()).collect()),
                s(ds.iter().map(|d| d.firm_designated_id.clone()).collect()),
                s(ds.iter()
                    .map(|d| d.firm_account_holder_type.clone())
                    .collect()),
                s(ds.iter().map(|d| d.receiving_desk_type.clone()).collect()),
            ],
        )?;
        let ups: Vec<(&Destination, &String, &Upstream)> = ds
            .iter()
            .flat_map(|d| d.upstreams.iter().map(move |(n, u)| (d, n, u)))
            .collect();
        let upstreams = RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("destination", DataType::Utf8, false),
                Field::new("upstream", DataType::Utf8, false),
                Field::new("reported_as", DataType::Utf8, false),
                Field::new("destination_type", DataType::Utf8, true),
                Field::new("session", DataType::Utf8, true),
                Field::new("internal", DataType::Boolean, false),
            ])),
            vec![
                s(ups.iter().map(|(d, _, _)| Some(d.name.clone())).collect()),
                s(ups.iter().map(|(_, n, _)| Some((*n).clone())).collect()),
                s(ups
                    .iter()
                    .map(|(_, _, u)| Some(u.destination.clone()))
                    .collect()),
                s(ups
                    .iter()
                    .map(|(_, _, u)| u.destination_type.clone())
                    .collect()),
                s(ups.iter().map(|(_, _, u)| u.session.clone()).collect()),
                Arc::new(BooleanArray::from(
                    ups.iter().map(|(_, _, u)| u.internal).collect::<Vec<_>>(),
                )),
            ],
        )?;
        for (name, batch) in [
            ("destinations", destinations),
            ("destination_upstreams", upstreams),
        ] {
            let table = MemTable::try_new(batch.schema(), vec![vec![batch]])?;
            let reference = TableReference::partial("config", name);
            ctx.deregister_table(reference.clone())?;
            ctx.register_table(reference, Arc::new(table))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config> {
        Config::parse(Path::new("ot.toml"), text)
    }

    #[test]
    fn toml_errors_never_print_values() {
        let secret = "hunter2-secret";
        for text in [
            format!("[checks]\npassword = \"{secret}\"\n"),
            format!("[calendar]\nholidays = \"{secret}\"\n"),
            format!(
                "[[destinations]]\nname = \"x\"\nreport = \"cat\"\nsubmitter_id = \"{secret}\n"
            ),
            format!("[[destinations]]\nname = 5\nuser = \"{secret}\"\n"),
        ] {
            let err = parse(&text).unwrap_err().to_string();
            assert!(!err.contains(secret), "{err}");
            assert!(err.starts_with("ot.toml: line "), "{err}");
        }
    }

    #[test]
    fn bundled_config_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/ordertrail.toml");
        let config = Config::load(&path).unwrap();
        assert!(
            config
                .destinations
                .iter()
                .any(|d| d.report == ReportKind::Cat)
        );
    }

    #[test]
    fn errors_name_file_and_key() {
        let err = parse("[[destinations]]\nname = \"x\"\nreport = \"cat\"\n").unwrap_err();
        assert!(
            err.to_string()
                .contains("ot.toml: destinations[0] (x).submitter_id is required"),
            "{err}"
        );
        let err = parse("[[destinations]]\nname = \"x\"\nreport = \"pdf\"\n").unwrap_err();
        assert!(
            err.to_string().contains("ot.toml") && err.to_string().contains("pdf"),
            "{err}"
        );
        let err = parse("[calendar]\nholidays = [\"2026-02-30\"]\n").unwrap_err();
        assert!(err.to_string().contains("holidays"), "{err}");
        let cat = "[[destinations]]\nname = \"x\"\nreport = \"cat\"\nsubmitter_id = \"1\"\n\
                   reporter_imid = \"B\"\ngroup = \"1\"\n";
        let err = parse(&format!("{cat}bzip2_level = 0\n")).unwrap_err();
        assert!(
            err.to_string()
                .contains("destinations[0] (x).bzip2_level must be from 1"),
            "{err}"
        );
        assert!(parse(&format!("{cat}bzip2_level = 10\n")).is_err());
        assert!(parse(&format!("{cat}bzip2_level = 1\n")).is_ok());
        let err = parse("colour = 1\n").unwrap_err();
        assert!(err.to_string().contains("colour"), "{err}");
    }
}
