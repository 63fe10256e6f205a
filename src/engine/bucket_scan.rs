//! Bucket splits: a bucketed stage reads each input table once, not once per bucket.
//!
//! A bucketed stage (see `pipeline`, "Bucketed stages") runs its SQL once per bucket, and each
//! run filters its inputs by `bucket(key, $buckets) = $bucket`. Served by a plain Parquet scan,
//! every bucket would read and decode the whole table to keep a `1/buckets` share of it: at
//! 10M orders in 16 buckets, `business_fill` read its 3 GB input 16 times.
//!
//! Every table the engine registers is wrapped in a [`BucketedTable`]. While a [`SplitScope`]
//! is open (one bucketed stage run), a scan whose filters include `bucket(col, n) = k` (or
//! `bucket(col, n) = k or col is null`) is served from a *split* of the table: the first such
//! scan reads the table once (whole rows, filtered by partition only), in its own partitions
//! and order, and writes each row to its bucket's scratch Parquet file (`scratch`, in the run's
//! spill folder); that scan and the later ones, for the other buckets or other columns, read
//! their bucket's files. A stage that reads a table in several places (a CTE used twice is
//! planned as two scans) makes one split of it. A split keeps the order of each
//! input partition, so a plan that relied on the files' sort order still merges rather than
//! sorts. Outside a scope, or with one bucket, scans go straight to the table.
//!
//! The filter stays in the plan above the scan (the pushdown is `Inexact`), so a split that
//! served more rows than asked would still give the right answer; it serves exactly the
//! bucket's rows. A NULL key is in bucket 0 (`bucket(NULL, n) = 0`), or, for the `or col is
//! null` form, in every bucket.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use arrow::array::UInt32Array;
use arrow::compute::{BatchCoalescer, take_record_batch};
use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{Result, ScalarValue};
use datafusion::datasource::TableType;
use datafusion::datasource::physical_plan::FileScanConfig;
use datafusion::datasource::source::DataSourceExec;
use datafusion::error::DataFusionError;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::execution::SpillFile;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::logical_expr::{BinaryExpr, Expr, Operator, TableProviderFilterPushDown};
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::{LexOrdering, PhysicalSortExpr};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::streaming::{PartitionStream, StreamingTableExec};
use datafusion::prelude::SessionContext;
use futures::StreamExt;

use super::scratch::{ScratchPart, ScratchWriter};
use crate::udf::bucket::for_each_bucket;

/// Rows per batch written to a bucket's file (each input partition keeps one batch per bucket
/// in memory while it is split).
const SPLIT_BATCH_ROWS: usize = 2048;

/// The splits of one bucketed stage run; kept in the session's configuration.
#[derive(Default)]
pub struct Splits {
    open: Mutex<Option<HashMap<SplitKey, Arc<Split>>>>,
}

impl fmt::Debug for Splits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let open = lock(&self.open).as_ref().map(|m| m.len());
        f.debug_struct("Splits").field("open", &open).finish()
    }
}

/// Opened by a bucketed stage run: while it lives, bucket-filtered scans are served from
/// splits. Dropping it drops the splits (their files are removed once no plan reads them).
pub struct SplitScope {
    splits: Option<Arc<Splits>>,
}

impl SplitScope {
    pub fn begin(ctx: &SessionContext) -> Self {
        let splits = ctx.state().config().get_extension::<Splits>();
        if let Some(s) = &splits {
            *lock(&s.open) = Some(HashMap::new());
        }
        Self { splits }
    }

    /// How many splits were made so far (one per table, key and bucket count read).
    pub fn made(&self) -> u64 {
        self.splits
            .as_ref()
            .and_then(|s| lock(&s.open).as_ref().map(|m| m.len() as u64))
            .unwrap_or(0)
    }
}

impl Drop for SplitScope {
    fn drop(&mut self) {
        if let Some(s) = &self.splits {
            *lock(&s.open) = None;
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What a split was made of: the same table, key, bucket count, NULL rule and files give the
/// same split.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct SplitKey {
    table: u64,
    column: String,
    buckets: u64,
    nulls_everywhere: bool,
    /// The files the split is made of (or, for a scan not of files, its partition filters).
    files: Vec<String>,
}

/// One table split by bucket: `files[bucket][partition]` (`None`: no rows).
struct Split {
    schema: SchemaRef,
    ordering: Option<LexOrdering>,
    files: Vec<Vec<Option<Arc<dyn SpillFile>>>>,
}

/// A recognised `bucket(col, n) = k [or col is null]` filter.
#[derive(Debug, PartialEq)]
struct BucketFilter {
    column: String,
    buckets: u64,
    bucket: u64,
    nulls_everywhere: bool,
}

impl BucketFilter {
    fn parse(expr: &Expr) -> Option<Self> {
        match expr {
            Expr::BinaryExpr(BinaryExpr {
                left,
                op: Operator::Or,
                right,
            }) => {
                let (eq, null) = match (left.as_ref(), right.as_ref()) {
                    (e, Expr::IsNull(c)) | (Expr::IsNull(c), e) => (e, c),
                    _ => return None,
                };
                let f = Self::parse_eq(eq)?;
                match null.as_ref() {
                    Expr::Column(c) if c.name == f.column => Some(Self {
                        nulls_everywhere: true,
                        ..f
                    }),
                    _ => None,
                }
            }
            e => Self::parse_eq(e),
        }
    }

    /// `bucket(col, n) = k`, either way round.
    fn parse_eq(expr: &Expr) -> Option<Self> {
        let Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Eq,
            right,
        }) = expr
        else {
            return None;
        };
        let (call, k) = match (left.as_ref(), right.as_ref()) {
            (Expr::ScalarFunction(f), Expr::Literal(k, _))
            | (Expr::Literal(k, _), Expr::ScalarFunction(f)) => (f, k),
            _ => return None,
        };
        if call.func.name() != "bucket" || call.args.len() != 2 {
            return None;
        }
        let Expr::Column(column) = &call.args[0] else {
            return None;
        };
        let Expr::Literal(n, _) = &call.args[1] else {
            return None;
        };
        let (buckets, bucket) = (int(n)?, int(k)?);
        (buckets >= 1 && bucket < buckets).then(|| Self {
            column: column.name.clone(),
            buckets,
            bucket,
            nulls_everywhere: false,
        })
    }
}

fn int(v: &ScalarValue) -> Option<u64> {
    match v {
        ScalarValue::Int64(Some(n)) => u64::try_from(*n).ok(),
        ScalarValue::Int32(Some(n)) => u64::try_from(*n).ok(),
        _ => None,
    }
}

/// A table whose bucket-filtered scans may be served from splits (see the module docs).
#[derive(Debug)]
pub struct BucketedTable {
    id: u64,
    inner: Arc<dyn TableProvider>,
}

impl BucketedTable {
    pub fn new(inner: Arc<dyn TableProvider>) -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        Self {
            id: NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            inner,
        }
    }
}

#[async_trait]
impl TableProvider for BucketedTable {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn table_type(&self) -> TableType {
        self.inner.table_type()
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        // A bucket filter stays above the scan (Inexact) whatever the table says of it.
        let inner = self.inner.supports_filters_pushdown(filters)?;
        Ok(filters
            .iter()
            .zip(inner)
            .map(|(f, p)| match BucketFilter::parse(f) {
                Some(_) => TableProviderFilterPushDown::Inexact,
                None => p,
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let splits = state.config().get_extension::<Splits>();
        let open = splits.as_ref().is_some_and(|s| lock(&s.open).is_some());
        let found = filters
            .iter()
            .enumerate()
            .find_map(|(i, f)| BucketFilter::parse(f).map(|b| (i, b)));
        let (Some(splits), true, Some((at, wanted))) = (splits, open, found) else {
            return self.inner.scan(state, projection, filters, limit).await;
        };
        if wanted.buckets == 1
            || limit.is_some()
            || self.inner.schema().index_of(&wanted.column).is_err()
        {
            return self.inner.scan(state, projection, filters, limit).await;
        }
        // The filters the table applies exactly (its partition columns) decide which files a
        // split holds. The others stay in the plan above the scan (Inexact), so one split of
        // the whole rows serves every scan of the table in the stage, whatever its columns.
        let mut exact = Vec::new();
        for (i, f) in filters.iter().enumerate() {
            let applied = self.inner.supports_filters_pushdown(&[f])?;
            if i != at && applied == [TableProviderFilterPushDown::Exact] {
                exact.push(f.clone());
            }
        }
        // Planning the scan lists the files it reads; scans that read the same files (e.g.
        // `trade_date = D` and `trade_date between D - 1 and D` when D - 1 has none) share
        // the split.
        let plan = self.inner.scan(state, None, &exact, None).await?;
        let key = SplitKey {
            table: self.id,
            column: wanted.column.clone(),
            buckets: wanted.buckets,
            nulls_everywhere: wanted.nulls_everywhere,
            files: files_read(&plan)
                .unwrap_or_else(|| exact.iter().map(|f| f.to_string()).collect()),
        };
        let existing = lock(&splits.open)
            .as_ref()
            .and_then(|m| m.get(&key).cloned());
        let split = match existing {
            Some(split) => split,
            None => {
                tracing::debug!(?key, "splitting a table by bucket");
                let split = Arc::new(make_split(state, plan, &wanted).await?);
                if let Some(m) = lock(&splits.open).as_mut() {
                    m.insert(key, Arc::clone(&split));
                }
                split
            }
        };
        let partitions = split.files[wanted.bucket as usize]
            .iter()
            .map(|file| {
                Arc::new(ScratchPart {
                    schema: Arc::clone(&split.schema),
                    file: file.clone(),
                    batch_size: state.config().batch_size(),
                }) as Arc<dyn PartitionStream>
            })
            .collect();
        let ordering = split
            .ordering
            .as_ref()
            .and_then(|o| project_ordering(o, projection));
        let exec = StreamingTableExec::try_new(
            Arc::clone(&split.schema),
            partitions,
            projection,
            ordering,
            false,
            None,
        )?;
        Ok(Arc::new(exec))
    }
}

/// The files a table scan reads, sorted (`None`: not a scan of files).
fn files_read(plan: &Arc<dyn ExecutionPlan>) -> Option<Vec<String>> {
    if plan.is::<EmptyExec>() {
        return Some(Vec::new());
    }
    let scan = plan.downcast_ref::<DataSourceExec>()?;
    let config = scan.data_source().downcast_ref::<FileScanConfig>()?;
    let mut files: Vec<String> = config
        .file_groups
        .iter()
        .flat_map(|group| group.iter())
        .map(|file| file.object_meta.location.to_string())
        .collect();
    files.sort();
    Some(files)
}

/// `ordering` of the whole rows as an ordering of the `projection`'s columns: its leading
/// columns that the projection keeps.
fn project_ordering(
    ordering: &LexOrdering,
    projection: Option<&Vec<usize>>,
) -> Option<LexOrdering> {
    let Some(projection) = projection else {
        return Some(ordering.clone());
    };
    let mut kept = Vec::new();
    for sort in ordering.iter() {
        let Some(column) = sort.expr.downcast_ref::<Column>() else {
            break;
        };
        let Some(at) = projection.iter().position(|i| *i == column.index()) else {
            break;
        };
        kept.push(PhysicalSortExpr::new(
            Arc::new(Column::new(column.name(), at)),
            sort.options,
        ));
    }
    LexOrdering::new(kept)
}

/// Read `plan` (every partition, at the same time) and write each row to its bucket's file.
async fn make_split(
    state: &dyn Session,
    plan: Arc<dyn ExecutionPlan>,
    wanted: &BucketFilter,
) -> Result<Split> {
    let schema = plan.schema();
    let key = schema.index_of(&wanted.column)?;
    let ordering = plan.properties().output_ordering().cloned();
    let task = state.task_ctx();
    let env = Arc::clone(state.runtime_env());
    let buckets = wanted.buckets as usize;
    let partitions = plan.properties().partitioning.partition_count();
    let mut tasks = tokio::task::JoinSet::new();
    for p in 0..partitions {
        let rows = plan.execute(p, Arc::clone(&task))?;
        let env = Arc::clone(&env);
        let nulls_everywhere = wanted.nulls_everywhere;
        tasks.spawn(async move {
            let files = split_partition(rows, key, buckets, nulls_everywhere, &env).await;
            (p, files)
        });
    }
    let mut files = vec![vec![None; partitions]; buckets];
    while let Some(done) = tasks.join_next().await {
        let (p, part) = done.map_err(|e| DataFusionError::External(Box::new(e)))?;
        for (bucket, file) in part?.into_iter().enumerate() {
            files[bucket][p] = file;
        }
    }
    Ok(Split {
        schema,
        ordering,
        files,
    })
}

/// One input partition's rows into one file per bucket, in the order they came.
async fn split_partition(
    mut rows: SendableRecordBatchStream,
    key: usize,
    buckets: usize,
    nulls_everywhere: bool,
    env: &Arc<RuntimeEnv>,
) -> Result<Vec<Option<Arc<dyn SpillFile>>>> {
    let schema = rows.schema();
    let mut coalescers: Vec<BatchCoalescer> = (0..buckets)
        .map(|_| BatchCoalescer::new(Arc::clone(&schema), SPLIT_BATCH_ROWS))
        .collect();
    let mut files = (0..buckets)
        .map(|_| ScratchWriter::create(env, Arc::clone(&schema), "bucket split"))
        .collect::<Result<Vec<_>>>()?;
    // Row numbers per bucket, in row order, from one pass over the keys; a row whose key is
    // null goes to every bucket when the scan's filter keeps nulls everywhere.
    let mut rows_of: Vec<Vec<u32>> = vec![Vec::new(); buckets];
    while let Some(batch) = rows.next().await {
        let batch = batch?;
        rows_of.iter_mut().for_each(Vec::clear);
        let mut row = 0u32;
        for_each_bucket(batch.column(key), buckets as u64, |b| {
            match (b, nulls_everywhere) {
                (None, true) => rows_of.iter_mut().for_each(|r| r.push(row)),
                (b, _) => rows_of[b.unwrap_or(0) as usize].push(row),
            }
            row += 1;
        })?;
        for ((coalescer, file), picked) in coalescers.iter_mut().zip(&mut files).zip(&rows_of) {
            if picked.is_empty() {
                continue;
            }
            let indices = UInt32Array::from_iter_values(picked.iter().copied());
            coalescer.push_batch(take_record_batch(&batch, &indices)?)?;
            while let Some(done) = coalescer.next_completed_batch() {
                file.write(&done)?;
            }
        }
    }
    let mut out = Vec::with_capacity(buckets);
    for (mut coalescer, mut file) in coalescers.into_iter().zip(files) {
        coalescer.finish_buffered_batch()?;
        while let Some(done) = coalescer.next_completed_batch() {
            file.write(&done)?;
        }
        out.push(file.finish()?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::{col, lit};

    fn bucket_call(column: &str, n: i64) -> Expr {
        let udf = Arc::new(datafusion::logical_expr::ScalarUDF::from(
            crate::udf::bucket::Bucket::new(),
        ));
        Expr::ScalarFunction(datafusion::logical_expr::expr::ScalarFunction::new_udf(
            udf,
            vec![col(column), lit(n)],
        ))
    }

    /// Sum and count of `v` per bucket, as SQL sees them.
    async fn per_bucket(ctx: &SessionContext, filter: &str) -> Vec<(i64, i64)> {
        let mut out = Vec::new();
        for k in 0..4 {
            let sql = format!(
                "select count(*) as n, coalesce(sum(v), 0) as s from t \
                 where trade_date = date '2026-11-19' and ({})",
                filter.replace("$k", &k.to_string())
            );
            let batches = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
            let n = batches[0]
                .column(0)
                .as_any()
                .downcast_ref::<arrow::array::Int64Array>();
            let s = batches[0]
                .column(1)
                .as_any()
                .downcast_ref::<arrow::array::Int64Array>();
            out.push((n.unwrap().value(0), s.unwrap().value(0)));
        }
        out
    }

    /// The plan of `select v from t where <filter>`, as text.
    async fn explain(ctx: &SessionContext, filter: &str) -> String {
        let sql = format!("explain select v from t where {filter}");
        let batches = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
        arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string()
    }

    /// Within a scope, every bucket's scan of a table reads one split (two for the two NULL rules)
    /// and see exactly the rows a plain scan filtered by bucket sees.
    #[tokio::test]
    async fn bucket_filtered_scans_read_a_split_made_once() {
        let dir = tempfile::tempdir().unwrap();
        let lake = crate::lake::Lake::new(dir.path());
        let options = crate::engine::EngineOptions {
            memory_limit: 256 << 20,
            target_partitions: 2,
            buckets: None,
        };
        let ctx = crate::engine::new_context(&lake, &options).unwrap();
        let table = dir.path().join("t");
        let file = table.join("trade_date=2026-11-19").join("part-0.parquet");
        let copy = format!(
            "copy (select case when value % 97 = 0 then null \
                   else 'K' || cast(value % 501 as varchar) end as chain_id, value as v \
                   from generate_series(1, 30000)) to '{}' stored as parquet",
            file.display()
        );
        ctx.sql(&copy).await.unwrap().collect().await.unwrap();
        crate::engine::register_stage(&ctx, &table, "t")
            .await
            .unwrap();

        let plain = "bucket(chain_id, 4) = $k";
        let or_null = "bucket(chain_id, 4) = $k or chain_id is null";
        let expected = (
            per_bucket(&ctx, plain).await,
            per_bucket(&ctx, or_null).await,
        );
        // Every row in exactly one bucket; NULL keys in bucket 0, or in every bucket.
        let total: i64 = expected.0.iter().map(|(n, _)| n).sum();
        assert_eq!(total, 30000);
        let nulls = 30000 / 97;
        let total_or_null: i64 = expected.1.iter().map(|(n, _)| n).sum();
        assert_eq!(total_or_null, 30000 + 3 * nulls);

        let scope = SplitScope::begin(&ctx);
        let text = explain(&ctx, &plain.replace("$k", "1")).await;
        assert!(
            text.contains("StreamingTableExec"),
            "not served from a split: {text}"
        );
        assert_eq!(scope.made(), 1);
        assert_eq!(per_bucket(&ctx, plain).await, expected.0);
        assert_eq!(
            scope.made(),
            1,
            "the same file, filtered by date or not: one split"
        );
        assert_eq!(per_bucket(&ctx, or_null).await, expected.1);
        assert_eq!(scope.made(), 2);
        drop(scope);
        // Out of the scope, scans go to the table again.
        let text = explain(&ctx, &plain.replace("$k", "1")).await;
        assert!(!text.contains("StreamingTableExec"), "{text}");
    }

    #[test]
    fn bucket_predicates_are_recognised_in_both_forms_only() {
        let plain = bucket_call("chain_id", 16).eq(lit(3i64));
        assert_eq!(
            BucketFilter::parse(&plain),
            Some(BucketFilter {
                column: "chain_id".into(),
                buckets: 16,
                bucket: 3,
                nulls_everywhere: false
            })
        );
        let reversed = lit(3i64).eq(bucket_call("chain_id", 16));
        assert_eq!(BucketFilter::parse(&reversed), BucketFilter::parse(&plain));
        let or_null = bucket_call("k", 4).eq(lit(0i64)).or(col("k").is_null());
        assert!(BucketFilter::parse(&or_null).is_some_and(|f| f.nulls_everywhere));
        // Another column's NULLs, another operator, or a bucket out of range: not a split.
        let other_null = bucket_call("k", 4).eq(lit(0i64)).or(col("j").is_null());
        assert_eq!(BucketFilter::parse(&other_null), None);
        assert_eq!(
            BucketFilter::parse(&bucket_call("k", 4).lt(lit(2i64))),
            None
        );
        assert_eq!(
            BucketFilter::parse(&bucket_call("k", 4).eq(lit(4i64))),
            None
        );
        assert_eq!(BucketFilter::parse(&col("k").eq(lit(1i64))), None);
    }
}
