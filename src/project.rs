//! The project a command works in: the versioned SQL folder, the source declarations and the
//! configuration, found in `--project` or the working directory (never the checkout the binary
//! was built from).

use std::path::{Path, PathBuf};

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
pub fn default_path(relative: &str) -> PathBuf {
    match PROJECT.get() {
        Some(dir) => dir.join(relative),
        None => PathBuf::from(relative),
    }
}

/// The SQL folder, the sources file, and what they declare.
#[derive(Debug, Clone)]
pub struct Project {
    pub sources: Sources,
    pub graph: StageGraph,
    pub config: Config,
}

impl Project {
    /// Load the project: `sql` (default `sql/v1`), `sources` (default `sources.sql` beside the
    /// SQL folder) and `config` (default `config/ordertrail.toml`), defaults within the project.
    pub fn load(
        sql: Option<&Path>,
        sources: Option<&Path>,
        config: Option<&Path>,
    ) -> Result<Project> {
        let sql = sql
            .map(Path::to_path_buf)
            .unwrap_or_else(|| default_path("sql/v1"));
        if !sql.is_dir() {
            return Err(Error::input_hint(
                format!("SQL folder {} does not exist", sql.display()),
                "run in an ordertrail project (`ordertrail init DIR` makes one), or pass \
                 --project DIR, or the versioned SQL folder with --sql, e.g. --sql sql/v1",
            ));
        }
        let sources_path = match sources {
            Some(p) => p.to_path_buf(),
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
        let config_path = config
            .map(Path::to_path_buf)
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
    /// What an interval run needs to know about the project.
    pub fn intervals(&self) -> Result<crate::intervals::Project<'_>> {
        let text = std::fs::read(&self.config.path).map_err(|e| Error::io(&self.config.path, e))?;
        Ok(crate::intervals::Project {
            graph: &self.graph,
            sources: &self.sources,
            config_hash: crate::intervals::fingerprint::sha256_hex(&text),
        })
    }

    /// A DataFusion context over `lake` with this project's sources, stage outputs and
    /// configuration tables registered.
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
