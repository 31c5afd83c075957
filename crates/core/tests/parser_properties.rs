//! Property tests: no input makes the config or cache parsers panic, and a malformed line
//! costs only its own section; `KUBERNETES_EXEC_INFO`, the kubeconfig merge and the sign-in
//! listener hold what their fuzz targets (fuzz/) check, on every CI run; the credential server
//! serves only a request that carries its token. Requests go through the loopback server's
//! own connection handling (hyper's parser, its limits), over an in-memory pipe.

// A test that cannot unwrap has failed; the panic message is the report.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use serde_yaml_ng::value::{Tag, TaggedValue};
use serde_yaml_ng::{Mapping, Value};
use ssobar_core::config::{AwsConfig, ConfigText, FileKind};
use ssobar_core::creds::container::{AuthToken, Route, route};
use ssobar_core::kube::eks::{DEFAULT_EXEC_API, exec_api};
use ssobar_core::kube::kubeconfig::{ClusterAccess, ExecPlugin, merge};
use ssobar_core::sso::pkce::{CALLBACK_PATH, Callback, answer_callback, parse_callback};
use ssobar_core::sso::token_cache::{SsoToken, parse_token};
use ssobar_core::util::loopback_http::{Peer, answer, serve_connection};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What `handle` makes of the request head the loopback server parsed from `bytes` sent on a
/// connection (and then closed for sending); `None` when the server refused the bytes before
/// any handler saw them.
fn through_the_server<T: Send + 'static>(
    bytes: Vec<u8>,
    handle: impl Fn(&http::request::Parts) -> T + Send + Sync + 'static,
) -> Option<T> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let handler = move |head: http::request::Parts, _peer: Peer| {
            let made = handle(&head);
            std::future::ready((
                answer(http::StatusCode::OK, "text/plain", String::new()),
                Some(made),
            ))
        };
        let peer = Peer {
            server: "127.0.0.1:1".parse().unwrap(),
            client: "127.0.0.1:2".parse().unwrap(),
        };
        let serving = tokio::spawn(serve_connection(server, peer, Arc::new(handler)));
        let _ = client.write_all(&bytes).await;
        let _ = client.shutdown().await;
        let mut answer = Vec::new();
        let _ = client.read_to_end(&mut answer).await;
        serving.await.unwrap()
    })
}

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
        // Blank to Rust's `trim`, a property without `=` to the SDK.
        Just("\u{a0}".to_owned()),
        "[a-z]{3,10}".prop_map(|w| format!("{w} {w}")),
    ]
}

fn access() -> ClusterAccess {
    ClusterAccess {
        cluster_name: "arn:aws:eks:eu-west-1:111111111111:cluster/dev".into(),
        server: "https://ABC.gr7.eu-west-1.eks.amazonaws.com".into(),
        certificate_authority_data: "LS0tLS1CRUdJTg==".into(),
        user_name: "ssobar-dev".into(),
        context_name: "dev".into(),
        exec: ExecPlugin {
            api_version: DEFAULT_EXEC_API.into(),
            command: "ssobar".into(),
            args: vec!["eks-token".into(), "--profile".into(), "dev".into()],
        },
    }
}

/// Any YAML value a kubeconfig might hold, weighted towards the shapes `merge` looks into:
/// the three lists, items named like ssobar's, and fields of the wrong type.
fn yaml() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        prop_oneof![
            Just("clusters"),
            Just("users"),
            Just("contexts"),
            Just("name"),
            Just("cluster"),
            Just("user"),
            Just("context"),
            Just("current-context"),
            Just("dev"),
            Just("ssobar-dev"),
            Just("arn:aws:eks:eu-west-1:111111111111:cluster/dev"),
            Just(""),
        ]
        .prop_map(Value::from),
        "\\PC{0,8}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Sequence),
            // `!foo value`: a tag kubectl ignores, as a value or as a key.
            // YAML gives a node one tag at most.
            inner.clone().prop_map(|value| match value {
                Value::Tagged(tagged) => Value::Tagged(tagged),
                value => Value::Tagged(Box::new(TaggedValue {
                    tag: Tag::new("foo"),
                    value
                })),
            }),
            prop::collection::vec((inner.clone(), inner), 0..4)
                .prop_map(|pairs| Value::Mapping(pairs.into_iter().collect::<Mapping>())),
        ]
    })
}

fn has_named(doc: &Value, list: &str, name: &str) -> bool {
    doc.get(list)
        .and_then(Value::as_sequence)
        .is_some_and(|items| {
            items
                .iter()
                .any(|item| item.get("name").and_then(Value::as_str) == Some(name))
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_exec_info_gets_a_known_version_and_a_one_line_warning(
        text in prop_oneof![
            "\\PC{0,80}",
            "[a-z0-9./\\n\\x1b\\x07\\[ ]{0,24}".prop_map(|v| serde_json::json!({ "apiVersion": v }).to_string()),
        ]
    ) {
        let api = exec_api(Some(&text));
        prop_assert!(api.version.starts_with("client.authentication.k8s.io/v1"), "{:?}", api);
        if let Some(warning) = &api.warning {
            prop_assert!(!warning.chars().any(char::is_control), "{:?}", warning);
        }
    }

    #[test]
    fn a_merged_kubeconfig_holds_the_cluster_writes_and_merges_again_to_no_change(
        doc in prop_oneof![
            1 => Just(None),
            8 => yaml().prop_map(Some),
            4 => prop::collection::vec(
                (prop_oneof![3 => "clusters|users|contexts|current-context|kind".prop_map(Value::from), 1 => yaml()], yaml()),
                0..4,
            )
            .prop_map(|pairs| Some(Value::Mapping(pairs.into_iter().collect()))),
        ]
    ) {
        let access = access();
        let Ok((merged, _)) = merge(doc, &access) else {
            return Ok(());
        };
        prop_assert!(has_named(&merged, "clusters", &access.cluster_name), "{:?}", merged);
        prop_assert!(has_named(&merged, "users", &access.user_name), "{:?}", merged);
        prop_assert!(has_named(&merged, "contexts", &access.context_name), "{:?}", merged);
        let written = serde_yaml_ng::to_string(&merged).unwrap();
        let reread: Value = serde_yaml_ng::from_str(&written).unwrap();
        prop_assert_eq!(&reread, &merged, "{}", written);
        let (_, changed) = merge(Some(reread), &access).unwrap();
        prop_assert!(!changed, "{}", written);
    }

    #[test]
    fn any_yaml_text_merges_or_explains(text in "\\PC{0,200}") {
        if let Ok(doc) = serde_yaml_ng::from_str::<Value>(&text) {
            let _ = merge(Some(doc), &access());
        }
    }

    #[test]
    fn any_request_is_a_callback_or_nothing(
        bytes in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..200),
            "GET /oauth/callback\\?[a-z_=&%0-9A-F\\x1b]{0,60}( HTTP/1.1)?(\r\n[ -~]{0,20})*\r\n\r\n"
                .prop_map(String::into_bytes),
        ]
    ) {
        let seen = through_the_server(bytes, |head| {
            let target = head.uri.path_and_query().map(|t| t.as_str().to_owned());
            (target, answer_callback(head, "s1").1)
        });
        if let Some((target, ended)) = seen {
            let callback = target.as_deref().and_then(parse_callback);
            if let Some(callback) = &callback {
                if let Callback::Code { state, .. } = callback {
                    prop_assert!(callback.answers(state));
                }
                if let Callback::Error { error, description, .. } = callback {
                    let shown = format!("{error}{}", description.as_deref().unwrap_or_default());
                    prop_assert!(!shown.chars().any(char::is_control), "{:?}", callback);
                }
            }
            // Only a redirect of this sign-in's own state ends its wait.
            if let Some(ended) = ended {
                prop_assert!(ended.answers("s1"), "{:?}", ended);
                prop_assert_eq!(callback.as_ref(), Some(&ended));
            }
        }
    }

    #[test]
    fn no_request_without_the_token_is_served(
        noise in prop::collection::vec(any::<u8>(), 0..200),
        method in "GET|POST|get",
        query in "(\\?[a-z=]{0,5})?",
        // Header lines that are no Authorization header: other headers, and lines with no
        // colon, which make the head malformed.
        headers in prop::collection::vec("X-[A-Za-z-]{1,12}: [!-~]{0,20}", 0..4),
        colonless in prop::collection::vec("[ -9;-~]{1,30}", 0..2),
    ) {
        let token = AuthToken::generate();
        let served = |bytes: Vec<u8>| {
            let token = token.clone();
            through_the_server(bytes, move |head| route(head, &token)) == Some(Route::Credentials)
        };
        prop_assert!(!served(noise));
        let request_line = format!("{method} /credentials{query} HTTP/1.1");
        let head = |extra: &[String]| {
            let mut all = vec![request_line.clone()];
            all.extend(headers.iter().cloned());
            all.extend(extra.iter().cloned());
            format!("{}\r\n\r\n", all.join("\r\n")).into_bytes()
        };
        prop_assert!(!served(head(&[])));
        let auth = format!("Authorization: {}", token.expose());
        prop_assert_eq!(served(head(std::slice::from_ref(&auth))), method == "GET");
        prop_assert!(!served(head(&[auth.clone(), auth.clone()])));
        let mut malformed = colonless.clone();
        malformed.push(auth);
        prop_assert!(colonless.is_empty() || !served(head(&malformed)));
    }

    #[test]
    fn a_redirects_state_round_trips_and_answers_only_itself(state in "\\PC{1,40}", code in "[A-Za-z0-9._~-]{1,20}") {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("code", &code)
            .append_pair("state", &state)
            .finish();
        let head = format!("GET {CALLBACK_PATH}?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        let other = format!("{state}x");
        let ended = {
            let (state, other) = (state.clone(), other.clone());
            through_the_server(head.into_bytes(), move |head| {
                (answer_callback(head, &state).1, answer_callback(head, &other).1)
            })
        };
        prop_assert_eq!(
            ended,
            Some((Some(Callback::Code { code, state: state.clone() }), None))
        );
    }

    #[test]
    fn any_text_parses_without_panicking(text in "\\PC{0,400}", creds in any::<bool>()) {
        let kind = if creds { FileKind::Credentials } else { FileKind::Config };
        let config = parse(kind, &text);
        for p in config.profiles() {
            let _ = p.kind();
            let _ = config.sso_profile(p);
            let _ = config.resolve(p);
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
    fn numbers_other_tools_wrote_survive_a_rewrite(
        numbers in prop::collection::vec(any::<f64>().prop_filter("JSON has no NaN or infinity", |n| n.is_finite()), 1..8)
    ) {
        let text = format!(
            r#"{{"accessToken":"a","expiresAt":"2026-01-01T00:00:00Z","other":[{}]}}"#,
            numbers.iter().map(|n| format!("{n:e}")).collect::<Vec<_>>().join(",")
        );
        let token = parse_token(text.as_bytes()).unwrap();
        let read: Vec<Option<f64>> = token.extra["other"].as_array().unwrap().iter().map(serde_json::Value::as_f64).collect();
        prop_assert_eq!(read, numbers.iter().copied().map(Some).collect::<Vec<_>>());
        let again = parse_token(&serde_json::to_vec(&token).unwrap()).unwrap();
        prop_assert_eq!(again, token);
    }

    #[test]
    fn any_timestamp_text_parses_or_explains(text in "\\PC{0,30}") {
        let _ = ssobar_core::util::time::parse_timestamp(&text);
    }

    #[test]
    fn every_timestamp_written_reads_back(
        seconds in jiff::Timestamp::MIN.as_second()..=jiff::Timestamp::MAX.as_second()
    ) {
        let written = ssobar_core::util::time::format_timestamp(jiff::Timestamp::from_second(seconds).unwrap());
        prop_assert!(ssobar_core::util::time::parse_timestamp(&written).is_ok(), "{}", written);
    }
}
