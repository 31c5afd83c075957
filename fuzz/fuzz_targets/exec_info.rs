//! `KUBERNETES_EXEC_INFO`: any value gives a version ssobar can answer with, and the warning
//! for kubectl's stderr is one line with no control characters.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ssobar_core::kube::eks::exec_api;

const KNOWN: [&str; 3] = [
    "client.authentication.k8s.io/v1",
    "client.authentication.k8s.io/v1beta1",
    "client.authentication.k8s.io/v1alpha1",
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let api = exec_api(Some(text));
    assert!(KNOWN.contains(&api.version.as_str()), "{api:?}");
    if let Some(warning) = &api.warning {
        assert!(
            !warning.chars().any(char::is_control),
            "a control character reaches the terminal: {warning:?}"
        );
    }
});
