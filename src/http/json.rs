//! JSON answers. axum's `Json` starts its buffer at 128 bytes, so a typical answer (a user,
//! a token pair, a page of a list) is copied two or three times as it grows; this one
//! starts at [`START`], which most answers fit. A value that cannot be serialised (none of
//! userd's can) answers a bare 500 whose body names nothing of why, where axum's would
//! carry serde's message.

use axum::{
    body::Body,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;

/// The first size of a JSON answer's buffer.
const START: usize = 1024;

/// A JSON response: `T` serialised, with `Content-Type: application/json`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        let mut buf = Vec::with_capacity(START);
        match serde_json::to_writer(&mut buf, &self.0) {
            Ok(()) => with_type(Body::from(buf), StatusCode::OK),
            Err(e) => {
                tracing::error!(error = %e, "an answer could not be serialised");
                with_type(Body::from(&br#"{"detail":"Internal server error."}"#[..]), StatusCode::INTERNAL_SERVER_ERROR)
            }
        }
    }
}

fn with_type(body: Body, status: StatusCode) -> Response {
    let mut res = Response::new(body);
    *res.status_mut() = status;
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use axum::body::to_bytes;

    use super::*;

    #[tokio::test]
    async fn a_value_is_answered_as_json_and_a_failure_tells_nothing_of_itself() {
        let res = Json(serde_json::json!({"status": "success", "n": 1})).into_response();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
        let body = to_bytes(res.into_body(), 1 << 16).await.expect("body");
        assert_eq!(&body[..], br#"{"status":"success","n":1}"#);

        // A map whose keys are not strings cannot be JSON.
        let res = Json(HashMap::from([((1, 2), "x")])).into_response();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = to_bytes(res.into_body(), 1 << 16).await.expect("body");
        assert_eq!(&body[..], br#"{"detail":"Internal server error."}"#);
    }
}
