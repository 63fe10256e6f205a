//! The operator's console (`ordertrail serve`): a read-only web page over a lake.
//!
//! - `/` days by stages, each cell the stage's state that day (done, running, pending, stale,
//!   failed), judged exactly as `ordertrail status` judges it;
//! - `/day/D` the day's windows (stages by half hours), stage time, rows and peak memory, the
//!   check results with failing keys and rows, the report files with their SHA-256, a download
//!   link and, for CAT destinations, the validation against the CAT IM Tech Specs;
//! - `/dag` the stage DAG drawn from the SQL; `/stage/NAME` a stage's SQL and lineage;
//! - `/trends` time and rows per stage and failed checks, day by day;
//! - `/files/D/DEST/FILE` a report file (nothing outside `<reports>/D/DEST/`).
//!
//! Safe by default: every route is GET; it binds to localhost unless told otherwise, and any
//! other address needs a token (`Authorization: Bearer`, or `?token=` once, kept in a
//! cookie); pages escape every value (maud) and forbid inline script (Content-Security-Policy).
//! Pages refresh themselves while open (`/static/console.js` refetches the page).

pub mod dag;
pub mod model;
pub mod pages;

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path as UrlPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use chrono::NaiveDate;

use crate::config::Config;
use crate::engine::EngineOptions;
use crate::error::{Error, Result};
use crate::intervals::judge::{JudgeCache, judge_day};
use crate::lake::Lake;
use crate::sources::Sources;
use crate::stages::StageGraph;
use model::FileCache;
use pages::Frame;

/// Days shown on the index and the trends page (newest first).
const DAYS_SHOWN: usize = 31;
/// Name of the cookie that keeps the token after `?token=`.
const TOKEN_COOKIE: &str = "ordertrail_token";

const CONSOLE_JS: &str = r#"// Refetch the page every data-refresh seconds and swap in what changed.
(function () {
  const live = document.getElementById('live');
  if (!live) return;
  const secs = parseInt(live.dataset.refresh || '0', 10);
  if (!secs) return;
  async function tick() {
    try {
      const r = await fetch(location.href, { cache: 'no-store', credentials: 'same-origin' });
      if (r.ok) {
        const doc = new DOMParser().parseFromString(await r.text(), 'text/html');
        const next = doc.getElementById('live');
        if (next && next.innerHTML !== live.innerHTML) live.innerHTML = next.innerHTML;
      }
    } catch (e) { /* the server may be restarting; try again */ }
    setTimeout(tick, secs * 1000);
  }
  setTimeout(tick, secs * 1000);
})();
"#;

/// What the console serves.
pub struct Console {
    pub lake: Lake,
    pub graph: StageGraph,
    pub sources: Sources,
    pub config: Config,
    /// SHA-256 of the configuration file (stages reading `config.*` depend on it).
    pub config_hash: String,
    /// Where report files are (`<reports>/<date>/<destination>/`).
    pub reports: PathBuf,
    /// Seconds between a page's refreshes; 0: never.
    pub refresh_secs: u64,
    /// Required of every request when set.
    pub token: Option<String>,
    caches: tokio::sync::Mutex<Caches>,
    /// Column lineage of the SQL, traced once.
    lineage: tokio::sync::OnceCell<crate::lineage::Lineage>,
}

#[derive(Default)]
struct Caches {
    judge: JudgeCache,
    files: FileCache,
}

impl Console {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        lake: Lake,
        graph: StageGraph,
        sources: Sources,
        config: Config,
        config_hash: String,
        reports: PathBuf,
        refresh_secs: u64,
        token: Option<String>,
    ) -> Console {
        Console {
            lake,
            graph,
            sources,
            config,
            config_hash,
            reports,
            refresh_secs,
            token,
            caches: Default::default(),
            lineage: tokio::sync::OnceCell::new(),
        }
    }

    fn frame(&self) -> Frame<'_> {
        Frame {
            lake: self.lake.root().to_str().unwrap_or("(lake)"),
            version: &self.graph.version,
            refresh_secs: self.refresh_secs,
        }
    }

    async fn judge(
        &self,
        ctx: &datafusion::prelude::SessionContext,
        date: NaiveDate,
    ) -> Result<model::DayView> {
        let project = crate::intervals::ProjectRef {
            graph: &self.graph,
            sources: &self.sources,
            config_hash: self.config_hash.clone(),
        };
        let mut caches = self.caches.lock().await;
        let judged = judge_day(ctx, &self.lake, &project, date, &mut caches.judge).await?;
        model::day_view(&self.graph, &judged)
    }

    /// The SQL's column lineage (planned once, over empty tables in a scratch folder).
    async fn lineage(&self) -> Result<&crate::lineage::Lineage> {
        self.lineage
            .get_or_try_init(|| async {
                let suite = crate::sqltest::Suite::new(&self.graph, &self.sources, &self.config)?;
                let ctx = suite.planning_context().await?;
                let checks = crate::checks::load(&self.graph.dir.join("checks"))?;
                let date = chrono::NaiveDate::from_ymd_opt(2026, 11, 19).expect("valid date");
                crate::lineage::Lineage::build(&ctx, &self.graph, &checks, date).await
            })
            .await
    }

    async fn context(&self) -> Result<datafusion::prelude::SessionContext> {
        crate::project::context_for(
            &self.lake,
            &self.sources,
            &self.graph,
            &self.config,
            &EngineOptions::default(),
        )
        .await
    }
}

/// The router over `console`.
pub fn router(console: Arc<Console>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/day/{date}", get(day))
        .route("/dag", get(dag_page))
        .route("/stage/{name}", get(stage))
        .route("/trends", get(trends))
        .route("/files/{date}/{dest}/{file}", get(download))
        .route("/static/style.css", get(style))
        .route("/static/console.js", get(script))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(console.clone(), guard))
        .with_state(console)
}

/// Serve on `listener` until `shutdown` completes.
pub async fn serve(
    console: Console,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let app = router(Arc::new(console));
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| Error::input(format!("the console's server stopped: {e}")))
}

/// An error as a page: what was wrong, with a status code.
struct Failure(StatusCode, String);

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let frame = Frame {
            lake: "",
            version: "",
            refresh_secs: 0,
        };
        (self.0, Html(pages::error(&frame, &self.1))).into_response()
    }
}

type Page = std::result::Result<Html<String>, Failure>;

async fn index(State(c): State<Arc<Console>>) -> Page {
    let ctx = c.context().await?;
    let dates = model::days(&c.lake, &c.graph, &c.sources, &c.reports)?;
    let mut rows = Vec::new();
    for date in dates.into_iter().take(DAYS_SHOWN) {
        let view = c.judge(&ctx, date).await?;
        let checks = model::checks(&c.lake, &c.graph.version, date)?;
        let report_files = count_files(&c.reports.join(date.to_string()));
        rows.push(pages::DayRow {
            view,
            checks,
            report_files,
        });
    }
    Ok(Html(pages::index(&c.frame(), &c.graph, &rows)))
}

/// Files in the destination folders under `day` (not hashed).
fn count_files(day: &Path) -> usize {
    std::fs::read_dir(day)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                .map(|e| {
                    std::fs::read_dir(e.path())
                        .map(|f| f.flatten().filter(|f| f.path().is_file()).count())
                        .unwrap_or(0)
                })
                .sum()
        })
        .unwrap_or(0)
}

fn parse_date(text: &str) -> std::result::Result<NaiveDate, Failure> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
        Failure(
            StatusCode::NOT_FOUND,
            format!("not a trade date: {text} (want YYYY-MM-DD)"),
        )
    })
}

async fn day(State(c): State<Arc<Console>>, UrlPath(date): UrlPath<String>) -> Page {
    let date = parse_date(&date)?;
    let ctx = c.context().await?;
    let view = c.judge(&ctx, date).await?;
    let checks = model::checks(&c.lake, &c.graph.version, date)?;
    let console = c.clone();
    // Hashing and validating report files reads them: off the async threads.
    let reports = tokio::task::spawn_blocking(move || {
        let mut caches = console.caches.blocking_lock();
        model::report_files(&console.reports, &console.config, date, &mut caches.files)
    })
    .await
    .map_err(|e| Failure(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
    Ok(Html(pages::day(
        &c.frame(),
        &view,
        checks.as_deref(),
        &reports,
    )))
}

async fn dag_page(State(c): State<Arc<Console>>) -> Page {
    let ctx = c.context().await?;
    let latest = match model::days(&c.lake, &c.graph, &c.sources, &c.reports)?.first() {
        Some(d) => Some(c.judge(&ctx, *d).await?),
        None => None,
    };
    Ok(Html(pages::dag_page(&c.frame(), &c.graph, latest.as_ref())))
}

async fn stage(State(c): State<Arc<Console>>, UrlPath(name): UrlPath<String>) -> Page {
    let Some(stage) = c.graph.get(&name) else {
        return Err(Failure(
            StatusCode::NOT_FOUND,
            format!("no stage named {name} in SQL {}", c.graph.version),
        ));
    };
    let checks = crate::checks::load(&c.graph.dir.join("checks"))?;
    let columns = c.lineage().await?.columns(&name, None)?;
    Ok(Html(pages::stage_page(
        &c.frame(),
        &c.graph,
        stage,
        &checks,
        &columns,
    )))
}

async fn trends(State(c): State<Arc<Console>>) -> Page {
    let mut days = Vec::new();
    for date in model::days(&c.lake, &c.graph, &c.sources, &c.reports)?
        .into_iter()
        .take(DAYS_SHOWN)
        .rev()
    {
        days.push(model::day_totals(&c.lake, &c.graph, date)?);
    }
    Ok(Html(pages::trends(&c.frame(), &c.graph, &days)))
}

/// A path segment that names one entry of a folder: no separators, not `.`/`..`, not hidden.
fn plain_name(s: &str) -> bool {
    let mut parts = Path::new(s).components();
    matches!(
        (parts.next(), parts.next()),
        (Some(Component::Normal(_)), None)
    ) && !s.starts_with('.')
        && !s.contains(['/', '\\', '\0'])
}

async fn download(
    State(c): State<Arc<Console>>,
    UrlPath((date, dest, file)): UrlPath<(String, String, String)>,
) -> std::result::Result<Response, Failure> {
    let date = parse_date(&date)?;
    let refused = || {
        Failure(
            StatusCode::NOT_FOUND,
            "no such report file (only files in <reports>/<date>/<destination>/ are served)".into(),
        )
    };
    if !plain_name(&dest) || !plain_name(&file) {
        return Err(refused());
    }
    // Resolved, the file must still be inside the reports folder (no link out of it).
    let root = std::fs::canonicalize(&c.reports).map_err(|_| refused())?;
    let path = std::fs::canonicalize(c.reports.join(date.to_string()).join(&dest).join(&file))
        .map_err(|_| refused())?;
    if !path.starts_with(&root) || !path.is_file() {
        return Err(refused());
    }
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|e| Failure(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok((headers, Body::from(bytes)).into_response())
}

async fn style() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        crate::html::STYLE,
    )
}

async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        CONSOLE_JS,
    )
}

async fn not_found() -> Failure {
    Failure(StatusCode::NOT_FOUND, "no such page".into())
}

/// Equal in time whatever the first differing byte.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The token a request carries: bearer header, cookie, or `token=` in the query (and whether
/// it came in the query, so that a cookie is set).
fn offered_token(req: &Request) -> Option<(String, bool)> {
    let headers = req.headers();
    if let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        return Some((v.trim().to_string(), false));
    }
    for cookies in headers.get_all(header::COOKIE) {
        if let Ok(text) = cookies.to_str() {
            for c in text.split(';') {
                if let Some(v) = c
                    .trim()
                    .strip_prefix(TOKEN_COOKIE)
                    .and_then(|v| v.strip_prefix('='))
                {
                    return Some((v.to_string(), false));
                }
            }
        }
    }
    req.uri().query().and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("token="))
            .map(|v| (v.to_string(), true))
    })
}

/// Token check (when one is set) and the headers every response carries.
async fn guard(State(c): State<Arc<Console>>, req: Request, next: Next) -> Response {
    let mut set_cookie = None;
    if let Some(token) = &c.token {
        match offered_token(&req) {
            Some((t, from_query)) if same_secret(&t, token) => {
                if from_query {
                    set_cookie = Some(format!(
                        "{TOKEN_COOKIE}={t}; HttpOnly; SameSite=Strict; Path=/"
                    ));
                }
            }
            _ => {
                let mut r = Failure(
                    StatusCode::UNAUTHORIZED,
                    "a token is required: open the address with ?token=<token>, or send \
                     Authorization: Bearer <token>"
                        .into(),
                )
                .into_response();
                secure(r.headers_mut());
                return r;
            }
        }
    }
    let mut response = next.run(req).await;
    secure(response.headers_mut());
    if let Some(cookie) = set_cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

fn secure(headers: &mut HeaderMap) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; \
             connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// Refuse to listen beyond this machine without a token.
pub fn check_bind(addr: &std::net::SocketAddr, token: Option<&str>) -> Result<()> {
    if addr.ip().is_loopback() || token.is_some_and(|t| !t.is_empty()) {
        return Ok(());
    }
    Err(Error::input_hint(
        format!(
            "refusing to serve the console on {addr} without a token: anyone who reaches that address would see the lake"
        ),
        "bind to 127.0.0.1 (the default), or set a token with --token or ORDERTRAIL_CONSOLE_TOKEN",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_are_served() {
        assert!(plain_name("CAT_20261119_000001.json.bz2"));
        for bad in ["..", ".", "../x", "a/b", "a\\b", ".hidden", "", "/etc"] {
            assert!(!plain_name(bad), "{bad}");
        }
    }

    #[test]
    fn a_public_address_needs_a_token() {
        let local: std::net::SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let any: std::net::SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert!(check_bind(&local, None).is_ok());
        let err = check_bind(&any, None).unwrap_err().to_string();
        assert!(err.contains("without a token"), "{err}");
        assert!(check_bind(&any, Some("")).is_err());
        assert!(check_bind(&any, Some("s3cret")).is_ok());
        assert!(same_secret("abc", "abc") && !same_secret("abc", "abd") && !same_secret("a", "ab"));
    }
}
