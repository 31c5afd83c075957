//! `ssobar-fake-aws`: runs the fake AWS until SIGINT or SIGTERM, printing the `export` lines
//! that point AWS clients at it.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use ssobar_fake_aws::{ENDPOINT_ENV_VARS, FakeAws, FakeConfig, demo};

/// A loopback stand-in for AWS SSO OIDC, the SSO portal, STS, EKS DescribeCluster and AWS
/// Sign-In federation.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Port to listen on, on 127.0.0.1 (default: one the OS picks).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// A JSON file with the fields of the configuration to change.
    #[arg(long, value_name = "FILE.json")]
    config: Option<PathBuf>,
    /// Seed this folder as a HOME signed in to the fake (~/.aws/config and the SSO token cache).
    #[arg(long, value_name = "DIR")]
    demo_home: Option<PathBuf>,
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ssobar-fake-aws: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> io::Result<()> {
    let config = match &args.config {
        Some(path) => {
            let text = std::fs::read(path).map_err(|error| {
                io::Error::new(error.kind(), format!("{}: {error}", path.display()))
            })?;
            serde_json::from_slice::<FakeConfig>(&text).map_err(|error| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: {error}", path.display()),
                )
            })?
        }
        None => FakeConfig::default(),
    };
    let fake = FakeAws::start_on_port(config, args.port)?;
    if let Some(home) = &args.demo_home {
        let world = demo::seed(home, &fake)?;
        eprintln!(
            "ssobar-fake-aws: seeded {} with sso-sessions {}",
            world.home.display(),
            world
                .sessions
                .iter()
                .map(|session| session.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }

    // Whoever reads the exports may signal right away: the signals are taken over first.
    let termination = Termination::listen()?;
    let mut stdout = io::stdout().lock();
    for name in ENDPOINT_ENV_VARS {
        writeln!(stdout, "export {name}={}", fake.url())?;
    }
    writeln!(stdout, "export SSOBAR_FAKE_AWS_URL={}", fake.url())?;
    stdout.flush()?;
    drop(stdout);

    termination.wait()?;
    drop(fake);
    Ok(())
}

/// SIGINT and SIGTERM (Ctrl-C elsewhere), listened for from the moment it is made.
struct Termination {
    runtime: tokio::runtime::Runtime,
    #[cfg(unix)]
    signals: (tokio::signal::unix::Signal, tokio::signal::unix::Signal),
}

impl Termination {
    fn listen() -> io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let signals = runtime.block_on(async {
                io::Result::Ok((
                    signal(SignalKind::interrupt())?,
                    signal(SignalKind::terminate())?,
                ))
            })?;
            Ok(Self { runtime, signals })
        }
        #[cfg(not(unix))]
        Ok(Self { runtime })
    }

    fn wait(self) -> io::Result<()> {
        #[cfg(unix)]
        {
            let (mut interrupt, mut terminate) = self.signals;
            self.runtime.block_on(async {
                tokio::select! {
                    _ = interrupt.recv() => {}
                    _ = terminate.recv() => {}
                }
            });
            Ok(())
        }
        #[cfg(not(unix))]
        self.runtime.block_on(tokio::signal::ctrl_c())
    }
}
