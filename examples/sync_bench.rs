//! Replica sync benchmark: sync an inbound-shaped `fix_msg` table of N rows (default 1,000,000)
//! from the local MariaDB into a temporary lake, and report rows per second and peak memory.
//!
//! ```sh
//! cargo run --release --example sync_bench            # 1M rows
//! cargo run --release --example sync_bench -- 5000000 # 5M rows
//! ```
//!
//! The table is built once in schema `ot_bench_inbound` (MariaDB's sequence engine) and reused
//! while it has the requested row count. The server is `ORDERTRAIL_MYSQL_URL`
//! (default `mysql://root@127.0.0.1:3306/test`). The run asserts that every row landed and was
//! verified; peak memory is this process's VmHWM.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts};
use ordertrail::lake::Lake;
use ordertrail::sources::Sources;
use ordertrail::sync::{self, Progress, Replicas, SyncConfig, Window};

const DB: &str = "ot_bench_inbound";

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rows: u64 = match std::env::args().nth(1) {
        Some(n) => n.parse()?,
        None => 1_000_000,
    };
    let url = std::env::var("ORDERTRAIL_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into());
    let date: chrono::NaiveDate = "2026-11-19".parse()?;

    let mut conn = Conn::new(Opts::from_url(&url)?).await?;
    conn.query_drop(format!("create database if not exists {DB}"))
        .await?;
    let existing: Option<u64> = conn
        .query_first(format!(
            "select count(*) from information_schema.tables where table_schema = '{DB}' \
             and table_name = 'fix_msg'"
        ))
        .await?;
    let have: u64 = if existing == Some(1) {
        conn.query_first(format!("select count(*) from {DB}.fix_msg"))
            .await?
            .unwrap_or(0)
    } else {
        0
    };
    if have != rows {
        eprintln!("building {DB}.fix_msg with {rows} rows ...");
        let started = Instant::now();
        conn.query_drop(format!("drop table if exists {DB}.fix_msg"))
            .await?;
        conn.query_drop(format!(
            "create table {DB}.fix_msg (id bigint not null primary key, create_time datetime(6) \
             not null, sid varchar(32) not null, direction varchar(4) not null, fix text not null, \
             key (create_time))"
        ))
        .await?;
        let step = 86_400_000_000 / rows;
        conn.query_drop(format!(
            "insert into {DB}.fix_msg select seq, '2026-11-19 00:00:00' + interval ((seq - 1) * {step}) \
             microsecond, concat('CLI-', seq mod 50), if(seq mod 2, 'recv', 'send'), \
             concat('8=FIX.4.4|9=178|35=D|49=CLIENT', seq mod 50, '|56=BRKR|34=', seq, \
             '|52=20261119-14:31:02.118|11=C', seq, '|1=ACC-', seq mod 1000, \
             '|55=AAPL|54=1|38=100|40=2|44=187.25|59=0|60=20261119-14:31:02.118|10=123|') \
             from seq_1_to_{rows}"
        ))
        .await?;
        eprintln!("built in {:.1} s", started.elapsed().as_secs_f64());
    }
    conn.disconnect().await?;

    let sources = Sources::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("sql/sources.sql"))?;
    let config = SyncConfig::parse(
        Path::new("bench"),
        &format!(
            "[sources.inbound]\nurl = \"{url}\"\ndatabase = \"{DB}\"\n\
             [[sources.inbound.tables]]\nname = \"fix_msg\"\n"
        ),
    )?;
    let jobs = sync::plan(&config, &sources, &[])?;
    let dir = tempfile::tempdir()?;
    let lake = Lake::new(dir.path());
    let replicas = Replicas::new(&config)?;
    let rss_before = peak_rss_mb();
    let started = Instant::now();
    let results = sync::sync(
        &config,
        &replicas,
        &lake,
        &jobs,
        Window::day(date),
        &Arc::new(Progress::default()),
    )
    .await;
    let seconds = started.elapsed().as_secs_f64();
    replicas.close().await;
    let synced = results.into_iter().next().ok_or("no table synced")??;
    assert_eq!(synced.rows, rows, "every row landed and verified");
    println!(
        "sync_bench: {rows} rows, {:.1} MB parquet, {seconds:.2} s, {:.0} rows/s, peak RSS {:.0} MB \
         (before sync {rss_before:.0} MB)",
        synced.bytes as f64 / 1e6,
        rows as f64 / seconds,
        peak_rss_mb()
    );
    Ok(())
}
