//! Staff endpoints under `/api/staff/users/` (fixed by the contract), in document 002's
//! `{status, message, data}` envelope: looking users up, their security events,
//! deactivation and reactivation, and the counters a posts service keeps for document 003
//! (`posts_count`, `likes_received`, `comments_received`).

use axum::{
    Router,
    extract::State,
    routing::{get, patch, post},
};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use super::jwt::{ApiError, ErrorResponse, EventsResponse, events_response, time};
use crate::http::Json;
use crate::{
    domain::{
        FieldErrors, Invalid,
        model::{CountersUpdate, PageRequest, User, UserId, UserSearch},
    },
    http::{
        AppState,
        auth::{Authed, ClientInfo},
        body::{Body, Input, PathParam, QueryParams},
        paging::PageQuery,
    },
};

const TAG: &str = "staff";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/staff/users/", get(users))
        .route("/api/staff/users/{id}/", get(user))
        .route("/api/staff/users/{id}/events/", get(events))
        .route("/api/staff/users/{id}/deactivate/", post(deactivate))
        .route("/api/staff/users/{id}/reactivate/", post(reactivate))
        .route("/api/staff/users/{id}/counters/", patch(counters))
}

#[derive(OpenApi)]
#[openapi(
    paths(users, user, events, deactivate, reactivate, counters),
    components(schemas(CountersRequest, CountersResponse, CountersOut, StaffUser, StaffUsers, StaffUsersResponse, StaffUserResponse)),
    tags((name = TAG, description = "Staff only (`userd create-admin` makes staff): endpoints for operators and the services around userd."))
)]
pub struct Doc;

/// A user as staff see them: e-mail and state included.
#[derive(Serialize, ToSchema)]
pub struct StaffUser {
    id: i64,
    external_id: String,
    email: String,
    email_verified: bool,
    username: String,
    first_name: String,
    last_name: String,
    company_name: String,
    plan: Option<String>,
    is_active: bool,
    is_staff: bool,
    #[schema(example = "2026-12-02T18:15:12.000000Z")]
    created_at: String,
    updated_at: String,
}

impl From<User> for StaffUser {
    fn from(u: User) -> Self {
        StaffUser {
            id: u.id.0,
            external_id: u.external_id.0,
            email: u.email,
            email_verified: u.email_verified,
            username: u.username,
            first_name: u.first_name,
            last_name: u.last_name,
            company_name: u.company_name,
            plan: u.plan,
            is_active: u.is_active,
            is_staff: u.is_staff,
            created_at: time(u.created_at),
            updated_at: time(u.updated_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct StaffUsers {
    users: Vec<StaffUser>,
    /// The `cursor` of the next page; `null` on the last.
    next: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct StaffUsersResponse {
    #[schema(example = "success")]
    status: &'static str,
    #[schema(example = "Users")]
    message: &'static str,
    data: StaffUsers,
}

#[derive(Serialize, ToSchema)]
pub struct StaffUserResponse {
    #[schema(example = "success")]
    status: &'static str,
    #[schema(example = "User")]
    message: &'static str,
    data: StaffUser,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsersQuery {
    /// Part of the e-mail, username or full name, case-insensitive (`%` and `_` are literal).
    #[param(max_length = 254)]
    search: Option<String>,
    /// Users per page: 1 to 1000, 100 when absent.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    limit: Option<String>,
    /// Where the page starts: `data.next` of the previous page.
    cursor: Option<String>,
}

fn user_id(id: &str) -> Result<UserId, ApiError> {
    id.parse::<i64>().map(UserId).map_err(|_| crate::domain::Error::NotFound.into())
}

fn one(message: &'static str, user: User) -> Json<StaffUserResponse> {
    Json(StaffUserResponse { status: "success", message, data: user.into() })
}

/// Every user, active or not, newest first; `search` narrows by e-mail, username or name.
#[utoipa::path(get, path = "/api/staff/users/", tag = TAG, operation_id = "staff_users", params(UsersQuery),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, body = StaffUsersResponse, description = "A page of users"),
        (status = 400, body = ErrorResponse, description = "`limit` outside 1–1000, a `cursor` this server did not hand out, or `search` over 254 characters"),
        (status = 401, body = ErrorResponse, description = "Missing or invalid credentials"),
        (status = 403, body = ErrorResponse, description = "The caller is not staff"),
    ))]
async fn users(
    State(state): State<AppState>,
    Authed(p, ..): Authed<ApiError>,
    QueryParams(q, ..): QueryParams<UsersQuery, ApiError>,
) -> Result<Json<StaffUsersResponse>, ApiError> {
    let page =
        PageRequest::parse(q.limit.as_deref(), q.cursor.as_deref()).map_err(|(f, why)| FieldErrors::single(f, why))?;
    if q.search.as_ref().is_some_and(|s| s.chars().count() > 254) {
        return Err(FieldErrors::single("search", Invalid::TooLong { max: 254 }).into());
    }
    let found = state.domain.staff.users(&p, &UserSearch { text: q.search }, &page).await?;
    Ok(Json(StaffUsersResponse {
        status: "success",
        message: "Users",
        data: StaffUsers {
            next: found.next.map(|c| c.encode()),
            users: found.items.into_iter().map(Into::into).collect(),
        },
    }))
}

/// One user, active or not.
#[utoipa::path(get, path = "/api/staff/users/{id}/", tag = TAG, operation_id = "staff_user",
    params(("id" = i64, Path, description = "The user's numeric id")),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, body = StaffUserResponse, description = "The user"),
        (status = 401, body = ErrorResponse, description = "Missing or invalid credentials"),
        (status = 403, body = ErrorResponse, description = "The caller is not staff"),
        (status = 404, body = ErrorResponse, description = "No such user"),
    ))]
async fn user(
    State(state): State<AppState>,
    Authed(p, ..): Authed<ApiError>,
    PathParam(id, ..): PathParam<ApiError>,
) -> Result<Json<StaffUserResponse>, ApiError> {
    Ok(one("User", state.domain.staff.user(&p, user_id(&id)?).await?))
}

/// A user's security events, newest first.
#[utoipa::path(get, path = "/api/staff/users/{id}/events/", tag = TAG, operation_id = "staff_user_events",
    params(("id" = i64, Path, description = "The user's numeric id"), PageQuery),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, body = EventsResponse, description = "A page of the user's events"),
        (status = 400, body = ErrorResponse, description = "`limit` outside 1–1000 or a `cursor` this server did not hand out"),
        (status = 401, body = ErrorResponse, description = "Missing or invalid credentials"),
        (status = 403, body = ErrorResponse, description = "The caller is not staff"),
        (status = 404, body = ErrorResponse, description = "No such user"),
    ))]
async fn events(
    State(state): State<AppState>,
    Authed(p, ..): Authed<ApiError>,
    PathParam(id, ..): PathParam<ApiError>,
    QueryParams(q, ..): QueryParams<PageQuery, ApiError>,
) -> Result<Json<EventsResponse>, ApiError> {
    let page = PageRequest::try_from(q)?;
    Ok(events_response(state.domain.staff.events(&p, user_id(&id)?, &page).await?))
}

/// Deactivates a user: every credential of theirs is refused at once, on every node.
///
/// Sessions and refresh tokens are revoked and the personal API token removed (a new one
/// is issued on request after reactivation); sign-ins answer as a wrong password does.
/// Staff cannot deactivate themselves.
#[utoipa::path(post, path = "/api/staff/users/{id}/deactivate/", tag = TAG, operation_id = "staff_user_deactivate",
    params(("id" = i64, Path, description = "The user's numeric id")),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, body = StaffUserResponse, description = "`User deactivated`"),
        (status = 400, body = ErrorResponse, description = "The caller's own account"),
        (status = 401, body = ErrorResponse, description = "Missing or invalid credentials"),
        (status = 403, body = ErrorResponse, description = "The caller is not staff"),
        (status = 404, body = ErrorResponse, description = "No such user"),
    ))]
async fn deactivate(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Authed(p, ..): Authed<ApiError>,
    PathParam(id, ..): PathParam<ApiError>,
) -> Result<Json<StaffUserResponse>, ApiError> {
    Ok(one("User deactivated", state.domain.staff.set_active(&p, user_id(&id)?, false, &client).await?))
}

/// Reactivates a user; they sign in again (old sessions stay revoked).
#[utoipa::path(post, path = "/api/staff/users/{id}/reactivate/", tag = TAG, operation_id = "staff_user_reactivate",
    params(("id" = i64, Path, description = "The user's numeric id")),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, body = StaffUserResponse, description = "`User reactivated`"),
        (status = 401, body = ErrorResponse, description = "Missing or invalid credentials"),
        (status = 403, body = ErrorResponse, description = "The caller is not staff"),
        (status = 404, body = ErrorResponse, description = "No such user"),
    ))]
async fn reactivate(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Authed(p, ..): Authed<ApiError>,
    PathParam(id, ..): PathParam<ApiError>,
) -> Result<Json<StaffUserResponse>, ApiError> {
    Ok(one("User reactivated", state.domain.staff.set_active(&p, user_id(&id)?, true, &client).await?))
}

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
        (status = 413, body = ErrorResponse, description = "Body over 64 KiB"),
        (status = 401, body = ErrorResponse, description = "Missing or invalid credentials"),
        (status = 403, body = ErrorResponse, description = "The caller is not staff (or the session cookie lacks `X-CSRFToken`)"),
        (status = 404, body = ErrorResponse, description = "No such user"),
    ))]
async fn counters(
    State(state): State<AppState>,
    Authed(p, ..): Authed<ApiError>,
    PathParam(id, ..): PathParam<ApiError>,
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
