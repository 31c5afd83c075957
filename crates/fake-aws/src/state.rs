//! Everything the fake remembers, and the issuing of tokens and credentials that every
//! protocol shares.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use jiff::Timestamp;
use rand::Rng;
use sha2::{Digest, Sha256};

use crate::config::FakeConfig;
use crate::model::{
    ConsoleLogin, Fault, IssuedCredentials, IssuedSession, IssuedSigninToken, Operation,
    RequestRecord,
};

/// The scope that makes a client's tokens refreshable and lets them reach the portal.
pub(crate) const ACCOUNT_ACCESS_SCOPE: &str = "sso:account:access";

/// A long-running demo would otherwise grow the log without bound.
const MAX_REQUEST_RECORDS: usize = 10_000;

/// The state shared by the server's handlers and the [`crate::FakeAws`] handle.
pub(crate) struct Shared {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// When the fake started; the clusters it describes say they were created then.
    pub started_at: Timestamp,
    world: Mutex<World>,
}

pub(crate) type App = Arc<Shared>;

impl Shared {
    pub fn new(url: String, config: FakeConfig) -> Self {
        Self {
            url,
            started_at: Timestamp::now(),
            world: Mutex::new(World::new(config)),
        }
    }

    /// Locks the state. Critical sections never await, so a poisoned lock only means a
    /// handler panicked mid-update; the data is still the best there is.
    pub fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

pub(crate) struct Client {
    pub secret: String,
    pub secret_expires_at: i64,
    pub scopes: Vec<String>,
    pub grant_types: Vec<String>,
    pub redirect_uris: Vec<String>,
    /// The start URL the client was registered for (auth-code clients say it).
    pub issuer_url: Option<String>,
}

impl Client {
    /// A client registered without grant types is a device-flow client (what botocore and the
    /// SDKs register for the device flow), which may also refresh.
    pub fn allows_grant(&self, grant_type: &str) -> bool {
        if self.grant_types.is_empty() {
            grant_type == crate::oidc::DEVICE_CODE_GRANT || grant_type == "refresh_token"
        } else {
            self.grant_types.iter().any(|granted| granted == grant_type)
        }
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|granted| granted == scope)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DeviceStatus {
    Pending,
    Approved,
    Denied,
}

pub(crate) struct DeviceGrant {
    pub client_id: String,
    pub user_code: String,
    pub start_url: String,
    pub expires_at: i64,
    pub status: DeviceStatus,
    pub pending_answers: u32,
    pub slow_down_answers: u32,
    pub redeemed: bool,
}

impl DeviceGrant {
    /// The person answers a pending request: approves it or, with `deny`, refuses it. An
    /// answered request keeps its answer.
    pub fn decide(&mut self, deny: bool) {
        if self.status == DeviceStatus::Pending {
            self.status = if deny {
                DeviceStatus::Denied
            } else {
                DeviceStatus::Approved
            };
        }
    }
}

pub(crate) struct AuthorizationCode {
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub scopes: Vec<String>,
    pub start_url: String,
    pub expires_at: i64,
}

/// Tokens from one sign-in, and from every refresh of it, share a session: `Logout` ends it.
type SessionId = u64;

pub(crate) struct AccessToken {
    pub session: SessionId,
    pub expires_at: i64,
    pub revoked: bool,
}

pub(crate) struct RefreshToken {
    pub client_id: String,
    pub session: SessionId,
    pub scopes: Vec<String>,
    pub start_url: String,
    /// Rotated away by a refresh, or revoked.
    pub spent: bool,
}

/// What `CreateToken` answers.
pub(crate) struct Tokens {
    pub access_token: String,
    pub expires_in: i64,
    pub expires_at: i64,
    pub refresh_token: Option<String>,
}

pub(crate) struct World {
    pub config: FakeConfig,
    pub clients: HashMap<String, Client>,
    /// By device code.
    pub device_grants: HashMap<String, DeviceGrant>,
    pub authorization_codes: HashMap<String, AuthorizationCode>,
    pub access_tokens: HashMap<String, AccessToken>,
    pub refresh_tokens: HashMap<String, RefreshToken>,
    /// In issue order; lookups are by access key id.
    pub credentials: Vec<IssuedCredentials>,
    /// Every PKCE code verifier a `CreateToken` sent: secrets of the client's, not issued here.
    pub verifiers_received: Vec<String>,
    /// Every signin token the federation endpoint issued, in issue order.
    pub signin_tokens: Vec<IssuedSigninToken>,
    /// Every console sign-in with one of them.
    pub console_logins: Vec<ConsoleLogin>,
    counters: BTreeMap<Operation, usize>,
    in_flight: BTreeMap<Operation, usize>,
    peak_in_flight: BTreeMap<Operation, usize>,
    requests: VecDeque<RequestRecord>,
    faults: HashMap<Operation, VecDeque<Fault>>,
    next_session: SessionId,
}

impl World {
    fn new(config: FakeConfig) -> Self {
        Self {
            config,
            clients: HashMap::new(),
            device_grants: HashMap::new(),
            authorization_codes: HashMap::new(),
            access_tokens: HashMap::new(),
            refresh_tokens: HashMap::new(),
            credentials: Vec::new(),
            verifiers_received: Vec::new(),
            signin_tokens: Vec::new(),
            console_logins: Vec::new(),
            counters: BTreeMap::new(),
            in_flight: BTreeMap::new(),
            peak_in_flight: BTreeMap::new(),
            requests: VecDeque::new(),
            faults: HashMap::new(),
            next_session: 1,
        }
    }

    pub fn count(&mut self, operation: Operation) {
        *self.counters.entry(operation).or_default() += 1;
    }

    pub fn calls(&self, operation: Operation) -> usize {
        self.counters.get(&operation).copied().unwrap_or_default()
    }

    /// A call of `operation` starts being answered.
    pub fn call_started(&mut self, operation: Operation) {
        let now = self.in_flight.entry(operation).or_default();
        *now += 1;
        let now = *now;
        let peak = self.peak_in_flight.entry(operation).or_default();
        *peak = (*peak).max(now);
    }

    /// A call of `operation` has been answered (or its client went away).
    pub fn call_ended(&mut self, operation: Operation) {
        if let Some(now) = self.in_flight.get_mut(&operation) {
            *now = now.saturating_sub(1);
        }
    }

    /// The most calls of `operation` that were being answered at the same time.
    pub fn peak_in_flight(&self, operation: Operation) -> usize {
        self.peak_in_flight
            .get(&operation)
            .copied()
            .unwrap_or_default()
    }

    /// Every operation with its count, zeros included.
    pub fn counters(&self) -> BTreeMap<Operation, usize> {
        Operation::ALL
            .iter()
            .map(|operation| (*operation, self.calls(*operation)))
            .collect()
    }

    pub fn log(&mut self, record: RequestRecord) {
        if self.requests.len() == MAX_REQUEST_RECORDS {
            self.requests.pop_front();
        }
        self.requests.push_back(record);
    }

    pub fn requests(&self) -> Vec<RequestRecord> {
        self.requests.iter().cloned().collect()
    }

    pub fn reset_counters(&mut self) {
        self.counters.clear();
        self.peak_in_flight.clear();
        self.requests.clear();
    }

    pub fn inject_fault(&mut self, operation: Operation, fault: Fault, times: usize) {
        let queue = self.faults.entry(operation).or_default();
        queue.extend(std::iter::repeat_n(fault, times));
    }

    /// The fault for this call, if one is pending; each call consumes one.
    pub fn take_fault(&mut self, operation: Operation) -> Option<Fault> {
        self.faults.get_mut(&operation)?.pop_front()
    }

    pub fn register_client(
        &mut self,
        scopes: Vec<String>,
        grant_types: Vec<String>,
        redirect_uris: Vec<String>,
        issuer_url: Option<String>,
        secret_lifetime_seconds: i64,
    ) -> (String, &Client) {
        let client_id = random_token("", 22);
        let client = Client {
            secret: random_token("", 160),
            secret_expires_at: now().saturating_add(secret_lifetime_seconds),
            scopes,
            grant_types,
            redirect_uris,
            issuer_url,
        };
        let client = self.clients.entry(client_id.clone()).or_insert(client);
        (client_id, client)
    }

    /// Issues an access token, with a refresh token when the client may have one. `session` is
    /// `None` for a fresh sign-in and the refreshed session otherwise.
    pub fn issue_tokens(
        &mut self,
        client_id: &str,
        scopes: Vec<String>,
        start_url: String,
        session: Option<SessionId>,
        lifetime_seconds: i64,
    ) -> Tokens {
        let session = session.unwrap_or_else(|| {
            self.next_session += 1;
            self.next_session
        });
        let access_token = random_token("aoa", 120);
        let expires_at = now().saturating_add(lifetime_seconds);
        self.access_tokens.insert(
            access_token.clone(),
            AccessToken {
                session,
                expires_at,
                revoked: false,
            },
        );
        let refreshable = self
            .clients
            .get(client_id)
            .is_some_and(|client| client.has_scope(ACCOUNT_ACCESS_SCOPE));
        let refresh_token = refreshable.then(|| {
            let refresh_token = random_token("aor", 120);
            self.refresh_tokens.insert(
                refresh_token.clone(),
                RefreshToken {
                    client_id: client_id.to_owned(),
                    session,
                    scopes,
                    start_url,
                    spent: false,
                },
            );
            refresh_token
        });
        Tokens {
            access_token,
            expires_in: lifetime_seconds,
            expires_at,
            refresh_token,
        }
    }

    /// Registers a client and signs in through it, as `aws sso login` would have.
    pub fn issue_session(
        &mut self,
        start_url: &str,
        scopes: &[&str],
        lifetime_seconds: i64,
        registration_lifetime_seconds: i64,
    ) -> IssuedSession {
        let scopes: Vec<String> = scopes.iter().map(|scope| (*scope).to_owned()).collect();
        let (client_id, client) = self.register_client(
            scopes.clone(),
            vec!["authorization_code".to_owned(), "refresh_token".to_owned()],
            vec!["http://127.0.0.1/oauth/callback".to_owned()],
            Some(start_url.to_owned()),
            registration_lifetime_seconds,
        );
        let client_secret = client.secret.clone();
        let registration_expires_at = client.secret_expires_at;
        let tokens = self.issue_tokens(
            &client_id,
            scopes.clone(),
            start_url.to_owned(),
            None,
            lifetime_seconds,
        );
        IssuedSession {
            start_url: start_url.to_owned(),
            region: self.config.identity_center_region.clone(),
            scopes,
            client_id,
            client_secret,
            registration_expires_at: timestamp(registration_expires_at),
            access_token: tokens.access_token,
            expires_at: timestamp(tokens.expires_at),
            refresh_token: tokens.refresh_token,
        }
    }

    /// The access token's session, if the token is known, unrevoked and unexpired.
    pub fn valid_session(&self, access_token: &str) -> Option<SessionId> {
        let token = self.access_tokens.get(access_token)?;
        (!token.revoked && token.expires_at > now()).then_some(token.session)
    }

    /// Every secret issued or received so far: client secrets, access and refresh tokens,
    /// secret access keys, session tokens, signin tokens and PKCE code verifiers.
    pub fn secrets(&self) -> Vec<String> {
        let clients = self.clients.values().map(|client| client.secret.clone());
        let access = self.access_tokens.keys().cloned();
        let refresh = self.refresh_tokens.keys().cloned();
        let credentials = self.credentials.iter().flat_map(|issued| {
            [
                issued.secret_access_key.clone(),
                issued.session_token.clone(),
            ]
        });
        clients
            .chain(access)
            .chain(refresh)
            .chain(credentials)
            .chain(self.verifiers_received.iter().cloned())
            .chain(self.signin_tokens.iter().map(|t| t.signin_token.clone()))
            .collect()
    }

    /// Ends a sign-in session: its access tokens and refresh tokens stop working.
    pub fn end_session(&mut self, session: SessionId) {
        for token in self.access_tokens.values_mut() {
            if token.session == session {
                token.revoked = true;
            }
        }
        for token in self.refresh_tokens.values_mut() {
            if token.session == session {
                token.spent = true;
            }
        }
    }

    pub fn revoke_refresh_tokens(&mut self) {
        for token in self.refresh_tokens.values_mut() {
            token.spent = true;
        }
    }

    pub fn expire_device_codes(&mut self) {
        let expired = now().saturating_sub(1);
        for grant in self.device_grants.values_mut() {
            grant.expires_at = grant.expires_at.min(expired);
        }
    }

    /// The pending device grant with this user code, if it is still usable.
    pub fn device_grant_by_user_code(&mut self, user_code: &str) -> Option<&mut DeviceGrant> {
        let user_code = user_code.trim().to_ascii_uppercase();
        self.device_grants
            .values_mut()
            .find(|grant| grant.user_code == user_code && !grant.redeemed)
    }

    pub fn approve_device(&mut self, user_code: &str) -> bool {
        match self.device_grant_by_user_code(user_code) {
            Some(grant) if grant.expires_at > now() && grant.status == DeviceStatus::Pending => {
                grant.status = DeviceStatus::Approved;
                true
            }
            _ => false,
        }
    }

    pub fn credentials(&self, access_key_id: &str) -> Option<&IssuedCredentials> {
        self.credentials
            .iter()
            .find(|credentials| credentials.access_key_id == access_key_id)
    }

    /// Issues credentials for a role session and remembers them, so that STS can check the
    /// signatures made with them.
    pub fn issue_credentials(&mut self, identity: RoleSession) -> IssuedCredentials {
        let credentials = IssuedCredentials {
            access_key_id: format!("ASIA{}", random_from(BASE32, 16)),
            secret_access_key: random_from(BASE64, 40),
            // Real session tokens start like this (a serialized "origin" field).
            session_token: format!("IQoJb3JpZ2luX2Vj{}", random_from(BASE64, 340)),
            expiration: timestamp(now().saturating_add(identity.lifetime_seconds)),
            account_id: identity.account_id,
            role_arn: identity.role_arn,
            arn: identity.arn,
            user_id: identity.user_id,
            issued_by: identity.issued_by,
        };
        self.credentials.push(credentials.clone());
        credentials
    }
}

/// Who a set of credentials will stand for.
pub(crate) struct RoleSession {
    pub account_id: String,
    pub role_arn: String,
    pub arn: String,
    pub user_id: String,
    pub issued_by: Operation,
    pub lifetime_seconds: i64,
}

/// Now, in whole epoch seconds: every time the fake hands out is whole seconds.
pub(crate) fn now() -> i64 {
    Timestamp::now().as_second()
}

/// Epoch seconds as a timestamp, clamped to the representable range.
pub(crate) fn timestamp(epoch_seconds: i64) -> Timestamp {
    Timestamp::from_second(epoch_seconds).unwrap_or(if epoch_seconds > 0 {
        Timestamp::MAX
    } else {
        Timestamp::MIN
    })
}

const BASE64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const BASE64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const BASE32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const UPPERCASE: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const HEX: &[u8] = b"0123456789abcdef";

pub(crate) fn random_from(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())]))
        .collect()
}

/// An opaque URL-safe token.
pub(crate) fn random_token(prefix: &str, len: usize) -> String {
    format!("{prefix}{}", random_from(BASE64URL, len))
}

/// A user code like `ABCD-EFGH`.
pub(crate) fn user_code() -> String {
    format!(
        "{}-{}",
        random_from(UPPERCASE, 4),
        random_from(UPPERCASE, 4)
    )
}

/// A request id shaped like AWS's (a UUID).
pub(crate) fn request_id() -> String {
    format!(
        "{}-{}-{}-{}-{}",
        random_from(HEX, 8),
        random_from(HEX, 4),
        random_from(HEX, 4),
        random_from(HEX, 4),
        random_from(HEX, 12)
    )
}

/// Lowercase hex of SHA-256 over the parts, cut to `len`: ids that stay the same for the
/// same input, like AWS's role ids and SSO role suffixes.
pub(crate) fn stable_hex(parts: &[&str], len: usize) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    let mut digest = hex::encode(hasher.finalize());
    digest.truncate(len);
    digest
}

/// A role id (`AROA` + 17 characters), stable per account and role.
pub(crate) fn role_id(account_id: &str, role_name: &str) -> String {
    format!(
        "AROA{}",
        stable_hex(&["role-id", account_id, role_name], 17).to_ascii_uppercase()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_aws_shapes() {
        let code = user_code();
        assert_eq!(code.len(), 9);
        assert_eq!(code.as_bytes()[4], b'-');
        assert_eq!(role_id("111122223333", "Admin").len(), 21);
        assert_eq!(
            role_id("111122223333", "Admin"),
            role_id("111122223333", "Admin")
        );
        assert_ne!(
            role_id("111122223333", "Admin"),
            role_id("111122223333", "Other")
        );
        assert_eq!(request_id().len(), 36);
    }

    #[test]
    fn faults_are_consumed_one_per_call() {
        let mut world = World::new(FakeConfig::default());
        world.inject_fault(Operation::CreateToken, Fault::ServerError, 2);
        world.inject_fault(Operation::CreateToken, Fault::Throttle, 1);
        assert_eq!(
            world.take_fault(Operation::CreateToken),
            Some(Fault::ServerError)
        );
        assert_eq!(
            world.take_fault(Operation::CreateToken),
            Some(Fault::ServerError)
        );
        assert_eq!(
            world.take_fault(Operation::CreateToken),
            Some(Fault::Throttle)
        );
        assert_eq!(world.take_fault(Operation::CreateToken), None);
        assert_eq!(world.take_fault(Operation::AssumeRole), None);
    }

    #[test]
    fn sessions_are_refreshable_only_with_account_access() {
        let mut world = World::new(FakeConfig::default());
        let with = world.issue_session("https://x/start", &[ACCOUNT_ACCESS_SCOPE], 60, 60);
        let without = world.issue_session("https://x/start", &[], 60, 60);
        assert!(with.refresh_token.is_some());
        assert!(without.refresh_token.is_none());
        assert!(world.valid_session(&with.access_token).is_some());
        let expired = world.issue_session("https://x/start", &[], -10, 60);
        assert!(world.valid_session(&expired.access_token).is_none());
    }
}
