//! The test harness: a real server on a free loopback port, with its own data directory.

use app::types::{NewAdmin, WriteOnly};
use server::{config::Config, AppState, Server};
use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};
use tempfile::TempDir;
use tokio::sync::oneshot;

pub const PASSWORD: &str = "correct horse battery";

/// A running server and what it needs to stay alive.
pub struct TestServer {
    pub url: String,
    pub state: AppState,
    pub dir: TempDir,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestServer {
    /// A server with the default configuration on a free port.
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    /// A server whose configuration `edit` adjusts first.
    pub async fn start_with(edit: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config {
            bind: "127.0.0.1:0".parse().unwrap(),
            data_dir: dir.path().join("data"),
            site_root: dir.path().join("site"),
            ..Config::default()
        };
        edit(&mut config);
        let server = Server::bind(config).await.unwrap();
        let url = format!("http://{}", server.local_addr());
        let state = server.state().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            server.serve(async { drop(stopped.await) }).await.unwrap();
        });
        TestServer {
            url,
            state,
            dir,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Creates an admin with [`PASSWORD`].
    pub async fn create_admin(&self, email: &str) {
        let new = NewAdmin {
            email: email.into(),
            password: WriteOnly(PASSWORD.into()),
            role: app::types::AdminRole::Admin,
        };
        crate::operator::op(&self.state.manage).create_admin(new).await.unwrap();
    }

    /// A client that keeps cookies and does not follow redirects, so tests see them.
    pub fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    /// A client signed in as `email` (which must exist), and its session cookie's value.
    pub async fn signed_in(&self, email: &str) -> (reqwest::Client, String) {
        let client = self.client();
        let response = self.sign_in(&client, email, PASSWORD).await;
        assert_eq!(response.status(), 303, "sign-in should succeed");
        let cookie = session_cookie(&response).expect("a session cookie");
        (client, cookie)
    }

    /// Posts the login form.
    pub async fn sign_in(&self, client: &reqwest::Client, email: &str, password: &str) -> reqwest::Response {
        client
            .post(format!("{}/login", self.url))
            .form(&[("email", email), ("password", password)])
            .send()
            .await
            .unwrap()
    }

    /// Stops the server and waits until it has closed its database; returns its directory,
    /// so a test can open the database afterwards.
    pub async fn stop(mut self) -> TempDir {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
        tempfile::tempdir()
            .map(|empty| std::mem::replace(&mut self.dir, empty))
            .unwrap()
    }
}

/// The value of the session cookie a response sets, if any.
pub fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| {
            c.strip_prefix("mgw_session=")
                .map(|rest| rest.split(';').next().unwrap_or("").to_string())
        })
        .filter(|value| !value.is_empty())
}

/// The running binary; killed (SIGKILL) and reaped when dropped.
pub struct Binary(Child);

impl Binary {
    /// `kill -9`, then waits for the process to be gone.
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The real binary serving `data_dir` on a free port, with only `env` (and `PATH`) in its
/// environment; returns it and its URL once ready.
pub async fn serve(data_dir: &str, env: &[(&str, &str)]) -> (Binary, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Binary(
        Command::new(env!("CARGO_BIN_EXE_model-gateway"))
            .args(["--data-dir", data_dir, "serve", "--bind", &format!("127.0.0.1:{port}")])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let url = format!("http://127.0.0.1:{port}");
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let ready = reqwest::get(format!("{url}/readyz")).await;
        if ready.is_ok_and(|r| r.status() == 200) {
            return (child, url);
        }
        assert!(Instant::now() < until, "the server did not become ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
