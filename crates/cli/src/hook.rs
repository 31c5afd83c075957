//! What a kubeconfig's exec hook names: this ssobar's path and the ExecCredential version.
//! A leaf, shared by `kubeconfig`, `clusters` and `setup`.

use anyhow::{Context as _, Result};
use ssobar_core::kube::kubeconfig::ExecApi;

/// The ExecCredential versions `ssobar kubeconfig` can write.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum ExecApiVersion {
    /// client.authentication.k8s.io/v1beta1 (kubectl 1.11 and later).
    V1beta1,
    /// client.authentication.k8s.io/v1 (kubectl 1.22 and later).
    V1,
}

impl From<ExecApiVersion> for ExecApi {
    fn from(version: ExecApiVersion) -> Self {
        match version {
            ExecApiVersion::V1beta1 => Self::V1beta1,
            ExecApiVersion::V1 => Self::V1,
        }
    }
}

/// The absolute path of this ssobar, for kubeconfig exec hooks.
pub(crate) fn this_ssobar() -> Result<String> {
    Ok(std::env::current_exe()
        .context("cannot tell where this ssobar is; pass --command ssobar")?
        .display()
        .to_string())
}
