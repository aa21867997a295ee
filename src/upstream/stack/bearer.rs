//! The Entra token on every call; after a 401 the token is dropped and the call re-sent once with a
//! fresh one (Dataverse did not process it, so this is safe for writes too).

use reqwest::header::{HeaderValue, AUTHORIZATION};
use tower::{Service, ServiceExt};

use super::{always_ready, layer_for, BoxFuture, Inner, Reply, UpstreamRequest};
use crate::upstream::error::UpstreamError;
use crate::upstream::token::{AccessToken, TokenProvider};

#[derive(Clone)]
pub(super) struct BearerLayer(pub TokenProvider);

#[derive(Clone)]
pub(super) struct Bearer<S> {
    state: TokenProvider,
    inner: S,
}

layer_for!(BearerLayer => Bearer);

fn with_token(
    req: &UpstreamRequest,
    token: &AccessToken,
) -> Result<UpstreamRequest, UpstreamError> {
    let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
        .map_err(|_| UpstreamError::BadResponse("token is not valid header text".to_string()))?;
    value.set_sensitive(true);
    let mut req = req.clone();
    req.headers.insert(AUTHORIZATION, value);
    Ok(req)
}

impl<S: Inner> Service<UpstreamRequest> for Bearer<S> {
    type Response = Reply;
    type Error = UpstreamError;
    type Future = BoxFuture;

    always_ready!();

    fn call(&mut self, req: UpstreamRequest) -> Self::Future {
        let tokens = self.state.clone();
        let inner = self.inner.clone();
        Box::pin(async move {
            let token = tokens.token().await?;
            match inner.clone().oneshot(with_token(&req, &token)?).await {
                Err(UpstreamError::Unauthorized) => {
                    tokens.invalidate_token(&token).await;
                    let fresh = tokens.token().await?;
                    inner.oneshot(with_token(&req, &fresh)?).await
                }
                other => other,
            }
        })
    }
}
