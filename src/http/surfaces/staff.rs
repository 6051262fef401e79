//! Staff endpoints under `/api/staff/users/` (fixed by the contract), in document 002's
//! `{status, message, data}` envelope. For now: the counters a posts service keeps for
//! document 003 (`posts_count`, `likes_received`, `comments_received`).

use axum::{
    Json, Router,
    extract::{Path, State},
    routing::patch,
};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use super::jwt::{ApiError, ErrorResponse};
use crate::{
    domain::{
        FieldErrors, Invalid,
        model::{CountersUpdate, UserId},
    },
    http::{
        AppState,
        auth::Authed,
        body::{Body, Input},
    },
};

const TAG: &str = "staff";

pub fn router() -> Router<AppState> {
    Router::new().route("/api/staff/users/{id}/counters/", patch(counters))
}

#[derive(OpenApi)]
#[openapi(
    paths(counters),
    components(schemas(CountersRequest, CountersResponse, CountersOut)),
    tags((name = TAG, description = "Staff only (`userd create-admin` makes staff): endpoints for operators and the services around userd."))
)]
pub struct Doc;

/// Any subset; each a whole number from 0.
#[derive(Deserialize, ToSchema)]
pub struct CountersRequest {
    #[serde(default)]
    #[schema(value_type = Option<i64>, minimum = 0)]
    posts_count: Input,
    #[serde(default)]
    #[schema(value_type = Option<i64>, minimum = 0)]
    likes_received: Input,
    #[serde(default)]
    #[schema(value_type = Option<i64>, minimum = 0)]
    comments_received: Input,
}

fn count(input: &Input, field: &'static str, errors: &mut FieldErrors) -> Option<i64> {
    let raw = input.optional(field, errors)?;
    match raw.trim().parse::<i64>() {
        Ok(n) if n >= 0 => Some(n),
        _ => {
            errors.add(field, Invalid::Integer);
            None
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CountersOut {
    posts_count: i64,
    likes_received: i64,
    comments_received: i64,
    followers_count: i64,
    following_count: i64,
}

#[derive(Serialize, ToSchema)]
pub struct CountersResponse {
    #[schema(example = "success")]
    status: &'static str,
    #[schema(example = "Counters updated")]
    message: &'static str,
    data: CountersOut,
}

/// Sets a user's post and reaction counters, as the posts service counts them.
///
/// Document 003 shows them in profiles and `me/stats/`; userd only keeps them.
#[utoipa::path(patch, path = "/api/staff/users/{id}/counters/", tag = TAG, operation_id = "staff_counters",
    params(("id" = i64, Path, description = "The user's numeric id (documents 002 and 003 show it)")),
    request_body = CountersRequest,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, body = CountersResponse, description = "The user's counters after the change"),
        (status = 400, body = ErrorResponse, description = "A counter that is not a whole number from 0"),
        (status = 401, body = ErrorResponse, description = "Missing or invalid credentials"),
        (status = 403, body = ErrorResponse, description = "The caller is not staff (or the session cookie lacks `X-CSRFToken`)"),
        (status = 404, body = ErrorResponse, description = "No such user"),
    ))]
async fn counters(
    State(state): State<AppState>,
    Authed(p, ..): Authed<ApiError>,
    Path(id): Path<String>,
    Body(req, ..): Body<CountersRequest, ApiError>,
) -> Result<Json<CountersResponse>, ApiError> {
    let id = id.parse::<i64>().map(UserId).map_err(|_| crate::domain::Error::NotFound)?;
    let mut errors = FieldErrors::new();
    let update = CountersUpdate {
        posts: count(&req.posts_count, "posts_count", &mut errors),
        likes_received: count(&req.likes_received, "likes_received", &mut errors),
        comments_received: count(&req.comments_received, "comments_received", &mut errors),
    };
    errors.into_result(Some(()))?;
    let c = state.domain.social.set_counters(&p, id, &update).await?;
    Ok(Json(CountersResponse {
        status: "success",
        message: "Counters updated",
        data: CountersOut {
            posts_count: c.posts,
            likes_received: c.likes_received,
            comments_received: c.comments_received,
            followers_count: c.followers,
            following_count: c.following,
        },
    }))
}
