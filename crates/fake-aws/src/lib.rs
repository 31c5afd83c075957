//! A loopback stand-in for AWS SSO OIDC, the SSO portal, STS, EKS (`DescribeCluster`,
//! `ListClusters`) and AWS Sign-In's federation endpoint that speaks their real wire protocols,
//! so that the AWS SDK for Rust and botocore accept its answers.
//!
//! Clients reach it through the standard endpoint variables ([`FakeAws::endpoint_env`]): all
//! five services share one `http://127.0.0.1:PORT`, their routes do not overlap.
//!
//! ```no_run
//! use ssobar_fake_aws::{FakeAws, FakeConfig, Operation};
//!
//! let fake = FakeAws::start(FakeConfig::default())?;
//! let session = fake.issue_session(&format!("{}/start", fake.url()), &["sso:account:access"], 3600, 86400);
//! // ... run the code under test with fake.endpoint_env() set ...
//! assert_eq!(fake.calls(Operation::GetRoleCredentials), 0);
//! # Ok::<(), std::io::Error>(())
//! ```

mod admin;
mod config;
mod connection;
pub mod demo;
mod eks;
mod federation;
mod model;
mod oidc;
mod portal;
mod server;
mod sigv4;
mod state;
mod sts;

use std::io;
use std::net::{Ipv4Addr, TcpListener};
use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::sync::oneshot;

pub use config::{FakeAccount, FakeCluster, FakeConfig};
pub use model::{
    ConsoleLogin, Fault, IssuedCredentials, IssuedSession, IssuedSigninToken, Operation,
    RequestRecord,
};

use state::Shared;

/// The endpoint variables that point AWS SDKs and the AWS CLI at the fake, in the order
/// [`FakeAws::endpoint_env`] lists them.
pub const ENDPOINT_ENV_VARS: [&str; 5] = [
    "AWS_ENDPOINT_URL_SSO_OIDC",
    "AWS_ENDPOINT_URL_SSO",
    "AWS_ENDPOINT_URL_STS",
    "AWS_ENDPOINT_URL_EKS",
    "AWS_ENDPOINT_URL_SIGNIN",
];

/// A running fake. It serves on its own thread with its own runtime, so synchronous tests and
/// async programs can both use it, and it stops when dropped.
pub struct FakeAws {
    url: String,
    port: u16,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for FakeAws {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeAws").field("url", &self.url).finish()
    }
}

impl FakeAws {
    /// Starts the fake on a port the OS picks.
    pub fn start(config: FakeConfig) -> io::Result<FakeAws> {
        Self::start_on_port(config, 0)
    }

    /// Starts the fake on `127.0.0.1:port` (`0` lets the OS pick).
    pub fn start_on_port(config: FakeConfig, port: u16) -> io::Result<FakeAws> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let url = format!("http://127.0.0.1:{port}");
        let shared = Arc::new(Shared::new(url.clone(), config));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let listener = {
            let _context = runtime.enter();
            tokio::net::TcpListener::from_std(listener)?
        };
        let router = server::router(Arc::clone(&shared));
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("ssobar-fake-aws-{port}"))
            .spawn(move || {
                runtime.block_on(async move {
                    // Stopping drops the runtime with every open connection, rather than
                    // waiting for clients' idle keep-alive connections to close.
                    tokio::select! {
                        served = axum::serve(
                            connection::ResettableListener(listener),
                            router.into_make_service_with_connect_info::<connection::Connection>(),
                        ).into_future() => {
                            if let Err(error) = served {
                                eprintln!("ssobar-fake-aws: server stopped: {error}");
                            }
                        }
                        _ = stopped => {}
                    }
                });
            })?;
        Ok(FakeAws {
            url,
            port,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT`, the endpoint of all five services.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The port the fake listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The variables that point AWS clients at the fake: each of [`ENDPOINT_ENV_VARS`] with
    /// [`FakeAws::url`].
    pub fn endpoint_env(&self) -> Vec<(String, String)> {
        ENDPOINT_ENV_VARS
            .iter()
            .map(|name| ((*name).to_owned(), self.url.clone()))
            .collect()
    }

    /// A copy of the current configuration.
    pub fn config(&self) -> FakeConfig {
        self.shared.world().config.clone()
    }

    /// Changes the configuration; later calls see the change.
    pub fn update_config(&self, change: impl FnOnce(&mut FakeConfig)) {
        change(&mut self.shared.world().config);
    }

    /// Adds an EKS cluster for `DescribeCluster` and `ListClusters`, or replaces the one with
    /// the same name, region and account (names are unique per account and region, as in EKS). The same as pushing onto
    /// [`FakeConfig::clusters`] through [`FakeAws::update_config`], minus the duplicates.
    pub fn add_cluster(&self, cluster: FakeCluster) {
        self.shared.world().config.upsert_cluster(cluster);
    }

    /// How many calls of `operation` arrived since the start or the last reset.
    pub fn calls(&self, operation: Operation) -> usize {
        self.shared.world().calls(operation)
    }

    /// The most calls of `operation` answered at the same time since the start or the last
    /// reset: what shows whether a client bounds its calls in flight.
    pub fn peak_in_flight(&self, operation: Operation) -> usize {
        self.shared.world().peak_in_flight(operation)
    }

    /// Every call answered since the start or the last reset, oldest first.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.world().requests()
    }

    /// Clears the counters and the request log.
    pub fn reset_counters(&self) {
        self.shared.world().reset_counters();
    }

    /// Makes the next `times` calls of `operation` fail (or wait) with `fault`. Faults queue up:
    /// injecting `ServerError` once then `Throttle` once fails the next two calls in that order.
    pub fn inject_fault(&self, operation: Operation, fault: Fault, times: usize) {
        self.shared.world().inject_fault(operation, fault, times);
    }

    /// Every refresh token issued so far stops working; access tokens stay valid.
    pub fn revoke_refresh_tokens(&self) {
        self.shared.world().revoke_refresh_tokens();
    }

    /// Every device code issued so far expires now.
    pub fn expire_device_codes(&self) {
        self.shared.world().expire_device_codes();
    }

    /// The person approves the pending device authorization with this user code, as if they
    /// had confirmed it in the browser. Returns whether such a pending request existed.
    pub fn approve_device(&self, user_code: &str) -> bool {
        self.shared.world().approve_device(user_code)
    }

    /// Registers a client and signs in through it, exactly as if a person had: the tokens work
    /// with the portal and `CreateToken` like any other. A refresh token comes only when
    /// `scopes` include `sso:account:access`. `lifetime_seconds` may be negative for an
    /// already-expired access token; `registration_lifetime_seconds` is the client secret's.
    pub fn issue_session(
        &self,
        start_url: &str,
        scopes: &[&str],
        lifetime_seconds: i64,
        registration_lifetime_seconds: i64,
    ) -> IssuedSession {
        self.shared.world().issue_session(
            start_url,
            scopes,
            lifetime_seconds,
            registration_lifetime_seconds,
        )
    }

    /// Every set of credentials issued so far (by `GetRoleCredentials` or `AssumeRole`).
    pub fn credentials_issued(&self) -> Vec<IssuedCredentials> {
        self.shared.world().credentials.clone()
    }

    /// Every secret issued (client secrets, access and refresh tokens, secret access keys,
    /// session tokens) or received (PKCE code verifiers) so far: what must never reach a log.
    pub fn secrets(&self) -> Vec<String> {
        self.shared.world().secrets()
    }

    /// Every signin token the federation endpoint issued so far, with the access key id of
    /// the credentials it was issued for.
    pub fn signin_tokens(&self) -> Vec<IssuedSigninToken> {
        self.shared.world().signin_tokens.clone()
    }

    /// Every console sign-in a browser made with a signin token so far.
    pub fn console_logins(&self) -> Vec<ConsoleLogin> {
        self.shared.world().console_logins.clone()
    }

    /// The issued credentials with this access key id.
    pub fn credentials(&self, access_key_id: &str) -> Option<IssuedCredentials> {
        self.shared.world().credentials(access_key_id).cloned()
    }
}

impl Drop for FakeAws {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            // The server may already be gone; then there is nothing to stop.
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_handle_can_be_shared_across_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<FakeAws>();
    }

    #[test]
    fn start_serves_and_drop_stops() {
        let fake = FakeAws::start(FakeConfig::default()).unwrap();
        let address = format!("127.0.0.1:{}", fake.port());
        assert_eq!(fake.url(), format!("http://{address}"));
        let names: Vec<_> = fake
            .endpoint_env()
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        assert_eq!(names, ENDPOINT_ENV_VARS);
        assert!(std::net::TcpStream::connect(&address).is_ok());
        drop(fake);
        assert!(std::net::TcpStream::connect(&address).is_err());
    }
}
