//! Kubernetes on EKS: the token kubectl's exec hook prints, the kubeconfig that runs it, the
//! two ways to let an SSO role into a cluster, and finding every cluster a person can reach.

pub mod aws_auth;
pub mod discovery;
pub mod eks;
pub mod kubeconfig;
