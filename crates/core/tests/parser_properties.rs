//! Property tests: no input makes the config or cache parsers panic, and a malformed line
//! costs only its own section.

// A test that cannot unwrap has failed; the panic message is the report.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use ssobar_core::config::{AwsConfig, ConfigText, FileKind};
use ssobar_core::token_cache::{SsoToken, parse_token};

fn parse(kind: FileKind, text: &str) -> AwsConfig {
    AwsConfig::parse(&[ConfigText {
        path: "/h/.aws/config".into(),
        kind,
        text: text.to_owned(),
    }])
}

fn name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9-]{0,8}"
}

fn value() -> impl Strategy<Value = String> {
    "[A-Za-z0-9:/._-]{1,20}"
}

/// A line the SDK parser rejects inside a section.
fn garbage() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("no equals sign here".to_owned()),
        Just("= value without a name".to_owned()),
        "[a-z]{3,10}".prop_map(|w| format!("{w} {w}")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_text_parses_without_panicking(text in "\\PC{0,400}", creds in any::<bool>()) {
        let kind = if creds { FileKind::Credentials } else { FileKind::Config };
        let config = parse(kind, &text);
        for p in config.profiles() {
            let _ = p.kind();
            let _ = config.sso_profile(p);
            let _ = config.role_chain(&p.name);
        }
    }

    #[test]
    fn line_shaped_noise_parses_without_panicking(
        lines in prop::collection::vec(
            prop_oneof![
                "\\[[ a-z-]{0,12}\\]?",
                "[ \t]{0,2}[a-z_]{0,8}[ ]?=?[ ]?[a-z0-9]{0,6}",
                "[#;].{0,10}",
                Just(String::new()),
            ],
            0..40,
        )
    ) {
        let _ = parse(FileKind::Config, &lines.join("\n"));
    }

    #[test]
    fn a_bad_line_costs_only_its_own_profile(
        profiles in prop::collection::btree_map(name(), prop::collection::btree_map("[a-z_]{1,10}", value(), 1..4), 1..6),
        bad_index in any::<prop::sample::Index>(),
        bad_line in garbage(),
    ) {
        let names: Vec<&String> = profiles.keys().collect();
        let bad = names[bad_index.index(names.len())].clone();
        let mut text = String::new();
        for (profile, props) in &profiles {
            text.push_str(&format!("[profile {profile}]\n"));
            for (k, v) in props {
                text.push_str(&format!("{k} = {v}\n"));
            }
            if *profile == bad {
                text.push_str(&bad_line);
                text.push('\n');
            }
        }
        let config = parse(FileKind::Config, &text);
        for profile in profiles.keys() {
            let parsed = config.profile(profile).expect("every profile is still there");
            prop_assert_eq!(parsed.problems.is_empty(), *profile != bad, "{}", text);
        }
    }

    #[test]
    fn any_bytes_are_a_token_or_a_reason(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = parse_token(&bytes);
    }

    #[test]
    fn json_shaped_noise_is_a_token_or_a_reason(
        access in prop::option::of("[ -~]{0,12}"),
        expires in prop::option::of("[0-9TZ:-]{0,22}"),
        extra in prop::collection::btree_map("[a-zA-Z]{1,8}", any::<i32>(), 0..3),
    ) {
        let mut object = serde_json::Map::new();
        if let Some(a) = access { object.insert("accessToken".into(), a.into()); }
        if let Some(e) = expires { object.insert("expiresAt".into(), e.into()); }
        for (k, v) in extra { object.insert(k, v.into()); }
        let _ = parse_token(serde_json::to_string(&object).unwrap().as_bytes());
    }

    #[test]
    fn tokens_round_trip(
        access in "[A-Za-z0-9+/=]{1,60}",
        seconds in 0i64..4_000_000_000,
        refresh in prop::option::of("[A-Za-z0-9]{1,40}"),
    ) {
        let token = SsoToken {
            start_url: Some("https://x.awsapps.com/start".into()),
            region: Some("us-east-1".into()),
            access_token: access.into(),
            expires_at: jiff::Timestamp::from_second(seconds).unwrap(),
            client_id: Some("c".into()),
            client_secret: Some("s".into()),
            registration_expires_at: None,
            refresh_token: refresh.map(Into::into),
            extra: Default::default(),
        };
        let bytes = serde_json::to_vec(&token).unwrap();
        prop_assert_eq!(parse_token(&bytes).unwrap(), token);
    }

    #[test]
    fn any_timestamp_text_parses_or_explains(text in "\\PC{0,30}") {
        let _ = ssobar_core::time::parse_timestamp(&text);
    }
}
