//! The SSO portal (aws-sdk-sso): role credentials, accounts, and sign-out.

use crate::aws::endpoints::Service;
use crate::aws::{CallError, sdk_config};
use crate::env::Env;
use crate::util::secret::Secret;
use crate::util::text::printable;

/// Role credentials as the portal hands them out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleCredentials {
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: Secret,
    /// Session token (role credentials are always temporary).
    pub session_token: Secret,
    /// Expiry, milliseconds since the epoch (the portal's own unit).
    pub expiration_ms: i64,
}

/// An account the signed-in person can reach.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// The 12-digit account id, made printable (the portal is trusted with it no more).
    pub account_id: String,
    /// Account name, made printable ([`crate::util::text::printable`]): menus and the window show it.
    pub account_name: Option<String>,
    /// The account's root email address, made printable.
    pub email_address: Option<String>,
}

/// The most items the portal sends in one page of ListAccounts or ListAccountRoles: asking
/// for the most makes the fewest calls.
const PAGE_SIZE: i32 = 100;

/// A client for one region's portal.
#[derive(Clone, Debug)]
pub struct PortalClient {
    client: aws_sdk_sso::Client,
    endpoint: String,
}

impl PortalClient {
    /// A client for `region`, at `AWS_ENDPOINT_URL_SSO` when set.
    pub fn new(env: &Env, region: &str) -> Result<Self, CallError> {
        let (builder, endpoint) = sdk_config!(aws_sdk_sso, env, Service::Sso, region);
        let config = builder.build();
        Ok(Self {
            client: aws_sdk_sso::Client::from_conf(config),
            endpoint,
        })
    }

    /// GetRoleCredentials.
    pub async fn role_credentials(
        &self,
        access_token: &Secret,
        account_id: &str,
        role_name: &str,
    ) -> Result<RoleCredentials, CallError> {
        let out = self
            .client
            .get_role_credentials()
            .access_token(access_token.expose())
            .account_id(account_id)
            .role_name(role_name)
            .send()
            .await
            .map_err(|e| CallError::from_sdk(e, &self.endpoint))?;
        let creds = out
            .role_credentials()
            .ok_or_else(|| CallError::Other("GetRoleCredentials returned no credentials".into()))?;
        Ok(RoleCredentials {
            access_key_id: creds.access_key_id().unwrap_or_default().to_owned(),
            secret_access_key: Secret::new(creds.secret_access_key().unwrap_or_default()),
            session_token: Secret::new(creds.session_token().unwrap_or_default()),
            expiration_ms: creds.expiration(),
        })
    }

    /// ListAccounts, every page.
    pub async fn accounts(&self, access_token: &Secret) -> Result<Vec<Account>, CallError> {
        let mut accounts = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let out = self
                .client
                .list_accounts()
                .access_token(access_token.expose())
                .max_results(PAGE_SIZE)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| CallError::from_sdk(e, &self.endpoint))?;
            accounts.extend(out.account_list().iter().map(|a| Account {
                account_id: printable(a.account_id().unwrap_or_default()),
                account_name: a.account_name().map(printable),
                email_address: a.email_address().map(printable),
            }));
            match out.next_token() {
                Some(token) if !token.is_empty() => next = Some(token.to_owned()),
                _ => return Ok(accounts),
            }
        }
    }

    /// ListAccountRoles for one account, every page: the names of the roles (permission
    /// sets) the signed-in person may use there, made printable.
    pub async fn account_roles(
        &self,
        access_token: &Secret,
        account_id: &str,
    ) -> Result<Vec<String>, CallError> {
        let mut roles = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let out = self
                .client
                .list_account_roles()
                .access_token(access_token.expose())
                .account_id(account_id)
                .max_results(PAGE_SIZE)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| CallError::from_sdk(e, &self.endpoint))?;
            roles.extend(
                out.role_list()
                    .iter()
                    .filter_map(|r| r.role_name())
                    .map(printable),
            );
            match out.next_token() {
                Some(token) if !token.is_empty() => next = Some(token.to_owned()),
                _ => return Ok(roles),
            }
        }
    }

    /// Logout: ends the session at the portal.
    pub async fn logout(&self, access_token: &Secret) -> Result<(), CallError> {
        self.client
            .logout()
            .access_token(access_token.expose())
            .send()
            .await
            .map_err(|e| CallError::from_sdk(e, &self.endpoint))?;
        Ok(())
    }
}
