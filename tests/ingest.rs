//! The real-time feed (`ingest`, `publish`) against real brokers: a NATS server with JetStream
//! started per test (its own port and store, so it can be restarted), and the machine's
//! RabbitMQ (127.0.0.1:5672, guest/guest; each test its own queue).
//!
//! What must hold: a day fed through the queue gives the same stage and report files as the
//! same day loaded; SIGKILL at any point and a broker restart lose no row and land none twice;
//! poison messages and messages past the bounce limit end in the quarantine with a reason.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use arrow::compute::{SortOptions, concat_batches, sort_to_indices, take_record_batch};
use futures::StreamExt;
use ordertrail::ingest::land::{quarantine_dir, quarantine_schema, read_partition};
use ordertrail::lake::Lake;

use crate::common::{self, date, files_below, fixture_dates, repo, to_ndjson};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ordertrail"));
    c.current_dir(repo());
    c
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn wait_for_port(port: u16, up: bool) {
    let until = Instant::now() + Duration::from_secs(30);
    while Instant::now() < until {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() == up {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("port {port} did not go {}", if up { "up" } else { "down" });
}

/// A NATS server with JetStream, on its own port and store.
struct Nats {
    port: u16,
    store: PathBuf,
    child: Option<Child>,
}

impl Nats {
    fn start(store: &Path) -> Nats {
        let mut n = Nats {
            port: free_port(),
            store: store.to_path_buf(),
            child: None,
        };
        n.spawn();
        n
    }

    fn spawn(&mut self) {
        let exe = [
            "/usr/sbin/nats-server",
            "/usr/bin/nats-server",
            "nats-server",
        ]
        .into_iter()
        .find(|p| !p.starts_with('/') || Path::new(p).exists())
        .unwrap_or("nats-server");
        let child = Command::new(exe)
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(&self.store)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("nats-server must be installed for the feed tests: {e}"));
        self.child = Some(child);
        wait_for_port(self.port, true);
    }

    /// Stop the server (SIGKILL: messages not yet on disk are the broker's to keep safe) and
    /// start it again on the same port and store.
    fn restart(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        wait_for_port(self.port, false);
        std::thread::sleep(Duration::from_millis(300));
        self.spawn();
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn nats_config(dir: &Path, url: &str, name: &str, batch: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(
        &path,
        format!(
            "kind = \"nats\"\nurl = \"{url}\"\nreconnect_secs = 60\n[nats]\nstream = \"{name}\"\n\
             subject_prefix = \"{name}\"\nconsumer = \"{name}\"\nack_wait_secs = 1\n[batch]\n\
             close_after_secs = 0\ncompact_files = 4\n{batch}\n"
        ),
    )
    .unwrap();
    path
}

fn rabbit_config(dir: &Path, queue: &str, batch: &str) -> PathBuf {
    let path = dir.join(format!("{queue}.toml"));
    std::fs::write(
        &path,
        format!(
            "kind = \"rabbitmq\"\nurl = \"amqp://guest@127.0.0.1:5672/%2f\"\n\
             password_env = \"ORDERTRAIL_TEST_AMQP_PASSWORD\"\nreconnect_secs = 60\n\
             [rabbitmq]\nqueue = \"{queue}\"\n[batch]\nclose_after_secs = 0\ncompact_files = 4\n{batch}\n"
        ),
    )
    .unwrap();
    path
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd
        .env("ORDERTRAIL_TEST_AMQP_PASSWORD", "guest")
        .output()
        .expect("ordertrail runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

fn publish(config: &Path, from: &[&str]) -> String {
    run_ok(bin().args(["publish", "--config"]).arg(config).args(from))
}

fn ingest_once(config: &Path, lake: &Path) -> String {
    run_ok(
        bin()
            .args(["ingest", "--once", "--config"])
            .arg(config)
            .arg("--lake")
            .arg(lake),
    )
}

fn spawn_ingest(config: &Path, lake: &Path) -> Child {
    bin()
        .args(["ingest", "--config"])
        .arg(config)
        .arg("--lake")
        .arg(lake)
        .env("ORDERTRAIL_TEST_AMQP_PASSWORD", "guest")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ingest starts")
}

/// SIGKILL `n` ingest processes, each after a pseudo-random 40-300 ms of consuming; call
/// `between(k)` after the k-th kill.
fn kill_repeatedly(config: &Path, lake: &Path, n: usize, mut between: impl FnMut(usize)) {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for k in 0..n {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut child = spawn_ingest(config, lake);
        std::thread::sleep(Duration::from_millis(40 + seed % 260));
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
        between(k);
    }
}

/// Every raw table's rows for `dates`, sorted by all columns, as NDJSON: equal maps mean no
/// row lost and none doubled.
fn raw_rows(lake: &Lake, dates: &[chrono::NaiveDate]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for table in &common::sources().tables {
        for d in dates {
            let dir = Lake::partition_dir(&lake.raw_table_dir(&table.db, &table.name), *d);
            assert!(dir.exists(), "{} is missing", dir.display());
            let schema = table.schema();
            let batch = concat_batches(&schema, &read_partition(&dir, &schema).unwrap()).unwrap();
            out.insert(
                format!("{}/{d}", table.qualified_name()),
                to_ndjson(&[sorted(&batch)]),
            );
        }
    }
    out
}

fn sorted(batch: &RecordBatch) -> RecordBatch {
    if batch.num_rows() == 0 {
        return batch.clone();
    }
    // Every table's first column is its integer key.
    let idx = sort_to_indices(batch.column(0), Some(SortOptions::default()), None).unwrap();
    take_record_batch(batch, &idx).unwrap()
}

fn quarantined(lake: &Lake, feed: &str) -> Vec<(String, String)> {
    let dir = quarantine_dir(lake, feed);
    let mut out = Vec::new();
    if !dir.exists() {
        return out;
    }
    for d in Lake::partition_dates(&dir).unwrap() {
        let schema = quarantine_schema();
        for b in read_partition(&Lake::partition_dir(&dir, d), &schema).unwrap() {
            let reasons = arrow::array::AsArray::as_string::<i32>(b.column(4));
            let payloads = arrow::array::AsArray::as_binary::<i32>(b.column(6));
            for i in 0..b.num_rows() {
                out.push((
                    reasons.value(i).to_string(),
                    String::from_utf8_lossy(payloads.value(i)).into_owned(),
                ));
            }
        }
    }
    out
}

/// Run both fixture dates and write the reports of the later one in both lakes; every stage
/// file and report file must be the same bytes.
fn assert_same_outputs(loaded: &Path, fed: &Path, out: &Path) {
    for lake in [loaded, fed] {
        for d in fixture_dates() {
            run_ok(
                bin()
                    .args(["run", "--config", "data-fixtures/ordertrail.toml", "--lake"])
                    .arg(lake)
                    .args(["--date", &d.to_string()]),
            );
        }
        run_ok(
            bin()
                .args([
                    "report",
                    "--config",
                    "data-fixtures/ordertrail.toml",
                    "--lake",
                ])
                .arg(lake)
                .args(["--date", "2026-11-20", "--out"])
                .arg(out.join(lake.file_name().unwrap())),
        );
    }
    let a = files_below(&loaded.join("stages"));
    let b = files_below(&fed.join("stages"));
    assert!(a.len() > 20, "stage files: {}", a.len());
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "the same stage files"
    );
    for (k, v) in &a {
        assert!(
            b[k] == *v,
            "stage file {k} differs between the loaded and the fed day"
        );
    }
    let ra = files_below(&out.join(loaded.file_name().unwrap()));
    let rb = files_below(&out.join(fed.file_name().unwrap()));
    assert!(!ra.is_empty());
    assert_eq!(
        ra, rb,
        "report files differ between the loaded and the fed day"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_fed_through_jetstream_equals_the_day_loaded_and_poison_is_quarantined() {
    let tmp = tempfile::tempdir().unwrap();
    let nats = Nats::start(&tmp.path().join("nats"));
    let config = nats_config(
        tmp.path(),
        &nats.url(),
        "feed_a",
        "max_rows = 40\nmax_seconds = 0.2",
    );
    // Every 7th row published twice, as a publisher retrying after a lost confirm.
    publish(
        &config,
        &["--fixtures", "data-fixtures", "--repeat-every", "7"],
    );
    // Three poison messages: not JSON, an unknown table, a key that is not a number.
    let client = async_nats::connect(nats.url()).await.unwrap();
    let js = async_nats::jetstream::new(client);
    for (subject, body) in [
        ("feed_a.inbound.fix_msg", "{not json"),
        (
            "feed_a.nosuch.table",
            r#"{"id":1,"create_time":"2026-11-19T10:00:00Z"}"#,
        ),
        (
            "feed_a.oms.orders",
            r#"{"id":"x","create_time":"2026-11-19T10:00:00Z"}"#,
        ),
    ] {
        js.publish(subject, body.into())
            .await
            .unwrap()
            .await
            .unwrap();
    }

    let fed = tmp.path().join("fed");
    let text = ingest_once(&config, &fed);
    assert!(text.contains("3 quarantined"), "{text}");
    let loaded = common::fixture_lake(tmp.path());
    let dates = fixture_dates();
    assert_eq!(
        raw_rows(&Lake::new(&fed), &dates),
        raw_rows(&loaded, &dates)
    );
    let q = quarantined(&Lake::new(&fed), "main");
    assert_eq!(q.len(), 3, "{q:?}");
    assert!(
        q.iter()
            .any(|(r, p)| r.contains("does not type") && p == "{not json"),
        "{q:?}"
    );
    assert!(
        q.iter()
            .any(|(r, _)| r.contains("unknown table nosuch.table")),
        "{q:?}"
    );
    assert!(
        q.iter()
            .any(|(r, p)| r.contains("does not type as oms.orders") && p.contains("\"x\"")),
        "{q:?}"
    );

    // A closed date reads as one file per partition, like a loaded day.
    for table in &common::sources().tables {
        let dir = Lake::partition_dir(
            &Lake::new(&fed).raw_table_dir(&table.db, &table.name),
            date("2026-11-20"),
        );
        assert_eq!(files_below(&dir).len(), 1, "{}", dir.display());
    }
    let status = run_ok(
        bin()
            .args([
                "status",
                "--config",
                "data-fixtures/ordertrail.toml",
                "--lake",
            ])
            .arg(&fed)
            .args(["--date", "2026-11-20"]),
    );
    assert!(
        status.contains("0 pending") && status.contains("closed (every table landed)"),
        "{status}"
    );

    assert_same_outputs(loaded.root(), &fed, &tmp.path().join("reports"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_thirty_points_and_a_nats_restart_lose_and_double_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let mut nats = Nats::start(&tmp.path().join("nats"));
    let config = nats_config(
        tmp.path(),
        &nats.url(),
        "feed_k",
        // Thirty kills 40-300 ms apart can each take the same unacknowledged batch before a
        // slow start lands it: those deliveries are the test's doing, not a poison message's,
        // so the bounce limit (tested on its own below) is set out of their reach.
        "max_rows = 250\nmax_seconds = 0.1\nmax_deliveries = 1000",
    );
    let generated = tmp.path().join("generated");
    run_ok(
        bin()
            .args(["gen", "--orders", "1500", "--date", "2026-11-19", "--lake"])
            .arg(&generated),
    );
    publish(
        &config,
        &[
            "--lake",
            generated.to_str().unwrap(),
            "--date",
            "2026-11-19",
            "--repeat-every",
            "11",
        ],
    );

    let fed = tmp.path().join("fed");
    let mut partial = Vec::new();
    kill_repeatedly(&config, &fed, 30, |k| {
        if let Some(s) = ordertrail::ingest::FeedState::load(&Lake::new(&fed), "main").unwrap() {
            partial.push(s.rows);
        }
        if k == 14 {
            // The broker restarts while a consumer is connected; it reconnects on its own.
            let mut child = spawn_ingest(&config, &fed);
            std::thread::sleep(Duration::from_millis(150));
            nats.restart();
            std::thread::sleep(Duration::from_millis(1500));
            assert!(
                child.try_wait().unwrap().is_none(),
                "ingest died with the broker restart"
            );
            child.kill().unwrap();
            child.wait().unwrap();
        }
    });
    let text = ingest_once(&config, &fed);
    let dates = [date("2026-11-19")];
    assert_eq!(
        raw_rows(&Lake::new(&fed), &dates),
        raw_rows(&Lake::new(&generated), &dates),
        "rows lost or doubled after 30 kills ({text})"
    );
    let q = quarantined(&Lake::new(&fed), "main");
    assert!(q.is_empty(), "quarantined after 30 kills: {q:?}");
    // The kills fell while rows were still coming in.
    let total: u64 = raw_rows(&Lake::new(&generated), &dates)
        .values()
        .map(|v| v.lines().count() as u64)
        .sum();
    assert!(
        partial.iter().filter(|r| **r > 0 && **r < total).count() >= 5,
        "landed rows after each kill: {partial:?} of {total}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_past_the_bounce_limit_is_quarantined_not_retried_forever() {
    let tmp = tempfile::tempdir().unwrap();
    let nats = Nats::start(&tmp.path().join("nats"));
    let config = nats_config(
        tmp.path(),
        &nats.url(),
        "feed_b",
        "max_rows = 10\nmax_seconds = 0.2\nmax_deliveries = 2",
    );
    let row = r#"{"id":7,"create_time":"2026-11-19T10:00:00Z","account_num":"A1","currency":"USD","change_type":"DEPOSIT","delta":"1.50"}"#;
    let client = async_nats::connect(nats.url()).await.unwrap();
    let js = async_nats::jetstream::new(client);
    // The stream and the consumer as ingest makes them: run it once on an empty stream.
    ingest_once(&config, &tmp.path().join("fed"));
    js.publish("feed_b.fund.ledger", row.into())
        .await
        .unwrap()
        .await
        .unwrap();
    // Two deliveries that never ack: a lander that crashed on this message twice.
    let stream = js.get_stream("feed_b").await.unwrap();
    let consumer: async_nats::jetstream::consumer::PullConsumer =
        stream.get_consumer("feed_b").await.unwrap();
    for _ in 0..2 {
        let mut batch = consumer
            .batch()
            .max_messages(1)
            .expires(Duration::from_secs(3))
            .messages()
            .await
            .unwrap();
        let m = batch.next().await.expect("a delivery").unwrap();
        drop(m);
        tokio::time::sleep(Duration::from_millis(1300)).await;
    }
    let fed = tmp.path().join("fed");
    let text = ingest_once(&config, &fed);
    assert!(text.contains("1 quarantined"), "{text}");
    let q = quarantined(&Lake::new(&fed), "main");
    assert_eq!(q.len(), 1);
    assert!(q[0].0.contains("delivered 3 times"), "{q:?}");
    assert_eq!(q[0].1, row);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_fed_through_rabbitmq_survives_kills_a_broker_restart_and_poison() {
    let tmp = tempfile::tempdir().unwrap();
    let queue = format!("ordertrail_test_{}", std::process::id());
    let config = rabbit_config(
        tmp.path(),
        &queue,
        // Kills can take the same batch more than five times; only the poison row is meant to
        // be quarantined here.
        "max_rows = 20\nmax_seconds = 0.1\nmax_deliveries = 1000",
    );
    publish(
        &config,
        &["--fixtures", "data-fixtures", "--repeat-every", "5"],
    );
    {
        // A poison message: JSON that is not a row of the table its type names.
        use lapin::options::BasicPublishOptions;
        let conn = lapin::Connection::connect(
            "amqp://guest:guest@127.0.0.1:5672/%2f",
            lapin::ConnectionProperties::default(),
        )
        .await
        .expect("RabbitMQ on 127.0.0.1:5672 (guest/guest) for the feed tests");
        let ch = conn.create_channel().await.unwrap();
        ch.basic_publish(
            "".into(),
            queue.as_str().into(),
            BasicPublishOptions::default(),
            br#"{"id":1}"#,
            lapin::BasicProperties::default()
                .with_delivery_mode(2)
                .with_type("inbound.fix_msg".into()),
        )
        .await
        .unwrap()
        .await
        .unwrap();
        let _ = conn.close(200, "bye".into()).await;
    }
    let fed = tmp.path().join("fed");
    kill_repeatedly(&config, &fed, 8, |k| {
        if k == 3 {
            let mut child = spawn_ingest(&config, &fed);
            std::thread::sleep(Duration::from_millis(100));
            rabbitmqctl(&["stop_app"]);
            rabbitmqctl(&["start_app"]);
            rabbitmqctl(&["await_startup"]);
            std::thread::sleep(Duration::from_millis(1000));
            assert!(
                child.try_wait().unwrap().is_none(),
                "ingest died with the broker restart"
            );
            child.kill().unwrap();
            child.wait().unwrap();
        }
    });
    let text = ingest_once(&config, &fed);
    let q = quarantined(&Lake::new(&fed), "main");
    assert_eq!(q.len(), 1, "{q:?} {text}");
    assert!(q[0].0.contains("NOT NULL"), "{q:?}");
    let loaded = common::fixture_lake(tmp.path());
    let dates = fixture_dates();
    assert_eq!(
        raw_rows(&Lake::new(&fed), &dates),
        raw_rows(&loaded, &dates)
    );
    assert_same_outputs(loaded.root(), &fed, &tmp.path().join("reports"));
    delete_queue(&queue).await;
}

fn rabbitmqctl(args: &[&str]) {
    let out = Command::new("rabbitmqctl")
        .args(args)
        .output()
        .expect("rabbitmqctl (RabbitMQ runs on this machine)");
    assert!(
        out.status.success(),
        "rabbitmqctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn delete_queue(queue: &str) {
    if let Ok(conn) = lapin::Connection::connect(
        "amqp://guest:guest@127.0.0.1:5672/%2f",
        lapin::ConnectionProperties::default(),
    )
    .await
        && let Ok(ch) = conn.create_channel().await
    {
        let _ = ch
            .queue_delete(queue.into(), lapin::options::QueueDeleteOptions::default())
            .await;
        let _ = conn.close(200, "bye".into()).await;
    }
}

/// A window job that reads from the feed processes only windows the feed has landed to their
/// end, and says that the rest waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_job_on_a_feed_waits_for_the_feed_to_land_its_window() {
    use ordertrail::ingest::FeedState;
    use ordertrail::schedule::executor::PipelineExecutor;
    use ordertrail::schedule::{self, ManualClock, ScheduleConfig, Until};

    let tmp = tempfile::tempdir().unwrap();
    let nats = Nats::start(&tmp.path().join("nats"));
    let config = nats_config(
        tmp.path(),
        &nats.url(),
        "feed_w",
        "max_rows = 500\nmax_seconds = 0.2",
    );
    publish(&config, &["--fixtures", "data-fixtures"]);
    let lake_dir = tmp.path().join("lake");
    ingest_once(&config, &lake_dir);
    let lake = Lake::new(&lake_dir);
    let set_landed = |at: &str| {
        let mut s = FeedState::load(&lake, "main").unwrap().expect("feed state");
        s.caught_up_at = Some(at.parse().unwrap());
        std::fs::write(
            FeedState::path(&lake, "main"),
            serde_json::to_string(&s).unwrap(),
        )
        .unwrap();
    };
    let schedule_path = tmp.path().join("schedule.toml");
    std::fs::write(
        &schedule_path,
        "[scheduler]\nlake = \"lake\"\n[[job]]\nname = \"intraday\"\nkind = \"window\"\n\
         cron = \"0,30 13-23 * * *\"\nfeed = \"main\"\n",
    )
    .unwrap();
    let schedule = ScheduleConfig::load(&schedule_path).unwrap();
    let project = common::project();
    let executor = PipelineExecutor {
        project: &project,
        config: &schedule,
        options: common::small_engine(),
    };
    let last_window = || {
        ordertrail::intervals::state::StateDir::new(&lake, "v1", date("2026-11-19"))
            .read_log()
            .unwrap()
            .iter()
            .filter(|e| e.stage == "stg_fix_msg")
            .map(|e| e.start[11..16].to_string())
            .max()
    };
    let t = |s: &str| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();

    set_landed("2026-11-19T14:10:00Z");
    let clock = ManualClock::new(t("2026-11-19 14:29"));
    let entries = schedule::run(
        &schedule,
        &clock,
        &executor,
        Until::Time(t("2026-11-19 14:30")),
    )
    .await
    .unwrap();
    let detail = &entries.last().expect("the 14:30 tick ran").detail;
    assert!(
        detail.contains("feed main has landed 2026-11-19 up to 14:10"),
        "{detail}"
    );
    assert_eq!(last_window().as_deref(), Some("13:30"), "{detail}");

    set_landed("2026-11-19T15:05:00Z");
    clock.set(t("2026-11-19 15:29"));
    let entries = schedule::run(
        &schedule,
        &clock,
        &executor,
        Until::Time(t("2026-11-19 15:30")),
    )
    .await
    .unwrap();
    let detail = &entries.last().expect("the 15:30 tick ran").detail;
    assert!(entries.iter().all(|e| e.ok), "{entries:?}");
    assert_eq!(last_window().as_deref(), Some("14:30"), "{detail}");

    // Landed past the window's end: the tick processes its own window.
    set_landed("2026-11-19T16:00:01Z");
    clock.set(t("2026-11-19 15:59"));
    schedule::run(
        &schedule,
        &clock,
        &executor,
        Until::Time(t("2026-11-19 16:00")),
    )
    .await
    .unwrap();
    assert_eq!(last_window().as_deref(), Some("15:30"));
}

/// A broker that is not there is an error naming it, exit 2, and nothing written.
#[test]
fn an_unreachable_broker_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = nats_config(
        tmp.path(),
        &format!("nats://127.0.0.1:{port}"),
        "feed_x",
        "max_rows = 10",
    );
    let lake = tmp.path().join("lake");
    let out = bin()
        .args(["ingest", "--once", "--config"])
        .arg(&config)
        .arg("--lake")
        .arg(&lake)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("127.0.0.1:{port}")) && err.contains("cannot connect"),
        "{err}"
    );
    assert!(!lake.join("raw").exists());
}

/// Two ingest processes on one lake would each swap in a partition without the other's new
/// file: the second is refused while the first runs.
#[test]
fn a_second_ingest_on_the_same_lake_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let nats = Nats::start(&tmp.path().join("nats"));
    let config = nats_config(tmp.path(), &nats.url(), "feed_l", "max_rows = 10");
    let lake = tmp.path().join("lake");
    let mut first = spawn_ingest(&config, &lake);
    let lock = lake.join("feed").join(".ingest.lock");
    let until = Instant::now() + Duration::from_secs(20);
    while !lock.exists() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    let out = bin()
        .args(["ingest", "--once", "--config"])
        .arg(&config)
        .arg("--lake")
        .arg(&lake)
        .output()
        .unwrap();
    first.kill().unwrap();
    first.wait().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("another `ordertrail ingest`"), "{err}");
    // Once the first is gone (killed: the lock goes with the process), the lake is free.
    ingest_once(&config, &lake);
}
