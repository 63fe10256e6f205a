//! The stages on an Apache DataFusion Ballista cluster (`--features cluster`).
//!
//! `ordertrail cluster scheduler` and `ordertrail cluster executor` are Ballista's scheduler and
//! executor with ordertrail's functions compiled in (Ballista's own binaries do not know
//! `fix_tag` or `bucket`). A command given `--cluster HOST:PORT` keeps everything it does
//! locally (the DAG, parameters, the interval state, writing files aside and swapping them in)
//! and sends each query, one per stage run or bucket run, to the scheduler as a job: the
//! executors read the lake's files (a path every process reaches) and the rows come back to
//! be written. So a cluster run writes the same bytes as a local one, and buckets run `--jobs`
//! at a time as jobs the executors share.
//!
//! Small in-memory tables (the configuration's destinations, the reconciliation totals) travel
//! inside the plan: [`Codec`] carries a `MemTable` as Arrow IPC.

use std::io::Cursor;
use std::net::SocketAddr;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use ballista::prelude::{SessionConfigExt, SessionContextExt};
use ballista_core::config::TaskSchedulingPolicy;
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_core::serde::BallistaLogicalExtensionCodec;
use datafusion::catalog::TableProvider;
use datafusion::common::TableReference;
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::FileFormatFactory;
use datafusion::execution::{SessionState, SessionStateBuilder, TaskContext};
use datafusion::logical_expr::{Extension, LogicalPlan};
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion_proto::logical_plan::LogicalExtensionCodec;

use crate::error::{Error, Result};

mod faults;

/// Connect `ctx` (tables not yet registered) to the scheduler at `address` (`HOST:PORT`):
/// the same configuration, its queries planned and run by the cluster.
pub async fn connect(ctx: SessionContext, address: &str) -> Result<SessionContext> {
    let url = format!("df://{address}");
    // Fail here, naming the address, rather than at the first query.
    let target = address.parse::<SocketAddr>().ok().or_else(|| {
        std::net::ToSocketAddrs::to_socket_addrs(address)
            .ok()?
            .next()
    });
    let reachable = target.is_some_and(|a| {
        std::net::TcpStream::connect_timeout(&a, std::time::Duration::from_secs(5)).is_ok()
    });
    if !reachable {
        return Err(Error::input_hint(
            format!("no Ballista scheduler answers at {address}"),
            "start one with `ordertrail cluster scheduler --bind HOST:PORT` (and executors \
             with `ordertrail cluster executor --scheduler HOST:PORT`), or drop --cluster to \
             run locally",
        ));
    }
    let state = ctx.state();
    let config = state
        .config()
        .clone()
        .with_ballista_logical_extension_codec(Arc::new(Codec::default()))
        .with_extension(Arc::new(crate::engine::OnCluster));
    let state = SessionStateBuilder::new_from_existing(state)
        .with_config(config)
        .build();
    let ctx = SessionContext::remote_with_state(&url, state).await?;
    // Ballista replaces the session's functions with its own: ours again.
    crate::udf::register_all(&ctx);
    // Stages are planned once, by the scheduler's session (see `session_state`): the
    // adaptive planner re-optimizes each stage with DataFusion's sanity check, which rejects
    // plans it cannot see are sorted (see there).
    let state = ctx.state_ref();
    let mut state = state.write();
    let options = state.config_mut().options_mut();
    options.set("ballista.planner.adaptive.enabled", "false")?;
    // Executors fetch each other's shuffle files as Flight streams (`do_get`), not as raw
    // blocks: with Ballista 55.0.0's block transport, a connection that breaks before the
    // first block (the executor serving it lost) fails the job instead of being a failed fetch
    // that the scheduler answers by running the lost executor's work again. See
    // docs/cluster.md ("An executor lost").
    options.set("ballista.shuffle.remote_read_prefer_flight", "true")?;
    // A sort with a limit (a check's sample rows) decoded on an executor has no TopK to share
    // its dynamic filter with, and DataFusion asserts there is one: no such filters.
    options.optimizer.enable_topk_dynamic_filter_pushdown = false;
    drop(state);
    Ok(ctx)
}

/// Run a scheduler on `bind` until the process is stopped. An executor silent for
/// `executor_timeout` seconds is taken for lost: its running tasks, and the finished ones whose
/// shuffle files it held, run again on the others.
pub async fn run_scheduler(bind: SocketAddr, executor_timeout: u64) -> Result<()> {
    use ballista_scheduler::cluster::BallistaCluster;
    use ballista_scheduler::config::SchedulerConfig;
    let mut config = SchedulerConfig::default()
        .with_hostname(bind.ip().to_string())
        .with_port(bind.port())
        .with_override_session_builder(Arc::new(session_state))
        .with_scheduler_policy(TaskSchedulingPolicy::PullStaged);
    config.bind_host = bind.ip().to_string();
    config.executor_timeout_seconds = executor_timeout;
    config.expire_dead_executor_interval_seconds = (executor_timeout / 3).clamp(1, 15);
    // With every executor gone, jobs wait this long for one to come back before they fail.
    config.no_executors_grace_period_seconds = executor_timeout;
    config.override_logical_codec = Some(Arc::new(Codec::default()));
    let cluster = BallistaCluster::new_from_config(&config)
        .await
        .map_err(ballista_error)?;
    ballista_scheduler::scheduler_process::start_server(cluster, bind, Arc::new(config))
        .await
        .map_err(ballista_error)
}

/// Where an executor listens and which scheduler it serves.
#[derive(Debug, Clone)]
pub struct ExecutorSettings {
    /// The scheduler's host (a name or an address) and port.
    pub scheduler: (String, u16),
    pub bind: std::net::IpAddr,
    /// The host others reach it by (`None`: the address the scheduler sees).
    pub advertise: Option<String>,
    /// Arrow Flight port (results and shuffles).
    pub flight_port: u16,
    /// gRPC port (tasks from the scheduler).
    pub grpc_port: u16,
    /// Tasks run at once.
    pub concurrent_tasks: usize,
    /// Shuffle files.
    pub work_dir: Option<String>,
    /// Bytes the tasks share before they spill (`None`: Ballista's share of the machine).
    pub memory_limit: Option<usize>,
}

/// Run an executor until the process is stopped.
pub async fn run_executor(settings: ExecutorSettings) -> Result<()> {
    use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
    // Every function a local session knows (Ballista's default registry leaves out the
    // nested ones, e.g. `cardinality`), and ours.
    let mut registry = BallistaFunctionRegistry::default();
    for (name, f) in all_functions() {
        registry.scalar_functions.insert(name, f);
    }
    // Without Ballista's client pool (not public): each shuffle fetch opens its connection.
    let engine =
        WithoutOperatorMetrics(ballista_executor::execution_engine::DefaultExecutionEngine::new());
    let config = ExecutorProcessConfig {
        override_execution_engine: Some(Arc::new(engine)),
        bind_host: settings.bind.to_string(),
        external_host: settings.advertise,
        port: settings.flight_port,
        grpc_port: settings.grpc_port,
        scheduler_host: settings.scheduler.0,
        scheduler_port: settings.scheduler.1,
        vcores: settings.concurrent_tasks.max(1),
        work_dir: settings.work_dir,
        memory_pool_size: settings.memory_limit.map(|m| m as u64),
        task_scheduling_policy: TaskSchedulingPolicy::PullStaged,
        override_function_registry: Some(Arc::new(registry)),
        override_arrow_flight_service: faults::flight_service(),
        override_config_producer: Some(Arc::new(executor_config)),
        ..Default::default()
    };
    start_executor_process(Arc::new(config))
        .await
        .map_err(ballista_error)
}

/// The user agent an executor's gRPC requests carry (shuffle fetches from other executors).
const EXECUTOR_AGENT: &str = concat!("ordertrail-executor/", env!("CARGO_PKG_VERSION"));

/// The session configuration an executor's tasks start from: Ballista's, with requests to other
/// executors carrying [`EXECUTOR_AGENT`] (which also tells them apart in a proxy's logs).
fn executor_config() -> SessionConfig {
    SessionConfig::new_with_ballista().with_ballista_override_create_grpc_client_endpoint(Arc::new(
        |endpoint| Ok(endpoint.user_agent(EXECUTOR_AGENT)?),
    ))
}

/// Ballista's execution engine, reporting no operator metrics with a finished task: for some
/// of our plans the scheduler's stage has one operator fewer than the executor's, it refuses
/// the task's metrics ("task metrics array size ... does not equal"), and with them the task's
/// status, so the job never ends. Tasks report their status alone.
struct WithoutOperatorMetrics(ballista_executor::execution_engine::DefaultExecutionEngine);

impl ballista_executor::execution_engine::ExecutionEngine for WithoutOperatorMetrics {
    fn create_query_stage_exec(
        &self,
        job_id: ballista_core::JobId,
        stage_id: usize,
        task_id: usize,
        global_output_partition_ids: Vec<usize>,
        plan: Arc<dyn datafusion::physical_plan::ExecutionPlan>,
        work_dir: &str,
        config: &SessionConfig,
    ) -> datafusion::common::Result<Arc<dyn ballista_executor::execution_engine::QueryStageExecutor>>
    {
        let inner = self.0.create_query_stage_exec(
            job_id,
            stage_id,
            task_id,
            global_output_partition_ids,
            plan,
            work_dir,
            config,
        )?;
        Ok(Arc::new(NoMetrics(inner)))
    }
}

#[derive(Debug)]
struct NoMetrics(Arc<dyn ballista_executor::execution_engine::QueryStageExecutor>);

impl std::fmt::Display for NoMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[async_trait::async_trait]
impl ballista_executor::execution_engine::QueryStageExecutor for NoMetrics {
    async fn execute_query_stage(
        &self,
        task_id: usize,
        context: Arc<TaskContext>,
    ) -> datafusion::common::Result<Vec<ballista_core::serde::protobuf::ShuffleWritePartition>>
    {
        faults::at_task_start();
        self.0.execute_query_stage(task_id, context).await
    }

    fn collect_plan_metrics(&self) -> Vec<datafusion::physical_plan::metrics::MetricsSet> {
        Vec::new()
    }

    fn collect_runtime_stats_reports(
        &self,
    ) -> Vec<ballista_core::serde::protobuf::RuntimeStatsReport> {
        self.0.collect_runtime_stats_reports()
    }

    fn collect_window_state_reports(
        &self,
    ) -> datafusion::common::Result<Vec<ballista_core::serde::protobuf::WindowStateReport>> {
        self.0.collect_window_state_reports()
    }

    fn collect_column_stats(&self) -> Vec<ballista_core::serde::protobuf::TaskColumnStats> {
        self.0.collect_column_stats()
    }
}

/// The scheduler's session for a job: Ballista's defaults with ordertrail's functions, so
/// that plans naming them can be decoded.
///
/// Without DataFusion's `SanityCheckPlan` on the stages Ballista cuts: it rejects a merge
/// by `(gateway, src_id)` over a union whose branches each have one gateway (sorted by
/// `src_id` alone), because the exchange between the stages loses the fact that `gateway` is
/// constant in each partition (the plan is right; the check cannot see it). Outputs on the
/// cluster are compared with local runs byte for byte in the tests.
fn session_state(mut config: SessionConfig) -> datafusion::common::Result<SessionState> {
    // See `connect`: no TopK dynamic filters in plans that executors decode.
    config
        .options_mut()
        .optimizer
        .enable_topk_dynamic_filter_pushdown = false;
    let state = ballista_core::utils::default_session_builder(config)?;
    let functions = all_functions().into_values().collect::<Vec<_>>();
    let rules = state
        .physical_optimizers()
        .iter()
        .filter(|r| r.name() != "SanityCheckPlan")
        .cloned()
        .collect();
    Ok(SessionStateBuilder::new_from_existing(state)
        .with_scalar_functions(functions)
        .with_physical_optimizer_rules(rules)
        .build())
}

/// Every scalar function by name: DataFusion's (all its default features), Ballista's, ours.
fn all_functions() -> std::collections::HashMap<String, Arc<datafusion::logical_expr::ScalarUDF>> {
    let local = SessionStateBuilder::new().with_default_features().build();
    let mut out: std::collections::HashMap<_, _> = local
        .scalar_functions()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for f in ballista_core::extension::ballista_scalar_functions()
        .into_iter()
        .chain(crate::udf::all())
    {
        out.insert(f.name().to_string(), f);
    }
    out
}

fn ballista_error(e: ballista_core::error::BallistaError) -> Error {
    Error::input(format!("cluster: {e}"))
}

/// Ballista's logical codec, plus in-memory tables carried as Arrow IPC.
#[derive(Debug, Default)]
pub struct Codec {
    inner: BallistaLogicalExtensionCodec,
}

/// What a table carried by [`Codec`] starts with.
const MEM_TABLE: &[u8] = b"ordertrail-memtable-1\n";

impl LogicalExtensionCodec for Codec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[LogicalPlan],
        ctx: &TaskContext,
    ) -> datafusion::common::Result<Extension> {
        self.inner.try_decode(buf, inputs, ctx)
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> datafusion::common::Result<()> {
        self.inner.try_encode(node, buf)
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> datafusion::common::Result<Arc<dyn TableProvider>> {
        let Some(ipc) = buf.strip_prefix(MEM_TABLE) else {
            return self
                .inner
                .try_decode_table_provider(buf, table_ref, schema, ctx);
        };
        let reader = arrow::ipc::reader::StreamReader::try_new(Cursor::new(ipc), None)?;
        let batches = reader.collect::<std::result::Result<Vec<RecordBatch>, _>>()?;
        Ok(Arc::new(MemTable::try_new(schema, vec![batches])?))
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> datafusion::common::Result<()> {
        let Some(mem) = node.downcast_ref::<MemTable>() else {
            return self.inner.try_encode_table_provider(table_ref, node, buf);
        };
        buf.extend_from_slice(MEM_TABLE);
        let schema = mem.schema();
        let mut writer = arrow::ipc::writer::StreamWriter::try_new(&mut *buf, &schema)?;
        for partition in &mem.batches {
            let batches = partition.try_read().map_err(|_| {
                datafusion::common::DataFusionError::Internal(format!(
                    "in-memory table {table_ref} is being written"
                ))
            })?;
            for batch in batches.iter() {
                writer.write(batch)?;
            }
        }
        writer.finish()?;
        Ok(())
    }

    fn try_decode_file_format(
        &self,
        buf: &[u8],
        ctx: &TaskContext,
    ) -> datafusion::common::Result<Arc<dyn FileFormatFactory>> {
        self.inner.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(
        &self,
        buf: &mut Vec<u8>,
        node: Arc<dyn FileFormatFactory>,
    ) -> datafusion::common::Result<()> {
        self.inner.try_encode_file_format(buf, node)
    }
}
