//! Checking SigV4 signatures the only way that cannot drift from AWS: sign the received request
//! again with the stored secret, at the time it was signed, and compare.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use axum::http::HeaderMap;
use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;

use crate::model::IssuedCredentials;
use crate::state::{App, now};

pub(crate) const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// How far a request's X-Amz-Date may be from now, as in AWS.
const MAX_CLOCK_SKEW_SECONDS: i64 = 15 * 60;
/// STS ignores X-Amz-Expires on presigned GetCallerIdentity URLs and accepts them for 15
/// minutes after X-Amz-Date. EKS depends on that: its bearer tokens say X-Amz-Expires=60 yet
/// stay valid 15 minutes, and kubectl plugins cache them for 14. Only STS hands presigned
/// signatures to [`verify`].
const PRESIGNED_VALIDITY_SECONDS: i64 = 15 * 60;
/// botocore presigns with this in place of the payload hash; the Go SDK hashes the empty body.
const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// AWS's words for a signature made with the wrong secret, the same in every service.
pub(crate) const SIGNATURE_MISMATCH: &str = "The request signature we calculated does not match the signature you provided. Check \
     your AWS Secret Access Key and signing method. Consult the service documentation for \
     details.";

/// The query parameters a presigned request carries its signature in.
const SIGNING_PARAMS: [&str; 7] = [
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Security-Token",
    "X-Amz-Signature",
];

/// The credential scope: `AKID/YYYYMMDD/region/service/aws4_request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Credential {
    pub access_key_id: String,
    pub region: String,
    pub service: String,
}

impl Credential {
    fn parse(scope: &str) -> Option<Self> {
        let mut parts = scope.split('/');
        let credential = Credential {
            access_key_id: parts.next()?.to_owned(),
            region: {
                parts.next()?;
                parts.next()?.to_owned()
            },
            service: parts.next()?.to_owned(),
        };
        (parts.next() == Some("aws4_request") && parts.next().is_none()).then_some(credential)
    }
}

/// A signature and what it claims to cover, from the `Authorization` header or the query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Signature {
    pub credential: Credential,
    pub signed_headers: Vec<String>,
    pub signature: String,
    /// `X-Amz-Date`, `YYYYMMDDTHHMMSSZ`.
    pub amz_date: String,
    /// Presigned requests only.
    pub expires: Option<u64>,
    /// The session token the request carries, header or query.
    pub security_token: Option<String>,
    /// The query without the presigning parameters (the signer adds those back itself).
    pub unsigned_query: String,
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

fn signed_header_list(list: &str) -> Vec<String> {
    list.split(';').map(str::to_ascii_lowercase).collect()
}

impl Signature {
    /// Reads an `AWS4-HMAC-SHA256 Credential=.., SignedHeaders=.., Signature=..` header.
    /// `Ok(None)` when there is no `Authorization` header; `Err` is a description of what is
    /// malformed.
    pub fn from_headers(headers: &HeaderMap, query: &str) -> Result<Option<Signature>, String> {
        let Some(authorization) = header(headers, "authorization") else {
            return Ok(None);
        };
        let fields = authorization
            .strip_prefix(ALGORITHM)
            .ok_or_else(|| format!("Unsupported algorithm in {authorization}"))?;
        let mut credential = None;
        let mut signed_headers = None;
        let mut signature = None;
        for field in fields.split(',') {
            match field.trim().split_once('=') {
                Some(("Credential", value)) => credential = Credential::parse(value),
                Some(("SignedHeaders", value)) => signed_headers = Some(signed_header_list(value)),
                Some(("Signature", value)) => signature = Some(value.to_owned()),
                _ => {}
            }
        }
        let incomplete = "Authorization header requires 'Credential', 'SignedHeaders' and \
                          'Signature' parameters.";
        Ok(Some(Signature {
            credential: credential.ok_or(incomplete)?,
            signed_headers: signed_headers.ok_or(incomplete)?,
            signature: signature.ok_or(incomplete)?,
            amz_date: header(headers, "x-amz-date")
                .ok_or("Authorization header requires existence of a 'X-Amz-Date' header.")?
                .to_owned(),
            expires: None,
            security_token: header(headers, "x-amz-security-token").map(str::to_owned),
            unsigned_query: query.to_owned(),
        }))
    }

    /// Reads the `X-Amz-*` parameters of a presigned URL.
    pub fn from_query(query: &str) -> Result<Signature, String> {
        let mut signing = std::collections::HashMap::new();
        let mut unsigned = form_urlencoded::Serializer::new(String::new());
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            if SIGNING_PARAMS.contains(&name.as_ref()) {
                signing.insert(name.into_owned(), value.into_owned());
            } else {
                unsigned.append_pair(&name, &value);
            }
        }
        let mut take = |name: &str| {
            signing
                .remove(name)
                .ok_or_else(|| format!("AWS query-string parameters must include '{name}'."))
        };
        if take("X-Amz-Algorithm")? != ALGORITHM {
            return Err(format!("X-Amz-Algorithm must be {ALGORITHM}"));
        }
        let credential = take("X-Amz-Credential")?;
        let signature = Signature {
            credential: Credential::parse(&credential)
                .ok_or_else(|| format!("Malformed X-Amz-Credential {credential}"))?,
            signed_headers: signed_header_list(&take("X-Amz-SignedHeaders")?),
            signature: take("X-Amz-Signature")?,
            amz_date: take("X-Amz-Date")?,
            expires: Some(
                take("X-Amz-Expires")?
                    .parse()
                    .map_err(|_| "X-Amz-Expires must be a number of seconds".to_owned())?,
            ),
            security_token: signing.remove("X-Amz-Security-Token"),
            unsigned_query: unsigned.finish(),
        };
        Ok(signature)
    }

    /// When the request was signed.
    pub fn signed_at(&self) -> Option<Timestamp> {
        DateTime::strptime("%Y%m%dT%H%M%SZ", &self.amz_date)
            .ok()?
            .to_zoned_datetime(TimeZone::UTC)
            .ok()
            .map(|zoned| zoned.timestamp())
    }

    /// The signature the holder of `secret` would have computed for this request.
    /// `payload_hash` is `None` to hash `body`, or the literal the signer put in its place.
    pub fn expected(
        &self,
        method: &str,
        path: &str,
        headers: &HeaderMap,
        body: &[u8],
        payload_hash: Option<&str>,
        secret: &str,
    ) -> Result<String, String> {
        let signed_at = self.signed_at().ok_or("Malformed X-Amz-Date")?;
        let time = SystemTime::try_from(signed_at).map_err(|error| error.to_string())?;
        let mut signed_header_values = Vec::new();
        for name in &self.signed_headers {
            let values = headers.get_all(name.as_str());
            if values.iter().next().is_none() {
                return Err(format!("Signed header {name} is missing"));
            }
            for value in values {
                let value = value
                    .to_str()
                    .map_err(|_| format!("Header {name} is not text"))?;
                signed_header_values.push((name.as_str(), value));
            }
        }
        let host = header(headers, "host").unwrap_or("localhost");
        let uri = if self.unsigned_query.is_empty() {
            format!("http://{host}{path}")
        } else {
            format!("http://{host}{path}?{}", self.unsigned_query)
        };
        let body = match payload_hash {
            Some(hash) => SignableBody::Precomputed(hash.to_owned()),
            None => SignableBody::Bytes(body),
        };
        let request = SignableRequest::new(method, uri, signed_header_values.into_iter(), body)
            .map_err(|error| error.to_string())?;

        // The signer adds the session token to what it signs whenever the identity has one, so
        // give it the token only when the client signed it too.
        let token_was_signed = match self.expires {
            Some(_) => self.security_token.is_some(),
            None => self
                .signed_headers
                .iter()
                .any(|name| name == "x-amz-security-token"),
        };
        let identity = Credentials::new(
            &self.credential.access_key_id,
            secret,
            self.security_token.clone().filter(|_| token_was_signed),
            None,
            "ssobar-fake-aws",
        )
        .into();
        let mut settings = SigningSettings::default();
        // Sign exactly the headers the client signed, none left out by default.
        settings.excluded_headers = Some(Vec::new());
        if let Some(expires) = self.expires {
            settings.signature_location = SignatureLocation::QueryParams;
            settings.expires_in = Some(Duration::from_secs(expires));
        }
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.credential.region)
            .name(&self.credential.service)
            .time(time)
            .settings(settings)
            .build()
            .map_err(|error| error.to_string())?
            .into();
        let output = sign(request, &params).map_err(|error| error.to_string())?;
        Ok(output.signature().to_owned())
    }
}

/// Why [`verify`] refused a request. Every service checks the same things in the same order,
/// but names the failures its own way (STS `SignatureDoesNotMatch`, EKS
/// `InvalidSignatureException`, ...), so the wording is left to the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Rejection {
    /// The credential scope names another service than the one called.
    WrongService,
    /// The access key id, or the session token with it, is not one the fake issued.
    UnknownKey,
    /// The signature cannot be recomputed; the text says why.
    Malformed(String),
    /// The signature is not the one the key's secret gives.
    Mismatch,
    /// Signed too long ago or too far ahead; the text is AWS's message saying which.
    OutOfTime(String),
    /// The credentials themselves have expired.
    ExpiredToken,
}

/// The parts of a received request a signature covers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Received<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// Finds the credentials that made `signature` and checks it with their secret, scoped to
/// `service`. The checks run in AWS's order: scope, key and token, signature, clock, and the
/// credentials' own expiry last, so an expired key with a wrong secret is a bad signature.
pub(crate) fn verify(
    app: &App,
    signature: &Signature,
    service: &str,
    request: Received<'_>,
) -> Result<IssuedCredentials, Rejection> {
    if signature.credential.service != service {
        return Err(Rejection::WrongService);
    }
    let credentials = app
        .world()
        .credentials(&signature.credential.access_key_id)
        .cloned()
        .ok_or(Rejection::UnknownKey)?;
    if signature.security_token.as_deref() != Some(credentials.session_token.as_str()) {
        return Err(Rejection::UnknownKey);
    }
    let presigned = signature.expires.is_some();
    let payload_hashes: &[Option<&str>] = if presigned {
        &[None, Some(UNSIGNED_PAYLOAD)]
    } else {
        &[None]
    };
    let mut matched = false;
    for payload_hash in payload_hashes {
        let expected = signature
            .expected(
                request.method,
                request.path,
                request.headers,
                request.body,
                *payload_hash,
                &credentials.secret_access_key,
            )
            .map_err(Rejection::Malformed)?;
        matched |= expected == signature.signature;
    }
    if !matched {
        return Err(Rejection::Mismatch);
    }

    let signed_at = signature
        .signed_at()
        .ok_or_else(|| Rejection::Malformed("Malformed X-Amz-Date".to_owned()))?
        .as_second();
    let now = now();
    let earliest = if presigned {
        now - PRESIGNED_VALIDITY_SECONDS
    } else {
        now - MAX_CLOCK_SKEW_SECONDS
    };
    if signed_at < earliest {
        return Err(Rejection::OutOfTime(format!(
            "Signature expired: {} is now earlier than {} ({} - 15 min.)",
            signature.amz_date,
            amz_date(earliest),
            amz_date(now)
        )));
    }
    if signed_at > now + MAX_CLOCK_SKEW_SECONDS {
        return Err(Rejection::OutOfTime(format!(
            "Signature not yet current: {} is still later than {} ({} + 15 min.)",
            signature.amz_date,
            amz_date(now + MAX_CLOCK_SKEW_SECONDS),
            amz_date(now)
        )));
    }
    if credentials.expiration.as_second() <= now {
        return Err(Rejection::ExpiredToken);
    }
    Ok(credentials)
}

fn amz_date(epoch_seconds: i64) -> String {
    crate::state::timestamp(epoch_seconds)
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderValue, Request};

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    fn sign_request(
        request: &mut Request<Vec<u8>>,
        location: SignatureLocation,
        token: Option<&str>,
    ) {
        let identity =
            Credentials::new("ASIAEXAMPLE", SECRET, token.map(str::to_owned), None, "t").into();
        let mut settings = SigningSettings::default();
        settings.signature_location = location;
        settings.expires_in = Some(Duration::from_secs(60));
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region("us-east-1")
            .name("sts")
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .unwrap()
            .into();
        let headers = request
            .headers()
            .iter()
            .map(|(name, value)| (name.as_str(), value.to_str().unwrap()));
        let signable = SignableRequest::new(
            request.method().as_str(),
            request.uri().to_string(),
            headers,
            SignableBody::Bytes(request.body()),
        )
        .unwrap();
        let (instructions, _) = sign(signable, &params).unwrap().into_parts();
        instructions.apply_to_request_http1x(request);
    }

    fn received_path_and_query(request: &Request<Vec<u8>>) -> (String, String) {
        (
            request.uri().path().to_owned(),
            request.uri().query().unwrap_or_default().to_owned(),
        )
    }

    #[test]
    fn header_signatures_verify_and_detect_tampering() {
        let mut request = Request::post("http://127.0.0.1:4567/")
            .header("host", "127.0.0.1:4567")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(b"Action=GetCallerIdentity&Version=2011-06-15".to_vec())
            .unwrap();
        sign_request(&mut request, SignatureLocation::Headers, Some("tok/en+="));
        let (path, query) = received_path_and_query(&request);
        let signature = Signature::from_headers(request.headers(), &query)
            .unwrap()
            .expect("an Authorization header");
        assert_eq!(signature.credential.access_key_id, "ASIAEXAMPLE");
        assert_eq!(signature.credential.service, "sts");
        assert!(
            signature
                .signed_headers
                .contains(&"x-amz-security-token".to_owned())
        );
        let expected = |body: &[u8], secret: &str| {
            signature
                .expected("POST", &path, request.headers(), body, None, secret)
                .unwrap()
        };
        assert_eq!(expected(request.body(), SECRET), signature.signature);
        assert_ne!(expected(request.body(), "wrong"), signature.signature);
        assert_ne!(expected(b"Action=AssumeRole", SECRET), signature.signature);

        request
            .headers_mut()
            .insert("content-type", HeaderValue::from_static("text/plain"));
        let tampered = Signature::from_headers(request.headers(), &query)
            .unwrap()
            .expect("an Authorization header");
        let recomputed = tampered
            .expected(
                "POST",
                &path,
                request.headers(),
                request.body(),
                None,
                SECRET,
            )
            .unwrap();
        assert_ne!(recomputed, tampered.signature);
    }

    #[test]
    fn presigned_signatures_verify() {
        let mut request =
            Request::get("http://127.0.0.1:4567/?Action=GetCallerIdentity&Version=2011-06-15")
                .header("x-k8s-aws-id", "my-cluster")
                .body(Vec::new())
                .unwrap();
        sign_request(&mut request, SignatureLocation::QueryParams, Some("a+b/c="));
        request
            .headers_mut()
            .insert("host", HeaderValue::from_static("127.0.0.1:4567"));
        let (path, query) = received_path_and_query(&request);
        let signature = Signature::from_query(&query).unwrap();
        assert_eq!(signature.expires, Some(60));
        assert_eq!(signature.security_token.as_deref(), Some("a+b/c="));
        assert_eq!(signature.signed_headers, vec!["host", "x-k8s-aws-id"]);
        assert_eq!(
            signature.unsigned_query,
            "Action=GetCallerIdentity&Version=2011-06-15"
        );
        let expected = signature
            .expected("GET", &path, request.headers(), b"", None, SECRET)
            .unwrap();
        assert_eq!(expected, signature.signature);
        assert!(signature.signed_at().is_some());
    }

    #[test]
    fn malformed_authorization_is_described() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "authorization",
            HeaderValue::from_static("AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/sts"),
        );
        assert!(Signature::from_headers(&headers, "").is_err());
        assert!(Signature::from_query("Action=GetCallerIdentity").is_err());
    }
}
