//! The OpenID Connect client: discovery, the authorization request with PKCE (S256), the code
//! exchange, ID token checks (signature RS256 or ES256 against the provider's published keys,
//! issuer, audience, expiry, nonce) and the userinfo endpoint. Works with any standard provider
//! (CERN SSO, INDIGO IAM, Keycloak). Its one HTTP client speaks HTTP/1.1 over TLS (the system's
//! trusted roots) or, for a provider on the same host, plain HTTP.

use crate::kit::auth::AuthConfig;
use crate::kit::links::encode;
use axum::http::{Method, Request, Uri};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD as B64};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde_json::{Map, Value as Json};
use std::sync::Arc;
use std::time::Duration;

/// How long one call to the provider may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(15);
/// The largest answer read from the provider.
const MAX_ANSWER: usize = 1 << 20;
/// Clock difference tolerated between pandamon and the provider.
const SKEW_SECONDS: i64 = 120;

/// What the provider publishes about itself, and its signing keys.
#[derive(Debug, Clone, Deserialize)]
pub struct Provider {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    pub userinfo_endpoint: Option<String>,
    #[serde(skip)]
    pub keys: Vec<Json>,
}

/// A failure talking to the provider or of what it sent: said to the user in these words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcError(pub String);

impl std::fmt::Display for OidcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn fail<T>(message: impl Into<String>) -> Result<T, OidcError> {
    Err(OidcError(message.into()))
}

/// Reads the provider's discovery document and keys.
pub async fn discover(issuer: &str) -> Result<Provider, OidcError> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let document = get_json(&url, None).await?;
    let mut provider: Provider = serde_json::from_value(document).map_err(|e| {
        OidcError(format!(
            "the provider's discovery document is incomplete: {e}"
        ))
    })?;
    if provider.issuer.trim_end_matches('/') != issuer.trim_end_matches('/') {
        return fail(format!(
            "the provider calls itself {} where [auth] issuer says {issuer}",
            provider.issuer
        ));
    }
    provider.keys = fetch_keys(&provider.jwks_uri).await?;
    Ok(provider)
}

async fn fetch_keys(jwks_uri: &str) -> Result<Vec<Json>, OidcError> {
    let jwks = get_json(jwks_uri, None).await?;
    Ok(jwks
        .get("keys")
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default())
}

/// The PKCE challenge of `verifier` (S256).
pub fn challenge(verifier: &str) -> String {
    B64.encode(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()).as_ref())
}

/// Where to send the browser to log in.
pub fn authorization_url(
    provider: &Provider,
    config: &AuthConfig,
    state: &str,
    nonce: &str,
    verifier: &str,
) -> String {
    let pairs = [
        ("response_type", "code"),
        ("client_id", config.client_id.as_deref().unwrap_or_default()),
        (
            "redirect_uri",
            config.redirect_url.as_deref().unwrap_or_default(),
        ),
        ("scope", config.scopes.as_str()),
        ("state", state),
        ("nonce", nonce),
        ("code_challenge", &challenge(verifier)),
        ("code_challenge_method", "S256"),
    ];
    let query: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    let sep = if provider.authorization_endpoint.contains('?') {
        '&'
    } else {
        '?'
    };
    format!(
        "{}{sep}{}",
        provider.authorization_endpoint,
        query.join("&")
    )
}

/// Exchanges the code for tokens, checks the ID token and returns the user's claims (the ID
/// token's, completed from the userinfo endpoint when the login or name claim is missing).
pub async fn complete(
    provider: &mut Provider,
    config: &AuthConfig,
    code: &str,
    verifier: &str,
    nonce: &str,
    now: i64,
) -> Result<Map<String, Json>, OidcError> {
    let client_id = config.client_id.as_deref().unwrap_or_default();
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        (
            "redirect_uri",
            config.redirect_url.as_deref().unwrap_or_default(),
        ),
        ("code_verifier", verifier),
    ];
    let mut headers = vec![(
        "content-type",
        "application/x-www-form-urlencoded".to_string(),
    )];
    match &config.client_secret {
        // client_secret_basic: both parts form-encoded, then base64 (RFC 6749 §2.3.1).
        Some(secret) => headers.push((
            "authorization",
            format!(
                "Basic {}",
                STANDARD.encode(format!("{}:{}", encode(client_id), encode(secret)))
            ),
        )),
        None => form.push(("client_id", client_id)),
    }
    let body: Vec<String> = form
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    let (status, answer) = call(
        Method::POST,
        &provider.token_endpoint,
        &headers,
        body.join("&"),
    )
    .await?;
    let answer: Json = serde_json::from_slice(&answer).unwrap_or(Json::Null);
    if !(200..300).contains(&status) {
        let reason = answer
            .get("error_description")
            .or_else(|| answer.get("error"))
            .and_then(Json::as_str)
            .unwrap_or("no reason given");
        return fail(format!(
            "the provider refused the login code ({status}: {reason}): log in again"
        ));
    }
    let Some(id_token) = answer.get("id_token").and_then(Json::as_str) else {
        return fail("the provider sent no ID token: is the scope `openid` asked for?");
    };
    let mut claims = match verify_id_token(&provider.keys, id_token) {
        Err(e) if e.0.contains("no published key") => {
            // The provider rotated its keys since they were read.
            provider.keys = fetch_keys(&provider.jwks_uri).await?;
            verify_id_token(&provider.keys, id_token)?
        }
        other => other?,
    };
    check_claims(&claims, &provider.issuer, client_id, nonce, now)?;
    let wants = [config.login_claim.as_str(), config.name_claim.as_str()];
    if wants.iter().any(|c| !claims.contains_key(*c))
        && let (Some(endpoint), Some(access)) = (
            &provider.userinfo_endpoint,
            answer.get("access_token").and_then(Json::as_str),
        )
    {
        let info = get_json(endpoint, Some(access)).await?;
        if info.get("sub") != claims.get("sub") {
            return fail("the provider's userinfo is about another subject than the ID token");
        }
        if let Json::Object(info) = info {
            for (k, v) in info {
                claims.entry(k).or_insert(v);
            }
        }
    }
    Ok(claims)
}

/// The claims of a JWT whose signature one of `keys` verifies.
pub fn verify_id_token(keys: &[Json], token: &str) -> Result<Map<String, Json>, OidcError> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return fail("the ID token is not a signed JWT");
    };
    let decode = |part: &str| {
        B64.decode(part.trim_end_matches('='))
            .map_err(|_| OidcError("the ID token is not base64url".into()))
    };
    let head: Json = serde_json::from_slice(&decode(header)?)
        .map_err(|_| OidcError("the ID token's header is not JSON".into()))?;
    let alg = head.get("alg").and_then(Json::as_str).unwrap_or("");
    let kid = head.get("kid").and_then(Json::as_str);
    let kty = match alg {
        "RS256" => "RSA",
        "ES256" => "EC",
        other => {
            return fail(format!(
                "the ID token is signed with {other:?}; pandamon accepts RS256 and ES256"
            ));
        }
    };
    let key = keys.iter().find(|k| {
        k.get("kty").and_then(Json::as_str) == Some(kty)
            && k.get("use")
                .and_then(Json::as_str)
                .is_none_or(|u| u == "sig")
            && (kid.is_none() || k.get("kid").and_then(Json::as_str) == kid)
    });
    let Some(key) = key else {
        return fail(format!(
            "no published key of the provider matches the ID token's ({kid:?})"
        ));
    };
    let field = |name: &str| -> Result<Vec<u8>, OidcError> {
        key.get(name)
            .and_then(Json::as_str)
            .ok_or_else(|| OidcError(format!("the provider's key lacks `{name}`")))
            .and_then(decode)
    };
    let message = format!("{header}.{payload}");
    let signature = decode(signature)?;
    let verified = match alg {
        "RS256" => ring::signature::RsaPublicKeyComponents {
            n: field("n")?,
            e: field("e")?,
        }
        .verify(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            message.as_bytes(),
            &signature,
        ),
        _ => {
            let mut point = vec![4u8];
            point.extend(field("x")?);
            point.extend(field("y")?);
            ring::signature::UnparsedPublicKey::new(
                &ring::signature::ECDSA_P256_SHA256_FIXED,
                point,
            )
            .verify(message.as_bytes(), &signature)
        }
    };
    if verified.is_err() {
        return fail("the ID token's signature does not verify");
    }
    match serde_json::from_slice(&decode(payload)?) {
        Ok(Json::Object(claims)) => Ok(claims),
        _ => fail("the ID token's claims are not a JSON object"),
    }
}

/// Issuer, audience, expiry and nonce of verified claims (OpenID Connect Core §3.1.3.7).
pub fn check_claims(
    claims: &Map<String, Json>,
    issuer: &str,
    client_id: &str,
    nonce: &str,
    now: i64,
) -> Result<(), OidcError> {
    if claims.get("iss").and_then(Json::as_str) != Some(issuer) {
        return fail("the ID token comes from another issuer");
    }
    let audience_ok = match claims.get("aud") {
        Some(Json::String(a)) => a == client_id,
        Some(Json::Array(a)) => a.iter().any(|v| v.as_str() == Some(client_id)),
        _ => false,
    };
    if !audience_ok {
        return fail("the ID token is meant for another client");
    }
    let exp = claims.get("exp").and_then(Json::as_i64).unwrap_or(0);
    if exp + SKEW_SECONDS < now {
        return fail("the ID token has expired: log in again");
    }
    if claims.get("nonce").and_then(Json::as_str) != Some(nonce) {
        return fail("the ID token answers another login (nonce): log in again");
    }
    if claims
        .get("sub")
        .and_then(Json::as_str)
        .is_none_or(str::is_empty)
    {
        return fail("the ID token names no subject");
    }
    Ok(())
}

async fn get_json(url: &str, bearer: Option<&str>) -> Result<Json, OidcError> {
    let mut headers = vec![("accept", "application/json".to_string())];
    if let Some(token) = bearer {
        headers.push(("authorization", format!("Bearer {token}")));
    }
    let (status, body) = call(Method::GET, url, &headers, String::new()).await?;
    if !(200..300).contains(&status) {
        return fail(format!("the identity provider answered {status} at {url}"));
    }
    serde_json::from_slice(&body).map_err(|_| {
        OidcError(format!(
            "the identity provider's answer at {url} is not JSON"
        ))
    })
}

/// One HTTP/1.1 call: the status and the body.
async fn call(
    method: Method,
    url: &str,
    headers: &[(&str, String)],
    body: String,
) -> Result<(u16, Vec<u8>), OidcError> {
    tokio::time::timeout(CALL_TIMEOUT, call_inner(method, url, headers, body))
        .await
        .unwrap_or_else(|_| {
            fail(format!(
                "the identity provider did not answer within {} s at {url}",
                CALL_TIMEOUT.as_secs()
            ))
        })
}

async fn call_inner(
    method: Method,
    url: &str,
    headers: &[(&str, String)],
    body: String,
) -> Result<(u16, Vec<u8>), OidcError> {
    let uri: Uri = url
        .parse()
        .map_err(|_| OidcError(format!("not a url: {url}")))?;
    let tls = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => return fail(format!("not an http(s) url: {url}")),
    };
    let host = uri.host().unwrap_or_default().to_string();
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let unreachable = |e: std::io::Error| {
        OidcError(format!(
            "cannot reach the identity provider at {host}:{port} ({e})"
        ))
    };
    let stream = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .map_err(unreachable)?;
    let mut request = Request::builder()
        .method(method)
        .uri(uri.path_and_query().map_or("/", |p| p.as_str()))
        .header(
            "host",
            uri.authority().map_or(host.as_str(), |a| a.as_str()),
        )
        .header(
            "user-agent",
            concat!("pandamon/", env!("CARGO_PKG_VERSION")),
        );
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let request = request
        .body(Full::new(axum::body::Bytes::from(body)))
        .map_err(|e| OidcError(format!("cannot build the request to {url}: {e}")))?;
    if tls {
        use rustls_platform_verifier::ConfigVerifierExt;
        let config = tokio_rustls::rustls::ClientConfig::with_platform_verifier().map_err(|e| {
            OidcError(format!(
                "no trusted certificates to check the provider: {e}"
            ))
        })?;
        let name = tokio_rustls::rustls::pki_types::ServerName::try_from(host.clone())
            .map_err(|_| OidcError(format!("not a host name: {host}")))?;
        let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, stream)
            .await
            .map_err(unreachable)?;
        exchange(stream, request).await
    } else {
        exchange(stream, request).await
    }
}

async fn exchange<S>(
    stream: S,
    request: Request<Full<axum::body::Bytes>>,
) -> Result<(u16, Vec<u8>), OidcError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let broken =
        |e: hyper::Error| OidcError(format!("the identity provider's answer broke off ({e})"));
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(broken)?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let response = sender.send_request(request).await.map_err(broken)?;
    let status = response.status().as_u16();
    let body = Limited::new(response.into_body(), MAX_ANSWER)
        .collect()
        .await
        .map_err(|_| OidcError("the identity provider's answer is too large or broke off".into()))?
        .to_bytes();
    Ok((status, body.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_pkce_challenge_is_rfc_7636s() {
        // RFC 7636, appendix B.
        assert_eq!(
            challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn claims_are_checked_for_issuer_audience_expiry_nonce_and_subject() {
        let claims = json!({"iss": "https://i", "aud": ["x", "pandamon"], "exp": 1000, "nonce": "n", "sub": "u"});
        let claims = claims.as_object().unwrap();
        assert!(check_claims(claims, "https://i", "pandamon", "n", 900).is_ok());
        let err = |iss, aud, nonce, now| check_claims(claims, iss, aud, nonce, now).unwrap_err().0;
        assert!(err("https://j", "pandamon", "n", 900).contains("issuer"));
        assert!(err("https://i", "other", "n", 900).contains("another client"));
        assert!(err("https://i", "pandamon", "m", 900).contains("nonce"));
        assert!(err("https://i", "pandamon", "n", 2000).contains("expired"));
    }

    #[test]
    fn tokens_without_a_matching_key_or_signature_are_refused() {
        let header = B64.encode(br#"{"alg":"RS256","kid":"k1"}"#);
        let payload = B64.encode(br#"{"sub":"u"}"#);
        let token = format!("{header}.{payload}.{}", B64.encode(b"sig"));
        assert!(
            verify_id_token(&[], &token)
                .unwrap_err()
                .0
                .contains("no published key")
        );
        let key = json!({"kty": "RSA", "kid": "k1", "n": B64.encode([0xc5u8; 256]), "e": "AQAB"});
        assert!(
            verify_id_token(&[key], &token)
                .unwrap_err()
                .0
                .contains("does not verify")
        );
        let none = format!("{}.{payload}.", B64.encode(br#"{"alg":"none"}"#));
        assert!(
            verify_id_token(&[], &none)
                .unwrap_err()
                .0
                .contains("accepts RS256")
        );
        assert!(verify_id_token(&[], "a.b").is_err());
    }
}
