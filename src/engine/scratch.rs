//! Scratch Parquet files: rows a run sets aside and reads back once or a few times (the
//! bucket splits of `bucket_scan`, a bucketed stage's buckets). They live in the run's spill
//! folder and are removed when the last plan reading them is dropped.
//!
//! Parquet, not Arrow IPC: at 10M orders an LZ4 IPC split of `business_fill` (4.1 GB as the
//! stage's Parquet) took 32 GB, and `lifecycle`'s split plus its buckets filled the disk.

use std::fmt;
use std::fs::File;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use datafusion::common::Result;
use datafusion::error::DataFusionError;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::execution::{SendableRecordBatchStream, SpillFile, TaskContext};
use datafusion::physical_plan::stream::{EmptyRecordBatchStream, RecordBatchStreamAdapter};
use datafusion::physical_plan::streaming::PartitionStream;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use parquet::file::properties::{EnabledStatistics, WriterProperties};

/// Rows per row group: a writer holds one row group in memory, and a split keeps one writer
/// per bucket and input partition open at a time.
const ROW_GROUP_ROWS: usize = 16 * 1024;

/// Rows written to one scratch file.
pub struct ScratchWriter {
    file: Arc<dyn SpillFile>,
    writer: ArrowWriter<File>,
    rows: usize,
}

impl ScratchWriter {
    pub fn create(env: &Arc<RuntimeEnv>, schema: SchemaRef, what: &str) -> Result<Self> {
        let file = env.disk_manager.create_tmp_file(what)?;
        let path = file.path().ok_or_else(|| {
            DataFusionError::Execution(format!("{what}: scratch files must be on local disk"))
        })?;
        let out = File::create(path)?;
        // Fast to write and read back: no statistics (nothing is pruned), no dictionaries (a
        // dictionary is built per column and 16k-row row group by hashing every value; the
        // FIX text, 205 bytes a message on average at 1M orders, outgrows the 1 MiB dictionary
        // page and falls back to plain anyway). At 1M orders, `run --stage flow_complete
        // --buckets 16` (which reruns `stg_fix_msg` and `flow`, not bucketed) took 7-21 CPU s
        // less of 141-178 (three pairs alternated, same bytes); the spill folder's peak grew
        // from 1.26 to 1.33-1.36 GB (see bench/NOTES.md).
        let props = WriterProperties::builder()
            .set_compression(Compression::LZ4_RAW)
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .set_statistics_enabled(EnabledStatistics::None)
            .set_dictionary_enabled(false)
            .build();
        let writer = ArrowWriter::try_new(out, schema, Some(props))?;
        Ok(Self {
            file,
            writer,
            rows: 0,
        })
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.rows += batch.num_rows();
        self.writer.write(batch)?;
        Ok(())
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The written file (`None`: no rows).
    pub fn finish(self) -> Result<Option<Arc<dyn SpillFile>>> {
        self.writer.close()?;
        Ok((self.rows > 0).then_some(self.file))
    }
}

/// A scratch file (or none: no rows) read as one partition.
pub struct ScratchPart {
    pub schema: SchemaRef,
    pub file: Option<Arc<dyn SpillFile>>,
    pub batch_size: usize,
}

impl fmt::Debug for ScratchPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.file.as_ref().and_then(|file| file.path());
        f.debug_struct("ScratchPart").field("file", &path).finish()
    }
}

impl PartitionStream for ScratchPart {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let schema = Arc::clone(&self.schema);
        let Some(file) = &self.file else {
            return Box::pin(EmptyRecordBatchStream::new(schema));
        };
        let open = || -> Result<_> {
            let path = file.path().ok_or_else(|| {
                DataFusionError::Execution("scratch files must be on local disk".into())
            })?;
            let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(path)?)?
                .with_batch_size(self.batch_size)
                .build()?;
            // Keeps the file until the stream is dropped.
            let file = Arc::clone(file);
            Ok(reader.map(move |batch| {
                let _ = &file;
                batch.map_err(DataFusionError::from)
            }))
        };
        match open() {
            Ok(batches) => Box::pin(RecordBatchStreamAdapter::new(
                schema,
                futures::stream::iter(batches),
            )),
            Err(e) => Box::pin(RecordBatchStreamAdapter::new(
                schema,
                futures::stream::once(async move { Err(e) }),
            )),
        }
    }
}
