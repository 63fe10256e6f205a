//! Faults an executor can be told to suffer, for the cluster tests (`tests/cluster.rs`): a
//! machine lost mid-stage, at a chosen point. Each is off unless its variable is set.
//!
//! - `ORDERTRAIL_EXECUTOR_ABORT_AT_TASK=N`: the process aborts as its N-th task starts (its
//!   running task and the shuffle files it wrote are gone).
//! - `ORDERTRAIL_EXECUTOR_ABORT_AT_FETCH=N`: the process aborts while serving the N-th shuffle
//!   file another executor fetches from it: the fetch's response has begun, no byte of the file
//!   has been sent, and the connection breaks. (Executors tell themselves apart from clients
//!   by their user agent: `cluster::EXECUTOR_AGENT`.)
//! - `ORDERTRAIL_EXECUTOR_ABORT_AT_RESULTS=N`: the same, at the N-th fetch by a client (an
//!   `ordertrail run` reading a finished job's rows).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use arrow_flight::flight_service_server::{FlightService, FlightServiceServer};
use arrow_flight::{
    Action, ActionType, Criteria, Empty, FlightData, FlightDescriptor, FlightInfo,
    HandshakeRequest, HandshakeResponse, PollInfo, PutResult, SchemaResult, Ticket,
};
use ballista_core::error::BallistaError;
use ballista_executor::ArrowFlightServerProvider;
use ballista_executor::flight_service::BallistaFlightService;
use futures::Stream;
use tonic::{Request, Response, Status, Streaming};

/// Called as each task starts.
pub(super) fn at_task_start() {
    static TASKS: AtomicUsize = AtomicUsize::new(0);
    let n = TASKS.fetch_add(1, Ordering::SeqCst) + 1;
    if std::env::var("ORDERTRAIL_EXECUTOR_ABORT_AT_TASK").is_ok_and(|at| at == n.to_string()) {
        eprintln!("ordertrail: injected executor abort at task {n}");
        std::process::abort();
    }
}

fn from_an_executor<T>(request: &Request<T>) -> bool {
    request
        .metadata()
        .get("user-agent")
        .and_then(|agent| agent.to_str().ok())
        .is_some_and(|agent| agent.starts_with(super::EXECUTOR_AGENT))
}

fn fetch_number(variable: &str) -> Option<usize> {
    std::env::var(variable).ok()?.parse().ok()
}

/// Ballista's Flight service, aborting at the fetch `ORDERTRAIL_EXECUTOR_ABORT_AT_FETCH` or
/// `ORDERTRAIL_EXECUTOR_ABORT_AT_RESULTS` names; `None` (Ballista's own service) when neither
/// names one.
pub(super) fn flight_service() -> Option<Arc<ArrowFlightServerProvider>> {
    let at = [
        fetch_number("ORDERTRAIL_EXECUTOR_ABORT_AT_FETCH"),
        fetch_number("ORDERTRAIL_EXECUTOR_ABORT_AT_RESULTS"),
    ];
    if at == [None, None] {
        return None;
    }
    let sizes = ballista_executor::executor_process::ExecutorProcessConfig::default();
    let (decoding, encoding) = (
        sizes.grpc_max_decoding_message_size as usize,
        sizes.grpc_max_encoding_message_size as usize,
    );
    Some(Arc::new(move |work_dir, address, mut shutdown, grpc| {
        tokio::spawn(async move {
            let service = AbortAtFetch {
                inner: BallistaFlightService::new(work_dir),
                at,
                fetches: Default::default(),
            };
            ballista_core::utils::create_grpc_server(&grpc)
                .add_service(
                    FlightServiceServer::new(service)
                        .max_decoding_message_size(decoding)
                        .max_encoding_message_size(encoding),
                )
                .serve_with_shutdown(address, shutdown.recv())
                .await
                .map_err(BallistaError::TonicError)
        })
    }))
}

#[derive(Clone)]
struct AbortAtFetch {
    inner: BallistaFlightService,
    /// The fetch to abort at: by executors, by clients.
    at: [Option<usize>; 2],
    /// Fetches begun: by executors, by clients.
    fetches: Arc<[AtomicUsize; 2]>,
}

type Boxed<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

impl AbortAtFetch {
    /// A fetch is starting: the stream that will serve it, or one that aborts the process
    /// once the response's headers are on their way.
    fn serve<T: Send + 'static>(&self, by_an_executor: bool, stream: Boxed<T>) -> Boxed<T> {
        let (who, what) = match by_an_executor {
            true => (0, "fetch"),
            false => (1, "results fetch"),
        };
        let n = self.fetches[who].fetch_add(1, Ordering::SeqCst) + 1;
        if self.at[who] != Some(n) {
            return stream;
        }
        Box::pin(futures::stream::once(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            eprintln!("ordertrail: injected executor abort at {what} {n}");
            std::process::abort()
        }))
    }
}

#[async_trait::async_trait]
impl FlightService for AbortAtFetch {
    type HandshakeStream = Boxed<HandshakeResponse>;
    type ListFlightsStream = Boxed<FlightInfo>;
    type DoGetStream = Boxed<FlightData>;
    type DoPutStream = Boxed<PutResult>;
    type DoExchangeStream = Boxed<FlightData>;
    type DoActionStream = Boxed<arrow_flight::Result>;
    type ListActionsStream = Boxed<ActionType>;

    async fn do_get(
        &self,
        request: Request<Ticket>,
    ) -> Result<Response<Boxed<FlightData>>, Status> {
        let by_an_executor = from_an_executor(&request);
        let response = self.inner.do_get(request).await?;
        Ok(response.map(|stream| self.serve(by_an_executor, stream)))
    }

    async fn do_action(
        &self,
        request: Request<Action>,
    ) -> Result<Response<Boxed<arrow_flight::Result>>, Status> {
        let by_an_executor = from_an_executor(&request);
        let response = self.inner.do_action(request).await?;
        Ok(response.map(|stream| self.serve(by_an_executor, stream)))
    }

    async fn handshake(
        &self,
        request: Request<Streaming<HandshakeRequest>>,
    ) -> Result<Response<Self::HandshakeStream>, Status> {
        self.inner.handshake(request).await
    }

    async fn list_flights(
        &self,
        request: Request<Criteria>,
    ) -> Result<Response<Self::ListFlightsStream>, Status> {
        self.inner.list_flights(request).await
    }

    async fn get_flight_info(
        &self,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.inner.get_flight_info(request).await
    }

    async fn poll_flight_info(
        &self,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<PollInfo>, Status> {
        self.inner.poll_flight_info(request).await
    }

    async fn get_schema(
        &self,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<SchemaResult>, Status> {
        self.inner.get_schema(request).await
    }

    async fn do_put(
        &self,
        request: Request<Streaming<FlightData>>,
    ) -> Result<Response<Self::DoPutStream>, Status> {
        self.inner.do_put(request).await
    }

    async fn do_exchange(
        &self,
        request: Request<Streaming<FlightData>>,
    ) -> Result<Response<Self::DoExchangeStream>, Status> {
        self.inner.do_exchange(request).await
    }

    async fn list_actions(
        &self,
        request: Request<Empty>,
    ) -> Result<Response<Self::ListActionsStream>, Status> {
        self.inner.list_actions(request).await
    }
}
