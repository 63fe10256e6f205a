//! One file per subcommand. Shared here: resolving where the SQL, sources and fixtures are.

pub mod check;
pub mod demo;
pub mod diff;
pub mod extract;
pub mod ingest;
pub mod init;
pub mod lineage;
pub mod load;
pub mod query;
pub mod report;
pub mod run;
pub mod schedule;
pub mod serve;
pub mod stages;
pub mod status;
pub mod sync;
pub mod synth;
pub mod test;
pub mod validate_cat;
pub mod verify;

use std::path::PathBuf;

use crate::cli::{EngineArgs, SqlArgs};
use crate::config::Config;
use crate::engine::EngineOptions;
use crate::error::{Error, Result};
use crate::sources::Sources;
use crate::stages::StageGraph;

/// The project folder defaults are read from: `--project`, else the working directory.
static PROJECT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// Read defaults (sql/, config/, data-fixtures/) from `dir` (`--project`).
pub fn set_project(dir: PathBuf) {
    let _ = PROJECT.set(dir);
}

/// A default path within the project (`--project`, else the working directory). Never the
/// checkout the binary was built from: an installed binary reads the project it runs in
/// (`ordertrail init` makes one).
fn default_path(relative: &str) -> PathBuf {
    match PROJECT.get() {
        Some(dir) => dir.join(relative),
        None => PathBuf::from(relative),
    }
}

/// The SQL folder, the sources file, and what they declare.
pub struct Project {
    pub sources: Sources,
    pub graph: StageGraph,
    pub config: Config,
}

impl Project {
    pub fn load(args: &SqlArgs) -> Result<Project> {
        let sql = args.sql.clone().unwrap_or_else(|| default_path("sql/v1"));
        if !sql.is_dir() {
            return Err(Error::input_hint(
                format!("SQL folder {} does not exist", sql.display()),
                "run in an ordertrail project (`ordertrail init DIR` makes one), or pass \
                 --project DIR, or the versioned SQL folder with --sql, e.g. --sql sql/v1",
            ));
        }
        let sources_path = match &args.sources {
            Some(p) => p.clone(),
            None => sql
                .parent()
                .map(|p| p.join("sources.sql"))
                .unwrap_or_else(|| PathBuf::from("sources.sql")),
        };
        if !sources_path.exists() {
            return Err(Error::input_hint(
                format!("source declarations {} not found", sources_path.display()),
                "pass them with --sources FILE",
            ));
        }
        let sources = Sources::load(&sources_path)?;
        let graph = StageGraph::load(&sql, &sources)?;
        let config_path = args
            .config
            .clone()
            .unwrap_or_else(|| default_path("config/ordertrail.toml"));
        let config = Config::load(&config_path)?;
        Ok(Project {
            sources,
            graph,
            config,
        })
    }
}

impl Project {
    /// A DataFusion context over `lake` with this project's sources, stage outputs and
    /// configuration tables registered.
    /// What an interval run needs to know about the project.
    pub fn intervals(&self) -> Result<crate::intervals::Project<'_>> {
        let text = std::fs::read(&self.config.path).map_err(|e| Error::io(&self.config.path, e))?;
        Ok(crate::intervals::Project {
            graph: &self.graph,
            sources: &self.sources,
            config_hash: crate::intervals::fingerprint::sha256_hex(&text),
        })
    }

    pub async fn context(
        &self,
        lake: &crate::lake::Lake,
        options: &EngineOptions,
    ) -> Result<datafusion::prelude::SessionContext> {
        crate::pipeline::context_for(lake, &self.sources, &self.graph, &self.config, options).await
    }
}

pub fn fixtures_dir(arg: &Option<PathBuf>) -> PathBuf {
    arg.clone().unwrap_or_else(|| default_path("data-fixtures"))
}

pub fn engine_options(args: &EngineArgs) -> EngineOptions {
    let mut options = EngineOptions::default();
    if let Some(limit) = args.memory_limit {
        options.memory_limit = limit;
    }
    options.buckets = args.buckets.map(usize::from);
    if let Some(jobs) = args.jobs {
        options.jobs = usize::from(jobs);
    }
    options
}
