//! The AWS config parser and its repair of bad lines: no text makes it panic, and a line that
//! opens no section costs only the profile it sits in.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ssobar_core::config::{AwsConfig, ConfigText, FileKind};

fn parse(kind: FileKind, text: &str) -> AwsConfig {
    AwsConfig::parse(&[ConfigText {
        path: "config".into(),
        kind,
        text: text.to_owned(),
    }])
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for kind in [FileKind::Config, FileKind::Credentials] {
        let config = parse(kind, &text);
        for profile in config.profiles() {
            let _ = profile.kind();
            let _ = config.sso_profile(profile);
            let _ = config.resolve(profile);
            let _ = config.session_for_profile(&profile.name);
        }
        for session in config.sessions() {
            let _ = config.sso_session(&session.name);
        }
    }

    // The input's first line, put inside the middle one of three profiles. A header would
    // open a section of its own; any other line belongs to `b`, whatever it says.
    let line = text.lines().next().unwrap_or_default();
    if line.starts_with('[') {
        return;
    }
    let file = format!(
        "[profile a]\nregion = eu-west-1\n\n[profile b]\nregion = eu-west-1\n{line}\n\n\
         [profile c]\nregion = eu-west-1\n"
    );
    let config = parse(FileKind::Config, &file);
    for name in ["a", "c"] {
        let profile = config
            .profile(name)
            .unwrap_or_else(|| panic!("profile {name} lost to a line of b: {file:?}"));
        assert!(
            profile.problems.is_empty(),
            "profile {name} blamed for a line of b: {:?} in {file:?}",
            profile.problems
        );
        assert_eq!(profile.get("region"), Some("eu-west-1"), "{file:?}");
    }
    assert!(config.profile("b").is_some(), "profile b lost: {file:?}");
});
