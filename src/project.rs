//! The project a command works in: the versioned SQL folder, the source declarations and the
//! configuration, found in `--project` or the working directory (never the checkout the binary
//! was built from).

use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::engine::{self, EngineOptions};
use crate::error::{Error, Result};
use crate::lake::Lake;
use crate::sources::Sources;
use crate::stages::StageGraph;
use datafusion::prelude::SessionContext;

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
    pub fn intervals(&self) -> Result<crate::intervals::ProjectRef<'_>> {
        let text = std::fs::read(&self.config.path).map_err(|e| Error::io(&self.config.path, e))?;
        Ok(crate::intervals::ProjectRef {
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
        context_for(lake, &self.sources, &self.graph, &self.config, options).await
    }
}

pub fn fixtures_dir(arg: &Option<PathBuf>) -> PathBuf {
    arg.clone().unwrap_or_else(|| default_path("data-fixtures"))
}

/// A context with every source table, every existing stage output and the configuration
/// tables registered.
pub async fn context_for(
    lake: &Lake,
    sources: &Sources,
    graph: &StageGraph,
    config: &Config,
    options: &engine::EngineOptions,
) -> Result<SessionContext> {
    let ctx = engine::new_context(lake, options)?;
    let ctx = match &options.cluster {
        Some(address) => on_cluster(ctx, address).await?,
        None => ctx,
    };
    let buckets = lake_buckets(lake, graph, options.buckets, config.lake.buckets)?;
    engine::set_buckets(&ctx, buckets);
    config.register(&ctx)?;
    engine::register_recon(&ctx, None)?;
    for table in &sources.tables {
        if lake.raw_table_dir(&table.db, &table.name).exists() {
            engine::register_source(&ctx, lake, table).await?;
        }
    }
    for stage in &graph.stages {
        let dir = lake.stage_table_dir(&graph.version, &stage.name);
        if has_files(&dir) {
            engine::register_stage(&ctx, &dir, &stage.name, stage.bucket_by.is_some()).await?;
        }
    }
    Ok(ctx)
}

/// The lake's bucket count for `graph`'s SQL version: the recorded one; when none is recorded
/// yet, `flag` (`--buckets`), else `configured` (`[lake] buckets`, for new lakes), else
/// [`engine::DEFAULT_BUCKETS`] (recorded when the first stage is written in buckets). A
/// `--buckets` other than the lake's is an error: buckets of two counts must never mix.
pub fn lake_buckets(
    lake: &Lake,
    graph: &StageGraph,
    flag: Option<usize>,
    configured: Option<usize>,
) -> Result<usize> {
    let dir = lake.root().join("stages").join(&graph.version);
    let recorded = crate::lake::recorded_buckets(&dir)?;
    match (recorded, flag) {
        (Some(have), Some(want)) if have != want => Err(Error::input_hint(
            format!(
                "the lake {} was written in {have} buckets, not {want} (recorded in {})",
                lake.root().display(),
                dir.join("_buckets").display()
            ),
            format!(
                "drop --buckets to use {have}; to change the count, restate every date into a \
                 new lake: ordertrail run --lake NEW --buckets {want} --date D"
            ),
        )),
        (Some(have), _) => Ok(have),
        (None, flag) => {
            let n = flag.or(configured).unwrap_or(engine::DEFAULT_BUCKETS);
            if n == 0 || n > engine::MAX_BUCKETS {
                return Err(Error::input(format!(
                    "a lake has 1 to {} buckets, not {n}",
                    engine::MAX_BUCKETS
                )));
            }
            Ok(n)
        }
    }
}

fn has_files(dir: &std::path::Path) -> bool {
    Lake::partition_dates(dir).is_ok_and(|d| !d.is_empty())
}

/// `ctx` with its queries run by the cluster at `address` (see `cluster`).
#[cfg(feature = "cluster")]
async fn on_cluster(ctx: SessionContext, address: &str) -> Result<SessionContext> {
    crate::cluster::connect(ctx, address).await
}

#[cfg(not(feature = "cluster"))]
async fn on_cluster(_ctx: SessionContext, address: &str) -> Result<SessionContext> {
    Err(Error::input_hint(
        format!("--cluster {address}: this binary was built without cluster support"),
        "build it with `cargo build --release --features cluster`, or drop --cluster",
    ))
}
