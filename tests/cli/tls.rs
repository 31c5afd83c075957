//! A company's TLS-inspecting proxy, as ssobar meets it: AWS answers through a TLS front whose
//! certificate a private CA signed. The AWS CLI and every SDK take that CA from
//! `AWS_CA_BUNDLE`; so does every call of ssobar (the SDK clients and the console's federation
//! call alike). Without it, one line says the certificate is not trusted and names the
//! variable.

use crate::SSOBAR;
use ssobar_fake_aws::{FakeConfig, Operation};
use ssobar_testkit::{Ran, World, peer_python, peer_script, require_secret_service};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The TLS front and the CA that signed its certificate.
struct TlsFront {
    child: Child,
    url: String,
    ca: PathBuf,
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

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

/// A private CA, a certificate for 127.0.0.1 it signed, and the front relaying to `w`'s fake.
fn tls_front(w: &World) -> TlsFront {
    let dir = w.sandbox.home().join("corp-ca");
    std::fs::create_dir_all(&dir).unwrap();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    openssl(
        &dir,
        &[
            &["req", "-x509"],
            &ec[..],
            &["-days", "1", "-subj", "/CN=Corp Inspection CA"],
        ]
        .concat()
        .into_iter()
        .chain(["-keyout", "ca.key", "-out", "ca.pem"])
        .collect::<Vec<_>>(),
    );
    openssl(
        &dir,
        &[
            &["req"],
            &ec[..],
            &[
                "-subj",
                "/CN=127.0.0.1",
                "-keyout",
                "front.key",
                "-out",
                "front.csr",
            ],
        ]
        .concat(),
    );
    std::fs::write(
        dir.join("front.ext"),
        "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        &dir,
        &[
            "x509",
            "-req",
            "-in",
            "front.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            "front.ext",
            "-out",
            "front.pem",
        ],
    );
    let mut child = Command::new(peer_python())
        .arg(peer_script("tls_front.py"))
        .arg("--cert")
        .arg(dir.join("front.pem"))
        .arg("--key")
        .arg(dir.join("front.key"))
        .args(["--to", &format!("127.0.0.1:{}", w.fake.port())])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the TLS front");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("https://"), "the front said {line:?}");
    TlsFront {
        child,
        url: line.trim().to_owned(),
        ca: dir.join("ca.pem"),
    }
}

/// `ssobar ARGS` with the SSO portal and the sign-in endpoint behind the front, and
/// `AWS_CA_BUNDLE` set to `bundle` when given.
fn through(w: &World, front: &TlsFront, bundle: Option<&Path>, args: &[&str]) -> Ran {
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
