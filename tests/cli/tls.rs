//! A company's TLS-inspecting proxy, as ssobar meets it: AWS answers through TLS that a private
//! CA signed, either from a TLS front standing in for an endpoint, or from a real CONNECT proxy
//! (`HTTPS_PROXY`) that ends each tunnel's TLS itself for the real AWS host names. The AWS CLI
//! and every SDK take that CA from `AWS_CA_BUNDLE`; so does every call of ssobar (the SDK
//! clients and the console's federation call alike). Without it, one line says the
//! certificate is not trusted and names the variable.
//!
//! Behind the proxy, ssobar runs as on a company laptop: in a network namespace with only
//! loopback, where the proxy's port is the one way out, and with no `AWS_ENDPOINT_URL_*`.

use crate::SSOBAR;
use base64::Engine;
use ssobar_fake_aws::{FakeCluster, FakeConfig, Operation};
use ssobar_testkit::root::{Forwards, NetNamespace};
use ssobar_testkit::{BrowserMode, Ran, World, peer_python, peer_script, require_secret_service};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

fn openssl(dir: &Path, args: &[&str]) {
    let ran = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        ran.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&ran.stderr)
    );
}

/// A private CA in `dir` (`ca.pem`, `ca.key`), and a certificate it signed for `names`
/// (`NAME.pem`, `NAME.key`; `names` as subjectAltName entries such as `IP:127.0.0.1`).
fn private_ca_and_leaf(dir: &Path, name: &str, names: &[String]) {
    std::fs::create_dir_all(dir).unwrap();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    if !dir.join("ca.pem").exists() {
        openssl(
            dir,
            &[
                &["req", "-x509"][..],
                &ec[..],
                &["-days", "1", "-subj", "/CN=Corp Inspection CA"],
                &["-keyout", "ca.key", "-out", "ca.pem"],
            ]
            .concat(),
        );
    }
    let (key, csr, pem, ext) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.pem"),
        format!("{name}.ext"),
    );
    openssl(
        dir,
        &[
            &["req"][..],
            &ec[..],
            &["-subj", "/CN=inspected", "-keyout", &key, "-out", &csr],
        ]
        .concat(),
    );
    std::fs::write(
        dir.join(&ext),
        format!(
            "basicConstraints=CA:FALSE\nsubjectAltName={}\nextendedKeyUsage=serverAuth\n",
            names.join(",")
        ),
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            &ext,
            "-out",
            &pem,
        ],
    );
}

/// A private CA, a certificate for 127.0.0.1 it signed, and the front relaying to `w`'s fake.
fn tls_front(w: &World) -> InspectingProxy {
    InspectingProxy::spawn(w, "corp-ca", &["IP:127.0.0.1".to_owned()], Mode::Front)
}

/// `ssobar ARGS` with the SSO portal and the sign-in endpoint behind the front, and
/// `AWS_CA_BUNDLE` set to `bundle` when given.
fn through(w: &World, front: &InspectingProxy, bundle: Option<&Path>, args: &[&str]) -> Ran {
    let mut command = w.command();
    command
        .args(args)
        .env("AWS_ENDPOINT_URL_SSO", &front.url)
        .env("AWS_ENDPOINT_URL_SIGNIN", &front.url);
    if let Some(bundle) = bundle {
        command.env("AWS_CA_BUNDLE", bundle);
    }
    Ran::run(&mut command)
}

fn one_line(ran: &Ran) -> &str {
    assert_eq!(ran.stdout, "");
    assert_eq!(ran.stderr.lines().count(), 1, "{}", ran.stderr);
    ran.stderr.trim_end()
}

#[test]
fn role_credentials_come_through_an_inspecting_proxy_once_its_ca_is_given() {
    require_secret_service();
    let w = World::signed_in(SSOBAR, FakeConfig::default());
    let front = tls_front(&w);

    let refused = through(
        &w,
        &front,
        None,
        &["credential-process", "--profile", "dev"],
    )
    .expect_code(1);
    let line = one_line(&refused);
    assert!(
        line.contains(&format!("cannot reach {}", front.url))
            && line.contains("its certificate is not trusted")
            && line.contains("set AWS_CA_BUNDLE to a PEM file of its CA"),
        "{line}"
    );
    assert_eq!(
        w.calls(Operation::GetRoleCredentials),
        0,
        "nothing got through"
    );

    let given = through(
        &w,
        &front,
        Some(&front.ca),
        &["credential-process", "--profile", "dev"],
    )
    .success();
    assert_eq!(given.json()["Version"], 1);
    assert!(
        given.json()["AccessKeyId"]
            .as_str()
            .unwrap()
            .starts_with("ASIA")
    );
    assert_eq!(w.calls(Operation::GetRoleCredentials), 1);
}

#[test]
fn the_console_federation_call_trusts_the_bundle_as_the_sdk_clients_do() {
    require_secret_service();
    let w = World::signed_in(SSOBAR, FakeConfig::default());
    let front = tls_front(&w);
    let args = ["console", "--profile", "dev", "--print"];
    // The role's credentials first, so that only the federation call crosses the front.
    w.ssobar(&["credential-process", "--profile", "dev"])
        .success();

    let refused = through(&w, &front, None, &args).expect_code(1);
    assert!(
        one_line(&refused).contains("its certificate is not trusted"),
        "{}",
        refused.stderr
    );
    let printed = through(&w, &front, Some(&front.ca), &args).success();
    assert!(
        printed
            .stdout
            .starts_with(&format!("{}/federation?Action=login", front.url)),
        "{}",
        printed.stdout
    );
}

#[test]
fn a_bundle_that_is_not_pem_is_one_line_naming_it_and_nothing_is_called() {
    require_secret_service();
    let w = World::signed_in(SSOBAR, FakeConfig::default());
    let front = tls_front(&w);
    let bundle = w.sandbox.home().join("corp-ca.txt");
    std::fs::write(&bundle, "ask IT for the certificate\n").unwrap();
    let ran = through(
        &w,
        &front,
        Some(&bundle),
        &["credential-process", "--profile", "dev"],
    )
    .expect_code(1);
    let line = one_line(&ran);
    assert!(
        line.contains(&format!(
            "AWS_CA_BUNDLE={}: holds no PEM certificate",
            bundle.display()
        )) && line.ends_with("or unset it"),
        "{line}"
    );
    assert_eq!(w.calls(Operation::GetRoleCredentials), 0);
}

/// The real AWS host names the proxy's certificate is made for: what ssobar asks for in the
/// world's regions (the session in us-east-1, `dev` in eu-west-1), standard, FIPS and
/// dual-stack, and the device code's page, which the browser opens.
const AWS_HOSTS: &[&str] = &[
    "device.sso.us-east-1.amazonaws.com",
    "oidc.us-east-1.amazonaws.com",
    "portal.sso.us-east-1.amazonaws.com",
    "sts.eu-west-1.amazonaws.com",
    "eks.eu-west-1.amazonaws.com",
    "signin.aws.amazon.com",
    "oidc-fips.us-east-1.amazonaws.com",
    "portal.sso-fips.us-east-1.amazonaws.com",
    "sts-fips.eu-west-1.amazonaws.com",
    "fips.eks.eu-west-1.amazonaws.com",
    "portal.sso.us-east-1.api.aws",
];

/// Where the fake sends the browser for a device code: the page's real host, so that the
/// browser in the namespace reaches it through the proxy as everything else does.
const DEVICE_PAGE: &str = "https://device.sso.us-east-1.amazonaws.com/device";

/// A world whose fake names the real device code page.
fn behind_a_proxy(config: FakeConfig) -> World {
    let config = FakeConfig {
        verification_uri: Some(DEVICE_PAGE.to_owned()),
        ..config
    };
    World::start(SSOBAR, config, BrowserMode::Follow)
}

/// `tests/peers/inspecting_proxy.py` relaying to a world's fake, the CA its certificates chain
/// to, the log of the hosts each tunnel asked for, and for the CONNECT proxy the way into the
/// network namespaces its clients run in.
struct InspectingProxy {
    child: Child,
    url: String,
    ca: PathBuf,
    log: PathBuf,
    forwards: Option<Forwards>,
}

/// How clients reach it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// A CONNECT proxy (`HTTPS_PROXY`).
    Proxy,
    /// TLS in front of one endpoint (an `AWS_ENDPOINT_URL_*` points at it).
    Front,
}

impl Drop for InspectingProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl InspectingProxy {
    /// The CONNECT proxy, with a certificate for every host in [`AWS_HOSTS`], and the
    /// network namespaces with only loopback that `test`'s commands run in, whose one way out
    /// is a forward of the proxy's port (see [`InspectingProxy::inside`]). Having checked that
    /// the fake itself cannot be reached from there. `None`, after saying `test` is skipped,
    /// where this process can have no network namespace.
    fn start(w: &World, test: &str) -> Option<Self> {
        let netns = NetNamespace::for_test(
            test,
            "(or user namespaces) to run ssobar where only the proxy can be reached",
        )?;
        let names: Vec<String> = AWS_HOSTS.iter().map(|h| format!("DNS:{h}")).collect();
        let mut proxy = Self::spawn(w, "corp-proxy", &names, Mode::Proxy);
        let port: u16 = proxy
            .url
            .rsplit(':')
            .next()
            .and_then(|port| port.parse().ok())
            .expect("the proxy's port");
        proxy.forwards = Some(Forwards::start(netns, w.sandbox.home(), &[port]));
        let direct = Ran::run(&mut proxy.inside(w.sandbox.command("curl").args([
            "-sS",
            "--noproxy",
            "*",
            "-o",
            "/dev/null",
            &format!("{}/", w.fake.url()),
        ])));
        assert_eq!(
            direct.code,
            Some(7),
            "the fake must be out of reach but for the proxy: {}",
            direct.stderr
        );
        Some(proxy)
    }

    /// `command` run where the proxy is the one way out (see [`InspectingProxy::start`]).
    fn inside(&self, command: &Command) -> Command {
        self.forwards
            .as_ref()
            .expect("the CONNECT proxy's forwards")
            .wrap(command)
    }

    /// Starts it with a certificate for `names` from a private CA in HOME's `folder`.
    fn spawn(w: &World, folder: &str, names: &[String], mode: Mode) -> Self {
        let dir = w.sandbox.home().join(folder);
        private_ca_and_leaf(&dir, "leaf", names);
        let log = dir.join("connects.log");
        let mut command = Command::new(peer_python());
        command
            .arg(peer_script("inspecting_proxy.py"))
            .arg("--cert")
            .arg(dir.join("leaf.pem"))
            .arg("--key")
            .arg(dir.join("leaf.key"))
            .args(["--to", &format!("127.0.0.1:{}", w.fake.port())]);
        match mode {
            Mode::Proxy => command.arg("--log").arg(&log),
            Mode::Front => command.arg("--front"),
        };
        let mut child = command
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the inspecting proxy");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let scheme = if mode == Mode::Front {
            "https://"
        } else {
            "http://"
        };
        assert!(line.starts_with(scheme), "it said {line:?}");
        Self {
            child,
            url: line.trim().to_owned(),
            ca: dir.join("ca.pem"),
            log,
            forwards: None,
        }
    }

    /// The hosts tunnels were asked for, each once, sorted.
    fn hosts(&self) -> Vec<String> {
        let mut hosts: Vec<String> = std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect();
        hosts.sort();
        hosts.dedup();
        hosts
    }

    /// `ssobar ARGS` as on a company laptop: in the namespace where the proxy is the one way
    /// out, with no endpoint override at all, so every call names the real AWS host and reaches
    /// the fake only through the proxy; `AWS_CA_BUNDLE` set to the proxy's CA when `trusted`.
    /// The browser (curl) goes through the proxy too, trusting the CA as the company's
    /// browsers do.
    fn ssobar(&self, w: &World, trusted: bool, args: &[&str], extra: &[(&str, &str)]) -> Ran {
        let mut command = w.command();
        for (variable, _) in w.fake.endpoint_env() {
            command.env_remove(variable);
        }
        command
            .args(args)
            .env("HTTPS_PROXY", &self.url)
            .env("CURL_CA_BUNDLE", &self.ca)
            .envs(extra.iter().copied());
        if trusted {
            command.env("AWS_CA_BUNDLE", &self.ca);
        }
        Ran::run(&mut self.inside(&command))
    }
}

#[test]
fn behind_an_inspecting_proxy_with_its_ca_every_command_reaches_aws_by_its_real_names() {
    require_secret_service();
    let pem = "-----BEGIN CERTIFICATE-----\nQ0E=\n-----END CERTIFICATE-----\n";
    let config = FakeConfig {
        clusters: vec![
            FakeCluster::new(
                "prod",
                "https://127.0.0.1:6443",
                &base64::engine::general_purpose::STANDARD.encode(pem),
            )
            .in_region("eu-west-1"),
        ],
        ..FakeConfig::default()
    };
    let w = behind_a_proxy(config);
    let Some(proxy) = InspectingProxy::start(
        &w,
        "behind_an_inspecting_proxy_with_its_ca_every_command_reaches_aws_by_its_real_names",
    ) else {
        return;
    };
    let session = w.session.clone();
    let run = |args: &[&str]| proxy.ssobar(&w, true, args, &[]).success();

    run(&["login", "--profile", "dev", "--device-code"]);
    run(&["refresh", "--profile", "dev", "--force"]);
    assert_eq!(w.calls(Operation::CreateToken), 2);
    let credentials = run(&["credential-process", "--profile", "dev"]);
    assert_eq!(credentials.json()["Version"], 1);
    let accounts = run(&["accounts", "--sso-session", &session]);
    assert!(
        accounts.stdout.contains("111122223333"),
        "{}",
        accounts.stdout
    );
    let clusters = run(&[
        "clusters",
        "--sso-session",
        &session,
        "--regions",
        "eu-west-1",
    ]);
    assert!(clusters.stdout.contains("prod"), "{}", clusters.stdout);
    let console = run(&["console", "--profile", "dev", "--print"]);
    assert!(
        console
            .stdout
            .starts_with("https://signin.aws.amazon.com/federation?Action=login"),
        "{}",
        console.stdout
    );
    assert_eq!(
        proxy.hosts(),
        [
            "device.sso.us-east-1.amazonaws.com",
            "eks.eu-west-1.amazonaws.com",
            "oidc.us-east-1.amazonaws.com",
            "portal.sso.us-east-1.amazonaws.com",
            "signin.aws.amazon.com",
        ]
    );
}

#[test]
fn behind_an_inspecting_proxy_without_its_ca_one_line_names_aws_ca_bundle_and_nothing_is_written() {
    require_secret_service();
    let w = behind_a_proxy(FakeConfig::default());
    let Some(proxy) = InspectingProxy::start(
        &w,
        "behind_an_inspecting_proxy_without_its_ca_one_line_names_aws_ca_bundle_and_nothing_is_written",
    ) else {
        return;
    };
    let ran = proxy
        .ssobar(
            &w,
            false,
            &["login", "--profile", "dev", "--device-code"],
            &[],
        )
        .expect_code(1);
    let line = ran.stderr.trim_end();
    assert_eq!(ran.stderr.lines().count(), 1, "{}", ran.stderr);
    assert!(
        line.contains(
            "cannot reach https://oidc.us-east-1.amazonaws.com: its certificate is not trusted"
        ) && line.contains("set AWS_CA_BUNDLE to a PEM file of its CA"),
        "{line}"
    );
    assert_eq!(proxy.hosts(), ["oidc.us-east-1.amazonaws.com"]);
    assert_eq!(w.calls(Operation::RegisterClient), 0, "nothing reached AWS");
    assert!(w.token().is_none(), "no token written");
}

#[test]
fn with_fips_or_dual_stack_asked_the_proxy_sees_those_hosts_and_the_eks_token_names_one() {
    require_secret_service();
    let w = World::start(SSOBAR, FakeConfig::default(), BrowserMode::Follow);
    w.seed_sign_in(8 * 3600);
    let Some(proxy) = InspectingProxy::start(
        &w,
        "with_fips_or_dual_stack_asked_the_proxy_sees_those_hosts_and_the_eks_token_names_one",
    ) else {
        return;
    };
    let fips = [("AWS_USE_FIPS_ENDPOINT", "true")];
    proxy
        .ssobar(&w, true, &["credential-process", "--profile", "dev"], &fips)
        .success();
    let token = proxy
        .ssobar(
            &w,
            true,
            &["eks-token", "--profile", "dev", "--cluster-id", "prod"],
            &fips,
        )
        .success();
    let url = decoded_token_url(&token.json());
    assert!(
        url.starts_with("https://sts-fips.eu-west-1.amazonaws.com/?"),
        "{url}"
    );
    assert_eq!(proxy.hosts(), ["portal.sso-fips.us-east-1.amazonaws.com"]);

    // Dual-stack: the hosts that answer on IPv6 too, for the portal and the token's STS.
    let dual = [("AWS_USE_DUALSTACK_ENDPOINT", "true")];
    proxy
        .ssobar(
            &w,
            true,
            &["credential-process", "--profile", "admin"],
            &dual,
        )
        .success();
    let token = proxy
        .ssobar(
            &w,
            true,
            &["eks-token", "--profile", "admin", "--cluster-id", "prod"],
            &dual,
        )
        .success();
    let url = decoded_token_url(&token.json());
    assert!(url.starts_with("https://sts.us-east-1.api.aws/?"), "{url}");
    assert!(
        proxy
            .hosts()
            .contains(&"portal.sso.us-east-1.api.aws".to_owned()),
        "{:?}",
        proxy.hosts()
    );
}

/// The presigned STS URL inside an EKS token's ExecCredential.
fn decoded_token_url(exec_credential: &serde_json::Value) -> String {
    let encoded = exec_credential["status"]["token"]
        .as_str()
        .unwrap()
        .strip_prefix("k8s-aws-v1.")
        .unwrap()
        .to_owned();
    String::from_utf8(
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(encoded)
            .unwrap(),
    )
    .unwrap()
}

/// Writes HOME's `settings.toml`, private as ssobar wants it.
fn write_settings(w: &World, text: &str) {
    let folder = w.sandbox.home().join(".config/ssobar");
    std::fs::create_dir_all(&folder).unwrap();
    crate::chmod(&folder, 0o700);
    let settings = folder.join("settings.toml");
    std::fs::write(&settings, text).unwrap();
    crate::chmod(&settings, 0o600);
}

#[test]
fn the_settings_give_the_proxy_and_its_ca_when_the_environment_has_neither() {
    // As for an app the desktop started, without the shell's variables.
    require_secret_service();
    let w = World::start(SSOBAR, FakeConfig::default(), BrowserMode::Follow);
    w.seed_sign_in(8 * 3600);
    let Some(proxy) = InspectingProxy::start(
        &w,
        "the_settings_give_the_proxy_and_its_ca_when_the_environment_has_neither",
    ) else {
        return;
    };
    write_settings(
        &w,
        &format!(
            "https_proxy = \"{}\"\nca_bundle = \"{}\"\n",
            proxy.url,
            proxy.ca.display()
        ),
    );
    let mut command = w.command();
    for (variable, _) in w.fake.endpoint_env() {
        command.env_remove(variable);
    }
    let ran = Ran::run(&mut proxy.inside(command.args(["credential-process", "--profile", "dev"])))
        .success();
    assert_eq!(ran.json()["Version"], 1);
    assert_eq!(proxy.hosts(), ["portal.sso.us-east-1.amazonaws.com"]);

    // The environment wins: a proxy it names that does not exist is the one tried (the
    // console's call, since the role's credentials now come from the keychain).
    let console = ["console", "--profile", "dev", "--print"];
    let mut command = w.command();
    for (variable, _) in w.fake.endpoint_env() {
        command.env_remove(variable);
    }
    Ran::run(&mut proxy.inside(command.args(console))).success();
    let mut command = w.command();
    for (variable, _) in w.fake.endpoint_env() {
        command.env_remove(variable);
    }
    let refused = Ran::run(
        &mut proxy.inside(
            command
                .args(console)
                .env("HTTPS_PROXY", "http://127.0.0.1:9"),
        ),
    );
    assert_eq!(refused.code, Some(1), "{}", refused.stderr);
    assert_eq!(
        proxy.hosts(),
        [
            "portal.sso.us-east-1.amazonaws.com",
            "signin.aws.amazon.com"
        ]
    );
}

#[test]
fn the_profiles_ca_bundle_and_fips_keys_come_after_the_environment_and_before_the_settings() {
    require_secret_service();
    let w = behind_a_proxy(FakeConfig::default());
    let Some(proxy) = InspectingProxy::start(
        &w,
        "the_profiles_ca_bundle_and_fips_keys_come_after_the_environment_and_before_the_settings",
    ) else {
        return;
    };
    // Another private CA, which signed nothing the proxy presents.
    let other = w.sandbox.home().join("other-ca");
    private_ca_and_leaf(&other, "unused", &["DNS:example.com".to_owned()]);
    let other_ca = other.join("ca.pem");
    write_settings(&w, &format!("ca_bundle = \"{}\"\n", other_ca.display()));
    let ca = proxy.ca.display().to_string();
    w.sandbox.write_config(
        w.config()
            .sso_profile("fips", &w.session, "111122223333", "AdministratorAccess")
            .with("region", "eu-west-1")
            .with("ca_bundle", &ca)
            .with("use_fips_endpoint", "true")
            .section("default", &[("ca_bundle", &ca)]),
    );
    let session = w.session.clone();
    let run = |args: &[&str], extra: &[(&str, &str)]| proxy.ssobar(&w, false, args, extra);

    // A session's sign-in without a profile: [default]'s bundle, as `aws sso login
    // --sso-session` reads it, and FIPS, which the one profile of the session that says
    // anything asks for.
    run(&["login", "--sso-session", &session, "--device-code"], &[]).success();
    assert_eq!(
        proxy.hosts(),
        [
            "device.sso.us-east-1.amazonaws.com",
            "oidc-fips.us-east-1.amazonaws.com"
        ]
    );
    let credentials = run(&["credential-process", "--profile", "fips"], &[]).success();
    assert_eq!(credentials.json()["Version"], 1);
    let token = run(
        &["eks-token", "--profile", "fips", "--cluster-id", "prod"],
        &[],
    )
    .success();
    let url = decoded_token_url(&token.json());
    assert!(
        url.starts_with("https://sts-fips.eu-west-1.amazonaws.com/?"),
        "{url}"
    );

    // The environment comes first: its bundle, which does not hold the proxy's CA, and its
    // FIPS choice.
    let other_ca = other_ca.display().to_string();
    let refused = run(
        &["refresh", "--profile", "fips", "--force"],
        &[("AWS_CA_BUNDLE", &other_ca)],
    )
    .expect_code(1);
    assert!(
        refused.stderr.contains("its certificate is not trusted"),
        "{}",
        refused.stderr
    );
    run(
        &["refresh", "--profile", "fips", "--force"],
        &[("AWS_USE_FIPS_ENDPOINT", "false")],
    )
    .success();
    // A profile without the keys: the settings' bundle, which does not hold it either.
    let refused = run(&["credential-process", "--profile", "dev"], &[]).expect_code(1);
    assert!(
        one_line(&refused).contains("its certificate is not trusted"),
        "{}",
        refused.stderr
    );
    assert_eq!(
        proxy.hosts(),
        [
            "device.sso.us-east-1.amazonaws.com",
            "oidc-fips.us-east-1.amazonaws.com",
            "oidc.us-east-1.amazonaws.com",
            "portal.sso-fips.us-east-1.amazonaws.com",
            "portal.sso.us-east-1.amazonaws.com",
        ]
    );
    assert_eq!(w.calls(Operation::CreateToken), 2);
}
