//! The brokers: NATS JetStream (a file-backed stream, a durable pull consumer, explicit acks)
//! and RabbitMQ (a durable quorum queue, manual acks, a prefetch of one batch). Both hand out
//! batches of [`Message`]s and ack a batch only when asked, after it is landed; neither
//! settings lets the broker drop a message after some deliveries (JetStream's `max_deliver`):
//! the bounce limit is ours and ends in the quarantine, not in silence.

use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer::PullConsumer};
use futures::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicGetOptions, BasicQosOptions, ConfirmSelectOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};

use super::config::{FeedKind, IngestConfig};
use super::land::{DELIVERY_TAG_ID, Message};
use crate::error::{Error, Result};

/// Acks for a fetched batch.
pub enum Acks {
    Nats(Vec<jetstream::Message>),
    /// The highest delivery tag of the batch on the channel it came from (acked with
    /// `multiple`: every earlier batch is acked already).
    Rabbit(Option<u64>),
}

pub struct Fetched {
    pub messages: Vec<Message>,
    pub acks: Acks,
}

pub enum Feed {
    Nats(Box<NatsFeed>),
    Rabbit(Box<RabbitFeed>),
}

pub struct NatsFeed {
    client: async_nats::Client,
    consumer: PullConsumer,
}

pub struct RabbitFeed {
    connection: lapin::Connection,
    channel: lapin::Channel,
    consumer: lapin::Consumer,
    queue: String,
    /// A message `basic.get` took while asking for the backlog: the next fetch hands it out
    /// first (it is acked with the batch, on this channel).
    held: Option<lapin::message::Delivery>,
}

fn broker_error(config: &IngestConfig, what: &str, e: impl std::fmt::Display) -> Error {
    Error::input_hint(
        format!("feed {}: {what}: {e}", config.describe()),
        "check that the broker is up and the feed config's url (see config/ingest.example.toml)",
    )
}

impl Feed {
    /// Connect and declare what the feed needs (stream and consumer, or queue): a broker that
    /// is not there is an error naming its address.
    pub async fn connect(config: &IngestConfig) -> Result<Feed> {
        match config.kind {
            FeedKind::Nats => Ok(Feed::Nats(Box::new(NatsFeed::connect(config).await?))),
            FeedKind::Rabbitmq => Ok(Feed::Rabbit(Box::new(RabbitFeed::connect(config).await?))),
        }
    }

    pub async fn reconnect(&mut self, config: &IngestConfig) -> Result<()> {
        match self {
            // The NATS client reconnects by itself; the consumer handle stays valid.
            Feed::Nats(_) => Ok(()),
            Feed::Rabbit(r) => {
                let _ = r.connection.close(200, "reconnecting".into()).await;
                **r = RabbitFeed::connect(config).await?;
                Ok(())
            }
        }
    }

    /// Whether a fetch that came back with fewer messages than asked, followed by an empty
    /// [`Feed::backlog`], means everything published before the fetch is delivered: true for
    /// JetStream (the consumer's counts include what is in flight), not for RabbitMQ (the
    /// queue's count leaves out messages pushed to us and not read yet).
    pub fn exact_after_short_fetch(&self) -> bool {
        matches!(self, Feed::Nats(_))
    }

    /// Whether the next batch may be fetched while one is unacked: JetStream allows two
    /// batches in flight (`max_ack_pending`); RabbitMQ's prefetch is one batch, so a fetch
    /// ahead would only wait.
    pub fn can_fetch_ahead(&self) -> bool {
        matches!(self, Feed::Nats(_))
    }

    /// Up to `max` messages, waiting at most `wait` for them.
    pub async fn fetch(&mut self, max: usize, wait: Duration) -> Result<Fetched> {
        match self {
            Feed::Nats(n) => n.fetch(max, wait).await,
            Feed::Rabbit(r) => r.fetch(max, wait).await,
        }
    }

    pub async fn ack(&mut self, acks: Acks) -> Result<()> {
        match (self, acks) {
            (Feed::Nats(n), Acks::Nats(messages)) => {
                for m in &messages {
                    m.ack()
                        .await
                        .map_err(|e| Error::input(format!("ack: {e}")))?;
                }
                // The acks are on the wire before the next question about the backlog.
                n.client
                    .flush()
                    .await
                    .map_err(|e| Error::input(format!("ack flush: {e}")))
            }
            (Feed::Rabbit(r), Acks::Rabbit(Some(tag))) => r
                .channel
                .basic_ack(tag, BasicAckOptions { multiple: true })
                .await
                .map_err(|e| Error::input(format!("ack: {e}"))),
            (_, Acks::Rabbit(None)) => Ok(()),
            _ => Err(Error::input("acks of one broker handed to another")),
        }
    }

    /// Messages the broker holds for the feed that are not landed: not yet delivered, or
    /// delivered and not acked (JetStream); ready in the queue, asked with `basic.get` (RabbitMQ,
    /// whose unacked messages are ours and acked by then; a message the get returns is held
    /// for the next fetch).
    pub async fn backlog(&mut self) -> Result<u64> {
        match self {
            Feed::Nats(n) => {
                let info = n
                    .consumer
                    .info()
                    .await
                    .map_err(|e| Error::input(format!("consumer info: {e}")))?;
                Ok(info.num_pending + info.num_ack_pending as u64)
            }
            Feed::Rabbit(r) => {
                // basic.get asks the queue itself. The count in queue.declare-ok is not to be
                // trusted here: a busy quorum queue answers 0 (measured: 0 with 5M messages
                // ready, and --once stopped at once).
                if r.held.is_some() {
                    return Ok(1);
                }
                let got = r
                    .channel
                    .basic_get(r.queue.as_str().into(), BasicGetOptions { no_ack: false })
                    .await
                    .map_err(|e| Error::input(format!("queue {}: basic.get: {e}", r.queue)))?;
                Ok(match got {
                    Some(m) => {
                        let more = u64::from(m.message_count);
                        r.held = Some(m.delivery);
                        more + 1
                    }
                    None => 0,
                })
            }
        }
    }

    pub async fn close(self) {
        match self {
            Feed::Nats(n) => {
                let _ = n.client.flush().await;
            }
            Feed::Rabbit(r) => {
                let _ = r.channel.close(200, "done".into()).await;
                let _ = r.connection.close(200, "done".into()).await;
            }
        }
    }
}

/// The JetStream stream of the feed, created when missing (file storage: it survives a server
/// restart).
pub async fn nats_stream(
    config: &IngestConfig,
) -> Result<(
    async_nats::Client,
    jetstream::Context,
    jetstream::stream::Stream,
)> {
    let url = config.url_with_password()?;
    let client = async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(5))
        .retry_on_initial_connect()
        .max_reconnects(None)
        .connect(url.as_str())
        .await
        .map_err(|e| broker_error(config, "cannot connect", e))?;
    // The first connection is retried in the background; wait for it, but not forever.
    let deadline = Instant::now() + Duration::from_secs(10);
    while client.connection_state() != async_nats::connection::State::Connected {
        if Instant::now() > deadline {
            return Err(broker_error(
                config,
                "cannot connect",
                "no answer within 10 s",
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let js = jetstream::new(client.clone());
    let stream = js
        .get_or_create_stream(jetstream::stream::Config {
            name: config.nats.stream.clone(),
            subjects: vec![format!("{}.>", config.nats.subject_prefix)],
            storage: jetstream::stream::StorageType::File,
            ..Default::default()
        })
        .await
        .map_err(|e| broker_error(config, "stream", e))?;
    Ok((client, js, stream))
}

impl NatsFeed {
    async fn connect(config: &IngestConfig) -> Result<NatsFeed> {
        let (client, _, stream) = nats_stream(config).await?;
        let consumer: PullConsumer = stream
            .get_or_create_consumer(
                &config.nats.consumer,
                jetstream::consumer::pull::Config {
                    durable_name: Some(config.nats.consumer.clone()),
                    ack_policy: jetstream::consumer::AckPolicy::Explicit,
                    ack_wait: Duration::from_secs_f64(config.nats.ack_wait_secs),
                    max_deliver: -1,
                    max_ack_pending: (config.batch.max_rows as i64).max(1000) * 3,
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| broker_error(config, "consumer", e))?;
        Ok(NatsFeed { client, consumer })
    }

    async fn fetch(&mut self, max: usize, wait: Duration) -> Result<Fetched> {
        let mut batch = self
            .consumer
            .batch()
            .max_messages(max)
            .expires(wait)
            .messages()
            .await
            .map_err(|e| Error::input(format!("fetch: {e}")))?;
        let mut messages = Vec::with_capacity(max);
        let mut acks = Vec::with_capacity(max);
        // The server ends the pull at `wait`; the client sometimes notices only seconds later
        // (measured: fetches of 6 s with a 1 s expiry against nats-server 2.9), so stop
        // reading a little after the server has stopped sending.
        let deadline = tokio::time::Instant::now() + wait + Duration::from_millis(250);
        while let Ok(Some(m)) = tokio::time::timeout_at(deadline, batch.next()).await {
            let m = m.map_err(|e| Error::input(format!("fetch: {e}")))?;
            let info = m
                .info()
                .map_err(|e| Error::input(format!("message info: {e}")))?;
            let id = format!("nats:{}", info.stream_sequence);
            let deliveries = info.delivered.max(1) as u64;
            let subject = m.subject.to_string();
            messages.push(Message {
                id,
                table: table_of_subject(&subject),
                source: subject,
                payload: m.payload.clone(),
                deliveries,
            });
            acks.push(m);
        }
        Ok(Fetched {
            messages,
            acks: Acks::Nats(acks),
        })
    }
}

/// `<prefix>.<db>.<table>` names `db.table` in its last two tokens.
fn table_of_subject(subject: &str) -> Option<String> {
    let mut parts = subject.rsplit('.');
    let table = parts.next()?;
    let db = parts.next()?;
    Some(format!("{db}.{table}"))
}

/// Declare the feed's durable queue (a quorum queue unless configured otherwise).
pub async fn rabbit_channel(config: &IngestConfig) -> Result<(lapin::Connection, lapin::Channel)> {
    let url = config.url_with_password()?;
    let connection = tokio::time::timeout(
        Duration::from_secs(10),
        lapin::Connection::connect(&url, lapin::ConnectionProperties::default()),
    )
    .await
    .map_err(|_| broker_error(config, "cannot connect", "no answer within 10 s"))?
    .map_err(|e| broker_error(config, "cannot connect", e))?;
    let channel = connection
        .create_channel()
        .await
        .map_err(|e| broker_error(config, "channel", e))?;
    let mut args = FieldTable::default();
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString(config.rabbitmq.queue_type.as_str().into()),
    );
    channel
        .queue_declare(
            config.rabbitmq.queue.as_str().into(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            args,
        )
        .await
        .map_err(|e| {
            broker_error(
                config,
                &format!(
                    "queue {} (declared durable, {})",
                    config.rabbitmq.queue, config.rabbitmq.queue_type
                ),
                e,
            )
        })?;
    Ok((connection, channel))
}

impl RabbitFeed {
    async fn connect(config: &IngestConfig) -> Result<RabbitFeed> {
        let (connection, channel) = rabbit_channel(config).await?;
        let prefetch = u16::try_from(config.batch.max_rows).unwrap_or(u16::MAX);
        channel
            .basic_qos(prefetch, BasicQosOptions::default())
            .await
            .map_err(|e| broker_error(config, "qos", e))?;
        let consumer = channel
            .basic_consume(
                config.rabbitmq.queue.as_str().into(),
                format!("ordertrail-{}-{}", config.name, std::process::id())
                    .as_str()
                    .into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(|e| broker_error(config, "consume", e))?;
        Ok(RabbitFeed {
            connection,
            channel,
            consumer,
            queue: config.rabbitmq.queue.clone(),
            held: None,
        })
    }

    async fn fetch(&mut self, max: usize, wait: Duration) -> Result<Fetched> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut messages = Vec::new();
        let mut last = None;
        while messages.len() < max {
            let next = match self.held.take() {
                Some(d) => d,
                None => match tokio::time::timeout_at(deadline, self.consumer.next()).await {
                    Err(_) => break,
                    Ok(None) => return Err(Error::input("the consumer was cancelled")),
                    Ok(Some(d)) => d.map_err(|e| Error::input(format!("delivery: {e}")))?,
                },
            };
            let p = &next.properties;
            let deliveries = p
                .headers()
                .as_ref()
                .and_then(|h| h.inner().get("x-delivery-count").and_then(int_value))
                .map(|n| n + 1)
                .unwrap_or(if next.redelivered { 2 } else { 1 });
            let id = p
                .message_id()
                .as_ref()
                .map(|m| m.to_string())
                .unwrap_or_else(|| format!("{DELIVERY_TAG_ID}{}", next.delivery_tag));
            last = last.max(Some(next.delivery_tag));
            messages.push(Message {
                id,
                source: self.queue.clone(),
                table: p.kind().as_ref().map(|k| k.to_string()),
                payload: bytes::Bytes::from(next.data),
                deliveries,
            });
        }
        Ok(Fetched {
            messages,
            acks: Acks::Rabbit(last),
        })
    }
}

fn int_value(v: &AMQPValue) -> Option<u64> {
    match v {
        AMQPValue::ShortShortInt(n) => u64::try_from(*n).ok(),
        AMQPValue::ShortShortUInt(n) => Some(u64::from(*n)),
        AMQPValue::ShortInt(n) => u64::try_from(*n).ok(),
        AMQPValue::ShortUInt(n) => Some(u64::from(*n)),
        AMQPValue::LongInt(n) => u64::try_from(*n).ok(),
        AMQPValue::LongUInt(n) => Some(u64::from(*n)),
        AMQPValue::LongLongInt(n) => u64::try_from(*n).ok(),
        _ => None,
    }
}

/// Publish confirms: RabbitMQ acknowledges each publish once it is stored.
pub async fn confirm_publishes(channel: &lapin::Channel) -> Result<()> {
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .map_err(|e| Error::input(format!("confirm.select: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_name_their_table() {
        assert_eq!(
            table_of_subject("ordertrail.raw.inbound.fix_msg").as_deref(),
            Some("inbound.fix_msg")
        );
        assert_eq!(table_of_subject("x"), None);
    }
}
