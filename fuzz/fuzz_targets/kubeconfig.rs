//! The kubeconfig merge on any YAML: an error or a document that holds the cluster, writes as
//! YAML, reads back the same, and merges again to no change.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_yaml_ng::Value;
use ssobar_core::kube::kubeconfig::{ClusterAccess, ExecPlugin, merge};

fn access() -> ClusterAccess {
    ClusterAccess {
        cluster_name: "arn:aws:eks:eu-west-1:111111111111:cluster/dev".into(),
        server: "https://ABC.gr7.eu-west-1.eks.amazonaws.com".into(),
        certificate_authority_data: "LS0tLS1CRUdJTg==".into(),
        user_name: "ssobar-dev".into(),
        context_name: "dev".into(),
        exec: ExecPlugin {
            api_version: "client.authentication.k8s.io/v1beta1".into(),
            command: "ssobar".into(),
            args: vec!["eks-token".into(), "--profile".into(), "dev".into()],
        },
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(document) = serde_yaml_ng::from_str::<Value>(text) else {
        return;
    };
    let access = access();
    let Ok((merged, _)) = merge(Some(document), &access) else {
        return;
    };
    let named = |list: &str, name: &str| {
        merged
            .get(list)
            .and_then(Value::as_sequence)
            .is_some_and(|items| {
                items
                    .iter()
                    .any(|item| item.get("name").and_then(Value::as_str) == Some(name))
            })
    };
    assert!(named("clusters", &access.cluster_name), "{merged:?}");
    assert!(named("users", &access.user_name), "{merged:?}");
    assert!(named("contexts", &access.context_name), "{merged:?}");

    let written = serde_yaml_ng::to_string(&merged)
        .unwrap_or_else(|e| panic!("the merged kubeconfig does not write ({e}): {merged:?}"));
    let reread: Value = serde_yaml_ng::from_str(&written)
        .unwrap_or_else(|e| panic!("the written kubeconfig does not re-parse ({e}):\n{written}"));
    assert_eq!(reread, merged, "written:\n{written}");
    let (_, changed) = merge(Some(reread), &access).expect("a merged kubeconfig merges again");
    assert!(
        !changed,
        "a second merge changed the kubeconfig:\n{written}"
    );
});
