//! Writing ssobar's cluster, user and context into a kubeconfig, leaving everything else in
//! the file as it was. The merge is a pure function of the document; running it twice changes
//! nothing. The read-merge-write runs under kubectl's own lock on the file, so that neither
//! another ssobar nor a kubectl changing the same file loses the other's entries.

use crate::env::Env;
use crate::util::fsutil;
use serde_yaml_ng::{Mapping, Value};
use std::fs::OpenOptions;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The kubeconfig to write: `$KUBECONFIG`'s first file, else `~/.kube/config`.
pub fn default_path(env: &Env) -> Option<PathBuf> {
    let separator = if cfg!(windows) { ';' } else { ':' };
    env.get("KUBECONFIG")
        .and_then(|list| list.split(separator).find(|p| !p.is_empty()))
        .map(PathBuf::from)
        .or_else(|| env.home().map(|home| home.join(".kube").join("config")))
}

/// The `users[].user.exec` block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecPlugin {
    /// `client.authentication.k8s.io/v1beta1` or `.../v1`.
    pub api_version: String,
    /// The program (an absolute path unless the person chose a name on the PATH).
    pub command: String,
    /// What follows the command (`eks-token --profile ... --cluster-id ...`).
    pub args: Vec<String>,
}

/// What to put in the kubeconfig for one cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterAccess {
    /// The `clusters[].name`.
    pub cluster_name: String,
    /// The API server URL.
    pub server: String,
    /// The cluster CA, base64 of the PEM (as EKS returns it).
    pub certificate_authority_data: String,
    /// The `users[].name`.
    pub user_name: String,
    /// The `contexts[].name`.
    pub context_name: String,
    /// The `users[].user.exec` entry that runs `ssobar eks-token`.
    pub exec: ExecPlugin,
}

/// A kubeconfig that cannot be used; the message names the file.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct KubeconfigError(String);

/// The ExecCredential versions a kubeconfig's exec hook may ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExecApi {
    /// `client.authentication.k8s.io/v1beta1` (kubectl 1.11 and later).
    V1beta1,
    /// `client.authentication.k8s.io/v1` (kubectl 1.22 and later).
    V1,
}

impl ExecApi {
    /// The `apiVersion` of the exec block.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V1beta1 => "client.authentication.k8s.io/v1beta1",
            Self::V1 => "client.authentication.k8s.io/v1",
        }
    }
}

/// The exec hook that runs `COMMAND eks-token --profile PROFILE --cluster-id CLUSTER
/// [--region REGION]`: the one user every kubeconfig ssobar writes has.
pub fn eks_token_exec(
    api: ExecApi,
    command: &str,
    profile: &str,
    cluster_id: &str,
    region: Option<&str>,
) -> ExecPlugin {
    let mut args = vec![
        "eks-token".to_owned(),
        "--profile".to_owned(),
        profile.to_owned(),
        "--cluster-id".to_owned(),
        cluster_id.to_owned(),
    ];
    if let Some(region) = region {
        args.extend(["--region".to_owned(), region.to_owned()]);
    }
    ExecPlugin {
        api_version: api.as_str().to_owned(),
        command: command.to_owned(),
        args,
    }
}

/// The merged document, and whether it differs from the input.
pub fn merge(
    document: Option<Value>,
    access: &ClusterAccess,
) -> Result<(Value, bool), KubeconfigError> {
    merge_all(document, std::slice::from_ref(access))
}

/// [`merge`] of several clusters at once, in order: the first one becomes the current
/// context when there is none.
pub fn merge_all(
    document: Option<Value>,
    accesses: &[ClusterAccess],
) -> Result<(Value, bool), KubeconfigError> {
    let before = document.clone();
    let mut doc = match document.map(writable_keys).transpose()? {
        None | Some(Value::Null) => skeleton(),
        Some(Value::Mapping(m)) => m,
        Some(_) => {
            return Err(KubeconfigError(
                "the kubeconfig is not a YAML mapping (apiVersion, clusters, users, ...)".into(),
            ));
        }
    };
    for access in accesses {
        merge_one(&mut doc, access)?;
    }
    let merged = Value::Mapping(doc);
    let changed = before.as_ref() != Some(&merged);
    Ok((merged, changed))
}

fn merge_one(doc: &mut Mapping, access: &ClusterAccess) -> Result<(), KubeconfigError> {
    let mut cluster = Mapping::new();
    cluster.insert(
        "certificate-authority-data".into(),
        access.certificate_authority_data.clone().into(),
    );
    cluster.insert("server".into(), access.server.clone().into());
    upsert_named(doc, "clusters", "cluster", &access.cluster_name, cluster)?;

    let mut user = Mapping::new();
    user.insert("exec".into(), exec_value(&access.exec));
    upsert_named(doc, "users", "user", &access.user_name, user)?;

    let mut context = Mapping::new();
    context.insert("cluster".into(), access.cluster_name.clone().into());
    context.insert("user".into(), access.user_name.clone().into());
    upsert_named(doc, "contexts", "context", &access.context_name, context)?;

    let current = doc
        .get("current-context")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if current.is_empty() {
        doc.insert("current-context".into(), access.context_name.clone().into());
    }
    Ok(())
}

/// The `exec` block ssobar writes for a user.
fn exec_value(exec: &ExecPlugin) -> Value {
    let mut block = Mapping::new();
    block.insert("apiVersion".into(), exec.api_version.clone().into());
    block.insert("command".into(), exec.command.clone().into());
    block.insert(
        "args".into(),
        Value::Sequence(exec.args.iter().cloned().map(Value::from).collect()),
    );
    block.insert("env".into(), Value::Null);
    block.insert("interactiveMode".into(), "IfAvailable".into());
    block.insert("provideClusterInfo".into(), false.into());
    Value::Mapping(block)
}

/// `document` with the `exec` of each named user replaced by ssobar's (`users[].user.exec`),
/// every other entry and every other field of those users as it was; whether that changed it.
/// A user that is not there is skipped.
pub fn replace_user_execs(
    document: Value,
    execs: &[(String, ExecPlugin)],
) -> Result<(Value, bool), KubeconfigError> {
    let before = document.clone();
    let mut doc = match writable_keys(document)? {
        Value::Mapping(m) => m,
        _ => {
            return Err(KubeconfigError(
                "the kubeconfig is not a YAML mapping (apiVersion, clusters, users, ...)".into(),
            ));
        }
    };
    if let Some(Value::Sequence(users)) = doc.get_mut("users") {
        for item in users.iter_mut() {
            let Some(name) = item.get("name").and_then(Value::as_str).map(str::to_owned) else {
                continue;
            };
            let Some((_, exec)) = execs.iter().find(|(user, _)| *user == name) else {
                continue;
            };
            if let Some(Value::Mapping(user)) = item.get_mut("user") {
                user.insert("exec".into(), exec_value(exec));
            }
        }
    }
    let after = Value::Mapping(doc);
    let changed = after != before;
    Ok((after, changed))
}

/// `value` with the tags on its mapping keys dropped, the keys kept, or an error for a key
/// that is a list or a mapping. The YAML writer cannot write a tagged key (`! server:`,
/// `!foo name:`) nor a mapping as a key, so such a document could be merged but never
/// written; kubectl reads the first kind as plain keys and refuses the second (its keys are
/// JSON's, scalars only).
fn writable_keys(value: Value) -> Result<Value, KubeconfigError> {
    Ok(match value {
        Value::Mapping(mapping) => Value::Mapping(
            mapping
                .into_iter()
                .map(|(key, value)| Ok((scalar_key(key)?, writable_keys(value)?)))
                .collect::<Result<Mapping, KubeconfigError>>()?,
        ),
        Value::Sequence(items) => Value::Sequence(
            items
                .into_iter()
                .map(writable_keys)
                .collect::<Result<_, _>>()?,
        ),
        Value::Tagged(mut tagged) => {
            tagged.value = writable_keys(tagged.value)?;
            Value::Tagged(tagged)
        }
        scalar => scalar,
    })
}

/// A mapping key without its tag, if it is a scalar.
fn scalar_key(key: Value) -> Result<Value, KubeconfigError> {
    match key {
        Value::Tagged(tagged) => scalar_key(tagged.value),
        Value::Sequence(_) | Value::Mapping(_) => Err(KubeconfigError(
            "the kubeconfig has a list or a mapping as a key, which kubectl cannot read either; \
             fix the file, then run ssobar kubeconfig again"
                .into(),
        )),
        scalar => Ok(scalar),
    }
}

fn skeleton() -> Mapping {
    let mut doc = Mapping::new();
    doc.insert("apiVersion".into(), "v1".into());
    doc.insert("kind".into(), "Config".into());
    doc.insert("clusters".into(), Value::Sequence(Vec::new()));
    doc.insert("contexts".into(), Value::Sequence(Vec::new()));
    doc.insert("users".into(), Value::Sequence(Vec::new()));
    doc.insert("current-context".into(), "".into());
    doc.insert("preferences".into(), Value::Mapping(Mapping::new()));
    doc
}

/// Sets `fields` inside the `inner` mapping of the `list` item called `name` (creating the item
/// or the list), keeping any other field of that item as it was.
fn upsert_named(
    doc: &mut Mapping,
    list: &str,
    inner: &str,
    name: &str,
    fields: Mapping,
) -> Result<(), KubeconfigError> {
    let items = doc
        .entry(list.into())
        .or_insert_with(|| Value::Sequence(Vec::new()));
    if items.is_null() {
        *items = Value::Sequence(Vec::new());
    }
    let Value::Sequence(items) = items else {
        return Err(KubeconfigError(format!(
            "`{list}` in the kubeconfig is not a list"
        )));
    };
    let at = match items
        .iter()
        .position(|item| item.get("name").and_then(Value::as_str) == Some(name))
    {
        Some(at) => at,
        None => {
            let mut fresh = Mapping::new();
            fresh.insert("name".into(), name.into());
            fresh.insert(inner.into(), Value::Mapping(Mapping::new()));
            items.push(Value::Mapping(fresh));
            items.len() - 1
        }
    };
    let item = &mut items[at];
    let Value::Mapping(item) = item else {
        return Err(KubeconfigError(format!(
            "an entry of `{list}` named {name} is not a mapping"
        )));
    };
    let target = item
        .entry(inner.into())
        .or_insert_with(|| Value::Mapping(Mapping::new()));
    if !target.is_mapping() {
        *target = Value::Mapping(Mapping::new());
    }
    if let Value::Mapping(target) = target {
        for (k, v) in fields {
            target.insert(k, v);
        }
    }
    Ok(())
}

/// Reads a kubeconfig; a missing file is `None`.
pub fn read(path: &Path) -> Result<Option<Value>, KubeconfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(KubeconfigError(format!(
                "cannot read {}: {e}",
                path.display()
            )));
        }
    };
    if text.trim().is_empty() {
        return Ok(None);
    }
    serde_yaml_ng::from_str(&text).map(Some).map_err(|e| {
        KubeconfigError(format!(
            "{}: not a readable kubeconfig: {e}",
            path.display()
        ))
    })
}

/// Writes a kubeconfig atomically, 0600 (it names credentials helpers; kubectl warns about
/// group- or world-readable kubeconfigs). A symlinked kubeconfig stays a link: the file it
/// leads to gets the new content.
pub fn write(path: &Path, doc: &Value) -> Result<(), KubeconfigError> {
    let text = serde_yaml_ng::to_string(doc)
        .map_err(|e| KubeconfigError(format!("cannot write the kubeconfig: {e}")))?;
    let target = fsutil::link_target(path)
        .map_err(|e| KubeconfigError(format!("cannot follow {}: {e}", path.display())))?;
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| KubeconfigError(format!("cannot create {}: {e}", dir.display())))?;
    }
    fsutil::write_atomic(&target, text.as_bytes())
        .map_err(|e| KubeconfigError(format!("cannot write {}: {e}", target.display())))
}

/// How long a write waits for another writer's lock before giving up. kubectl holds it for
/// the milliseconds of one read and write, so a lock that stays this long was left behind by
/// a writer that died.
pub const LOCK_WAIT: Duration = Duration::from_secs(5);

/// How often a waiting writer looks at the lock again.
const LOCK_POLL: Duration = Duration::from_millis(20);

/// kubectl's lock on a kubeconfig (client-go's `ModifyConfig`): the file `<kubeconfig>.lock`
/// for the path as given (a symlink's own path, not its target's), created exclusively and
/// deleted when the write is done. Its existence is the lock, so a writer killed while
/// holding it leaves it behind; the error then says to delete it.
#[derive(Debug)]
pub struct KubeconfigLock {
    path: PathBuf,
}

impl KubeconfigLock {
    /// The lock file of `kubeconfig`.
    pub fn path_for(kubeconfig: &Path) -> PathBuf {
        let mut name = kubeconfig.as_os_str().to_owned();
        name.push(".lock");
        PathBuf::from(name)
    }

    /// Takes the lock, waiting up to `wait` for its holder to let it go.
    pub fn acquire(kubeconfig: &Path, wait: Duration) -> Result<Self, KubeconfigError> {
        let path = Self::path_for(kubeconfig);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| KubeconfigError(format!("cannot create {}: {e}", dir.display())))?;
        }
        let deadline = Instant::now() + wait;
        loop {
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(_) => return Ok(Self { path }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    if Instant::now() >= deadline {
                        return Err(KubeconfigError(format!(
                            "{} is locked by {lock} (another kubectl or ssobar is writing it); if none is running, delete {lock} and run the command again",
                            kubeconfig.display(),
                            lock = path.display()
                        )));
                    }
                    std::thread::sleep(LOCK_POLL);
                }
                Err(e) => {
                    return Err(KubeconfigError(format!(
                        "cannot create the lock {}: {e}",
                        path.display()
                    )));
                }
            }
        }
    }
}

impl Drop for KubeconfigLock {
    fn drop(&mut self) {
        // Best effort: a lock that cannot be deleted is reported by the next writer, by name.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Whether an update changed the kubeconfig.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Update {
    /// The entries were added or changed, and the file written.
    Written,
    /// The file already had them; it was not touched.
    Unchanged,
}

/// Merges `access` into the kubeconfig at `path` under its lock (waiting up to `wait` for
/// another writer), and writes it if that changed it. Returns the document as it now is.
pub fn update(
    path: &Path,
    access: &ClusterAccess,
    wait: Duration,
) -> Result<(Value, Update), KubeconfigError> {
    update_all(path, std::slice::from_ref(access), wait)
}

/// [`update`] with several clusters in one read-merge-write under one lock: a reader sees all
/// of them or none.
pub fn update_all(
    path: &Path,
    accesses: &[ClusterAccess],
    wait: Duration,
) -> Result<(Value, Update), KubeconfigError> {
    let _lock = KubeconfigLock::acquire(path, wait)?;
    let (doc, changed) = merge_all(read(path)?, accesses)?;
    if !changed {
        return Ok((doc, Update::Unchanged));
    }
    write(path, &doc)?;
    Ok((doc, Update::Written))
}

/// Reads the kubeconfig at `path` under kubectl's lock (waiting up to `wait`), lets `change`
/// make the new document from it (`None`: the file leaves nothing to change), and writes it if
/// that changed it. Returns what `change` said, and whether the file was written.
pub fn modify<T>(
    path: &Path,
    wait: Duration,
    change: impl FnOnce(&Value) -> Result<(Option<Value>, T), KubeconfigError>,
) -> Result<(Update, T), KubeconfigError> {
    let _lock = KubeconfigLock::acquire(path, wait)?;
    let Some(doc) = read(path)? else {
        let (_, said) = change(&Value::Null)?;
        return Ok((Update::Unchanged, said));
    };
    let (after, said) = change(&doc)?;
    match after {
        Some(after) if after != doc => {
            write(path, &after)?;
            Ok((Update::Written, said))
        }
        _ => Ok((Update::Unchanged, said)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access() -> ClusterAccess {
        ClusterAccess {
            cluster_name: "prod".into(),
            server: "https://prod.example:443".into(),
            certificate_authority_data: "Q0E=".into(),
            user_name: "dev@prod".into(),
            context_name: "dev@prod".into(),
            exec: ExecPlugin {
                api_version: "client.authentication.k8s.io/v1beta1".into(),
                command: "/usr/local/bin/ssobar".into(),
                args: vec![
                    "eks-token".into(),
                    "--profile".into(),
                    "dev".into(),
                    "--cluster-id".into(),
                    "prod".into(),
                ],
            },
        }
    }

    const EXISTING: &str = r#"
apiVersion: v1
kind: Config
clusters:
- name: other
  cluster:
    server: https://other:6443
    proxy-url: http://proxy:3128
- name: prod
  cluster:
    server: https://old.example
    tls-server-name: prod.internal
contexts:
- name: other
  context:
    cluster: other
    user: other
    namespace: team-a
current-context: other
users:
- name: other
  user:
    token: abc
preferences:
  colors: true
x-unknown-field:
  keep: me
"#;

    #[test]
    fn a_kubeconfig_with_a_mapping_as_a_key_is_refused_in_words() {
        // The YAML writer cannot write it and kubectl cannot read it.
        for text in ["kind:\n  ? {a: b}\n  : c\n", "? [a]\n: b\n"] {
            let doc: Value = serde_yaml_ng::from_str(text).unwrap();
            let error = merge(Some(doc), &access()).unwrap_err().to_string();
            assert!(error.contains("run ssobar kubeconfig again"), "{error}");
        }
    }

    #[test]
    fn a_kubeconfig_with_a_tagged_key_is_still_written() {
        // Found by fuzzing: the YAML writer cannot write a tagged mapping key, so a kubeconfig
        // with `! server:` or `!foo name:` anywhere could be read and merged but not written.
        for text in [
            "! server: x\n",
            "clusters:\n- name: other\n  cluster:\n    !foo server: x\n",
        ] {
            let doc: Value = serde_yaml_ng::from_str(text).unwrap();
            let (merged, changed) = merge(Some(doc), &access()).unwrap();
            assert!(changed);
            let written = serde_yaml_ng::to_string(&merged).unwrap();
            assert!(written.contains("server: x"), "{written}");
            let reread: Value = serde_yaml_ng::from_str(&written).unwrap();
            assert_eq!(reread, merged);
        }
    }

    #[test]
    fn merges_without_touching_anything_else() {
        let doc: Value = serde_yaml_ng::from_str(EXISTING).unwrap();
        let (merged, changed) = merge(Some(doc.clone()), &access()).unwrap();
        assert!(changed);
        assert_eq!(merged["x-unknown-field"]["keep"], "me");
        assert_eq!(merged["preferences"]["colors"], true);
        assert_eq!(
            merged["current-context"], "other",
            "an existing choice stays"
        );
        assert_eq!(merged["clusters"][0], doc["clusters"][0]);
        assert_eq!(merged["users"][0], doc["users"][0]);
        assert_eq!(merged["contexts"][0], doc["contexts"][0]);
        let prod = &merged["clusters"][1]["cluster"];
        assert_eq!(prod["server"], "https://prod.example:443");
        assert_eq!(
            prod["tls-server-name"], "prod.internal",
            "unknown fields of our entry stay"
        );
        let exec = &merged["users"][1]["user"]["exec"];
        assert_eq!(exec["interactiveMode"], "IfAvailable");
        assert_eq!(exec["command"], "/usr/local/bin/ssobar");
        assert_eq!(merged["contexts"][1]["context"]["user"], "dev@prod");
    }

    #[test]
    fn a_user_s_exec_is_replaced_and_nothing_else_is_touched() {
        let text = EXISTING.replace(
            "    token: abc\n",
            "    token: abc\n- name: seed\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1alpha1\n      command: aws-vault\n      args: [exec, sso-profile, --, aws-iam-authenticator, token, --cluster-id, prod]\n    x-keep: 1\n",
        );
        let doc: Value = serde_yaml_ng::from_str(&text).unwrap();
        let exec = access().exec;
        let (after, changed) =
            replace_user_execs(doc.clone(), &[("seed".into(), exec.clone())]).unwrap();
        assert!(changed);
        let users = after["users"].as_sequence().unwrap();
        let seed = users.iter().find(|u| u["name"] == "seed").unwrap();
        assert_eq!(seed["user"]["exec"]["command"], "/usr/local/bin/ssobar");
        assert_eq!(seed["user"]["exec"]["args"][2], "dev");
        assert_eq!(seed["user"]["x-keep"], 1);
        let mut expected = doc.clone();
        let mut got = after.clone();
        for d in [&mut expected, &mut got] {
            if let Some(Value::Sequence(users)) = d.get_mut("users") {
                users.retain(|u| u["name"] != "seed");
            }
        }
        assert_eq!(got, expected, "every other entry as it was");
        let (again, changed) = replace_user_execs(after.clone(), &[("seed".into(), exec)]).unwrap();
        assert!(!changed);
        assert_eq!(again, after);
        let (untouched, changed) =
            replace_user_execs(doc.clone(), &[("nobody".into(), access().exec)]).unwrap();
        assert!(!changed);
        assert_eq!(untouched, doc);
    }

    #[test]
    fn running_twice_changes_nothing() {
        let (once, _) = merge(None, &access()).unwrap();
        let (twice, changed) = merge(Some(once.clone()), &access()).unwrap();
        assert!(!changed);
        assert_eq!(once, twice);
        assert_eq!(
            once["current-context"], "dev@prod",
            "a new file gets our context"
        );
    }

    #[test]
    fn many_clusters_merge_in_one_document_and_the_first_becomes_current() {
        let second = ClusterAccess {
            cluster_name: "arn:aws:eks:eu-west-1:111:cluster/web".into(),
            user_name: "acme/web".into(),
            context_name: "acme/web".into(),
            exec: eks_token_exec(ExecApi::V1, "ssobar", "acme", "web", Some("eu-west-1")),
            ..access()
        };
        let both = [access(), second];
        let (merged, changed) = merge_all(None, &both).unwrap();
        assert!(changed);
        let names = |list: &str| -> Vec<String> {
            merged[list]
                .as_sequence()
                .unwrap()
                .iter()
                .map(|item| item["name"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(names("contexts"), ["dev@prod", "acme/web"]);
        assert_eq!(
            names("clusters"),
            ["prod", "arn:aws:eks:eu-west-1:111:cluster/web"]
        );
        assert_eq!(merged["current-context"], "dev@prod");
        let exec = &merged["users"][1]["user"]["exec"];
        assert_eq!(exec["apiVersion"], "client.authentication.k8s.io/v1");
        let args: Vec<&str> = exec["args"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert_eq!(
            args,
            [
                "eks-token",
                "--profile",
                "acme",
                "--cluster-id",
                "web",
                "--region",
                "eu-west-1"
            ]
        );
        let (again, changed) = merge_all(Some(merged.clone()), &both).unwrap();
        assert!(!changed);
        assert_eq!(again, merged);
    }

    #[test]
    fn bad_documents_are_errors() {
        assert!(merge(Some(Value::from("text")), &access()).is_err());
        let doc: Value = serde_yaml_ng::from_str("clusters: 3\n").unwrap();
        assert!(
            merge(Some(doc), &access())
                .unwrap_err()
                .to_string()
                .contains("`clusters`")
        );
    }

    #[test]
    fn kubeconfig_variable_picks_its_first_file() {
        let env = Env::from_pairs([("KUBECONFIG", ":/a/one:/b/two"), ("HOME", "/h")]);
        if cfg!(unix) {
            assert_eq!(default_path(&env), Some(PathBuf::from("/a/one")));
        }
        let env = Env::from_pairs([("HOME", "/h")]);
        assert_eq!(default_path(&env), Some(PathBuf::from("/h/.kube/config")));
    }

    fn access_to(cluster: &str) -> ClusterAccess {
        ClusterAccess {
            cluster_name: cluster.into(),
            user_name: format!("dev@{cluster}"),
            context_name: format!("dev@{cluster}"),
            ..access()
        }
    }

    fn contexts(path: &Path) -> Vec<String> {
        let doc = read(path).unwrap().unwrap();
        doc["contexts"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn the_lock_is_the_path_as_given_with_lock_appended() {
        assert_eq!(
            KubeconfigLock::path_for(Path::new("/h/.kube/config")),
            PathBuf::from("/h/.kube/config.lock")
        );
    }

    #[test]
    fn an_update_leaves_no_lock_behind_even_when_it_fails() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        let lock = KubeconfigLock::path_for(&path);
        assert_eq!(
            update(&path, &access(), LOCK_WAIT).unwrap().1,
            Update::Written
        );
        assert!(!lock.exists());
        assert_eq!(
            update(&path, &access(), LOCK_WAIT).unwrap().1,
            Update::Unchanged
        );
        assert!(!lock.exists());
        std::fs::write(&path, "clusters: 3\n").unwrap();
        assert!(update(&path, &access(), LOCK_WAIT).is_err());
        assert!(!lock.exists());
    }

    #[test]
    fn a_lock_that_stays_fails_the_update_naming_it_and_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        let lock = KubeconfigLock::path_for(&path);
        std::fs::write(&lock, "").unwrap();
        let started = Instant::now();
        let message = update(&path, &access(), Duration::from_millis(200))
            .unwrap_err()
            .to_string();
        assert!(started.elapsed() >= Duration::from_millis(200));
        assert!(
            message.contains(&format!("delete {}", lock.display())),
            "{message}"
        );
        assert_eq!(message.lines().count(), 1, "{message}");
        assert!(lock.exists(), "another writer's lock is not ours to delete");
        assert!(!path.exists());
    }

    #[test]
    fn writers_in_parallel_lose_no_entry() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::thread::scope(|scope| {
            for i in 0..8 {
                let path = &path;
                scope.spawn(move || update(path, &access_to(&format!("c{i}")), LOCK_WAIT).unwrap());
            }
        });
        let mut names = contexts(&path);
        names.sort();
        let expected: Vec<String> = (0..8).map(|i| format!("dev@c{i}")).collect();
        assert_eq!(names, expected);
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_kubeconfig_stays_a_link_to_the_new_content() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path();
        std::fs::create_dir_all(home.join(".kube")).unwrap();
        std::fs::create_dir_all(home.join("dotfiles")).unwrap();
        std::fs::write(home.join("dotfiles/kubeconfig"), "").unwrap();
        std::os::unix::fs::symlink("../dotfiles/kubeconfig", home.join(".kube/config")).unwrap();
        let link = home.join(".kube/config");
        // The lock is kubectl's: the link's own path, as given, with `.lock`.
        std::fs::write(home.join(".kube/config.lock"), "").unwrap();
        assert!(update(&link, &access(), Duration::from_millis(100)).is_err());
        std::fs::remove_file(home.join(".kube/config.lock")).unwrap();
        update(&link, &access(), LOCK_WAIT).unwrap();
        assert_eq!(
            std::fs::read_link(&link).unwrap(),
            PathBuf::from("../dotfiles/kubeconfig")
        );
        assert_eq!(contexts(&home.join("dotfiles/kubeconfig")), ["dev@prod"]);
        let stray: Vec<_> = std::fs::read_dir(home.join("dotfiles"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n != "kubeconfig")
            .collect();
        assert!(stray.is_empty(), "{stray:?}");
    }
}
