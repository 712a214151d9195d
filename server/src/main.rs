//! The `model-gateway` command: parses the command line, loads the configuration, and runs
//! one subcommand. `anyhow` lives here only.

use anyhow::{bail, Context};
use app::types::{AdminRole, NewAdmin, WriteOnly};
use clap::{Args, Parser, Subcommand};
use server::{
    cli,
    config::{Config, LogFormat, Overrides},
    Server,
};
use std::{io::IsTerminal, net::SocketAddr, path::PathBuf};

/// mimalloc instead of the system allocator: the request path makes many small, short-lived
/// allocations, and glibc's malloc spent about a tenth of the gateway's core on them (15 % more
/// requests per second at c=50 with mimalloc: wrk by hand, pinned as `bench/run.sh` pins it).
/// Built without transparent huge pages (the workspace's `no_thp`): the process's memory is
/// counted in 4 KiB pages, not 2 MiB ones.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Model Gateway: an OpenAI-compatible LLM gateway with a GraphQL management API and an admin
/// console, in one process.
///
/// Configuration comes from built-in defaults, then the TOML file (--config), then MGW_*
/// environment variables (MGW_BIND, MGW_DATABASE_URL, MGW_DATA_DIR, MGW_DATABASE__MAX_CONNECTIONS…),
/// then these flags. See config/model-gateway.example.toml for every key.
#[derive(Parser)]
#[command(name = "model-gateway", version, propagate_version = true)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct GlobalArgs {
    /// TOML configuration file.
    #[arg(long, global = true, env = "MGW_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Database URL: sqlite://PATH or postgres://… [default: sqlite file in the data directory]
    #[arg(long, global = true, value_name = "URL")]
    database_url: Option<String>,
    /// Directory for the embedded database and generated secrets [default: ./data]
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server: inference API, management API and admin console on one port.
    Serve(ServeArgs),
    /// Manage admin users.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Manage inference endpoints (the upstreams).
    #[command(subcommand)]
    Endpoint(cli::EndpointCommand),
    /// Manage gateways (named proxies over endpoints).
    #[command(subcommand)]
    Gateway(cli::GatewayCommand),
    /// Manage composite models (one model name that stands for several).
    #[command(subcommand)]
    Composite(cli::CompositeCommand),
    /// Manage named prompts (templates applications call by name, with versions and labels).
    #[command(subcommand)]
    Prompt(cli::PromptCommand),
    /// Manage the identity providers whose end-user tokens (JWTs) a gateway accepts.
    #[command(subcommand)]
    Identity(cli::IdentityCommand),
    /// Manage guardrails (what a gateway redacts, blocks or flags in requests and answers).
    #[command(subcommand)]
    Guardrail(cli::GuardrailCommand),
    /// Manage gateway keys (what applications send).
    #[command(subcommand)]
    Key(cli::KeyCommand),
    /// Manage model prices (per million tokens), which turn usage into cost.
    #[command(subcommand)]
    Price(cli::PriceCommand),
    /// Validate the configuration and print it, secrets redacted.
    CheckConfig,
    /// Print the management API's GraphQL schema (SDL), as committed in `schema.graphql`.
    Schema,
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:3000]
    #[arg(long, value_name = "ADDR")]
    bind: Option<SocketAddr>,
    /// URL people reach the console at; https:// makes session cookies Secure.
    #[arg(long, value_name = "URL")]
    public_url: Option<String>,
    /// Directory with the built console assets [default: target/site; target/site-debug for a
    /// debug build]
    #[arg(long, value_name = "DIR")]
    site_root: Option<PathBuf>,
    /// Log format [default: text]
    #[arg(long, value_enum)]
    log_format: Option<LogFormat>,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an admin user. The password is read from MGW_ADMIN_PASSWORD, or prompted for.
    Create {
        /// The admin's e-mail address (the login name).
        #[arg(long)]
        email: String,
        /// The admin's role.
        #[arg(long, default_value = "admin", value_parser = ["admin", "viewer"])]
        role: String,
    },
}

fn main() -> std::process::ExitCode {
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            // The whole chain on one line, without a backtrace: this is for people.
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let mut overrides = Overrides {
        database_url: cli.global.database_url.clone(),
        data_dir: cli.global.data_dir.clone(),
        ..Overrides::default()
    };
    if let Command::Serve(args) = &cli.command {
        overrides.bind = args.bind;
        overrides.public_url = args.public_url.clone();
        overrides.site_root = args.site_root.clone();
        overrides.log_format = args.log_format;
    }
    let config = Config::load(cli.global.config.as_deref(), &overrides).context("invalid configuration")?;
    server::telemetry::init(config.log_format);

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.command {
        Command::Serve(_) => runtime.block_on(serve(config)),
        Command::Admin(AdminCommand::Create { email, role }) => runtime.block_on(create_admin(config, email, &role)),
        Command::Endpoint(command) => runtime.block_on(manage(config, cli::Resource::Endpoint(command))),
        Command::Gateway(command) => runtime.block_on(manage(config, cli::Resource::Gateway(command))),
        Command::Composite(command) => runtime.block_on(manage(config, cli::Resource::Composite(command))),
        Command::Prompt(command) => runtime.block_on(manage(config, cli::Resource::Prompt(command))),
        Command::Identity(command) => runtime.block_on(manage(config, cli::Resource::Identity(command))),
        Command::Guardrail(command) => runtime.block_on(manage(config, cli::Resource::Guardrail(command))),
        Command::Key(command) => runtime.block_on(manage(config, cli::Resource::Key(command))),
        Command::Price(command) => runtime.block_on(manage(config, cli::Resource::Price(command))),
        Command::CheckConfig => {
            println!("{config:#?}");
            Ok(())
        }
        Command::Schema => {
            print!("{}", server::graphql::sdl());
            Ok(())
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let assets = config.site_root.join("pkg").join("admin.wasm");
    if !assets.exists() {
        tracing::warn!(path = %assets.display(), "console assets not found: pages will not hydrate (build them with `make build`)");
    }
    let server = Server::bind(config).await?;
    if server.state().manage.admin_count().await? == 0 {
        tracing::warn!("no admin user exists yet; create one with: model-gateway admin create --email you@example.com");
    }
    tracing::info!(address = %server.local_addr(), "Model Gateway listening on http://{}", server.local_addr());
    server.serve(server::shutdown_signal()).await?;
    Ok(())
}

/// Opens the store, runs one management command, prints its output.
async fn manage(config: Config, command: cli::Resource) -> anyhow::Result<()> {
    let state = server::open(config).await?;
    let result = cli::run(&state.manage, command).await;
    state.store.close().await;
    println!("{}", result?);
    Ok(())
}

async fn create_admin(config: Config, email: String, role: &str) -> anyhow::Result<()> {
    let role = AdminRole::parse(role).context("unknown role")?;
    let password = match std::env::var("MGW_ADMIN_PASSWORD") {
        Ok(password) => WriteOnly(password),
        Err(_) if std::io::stdin().is_terminal() => {
            let first = rpassword::prompt_password(format!("Password for {email}: "))?;
            let again = rpassword::prompt_password("Repeat the password: ")?;
            if first != again {
                bail!("the passwords differ");
            }
            WriteOnly(first)
        }
        Err(_) => bail!("no password: set MGW_ADMIN_PASSWORD, or run this in a terminal to be prompted"),
    };
    let state = server::open(config).await?;
    let new = NewAdmin { email, password, role };
    let user = state.manage.create_admin(&server::manage::Actor::cli(), new).await?;
    state.store.close().await;
    println!("Created admin {} (role {}).", user.email, user.role.as_str());
    Ok(())
}
