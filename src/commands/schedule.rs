//! `ordertrail schedule`: run the jobs of a schedule file until SIGTERM (or once).

use crate::args::ScheduleArgs;
use crate::error::{EXIT_OK, Result};
use crate::schedule::executor::PipelineExecutor;
use crate::schedule::{self, History, ScheduleConfig, SystemClock, Until};

use super::engine_options;

pub async fn run(args: ScheduleArgs) -> Result<i32> {
    let config = ScheduleConfig::load(&args.config)?;
    if args.history {
        let history = History {
            path: config.history_path(),
        };
        for e in history.read()? {
            println!(
                "{}  {:<12} {:<4} {}{}  {}",
                e.tick,
                e.job,
                if e.ok { "ok" } else { "FAIL" },
                e.started,
                if e.catch_up { " (catch-up)" } else { "" },
                e.detail
            );
        }
        return Ok(EXIT_OK);
    }
    let project = args.sql.project()?;
    let executor = PipelineExecutor {
        project: &project,
        config: &config,
        options: engine_options(&args.engine),
    };
    super::run::install_sigterm_handler();
    let until = if args.once {
        Until::Once
    } else {
        Until::Forever
    };
    eprintln!(
        "ordertrail: scheduling {} jobs on {} (history {})",
        config.jobs.len(),
        config.lake.display(),
        config.history_path().display()
    );
    let ran = schedule::run(&config, &SystemClock, &executor, until).await?;
    let failed = ran.iter().filter(|e| !e.ok).count();
    for e in &ran {
        println!(
            "{}  {:<12} {:<4} {}",
            e.tick,
            e.job,
            if e.ok { "ok" } else { "FAIL" },
            e.detail
        );
    }
    Ok(if failed > 0 { 1 } else { EXIT_OK })
}
