//! Kubernetes on EKS: the token kubectl's exec hook prints, the kubeconfig that runs it, and
//! the two ways to let an SSO role into a cluster.

pub mod aws_auth;
pub mod eks;
pub mod kubeconfig;
