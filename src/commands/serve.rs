//! `ordertrail serve`: the operator's console over a lake (see `console`).

use crate::args::ServeArgs;
use crate::console::{Console, check_bind, serve};
use crate::error::{EXIT_OK, Error, Result};
use crate::lake::Lake;

pub async fn run(args: ServeArgs) -> Result<i32> {
    let project = args.sql.project()?;
    let lake = Lake::new(&args.lake);
    if !args.lake.is_dir() {
        return Err(Error::input_hint(
            format!("no lake at {}", args.lake.display()),
            "pass the lake folder with --lake (the demo's is out/demo/lake)",
        ));
    }
    let token = args.token.clone().filter(|t| !t.is_empty());
    check_bind(&args.bind, token.as_deref())?;
    let config_hash = project.intervals()?.config_hash;
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .map_err(|e| {
            Error::input_hint(
                format!("cannot listen on {}: {e}", args.bind),
                "pick another address or port with --bind (port 0 picks a free one)",
            )
        })?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::input(format!("the console's socket has no address: {e}")))?;
    let console = Console::new(
        lake,
        project.graph,
        project.sources,
        project.config,
        config_hash,
        args.reports.clone(),
        args.refresh_secs,
        token.clone(),
    );
    println!(
        "ordertrail console on http://{addr}/ (lake {}, reports {}){}",
        args.lake.display(),
        args.reports.display(),
        if token.is_some() {
            "; a token is required"
        } else {
            ""
        }
    );
    serve(console, listener, shutdown()).await?;
    Ok(EXIT_OK)
}

/// Ctrl-C or SIGTERM.
async fn shutdown() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}
