//! Model Gateway's server: one axum process for the admin console (Leptos SSR + hydration),
//! and — as later issues land — the inference API and GraphQL.
//!
//! The router's layers, outermost first:
//! 1. `SetSensitiveRequestHeaders` — credentials never reach logs.
//! 2. `SetRequestId` / `PropagateRequestId` — every request gets the gateway's own
//!    `x-request-id` (a client's is replaced), and every response carries it.
//! 3. `Trace` — one span per request.
//! 4. `same_origin_only` — state-changing browser requests must be same-origin (CSRF); the
//!    inference routes, authenticated by keys, are merged in outside it.
//! 5. Per route: console pages, server functions and the fallback sit behind
//!    `require_session`; `/login`, `/logout`, `/healthz`, `/readyz` and static assets (`/pkg`)
//!    do not, nor does `/graphql`, which authenticates each request itself. The inference API (`/v1/*`) authenticates gateway keys itself, from the
//!    registry; admin sessions open nothing there.

mod assets;
pub mod body;
pub mod cli;
pub mod config;
mod console;
pub mod crypto;
pub mod fuzzing;
pub mod gateway_key;
pub mod graphql;
pub mod guard;
mod health;
pub mod identity;
mod listener;
pub mod manage;
pub mod metrics;
pub mod prompts;
pub mod proxy;
pub mod rules;
pub mod secrets;
pub mod service_account;
pub mod store;
pub mod telemetry;
pub mod testing;
pub mod traces;

use axum::{
    extract::FromRef,
    handler::Handler,
    http::{HeaderName, Request},
    middleware::from_fn_with_state,
    routing::{get, post},
    Router,
};
use config::Config;
use leptos::prelude::{provide_context, LeptosOptions};
use leptos_axum::{generate_route_list, LeptosRoutes};
use manage::{Manage, SessionPolicy};
use proxy::registry::Registry;
use secrets::Keyring;
use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};
use store::Store;

/// How often the registry checks the configuration revision.
const REGISTRY_POLL: Duration = Duration::from_millis(250);
use tower::{util::MapRequestLayer, ServiceBuilder};
use tower_http::{
    request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer},
    sensitive_headers::SetSensitiveRequestHeadersLayer,
    trace::TraceLayer,
};

pub use console::{SECURE_SESSION_COOKIE, SESSION_COOKIE};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Secrets(#[from] secrets::SecretsError),
    #[error("database: {0}")]
    Store(#[from] store::StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("cannot load the configuration: {0}")]
    Registry(manage::ManageError),
    #[error("traces: {0}")]
    Traces(String),
    #[error("redis.url: {0}")]
    Redis(String),
}

/// Everything a request handler may need. axum clones it for every request, so it is one
/// shared reference: a clone is one count, not one per service (and per option string).
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// The services behind [`AppState`].
pub struct Services {
    pub config: Arc<Config>,
    pub keys: Arc<Keyring>,
    /// The key-hash secret, keyed once for the inference path's key checks.
    pub key_hasher: gateway_key::KeyHasher,
    /// The database: the management service's, the log writer's and the background jobs'.
    pub store: Store,
    pub manage: Manage,
    /// The in-memory configuration the inference path reads.
    pub registry: Arc<Registry>,
    /// The inference path's health, clients and log writer.
    pub proxy: Arc<proxy::Proxy>,
    pub leptos: LeptosOptions,
    /// The management API's schema.
    pub graphql: graphql::Graphql,
    /// What the console's server functions call.
    pub console: console::Console,
    render: console::Renderer,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}

/// Opens the store (running migrations) and loads the keys: everything but the listener.
pub async fn open(config: Config) -> Result<AppState, StartError> {
    std::fs::create_dir_all(&config.data_dir).map_err(|source| StartError::DataDir {
        path: config.data_dir.clone(),
        source,
    })?;
    // Keys are generated only for the embedded SQLite default (SPEC §8); processes sharing a
    // Postgres database must all be given the same keys.
    let embedded = config.effective_database_url().starts_with("sqlite:");
    let keys = Keyring::load_or_generate(
        &config.data_dir,
        config.master_key.as_ref(),
        config.key_hash_secret.as_ref(),
        embedded,
    )?;
    let store = Store::connect(&config.effective_database_url(), &config.database).await?;
    store.migrate().await?;
    let keys = Arc::new(keys);
    let manage = Manage::new(
        store.clone(),
        keys.clone(),
        SessionPolicy {
            idle_timeout: config.sessions.idle_timeout,
            absolute_timeout: config.sessions.absolute_timeout,
        },
    )
    .with_upstream_policy(manage::endpoints::UpstreamPolicy {
        deny_private: config.proxy.deny_private_upstreams,
    });
    let leptos = LeptosOptions::builder()
        .output_name("admin")
        .site_root(config.site_root.display().to_string())
        .site_pkg_dir("pkg")
        .site_addr(config.bind)
        .hash_files(assets::hashed_names())
        .build();
    let registry = Arc::new(Registry::load(&manage).await.map_err(StartError::Registry)?);
    let traces = traces::Traces::start(&config.traces).map_err(StartError::Traces)?;
    let proxy = proxy::Proxy::start(
        config.proxy.clone(),
        &config.redis,
        &config.data_dir,
        store.clone(),
        traces,
    )
    .map_err(|error| StartError::Redis(error.to_string()))?;
    // Limits go on from the usage already counted in the windows still open.
    let now = store::now_ms();
    proxy.counters.load(&store.open_counters(now).await?, now).await;
    let console = console::Console {
        manage: manage.clone(),
        proxy: proxy.clone(),
        public_url: config.public_url.clone(),
        serves_https: config.serves_https(),
        currency: config.currency.clone(),
    };
    let render: console::Renderer = {
        let options = leptos.clone();
        let context = console_context(&console);
        Arc::new(leptos_axum::render_app_to_stream_with_context(context, move || {
            app::shell(options.clone())
        }))
    };
    let config = Arc::new(config);
    let graphql = graphql::Graphql::new(graphql::Backend {
        manage: manage.clone(),
        registry: registry.clone(),
        config: config.clone(),
    });
    Ok(AppState(Arc::new(Services {
        config,
        key_hasher: gateway_key::KeyHasher::new(&keys.key_hash_secret),
        keys,
        store,
        manage,
        registry,
        proxy,
        leptos,
        graphql,
        console,
        render,
    })))
}

/// What every console render and server function gets as Leptos context.
fn console_context(console: &console::Console) -> impl Fn() + Clone + Send + Sync + 'static {
    let backend: Arc<dyn app::api::ConsoleBackend> = Arc::new(console.clone());
    move || provide_context(backend.clone())
}

/// Request ids: [`proxy::request_id`].
#[derive(Clone, Copy)]
struct RandomRequestId;

impl MakeRequestId for RandomRequestId {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<RequestId> {
        proxy::request_id().parse().ok().map(RequestId::new)
    }
}

/// The end users' ways in: a token alone, to the gateway the path names. Cross-origin only
/// from the origins configured (none: no CORS layer, so no CORS headers either).
fn end_user_routes(cors_origins: &[String]) -> Router<AppState> {
    let routes = Router::new()
        .route("/g/{gateway}/v1/chat/completions", post(proxy::api::user_chat))
        .route("/g/{gateway}/v1/completions", post(proxy::api::user_completions))
        .route("/g/{gateway}/v1/embeddings", post(proxy::api::user_embeddings))
        .route("/g/{gateway}/v1/messages", post(proxy::api::user_messages))
        .route("/g/{gateway}/v1/responses", post(proxy::api::user_responses));
    if cors_origins.is_empty() {
        routes
    } else {
        routes.layer(end_user_cors(cors_origins))
    }
}

/// What browsers may do at the end users' ways in: POST with a bearer token and JSON, from the
/// origins configured (`*`: any — safe, since no cookie is read there).
fn end_user_cors(origins: &[String]) -> tower_http::cors::CorsLayer {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let allow = if origins.iter().any(|origin| origin == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|origin| origin.parse().ok()))
    };
    CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([axum::http::Method::POST])
        .allow_headers([
            axum::http::header::AUTHORIZATION,
            axum::http::header::CONTENT_TYPE,
            HeaderName::from_static("x-request-id"),
        ])
        .expose_headers([
            HeaderName::from_static("x-request-id"),
            HeaderName::from_static("x-ratelimit-remaining-requests"),
            HeaderName::from_static("retry-after"),
        ])
        .max_age(std::time::Duration::from_secs(600))
}

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    let id_header = request_id.clone();
    let context = console_context(&state.console);
    let pages = generate_route_list(app::App);
    let shell = {
        let options = state.leptos.clone();
        move || app::shell(options.clone())
    };
    // The inference API: key-authenticated, so outside the console's same-origin check.
    let inference = Router::new()
        .route("/v1/models", get(proxy::models::list))
        .route("/v1/feedback", post(proxy::feedback::post))
        .route("/v1/chat/completions", post(proxy::api::chat))
        .route("/v1/completions", post(proxy::api::completions))
        .route("/v1/embeddings", post(proxy::api::embeddings))
        .route("/v1/messages", post(proxy::api::messages))
        .route("/v1/responses", post(proxy::api::responses))
        .route("/v1/responses/{id}", get(proxy::api::stored_response))
        // An end user's token alone (issue #23), to the gateway the path names; from pages of
        // the origins `proxy.cors_origins` names too.
        .merge(end_user_routes(&state.config.proxy.cors_origins))
        .route(
            "/openai/deployments/{deployment}/chat/completions",
            post(proxy::api::azure_chat),
        )
        .route(
            "/openai/deployments/{deployment}/completions",
            post(proxy::api::azure_completions),
        )
        .route(
            "/openai/deployments/{deployment}/embeddings",
            post(proxy::api::azure_embeddings),
        );
    Router::new()
        .leptos_routes_with_context(&state, pages, context.clone(), shell)
        .route("/api/playground/chat", post(console::playground::chat))
        .route("/api/logs/export", get(console::logs::export))
        .route("/api/logs/live", get(console::logs::live))
        .route_layer(from_fn_with_state(state.clone(), console::require_session))
        .route("/login", post(console::sign_in))
        .route("/logout", post(console::sign_out))
        // GraphQL authenticates each request itself (session cookie or admin API token).
        .route("/graphql", post(graphql::post).get(graphql::get))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::scrape))
        // The console's scripts, WASM and CSS: anyone may fetch them, compressed, kept a year.
        .nest_service("/pkg", assets::service(&state.config.site_root))
        // The fallback renders the app for unknown paths (and `/keys/`, which the app's router
        // matches as `/keys`), so it sits behind the session gate too; static assets pass.
        .fallback(
            leptos_axum::file_and_error_handler_with_context::<AppState, _>(context, app::shell)
                .layer(from_fn_with_state(state.clone(), console::require_session)),
        )
        .layer(from_fn_with_state(state.clone(), console::same_origin_only))
        .merge(inference)
        // One `layer` call, outermost first: each call boxes every route once more, and the
        // boxes are cloned per request.
        .layer(
            ServiceBuilder::new()
                .layer(SetSensitiveRequestHeadersLayer::new([
                    axum::http::header::AUTHORIZATION,
                    axum::http::header::COOKIE,
                    HeaderName::from_static("api-key"),
                    HeaderName::from_static("x-api-key"),
                ]))
                // The gateway names every request itself: a client's own `x-request-id` could
                // repeat, and request logs are keyed by it.
                .layer(MapRequestLayer::new(move |mut request: axum::extract::Request| {
                    request.headers_mut().remove(&request_id);
                    request
                }))
                .layer(SetRequestIdLayer::new(id_header.clone(), RandomRequestId))
                .layer(PropagateRequestIdLayer::new(id_header))
                .layer(TraceLayer::new_for_http().on_failure(telemetry::FailureLog::default())),
        )
        .with_state(state)
}

/// A bound, ready-to-serve server.
pub struct Server {
    state: AppState,
    listener: tokio::net::TcpListener,
}

impl Server {
    /// Opens everything and binds the listener (port 0 picks a free port).
    pub async fn bind(config: Config) -> Result<Server, StartError> {
        let addr = config.bind;
        let state = open(config).await?;
        // A serving process applies its own changes before they return (a CLI run has no
        // registry to keep current).
        state.manage.attach(Arc::new(proxy::serving::Serving {
            proxy: state.proxy.clone(),
            registry: state.registry.clone(),
        }));
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Bind { addr, source })?;
        Ok(Server { state, listener })
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or_else(|_| self.state.config.bind)
    }

    /// The shared state (tests use it to create users).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then drains (RELIABILITY R4): readiness fails, the
    /// listener closes, open requests and streams get `proxy.shutdown_grace` to finish (streams
    /// still open then end with an error event), the request-log queue is written, and the
    /// database is closed.
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), StartError> {
        let Server { state, listener } = self;
        let store = state.store.clone();
        let proxy = state.proxy.clone();
        let grace = state.config.proxy.shutdown_grace;
        let sweeper = tokio::spawn(sweep_sessions(state.manage.clone()));
        let leases = tokio::spawn(sweep_leases(proxy.clone(), store.clone()));
        let checkpoints = tokio::spawn(checkpoint_every_second(store.clone()));
        let retention = tokio::spawn(sweep_request_logs(store.clone(), state.config.request_logs.clone()));
        // Changes from the CLI or other processes reach this one within about a second.
        let watcher = tokio::spawn(state.registry.clone().watch(state.manage.clone(), REGISTRY_POLL));
        let listener_settings = state.config.listener.clone();
        let metrics = proxy.metrics.clone();
        let app = router(state);
        let (began, draining) = tokio::sync::oneshot::channel::<()>();
        let signalled = {
            let proxy = proxy.clone();
            async move {
                shutdown.await;
                proxy.start_draining();
                let _ = began.send(());
            }
        };
        let mut serving = std::pin::pin!(listener::serve(listener, app, listener_settings, metrics, signalled));
        tokio::select! {
            () = &mut serving => {}
            Ok(()) = draining => {
                if tokio::time::timeout(grace, &mut serving).await.is_err() {
                    tracing::warn!(grace_s = grace.as_secs(), "grace period over; ending open streams");
                    proxy.end_grace();
                    // Streams end at their next poll; give them a moment to say so.
                    let _ = tokio::time::timeout(Duration::from_secs(2), &mut serving).await;
                }
            }
        }
        sweeper.abort();
        leases.abort();
        checkpoints.abort();
        retention.abort();
        watcher.abort();
        proxy.logs.shutdown().await;
        if let Some(traces) = proxy.traces.clone() {
            // Exporting what is buffered blocks (the exporter's client is a blocking one).
            let _ = tokio::task::spawn_blocking(move || traces.shutdown()).await;
        }
        store.close().await;
        Ok(())
    }
}

/// Deletes expired console sessions every hour.
async fn sweep_sessions(manage: Manage) {
    let mut every = tokio::time::interval(Duration::from_secs(3600));
    loop {
        every.tick().await;
        match manage.sweep_sessions().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(sessions = n, "expired sessions deleted"),
            Err(error) => tracing::warn!(error = %error, "session sweep failed"),
        }
    }
}

/// Gives back, every second, the reservations of requests that never settled; with Redis, also
/// says this replica is alive, and seeds Redis again from the stored counters when it comes back
/// after an outage.
async fn sweep_leases(proxy: Arc<proxy::Proxy>, store: store::Store) {
    let mut every = tokio::time::interval(Duration::from_secs(1));
    loop {
        every.tick().await;
        let now = store::now_ms();
        proxy.counters.sweep(&proxy.replica, now).await;
        if proxy.counters.reseed_due() {
            proxy.counters.reseed(store.open_counters(now).await, now).await;
        }
    }
}

/// Deletes request logs and usage events older than the retention, a batch at a time until
/// none is left, and minutes of history older than a day, every `sweep_interval` (the first
/// sweep at start).
async fn sweep_request_logs(store: store::Store, settings: config::RequestLogsConfig) {
    let retention = i64::try_from(settings.retention.as_millis()).unwrap_or(i64::MAX);
    let batch = i64::try_from(settings.sweep_batch).unwrap_or(i64::MAX);
    let mut every = tokio::time::interval(settings.sweep_interval);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let cutoff = store::now_ms().saturating_sub(retention);
        let swept = async {
            let logs = in_batches(batch, || store.delete_request_logs_before(cutoff, batch)).await?;
            let events = in_batches(batch, || store.delete_usage_events_before(cutoff, batch)).await?;
            // The minutely history is the dashboard's last hours only; hours are kept.
            store
                .delete_minutes_before(store::now_ms() - store::MINUTES_KEPT_MS)
                .await?;
            Ok::<_, store::StoreError>((logs, events))
        }
        .await;
        match swept {
            Ok((0, 0)) => {}
            Ok((logs, events)) => {
                tracing::info!(request_logs = logs, usage_events = events, "old request logs deleted")
            }
            Err(error) => tracing::warn!(error = %error, "request-log retention failed; retrying at the next sweep"),
        }
    }
}

/// Runs `delete` (one batch of at most `batch` rows) until a batch comes back short; returns
/// the rows deleted. Other writers get their turn between two batches.
async fn in_batches<F, Fut>(batch: i64, mut delete: F) -> Result<u64, store::StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<u64, store::StoreError>>,
{
    let mut total = 0;
    loop {
        let gone = delete().await?;
        total += gone;
        if i64::try_from(gone).unwrap_or(i64::MAX) < batch {
            return Ok(total);
        }
        tokio::task::yield_now().await;
    }
}

/// Checkpoints SQLite's write-ahead log every second, off the writer ([`store::Store::checkpoint`]).
async fn checkpoint_every_second(store: store::Store) {
    let mut every = tokio::time::interval(Duration::from_secs(1));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        if let Err(error) = store.checkpoint().await {
            tracing::warn!(error = %error, "WAL checkpoint failed; retrying in a second");
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
