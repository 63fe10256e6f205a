//! The stages on a Ballista cluster (`--features cluster`, work in progress; see the README's
//! cluster section for what does not work yet). Here: a command given an address where no
//! scheduler answers says so and writes nothing; a scheduler and two executors as separate
//! processes run both fixture days' stages with the rows of a local run (not yet the same
//! bytes).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common::{graph, ordertrail, read_stage, sql_dir, to_ndjson};
use ordertrail::lake::Lake;

const CONFIG: [&str; 2] = ["--config", "data-fixtures/ordertrail.toml"];

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A process killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(args: &[&str], log: &Path) -> Process {
    let log = std::fs::File::create(log).unwrap();
    Process(
        Command::new(env!("CARGO_BIN_EXE_ordertrail"))
            .args(args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("ordertrail cluster starts"),
    )
}

fn wait_for(port: u16) {
    for _ in 0..300 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("nothing listens on 127.0.0.1:{port}");
}

/// A scheduler and two executors.
fn start_cluster(dir: &Path) -> (String, Vec<Process>) {
    let sched_port = free_port();
    let scheduler = format!("127.0.0.1:{sched_port}");
    let mut procs = vec![spawn(
        &["cluster", "scheduler", "--bind", &scheduler],
        &dir.join("scheduler.log"),
    )];
    wait_for(sched_port);
    for k in 0..2 {
        let (flight, grpc) = (free_port(), free_port());
        let bind = format!("127.0.0.1:{flight}");
        let grpc = grpc.to_string();
        let work = dir.join(format!("executor-{k}"));
        std::fs::create_dir_all(&work).unwrap();
        procs.push(spawn(
            &[
                "cluster",
                "executor",
                "--scheduler",
                &scheduler,
                "--bind",
                &bind,
                "--grpc-port",
                &grpc,
                "--concurrent-tasks",
                "2",
                "--work-dir",
                work.to_str().unwrap(),
            ],
            &dir.join(format!("executor-{k}.log")),
        ));
        wait_for(flight);
    }
    // The executors register with their first heartbeat.
    std::thread::sleep(Duration::from_secs(2));
    (scheduler, procs)
}

fn run_days(lake: &Path, cluster: Option<&str>) {
    let lake = lake.to_str().unwrap();
    let (code, _, err) = ordertrail(&[&["-q", "load", "--lake", lake][..], &CONFIG].concat());
    assert_eq!(code, Some(0), "{err}");
    for d in crate::common::fixture_dates() {
        let d = d.to_string();
        let mut args = vec!["-q", "run", "--lake", lake, "--date", &d, "--no-checks"];
        args.extend(CONFIG);
        if let Some(c) = cluster {
            args.extend(["--cluster", c]);
        }
        let (code, _, err) = ordertrail(&args);
        assert_eq!(code, Some(0), "run {d} (cluster {cluster:?}): {err}");
    }
}

/// The fixture days' stages on a scheduler and two executors give the rows of a local run.
/// (Not yet: the same bytes, the checks; see docs/cluster.md.)
#[test]
fn the_fixture_days_on_a_cluster_give_the_rows_of_a_local_run() {
    let dir = tempfile::tempdir().unwrap();
    let (scheduler, _procs) = start_cluster(dir.path());
    let (on_cluster, local) = (dir.path().join("cluster"), dir.path().join("local"));
    run_days(&on_cluster, Some(&scheduler));
    run_days(&local, None);
    let rows = |lake: &Path, stage: &str, day| {
        let mut lines: Vec<String> = to_ndjson(&read_stage(&Lake::new(lake), stage, day))
            .lines()
            .map(String::from)
            .collect();
        lines.sort();
        lines
    };
    for day in crate::common::fixture_dates() {
        for stage in &graph(&sql_dir()).stages {
            let (a, b) = (
                rows(&on_cluster, &stage.name, day),
                rows(&local, &stage.name, day),
            );
            assert!(a == b, "{} {day}: rows differ on the cluster", stage.name);
        }
    }
}

#[test]
fn an_unreachable_scheduler_is_named_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let lake_s = lake.to_str().unwrap();
    let (code, _, err) = ordertrail(&[&["-q", "load", "--lake", lake_s][..], &CONFIG].concat());
    assert_eq!(code, Some(0), "{err}");
    let address = format!("127.0.0.1:{}", free_port());
    let mut args = vec!["-q", "run", "--lake", lake_s, "--date", "2026-11-19"];
    args.extend(CONFIG);
    args.extend(["--cluster", &address]);
    let (code, _, err) = ordertrail(&args);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&format!("no Ballista scheduler answers at {address}")),
        "{err}"
    );
    assert!(!lake.join("stages").exists(), "nothing written");
}
