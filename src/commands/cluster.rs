//! `ordertrail cluster scheduler|executor`: a Ballista cluster's processes (see `cluster`).

use crate::args::ClusterArgs;
use crate::error::Result;

#[cfg(feature = "cluster")]
pub async fn run(args: ClusterArgs) -> Result<i32> {
    use crate::args::ClusterProcess;
    match args.process {
        ClusterProcess::Scheduler {
            bind,
            executor_timeout,
        } => {
            eprintln!("ordertrail: Ballista scheduler listening on {bind}");
            crate::cluster::run_scheduler(bind, executor_timeout.max(6)).await?;
        }
        ClusterProcess::Executor {
            scheduler,
            bind,
            grpc_port,
            concurrent_tasks,
            work_dir,
            advertise,
            memory_limit,
        } => {
            let settings = crate::cluster::ExecutorSettings {
                scheduler,
                bind: bind.ip(),
                advertise: advertise
                    .or_else(|| (!bind.ip().is_unspecified()).then(|| bind.ip().to_string())),
                flight_port: bind.port(),
                grpc_port,
                concurrent_tasks: concurrent_tasks
                    .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())),
                work_dir: work_dir.map(|d| d.display().to_string()),
                memory_limit,
            };
            eprintln!(
                "ordertrail: Ballista executor on {bind} for the scheduler at {}:{}",
                settings.scheduler.0, settings.scheduler.1
            );
            crate::cluster::run_executor(settings).await?;
        }
    }
    Ok(crate::error::EXIT_OK)
}

#[cfg(not(feature = "cluster"))]
pub async fn run(args: ClusterArgs) -> Result<i32> {
    let _ = args.process;
    Err(crate::error::Error::input_hint(
        "this binary was built without cluster support",
        "build it with `cargo build --release --features cluster`",
    ))
}
