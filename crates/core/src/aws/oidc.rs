//! The IAM Identity Center OIDC service (aws-sdk-ssooidc), in the few calls sign-in needs.

use crate::aws::endpoints::Service;
use crate::aws::{CallError, sdk_config};
use crate::env::Env;
use crate::util::secret::Secret;

/// `grantType` of the device authorization flow.
pub const GRANT_DEVICE_CODE: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// `grantType` of the authorization-code (PKCE) flow.
pub const GRANT_AUTHORIZATION_CODE: &str = "authorization_code";
/// `grantType` of a refresh.
pub const GRANT_REFRESH_TOKEN: &str = "refresh_token";

/// A registered public client.
#[derive(Clone, Debug)]
pub struct RegisteredClient {
    /// What CreateToken calls name this client by.
    pub client_id: String,
    /// Proves to CreateToken that a token request comes from this client.
    pub client_secret: Secret,
    /// `clientSecretExpiresAt`, seconds since the epoch.
    pub expires_at: i64,
}

/// An answer of StartDeviceAuthorization.
#[derive(Clone, Debug)]
pub struct DeviceAuthorization {
    /// The code polled with.
    pub device_code: Secret,
    /// The code the person confirms.
    pub user_code: String,
    /// Where to confirm it.
    pub verification_uri: String,
    /// The same page with the code filled in.
    pub verification_uri_complete: Option<String>,
    /// Seconds the codes stay valid.
    pub expires_in: i64,
    /// Seconds between polls.
    pub interval: i64,
}

/// An answer of CreateToken.
#[derive(Clone, Debug)]
pub struct TokenGrant {
    /// The bearer token for the SSO portal.
    pub access_token: Secret,
    /// Seconds it is valid.
    pub expires_in: i64,
    /// Present when the client's scopes allow refreshing.
    pub refresh_token: Option<Secret>,
}

/// What CreateToken needs besides the client.
pub enum Grant<'a> {
    /// Poll for a device authorization.
    DeviceCode(&'a Secret),
    /// Exchange an authorization code.
    AuthorizationCode {
        /// The code from the redirect.
        code: &'a str,
        /// The exact redirect URI used at /authorize.
        redirect_uri: &'a str,
        /// The PKCE verifier.
        code_verifier: &'a str,
    },
    /// A refresh token exchanged for a new access token, no browser involved.
    RefreshToken(&'a Secret),
}

/// A client for one region's OIDC endpoint.
#[derive(Clone, Debug)]
pub struct OidcClient {
    client: aws_sdk_ssooidc::Client,
    endpoint: String,
}

impl OidcClient {
    /// A client for `region`, at `AWS_ENDPOINT_URL_SSO_OIDC` when set; a plain http override
    /// off loopback is refused.
    pub fn new(env: &Env, region: &str) -> Result<Self, CallError> {
        let (builder, endpoint) = sdk_config!(aws_sdk_ssooidc, env, Service::SsoOidc, region);
        let config = builder.build();
        Ok(Self {
            client: aws_sdk_ssooidc::Client::from_conf(config),
            endpoint,
        })
    }

    /// The endpoint (for messages and for building the /authorize URL).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// RegisterClient; `pkce` is `(redirect_uri, issuer_url)` for authorization-code clients.
    pub async fn register_client(
        &self,
        client_name: &str,
        scopes: Option<&[String]>,
        pkce: Option<(&str, &str)>,
    ) -> Result<RegisteredClient, CallError> {
        let mut request = self
            .client
            .register_client()
            .client_name(client_name)
            .client_type("public")
            .set_scopes(scopes.map(<[String]>::to_vec));
        if let Some((redirect_uri, issuer_url)) = pkce {
            request = request
                .grant_types(GRANT_AUTHORIZATION_CODE)
                .grant_types(GRANT_REFRESH_TOKEN)
                .redirect_uris(redirect_uri)
                .issuer_url(issuer_url);
        }
        let out = request
            .send()
            .await
            .map_err(|e| CallError::from_sdk(e, &self.endpoint))?;
        Ok(RegisteredClient {
            client_id: out.client_id().unwrap_or_default().to_owned(),
            client_secret: Secret::new(out.client_secret().unwrap_or_default()),
            expires_at: out.client_secret_expires_at(),
        })
    }

    /// StartDeviceAuthorization.
    pub async fn start_device_authorization(
        &self,
        client_id: &str,
        client_secret: &Secret,
        start_url: &str,
    ) -> Result<DeviceAuthorization, CallError> {
        let out = self
            .client
            .start_device_authorization()
            .client_id(client_id)
            .client_secret(client_secret.expose())
            .start_url(start_url)
            .send()
            .await
            .map_err(|e| CallError::from_sdk(e, &self.endpoint))?;
        Ok(DeviceAuthorization {
            device_code: Secret::new(out.device_code().unwrap_or_default()),
            user_code: out.user_code().unwrap_or_default().to_owned(),
            verification_uri: out.verification_uri().unwrap_or_default().to_owned(),
            verification_uri_complete: out.verification_uri_complete().map(str::to_owned),
            expires_in: i64::from(out.expires_in()),
            interval: i64::from(out.interval()),
        })
    }

    /// CreateToken.
    pub async fn create_token(
        &self,
        client_id: &str,
        client_secret: &Secret,
        grant: Grant<'_>,
    ) -> Result<TokenGrant, CallError> {
        let request = self
            .client
            .create_token()
            .client_id(client_id)
            .client_secret(client_secret.expose());
        let request = match grant {
            Grant::DeviceCode(code) => request
                .grant_type(GRANT_DEVICE_CODE)
                .device_code(code.expose()),
            Grant::AuthorizationCode {
                code,
                redirect_uri,
                code_verifier,
            } => request
                .grant_type(GRANT_AUTHORIZATION_CODE)
                .code(code)
                .redirect_uri(redirect_uri)
                .code_verifier(code_verifier),
            Grant::RefreshToken(token) => request
                .grant_type(GRANT_REFRESH_TOKEN)
                .refresh_token(token.expose()),
        };
        let out = request
            .send()
            .await
            .map_err(|e| CallError::from_sdk(e, &self.endpoint))?;
        Ok(TokenGrant {
            access_token: Secret::new(out.access_token().unwrap_or_default()),
            expires_in: i64::from(out.expires_in()),
            refresh_token: out.refresh_token().map(Secret::new),
        })
    }
}
