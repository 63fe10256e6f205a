//! `ordertrail publish`: put a day's source rows on the feed, one JSON message per row, as the
//! trading system's services would. For trying the feed on the fixture day, for replaying a
//! landed day into another lake, and for tests and benchmarks.
//!
//! A row is a JSON object with the table's columns as `sql/sources.sql` declares them
//! (timestamps as RFC 3339 UTC, decimals as exact numbers, NULL columns left out). JetStream
//! messages go to `<subject_prefix>.<db>.<table>`; RabbitMQ messages to the feed's queue with
//! `db.table` in the `type` property, persistent, with publisher confirms.

use std::collections::VecDeque;

use arrow::array::RecordBatch;
use lapin::BasicProperties;
use lapin::options::BasicPublishOptions;

use super::config::{FeedKind, IngestConfig};
use super::feed::{confirm_publishes, nats_stream, rabbit_channel};
use crate::error::{Error, Result};
use crate::sources::SourceTable;

/// Publishes in flight before the oldest confirm is awaited.
const IN_FLIGHT: usize = 4096;

/// Rows of one table to publish.
pub struct TableRows {
    pub table: SourceTable,
    pub batches: Vec<RecordBatch>,
}

/// The JSON message of every row, in order.
pub fn json_rows(batch: &RecordBatch) -> Result<Vec<Vec<u8>>> {
    let mut writer = arrow::json::LineDelimitedWriter::new(Vec::new());
    writer.write(batch)?;
    writer.finish()?;
    let text = writer.into_inner();
    Ok(text
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect())
}

/// Publish every row (and every `repeat_every`-th row a second time, as a publisher that
/// retried would). Returns the number of messages published.
pub async fn publish(
    config: &IngestConfig,
    tables: &[TableRows],
    repeat_every: Option<usize>,
    rate: Option<f64>,
) -> Result<u64> {
    let mut messages: Vec<(String, Vec<u8>)> = Vec::new();
    for t in tables {
        for batch in &t.batches {
            for row in json_rows(batch)? {
                messages.push((t.table.qualified_name(), row));
            }
        }
    }
    if let Some(n) = repeat_every.filter(|n| *n > 0) {
        let again: Vec<_> = messages.iter().step_by(n).cloned().collect();
        messages.extend(again);
    }
    let count = messages.len() as u64;
    match config.kind {
        FeedKind::Nats => {
            let (client, js, _) = nats_stream(config).await?;
            let pace = Pace::new(rate);
            let mut in_flight = VecDeque::new();
            for (i, (table, payload)) in messages.into_iter().enumerate() {
                pace.wait(i).await;
                let subject = format!("{}.{table}", config.nats.subject_prefix);
                let ack = js
                    .publish(subject, payload.into())
                    .await
                    .map_err(|e| Error::input(format!("publish to {}: {e}", config.describe())))?;
                in_flight.push_back(ack);
                if in_flight.len() >= IN_FLIGHT
                    && let Some(ack) = in_flight.pop_front()
                {
                    ack.await.map_err(|e| {
                        Error::input(format!("publish to {}: {e}", config.describe()))
                    })?;
                }
            }
            for ack in in_flight {
                ack.await
                    .map_err(|e| Error::input(format!("publish to {}: {e}", config.describe())))?;
            }
            client
                .flush()
                .await
                .map_err(|e| Error::input(format!("publish flush: {e}")))?;
        }
        FeedKind::Rabbitmq => {
            let (connection, channel) = rabbit_channel(config).await?;
            confirm_publishes(&channel).await?;
            let pace = Pace::new(rate);
            let mut in_flight = VecDeque::new();
            let err =
                |e: lapin::Error| Error::input(format!("publish to {}: {e}", config.describe()));
            for (i, (table, payload)) in messages.into_iter().enumerate() {
                pace.wait(i).await;
                let confirm = channel
                    .basic_publish(
                        "".into(),
                        config.rabbitmq.queue.as_str().into(),
                        BasicPublishOptions::default(),
                        &payload,
                        BasicProperties::default()
                            .with_delivery_mode(2)
                            .with_type(table.as_str().into()),
                    )
                    .await
                    .map_err(err)?;
                in_flight.push_back(confirm);
                if in_flight.len() >= IN_FLIGHT
                    && let Some(c) = in_flight.pop_front()
                {
                    check_confirm(c.await.map_err(err)?, config)?;
                }
            }
            for c in in_flight {
                check_confirm(c.await.map_err(err)?, config)?;
            }
            let _ = channel.close(200, "published".into()).await;
            let _ = connection.close(200, "published".into()).await;
        }
    }
    Ok(count)
}

/// Publishing at a steady rate (messages per second), as a live source would.
struct Pace {
    start: tokio::time::Instant,
    rate: Option<f64>,
}

impl Pace {
    fn new(rate: Option<f64>) -> Pace {
        if let Some(rate) = rate {
            // When the first message goes out, for measuring publish-to-landed latency.
            let epoch = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0);
            eprintln!("publish: {rate} messages/s from {epoch:.3}");
        }
        Pace {
            start: tokio::time::Instant::now(),
            rate: rate.filter(|r| *r > 0.0),
        }
    }

    async fn wait(&self, i: usize) {
        if let Some(rate) = self.rate
            && i.is_multiple_of(64)
        {
            let due = self.start + std::time::Duration::from_secs_f64(i as f64 / rate);
            tokio::time::sleep_until(due).await;
        }
    }
}

fn check_confirm(c: lapin::Confirmation, config: &IngestConfig) -> Result<()> {
    match c {
        lapin::Confirmation::Nack(_) => Err(Error::input(format!(
            "{} refused a message (nack): it is not stored; publish again",
            config.describe()
        ))),
        _ => Ok(()),
    }
}
