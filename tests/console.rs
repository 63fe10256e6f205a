//! The operator's console (`ordertrail serve`) in a real headless browser (Debian's
//! chromium; `ORDERTRAIL_CHROMIUM` names another): the demo lake, a lake with failing checks,
//! a stale window and a crafted symbol, a run at work and one that died, and the server's
//! defences (path traversal, token, a public address without a token). Screenshots go to
//! `$CARGO_TARGET_TMPDIR/console-screenshots/`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common::repo;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ordertrail"));
    c.current_dir(repo());
    c
}

/// A running `ordertrail serve`, killed when dropped.
struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(lake: &Path, reports: &Path, extra: &[&str]) -> Server {
        let mut child = bin()
            .args(["serve", "--lake"])
            .arg(lake)
            .arg("--reports")
            .arg(reports)
            .args(["--config", "data-fixtures/ordertrail.toml"])
            .args(["--bind", "127.0.0.1:0", "--refresh-secs", "0"])
            .args(extra)
            .stdout(Stdio::piped())
            .spawn()
            .expect("serve starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("serve prints its address");
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|s| s.split('/').next())
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_string();
        Server { child, addr }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A GET with exactly this path (no normalisation): status, headers, body.
fn http_get(addr: &str, path: &str, headers: &[&str]) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for h in headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status");
    (status, head, raw[split + 4..].to_vec())
}

fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The page as the browser has it after running its scripts (the DOM), and a screenshot.
fn browse(url: &str, shot: &str) -> String {
    let chromium = std::env::var("ORDERTRAIL_CHROMIUM").unwrap_or_else(|_| "chromium".into());
    let profile = tempfile::tempdir().unwrap();
    let common = [
        "--headless".to_string(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-dev-shm-usage".into(),
        "--hide-scrollbars".into(),
        "--no-first-run".into(),
        format!("--user-data-dir={}", profile.path().display()),
        "--virtual-time-budget=3000".into(),
    ];
    let run = |extra: &[String]| {
        let out = Command::new(&chromium)
            .args(&common)
            .args(extra)
            .arg(url)
            .output()
            .unwrap_or_else(|e| {
                panic!("{chromium} does not run ({e}): apt-get install -y chromium chromium-driver")
            });
        assert!(
            out.status.success(),
            "{chromium} failed on {url}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    let png = artifacts().join(format!("{shot}.png"));
    run(&[
        format!("--screenshot={}", png.display()),
        "--window-size=1400,1800".into(),
    ]);
    assert!(png.exists(), "no screenshot {}", png.display());
    let dom = String::from_utf8(run(&["--dump-dom".into()]).stdout).unwrap();
    assert!(dom.contains("ordertrail"), "no page from {url}: {dom}");
    dom
}

/// The element (start tag) of the first element with `attr` in `dom`, e.g.
/// `data-stage="flow"`.
fn tags_with<'a>(dom: &'a str, attr: &str) -> Vec<&'a str> {
    dom.match_indices(attr)
        .filter_map(|(i, _)| {
            let start = dom[..i].rfind('<')?;
            let end = i + dom[i..].find('>')?;
            Some(&dom[start..=end])
        })
        .collect()
}

fn stages() -> Vec<String> {
    crate::common::graph(&crate::common::sql_dir())
        .stages
        .iter()
        .map(|s| s.name.clone())
        .collect()
}

#[test]
fn the_demo_lake_in_a_browser() {
    let out = tempfile::tempdir().unwrap();
    let demo = bin()
        .args(["-q", "demo", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    assert!(
        demo.status.success(),
        "{}",
        String::from_utf8_lossy(&demo.stderr)
    );
    let (lake, reports) = (out.path().join("lake"), out.path().join("reports"));
    let server = Server::start(&lake, &reports, &[]);
    let stages = stages();

    // Days by stages: both fixture days done in every stage, checks passed.
    let index = browse(&server.url("/"), "demo-index");
    for day in ["2026-11-19", "2026-11-20"] {
        let row = tags_with(&index, &format!("data-date=\"{day}\""));
        assert_eq!(row.len(), 1, "one row for {day}");
        assert!(row[0].contains("data-state=\"done\""), "{day}: {}", row[0]);
    }
    let done_cells = tags_with(&index, "data-stage=")
        .iter()
        .filter(|t| t.contains("data-state=\"done\""))
        .count();
    assert!(done_cells >= 2 * stages.len(), "{done_cells} cells done");
    assert!(index.contains("data-checks=\"pass\""), "checks pass");

    // A day: every stage's windows done, the checks, the report files with their hashes.
    let day = browse(&server.url("/day/2026-11-19"), "demo-day");
    for stage in &stages {
        let row = tags_with(&day, &format!("id=\"stage-{stage}\""));
        assert_eq!(row.len(), 1, "grid row of {stage}");
        assert!(
            row[0].contains("data-state=\"done\""),
            "{stage}: {}",
            row[0]
        );
    }
    assert!(
        !day.contains("id=\"not-done\""),
        "nothing is listed as not done"
    );
    assert!(day.contains("id=\"checks-verdict\">PASS<"), "verdict PASS");
    let checks = ordertrail::checks::load(&crate::common::sql_dir().join("checks")).unwrap();
    for c in &checks {
        assert!(
            day.contains(&format!("data-check=\"{}\"", c.name)),
            "check {} listed",
            c.name
        );
    }
    let dir = reports.join("2026-11-19");
    let mut listed = 0;
    for dest in std::fs::read_dir(&dir).unwrap().flatten() {
        for file in std::fs::read_dir(dest.path()).unwrap().flatten() {
            let sha = ordertrail::lake::file_sha256(&file.path()).unwrap();
            assert!(
                day.contains(&sha),
                "{} with its sha256",
                file.path().display()
            );
            let name = file.file_name().to_string_lossy().to_string();
            let dest_name = dest.file_name().to_string_lossy().to_string();
            let link = format!("/files/2026-11-19/{dest_name}/{name}");
            assert!(day.contains(&format!("href=\"{link}\"")), "link {link}");
            let (status, head, body) = http_get(&server.addr, &link, &[]);
            assert_eq!(status, 200, "{link}: {head}");
            assert!(
                head.to_lowercase()
                    .contains("content-disposition: attachment")
            );
            assert_eq!(body, std::fs::read(file.path()).unwrap(), "{link} bytes");
            listed += 1;
        }
    }
    assert!(listed >= 4, "{listed} report files");
    let validation = tags_with(&day, "class=\"validation\"");
    assert!(!validation.is_empty(), "the CAT destination's validation");
    assert!(validation.iter().all(|t| t.contains("data-errors=\"0\"")));

    // The DAG: every stage a node linking to its page; a stage page shows its SQL.
    let dag = browse(&server.url("/dag"), "demo-dag");
    for stage in &stages {
        assert!(
            dag.contains(&format!("data-node=\"{stage}\"")),
            "node {stage}"
        );
        assert!(
            dag.contains(&format!("href=\"/stage/{stage}\"")),
            "link {stage}"
        );
    }
    assert!(dag.contains("data-from=\"flow\" data-to=\"reject_refs\""));
    let page = browse(&server.url("/stage/lifecycle"), "demo-stage");
    assert!(page.contains("id=\"sql\""), "the SQL");
    assert!(
        page.contains("href=\"/stage/business_fill\""),
        "what it reads"
    );
    // Column lineage, from the plan: the status comes from business_fill and rms decisions.
    let row = page
        .split("data-column=\"lifecycle.event_status\"")
        .nth(1)
        .and_then(|r| r.split("</tr>").next())
        .expect("a lineage row for event_status");
    assert!(row.contains("oms.rms_event.action"), "{row}");
    assert!(row.contains("FIX tag 35"), "{row}");
    let trends = browse(&server.url("/trends"), "demo-trends");
    assert!(trends.contains("id=\"trend-table\""), "{trends}");
}

#[test]
fn failing_checks_a_stale_window_and_a_crafted_symbol_are_shown_as_such() {
    // The defect day, with one symbol replaced by markup wherever it occurs (not in the
    // reference data, so the tick_lot_size check reports it as unknown).
    let work = tempfile::tempdir().unwrap();
    let fixtures = work.path().join("fixtures");
    let payload = "<script>document.title='PWNED'</script>";
    copy_dir(&repo().join("data-fixtures/defects"), &fixtures, &|text| {
        text.replace("TSLA", payload)
    });
    let lake = work.path().join("lake");
    let load = bin()
        .args(["-q", "load", "--lake"])
        .arg(&lake)
        .arg("--fixtures")
        .arg(&fixtures)
        .args(["--config", "data-fixtures/ordertrail.toml"])
        .output()
        .unwrap();
    assert!(
        load.status.success(),
        "{}",
        String::from_utf8_lossy(&load.stderr)
    );
    let run = bin()
        .args(["-q", "run", "--lake"])
        .arg(&lake)
        .args([
            "--date",
            "2026-11-18",
            "--config",
            "data-fixtures/ordertrail.toml",
        ])
        .output()
        .unwrap();
    assert_eq!(
        run.status.code(),
        Some(1),
        "checks fail on the defect day: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    // A partition deleted outside the pipeline: its stage is stale.
    std::fs::remove_dir_all(lake.join("stages/v1/daily_summary/trade_date=2026-11-18")).unwrap();

    let server = Server::start(&lake, &work.path().join("reports"), &[]);
    let index = browse(&server.url("/"), "defects-index");
    let row = tags_with(&index, "data-date=\"2026-11-18\"");
    assert!(row[0].contains("data-state=\"stale\""), "{}", row[0]);
    assert!(index.contains("data-checks=\"fail\""), "checks failed");

    let day = browse(&server.url("/day/2026-11-18"), "defects-day");
    let stale = tags_with(&day, "id=\"stage-daily_summary\"");
    assert!(stale[0].contains("data-state=\"stale\""), "{}", stale[0]);
    let cells = tags_with(&day, "daily_summary 00:00-24:00:");
    assert!(
        cells.iter().any(|c| c.contains("is missing")),
        "the reason: {cells:?}"
    );
    assert!(day.contains("id=\"checks-verdict\">FAIL<"), "verdict FAIL");
    // Each failing check has its section with its keys (the defect README's planted rows).
    let results = ordertrail::checks::read(&lake.join("checks/v1/trade_date=2026-11-18"))
        .unwrap()
        .expect("check results written");
    let failing: Vec<_> = results
        .1
        .iter()
        .filter(|r| r.status == ordertrail::checks::Status::Fail)
        .collect();
    assert!(failing.len() >= 3, "{} failing checks", failing.len());
    for r in &failing {
        assert!(
            day.contains(&format!("id=\"check-{}\"", r.check)),
            "{}",
            r.check
        );
        let key = html_escape(&r.keys[0]);
        assert!(
            day.contains(&format!("class=\"failing-key\">{key}<")),
            "{key}"
        );
    }
    // The crafted symbol is text on the page, never markup, and never ran.
    assert!(failing.iter().any(|r| r.check == "tick_lot_size"));
    assert!(
        day.contains("unknown symbol &lt;script&gt;document.title='PWNED'&lt;/script&gt;"),
        "the symbol shown as text"
    );
    assert!(!day.contains(payload), "the symbol became markup");
    assert!(!day.contains("<title>PWNED"), "the symbol's script ran");
}

#[test]
fn the_server_keeps_to_the_reports_folder_and_asks_for_its_token() {
    let work = tempfile::tempdir().unwrap();
    let lake = work.path().join("lake");
    let reports = work.path().join("reports");
    std::fs::create_dir_all(&lake).unwrap();
    let dest = reports.join("2026-11-19/finra_cat");
    std::fs::create_dir_all(&dest).unwrap();
    std::fs::write(dest.join("a.txt"), "report").unwrap();
    std::fs::write(work.path().join("secret.txt"), "SECRET").unwrap();
    std::fs::write(reports.join("2026-11-19/top.txt"), "SECRET").unwrap();
    std::os::unix::fs::symlink(work.path().join("secret.txt"), dest.join("link.txt")).unwrap();

    let server = Server::start(&lake, &reports, &[]);
    assert_eq!(
        http_get(&server.addr, "/files/2026-11-19/finra_cat/a.txt", &[]).0,
        200
    );
    for path in [
        "/files/2026-11-19/finra_cat/../../../secret.txt",
        "/files/2026-11-19/finra_cat/..%2F..%2F..%2Fsecret.txt",
        "/files/2026-11-19/..%2F..%2F/secret.txt",
        "/files/2026-11-19/%2e%2e/top.txt",
        "/files/2026-11-19/finra_cat/link.txt",
        "/files/..%2F..%2Fsecret.txt/x/y",
        "/files/2026-11-19/finra_cat/%2Fetc%2Fpasswd",
    ] {
        let (status, _, body) = http_get(&server.addr, path, &[]);
        assert_ne!(status, 200, "{path} was served");
        let body = String::from_utf8_lossy(&body);
        assert!(
            !body.contains("SECRET") && !body.contains("root:"),
            "{path}: {body}"
        );
    }
    // Nothing but GET.
    let mut s = TcpStream::connect(&server.addr).unwrap();
    s.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 405"), "{resp}");
    drop(server);

    // A token: required of every request, as a bearer header or once in the query.
    let server = Server::start(&lake, &reports, &["--token", "s3cret-token"]);
    let (status, _, body) = http_get(&server.addr, "/", &[]);
    assert_eq!(status, 401);
    assert!(!String::from_utf8_lossy(&body).contains("s3cret-token"));
    assert_eq!(
        http_get(&server.addr, "/", &["Authorization: Bearer wrong"]).0,
        401
    );
    assert_eq!(
        http_get(&server.addr, "/", &["Authorization: Bearer s3cret-token"]).0,
        200
    );
    let (status, head, _) = http_get(&server.addr, "/?token=s3cret-token", &[]);
    assert_eq!(status, 200);
    assert!(
        head.contains("ordertrail_token=s3cret-token; HttpOnly"),
        "{head}"
    );
    assert_eq!(
        http_get(
            &server.addr,
            "/dag",
            &["Cookie: ordertrail_token=s3cret-token"]
        )
        .0,
        200
    );
    assert!(
        head.to_lowercase()
            .contains("content-security-policy: default-src 'none'"),
        "{head}"
    );
    drop(server);

    // Anything but localhost needs a token.
    let out = bin()
        .args(["serve", "--lake"])
        .arg(&lake)
        .args(["--bind", "0.0.0.0:0"])
        .env_remove("ORDERTRAIL_CONSOLE_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("without a token"), "{err}");
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Copy `from` to `to`, passing every CSV's text through `edit`.
fn copy_dir(from: &Path, to: &Path, edit: &dyn Fn(&str) -> String) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let path = entry.path();
        let target = to.join(entry.file_name());
        if path.is_dir() {
            let keep = entry.file_name() == "refdata";
            if keep {
                copy_dir(&path, &target, &|t| t.to_string());
            } else {
                copy_dir(&path, &target, edit);
            }
        } else if path.extension().is_some_and(|e| e == "csv") {
            let text = std::fs::read_to_string(&path).unwrap();
            std::fs::write(&target, edit(&text)).unwrap();
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

#[test]
fn a_run_in_progress_shows_as_running_and_a_dead_one_as_stopped() {
    let work = tempfile::tempdir().unwrap();
    let lake = work.path().join("lake");
    let reports = work.path().join("reports");
    let config = ["--config", "data-fixtures/ordertrail.toml"];
    let load = bin()
        .args(["-q", "load", "--lake"])
        .arg(&lake)
        .args(config)
        .output()
        .unwrap();
    assert!(
        load.status.success(),
        "{}",
        String::from_utf8_lossy(&load.stderr)
    );
    let run = || {
        let mut c = bin();
        c.args(["-q", "run", "--lake"])
            .arg(&lake)
            .args(["--date", "2026-11-19"])
            .args(config);
        c
    };
    let state = || {
        ordertrail::intervals::state::StateDir::new(
            &ordertrail::lake::Lake::new(&lake),
            "v1",
            crate::common::date("2026-11-19"),
        )
        .load()
        .unwrap()
    };
    let row_state = |dom: &str, stage: &str| -> String {
        let tag = tags_with(dom, &format!("id=\"stage-{stage}\""))[0].to_string();
        tag.split("data-state=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_string()
    };

    // A run that died mid-window left its window running and its claim behind: stale.
    let crashed = run()
        .env("ORDERTRAIL_CRASH_AT", "lifecycle@00:00:before_commit")
        .output()
        .unwrap();
    assert!(!crashed.status.success());
    let server = Server::start(&lake, &reports, &[]);
    let day = browse(&server.url("/day/2026-11-19"), "crashed-day");
    assert_eq!(row_state(&day, "flow"), "done");
    assert_eq!(row_state(&day, "lifecycle"), "stale");
    assert!(day.contains("stopped mid-window"), "why it is stale");
    assert!(
        day.contains("A run that stopped left its claim"),
        "the dead claim"
    );

    // A run at work: its window running, the stages after it pending.
    let gate = work.path().join("gate");
    std::fs::write(&gate, "").unwrap();
    let mut live = run()
        .env(
            "ORDERTRAIL_PAUSE_AT",
            format!("lifecycle@00:00:before_commit={}", gate.display()),
        )
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = format!(":{}:", live.id());
    let until = std::time::Instant::now() + Duration::from_secs(120);
    while !state().records("lifecycle").last().is_some_and(|r| {
        r.status == ordertrail::intervals::state::Status::Running && r.owner.contains(&pid)
    }) {
        assert!(
            std::time::Instant::now() < until,
            "the run never reached lifecycle"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let day = browse(&server.url("/day/2026-11-19"), "running-day");
    assert_eq!(row_state(&day, "flow"), "done");
    assert_eq!(row_state(&day, "lifecycle"), "running");
    assert_eq!(row_state(&day, "oats_order_events"), "pending");
    assert!(day.contains("id=\"claim\">Running: "), "the live claim");
    let index = browse(&server.url("/"), "running-index");
    assert!(tags_with(&index, "data-date=\"2026-11-19\"")[0].contains("data-state=\"running\""));

    // Let it finish: every stage done.
    std::fs::remove_file(&gate).unwrap();
    assert!(live.wait().unwrap().success(), "the run finishes");
    let day = browse(&server.url("/day/2026-11-19"), "finished-day");
    for stage in stages() {
        assert_eq!(row_state(&day, &stage), "done", "{stage}");
    }
    assert!(!day.contains("id=\"claim\""), "no claim once done");
}
