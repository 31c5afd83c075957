//! The process environment, captured once so every rule can be tested with any environment.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// Environment variables, as a value.
///
/// Library code never calls `std::env::var`; it reads an `Env` that binaries capture with
/// [`Env::from_process`] and tests build with [`Env::from_pairs`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl Env {
    /// The current process's environment (variables that are not valid UTF-8 are skipped).
    pub fn from_process() -> Self {
        Self {
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        }
    }

    /// An environment holding exactly these variables.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// The value of `key`; an empty value counts as unset, as the AWS tools treat it.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Sets `key` (for tests and for building a child's environment).
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.vars.insert(key.into(), value.into());
    }

    /// Unsets `key`.
    pub fn remove(&mut self, key: &str) {
        self.vars.remove(key);
    }

    /// Unsets every variable whose name `unwanted` picks.
    pub fn remove_where(&mut self, unwanted: impl Fn(&str) -> bool) {
        self.vars.retain(|key, _| !unwanted(key));
    }

    /// Every variable, by name, as a child process would be given them.
    pub fn vars(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The user's home directory: `HOME`, or `USERPROFILE` on Windows.
    pub fn home(&self) -> Option<PathBuf> {
        self.get("HOME")
            .or_else(|| self.get("USERPROFILE"))
            .map(PathBuf::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_values_count_as_unset() {
        let env = Env::from_pairs([("AWS_PROFILE", ""), ("HOME", "/home/a")]);
        assert_eq!(env.get("AWS_PROFILE"), None);
        assert_eq!(env.home(), Some(PathBuf::from("/home/a")));
    }
}
