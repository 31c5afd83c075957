//! ssobar-fake-aws.
