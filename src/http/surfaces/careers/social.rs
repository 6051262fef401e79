//! Document 003's directory (`GET /careers/users/`) and follow graph.

use axum::{
    Router,
    extract::State,
    http::StatusCode,
    routing::{delete, get, post},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ApiError, Auth, CareersDetail, CareersFieldErrors, CareersMessage, TAG, time};
use crate::http::Json;
use crate::{
    domain::{
        FieldErrors, Invalid,
        model::{DirectoryQuery, Follow, ListPage, Ordering, SearchTerm, UserCard, UserId},
    },
    http::{
        AppState,
        auth::{Authed, MaybeAuthed},
        body::{Body, Input, PathParam, QueryParams},
        surfaces::microservice::picture_url,
    },
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/careers/users/", get(directory))
        .route("/careers/users/follow/", post(follow))
        .route("/careers/users/following/", get(my_following))
        .route("/careers/users/{username}/unfollow/", delete(unfollow))
        .route("/careers/users/{username}/followers/", get(followers))
        .route("/careers/users/{username}/following/", get(following))
}

/// A user as lists show them.
#[derive(Serialize, ToSchema)]
pub struct Card {
    id: i64,
    username: String,
    first_name: String,
    last_name: String,
    avatar: Option<String>,
    /// Whether the caller follows them (`false` for anonymous callers).
    is_following: bool,
}

impl Card {
    fn new(c: UserCard, state: &AppState) -> Self {
        Card {
            id: c.id.0,
            avatar: picture_url(c.avatar.as_deref(), &state.public_url),
            username: c.username,
            first_name: c.first_name,
            last_name: c.last_name,
            is_following: c.is_following,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct BatchInfo {
    current_batch: u64,
    batch_size: u32,
    total_users: u64,
    total_batches: u64,
    users_in_current_batch: usize,
}

#[derive(Serialize, ToSchema)]
pub struct DirectoryResponse {
    #[schema(example = "Users retrieved successfully")]
    message: String,
    users: Vec<Card>,
    batch_info: BatchInfo,
}

#[derive(Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DirectoryParams {
    /// Matches username, first name, last name and bio, case-insensitively, as a
    /// substring; terms under three characters match the start of a username or name.
    search: Option<String>,
    /// Contains-filter on the first name (same rules as `search`).
    first_name: Option<String>,
    /// Contains-filter on the last name.
    last_name: Option<String>,
    /// `username`, `created_at`, `first_name` or `last_name`, optionally with a leading
    /// `-`; anything else is ignored (`username`).
    ordering: Option<String>,
    /// 1 to 100 (larger values are capped); 10 when absent.
    #[param(value_type = Option<u32>, minimum = 1)]
    batch_size: Option<String>,
    /// From 0; a batch past the end is empty.
    #[param(value_type = Option<u64>, minimum = 0)]
    batch_number: Option<String>,
}

/// `batch_size` and `batch_number` of a list: a size of at least 1 (capped at `max`) and
/// a number of at least 0; anything else is a field error.
fn batches(size: Option<&str>, number: Option<&str>, default: u32, max: u32, errors: &mut FieldErrors) -> (u32, u64) {
    let size = match size.map(str::trim).filter(|s| !s.is_empty()) {
        None => default,
        Some(raw) => match raw.parse::<i64>() {
            Ok(n) if n >= 1 => u32::try_from(n.min(i64::from(max))).unwrap_or(max),
            Ok(_) => {
                errors.add("batch_size", Invalid::Limit { max });
                default
            }
            Err(_) => {
                errors.add("batch_size", Invalid::Integer);
                default
            }
        },
    };
    let number = match number.map(str::trim).filter(|s| !s.is_empty()) {
        None => 0,
        Some(raw) => match raw.parse::<i64>() {
            Ok(n) if n >= 0 => n.unsigned_abs(),
            Ok(_) => {
                errors.add("batch_number", Invalid::Integer);
                0
            }
            Err(_) => {
                errors.add("batch_number", Invalid::Integer);
                0
            }
        },
    };
    (size, number)
}

/// The user directory: search, filters, ordering and batches over active users.
///
/// Public; `is_following` is relative to the caller when credentials are sent.
#[utoipa::path(get, path = "/careers/users/", tag = TAG, operation_id = "careers_directory",
    params(DirectoryParams),
    responses(
        (status = 200, body = DirectoryResponse, description = "One batch of users and where it lies"),
        (status = 400, body = CareersFieldErrors, description = "`batch_size` or `batch_number` not a whole number in range"),
        (status = 401, body = CareersDetail, description = "Credentials were sent and are not valid"),
    ))]
pub async fn directory(
    State(state): State<AppState>,
    MaybeAuthed(viewer, ..): MaybeAuthed<ApiError>,
    QueryParams(p, ..): QueryParams<DirectoryParams, ApiError>,
) -> Result<Json<DirectoryResponse>, ApiError> {
    let mut errors = FieldErrors::new();
    let (batch_size, batch_number) = batches(
        p.batch_size.as_deref(),
        p.batch_number.as_deref(),
        DirectoryQuery::DEFAULT_BATCH,
        DirectoryQuery::MAX_BATCH,
        &mut errors,
    );
    errors.into_result(Some(()))?;
    let query = DirectoryQuery {
        search: p.search.as_deref().and_then(SearchTerm::parse),
        first_name: p.first_name.as_deref().and_then(SearchTerm::parse),
        last_name: p.last_name.as_deref().and_then(SearchTerm::parse),
        ordering: p.ordering.as_deref().and_then(Ordering::parse).unwrap_or_default(),
        batch_size,
        batch_number,
    };
    let page = state.domain.social.directory(viewer.as_ref().map(|v| v.user_id()), &query).await?;
    let users: Vec<Card> = page.users.into_iter().map(|c| Card::new(c, &state)).collect();
    let batch_info = BatchInfo {
        current_batch: batch_number,
        batch_size,
        total_users: page.total,
        total_batches: page.total.div_ceil(u64::from(batch_size)),
        users_in_current_batch: users.len(),
    };
    Ok(Json(DirectoryResponse { message: "Users retrieved successfully".into(), users, batch_info }))
}

#[derive(Deserialize, ToSchema)]
pub struct FollowRequest {
    /// The id of the user to follow.
    #[serde(default)]
    #[schema(required = true, value_type = i64, example = 2)]
    following: Input,
}

#[derive(Serialize, ToSchema)]
pub struct FollowOut {
    id: i64,
    follower: i64,
    following: i64,
    follower_username: String,
    following_username: String,
    created_at: String,
}

impl From<Follow> for FollowOut {
    fn from(f: Follow) -> Self {
        FollowOut {
            id: f.id,
            follower: f.follower.0,
            following: f.following.0,
            follower_username: f.follower_username,
            following_username: f.following_username,
            created_at: time(f.created_at),
        }
    }
}

/// Follows a user by id.
#[utoipa::path(post, path = "/careers/users/follow/", tag = TAG, operation_id = "careers_follow",
    request_body = FollowRequest,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 201, body = FollowOut, description = "The new follow"),
        (status = 400, body = CareersFieldErrors, description = "`following`: missing, not an id, no such active user, yourself, or already followed"),
        (status = 413, body = CareersFieldErrors, description = "Body over 64 KiB"),
        (status = 401, body = CareersDetail, description = "Missing or invalid credentials"),
        (status = 403, body = CareersDetail, description = "Session cookie without a matching `X-CSRFToken`"),
        (status = 415, body = CareersDetail, description = "Body is not JSON, a URL-encoded form or multipart"),
    ))]
pub async fn follow(
    State(state): State<AppState>,
    Authed(p, ..): Auth,
    Body(req, ..): Body<FollowRequest, ApiError>,
) -> Result<(StatusCode, Json<FollowOut>), ApiError> {
    let mut errors = FieldErrors::new();
    let target = req.following.required_as("following", &mut errors, |raw| {
        raw.trim().parse::<i64>().map(UserId).map_err(|_| Invalid::Integer)
    });
    let target = errors.into_result(target)?;
    let follow = state.domain.social.follow(&p, target).await?;
    Ok((StatusCode::CREATED, Json(follow.into())))
}

/// Stops following a user.
#[utoipa::path(delete, path = "/careers/users/{username}/unfollow/", tag = TAG, operation_id = "careers_unfollow",
    params(("username" = String, Path)),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, body = CareersMessage, description = "`Stopped following <username>`"),
        (status = 400, body = CareersFieldErrors, description = "`following`: `You are not following this user.`"),
        (status = 401, body = CareersDetail, description = "Missing or invalid credentials"),
        (status = 403, body = CareersDetail, description = "Session cookie without a matching `X-CSRFToken`"),
        (status = 404, body = CareersDetail, description = "`Not found.`: no such active user"),
    ))]
pub async fn unfollow(
    State(state): State<AppState>,
    Authed(p, ..): Auth,
    PathParam(username, ..): PathParam<ApiError>,
) -> Result<Json<CareersMessage>, ApiError> {
    let name = state.domain.social.unfollow(&p, &username).await?;
    Ok(Json(CareersMessage { message: format!("Stopped following {name}") }))
}

#[derive(Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// 1 to 1000 (larger values are capped); 100 when absent, so a list never comes whole.
    #[param(value_type = Option<u32>, minimum = 1)]
    batch_size: Option<String>,
    /// From 0.
    #[param(value_type = Option<u64>, minimum = 0)]
    batch_number: Option<String>,
}

fn list_page(p: ListParams) -> Result<ListPage, ApiError> {
    let mut errors = FieldErrors::new();
    let (size, number) =
        batches(p.batch_size.as_deref(), p.batch_number.as_deref(), ListPage::DEFAULT_SIZE, 1000, &mut errors);
    errors.into_result(Some(()))?;
    Ok(ListPage { size, number })
}

#[derive(Serialize, ToSchema)]
pub struct FollowList {
    /// All of the caller's follows (of active users), not only this page's.
    count: u64,
    results: Vec<FollowOut>,
}

#[derive(Serialize, ToSchema)]
pub struct CardList {
    /// All of them (active users), not only this page's.
    count: u64,
    results: Vec<Card>,
}

/// The follows the caller made, newest first.
#[utoipa::path(get, path = "/careers/users/following/", tag = TAG, operation_id = "careers_my_following",
    params(ListParams),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, body = FollowList, description = "The caller's follows"),
        (status = 400, body = CareersFieldErrors, description = "Paging parameters out of range"),
        (status = 401, body = CareersDetail, description = "Missing or invalid credentials"),
    ))]
pub async fn my_following(
    State(state): State<AppState>,
    Authed(p, ..): Auth,
    QueryParams(params, ..): QueryParams<ListParams, ApiError>,
) -> Result<Json<FollowList>, ApiError> {
    let page = list_page(params)?;
    let (follows, count) = state.domain.social.my_follows(&p, page).await?;
    Ok(Json(FollowList { count, results: follows.into_iter().map(Into::into).collect() }))
}

async fn connections(
    state: AppState,
    viewer: Option<UserId>,
    username: &str,
    followers: bool,
    params: ListParams,
) -> Result<Json<CardList>, ApiError> {
    let page = list_page(params)?;
    let (cards, count) = state.domain.social.connections(username, followers, viewer, page).await?;
    Ok(Json(CardList { count, results: cards.into_iter().map(|c| Card::new(c, &state)).collect() }))
}

/// Who follows a user, newest first.
#[utoipa::path(get, path = "/careers/users/{username}/followers/", tag = TAG, operation_id = "careers_followers",
    params(("username" = String, Path), ListParams),
    responses(
        (status = 200, body = CardList, description = "The followers, with `is_following` for the caller"),
        (status = 400, body = CareersFieldErrors, description = "Paging parameters out of range"),
        (status = 404, body = CareersDetail, description = "`Not found.`"),
    ))]
pub async fn followers(
    State(state): State<AppState>,
    MaybeAuthed(viewer, ..): MaybeAuthed<ApiError>,
    PathParam(username, ..): PathParam<ApiError>,
    QueryParams(params, ..): QueryParams<ListParams, ApiError>,
) -> Result<Json<CardList>, ApiError> {
    connections(state, viewer.map(|v| v.user_id()), &username, true, params).await
}

/// Whom a user follows, newest first.
#[utoipa::path(get, path = "/careers/users/{username}/following/", tag = TAG, operation_id = "careers_following",
    params(("username" = String, Path), ListParams),
    responses(
        (status = 200, body = CardList, description = "Whom they follow, with `is_following` for the caller"),
        (status = 400, body = CareersFieldErrors, description = "Paging parameters out of range"),
        (status = 404, body = CareersDetail, description = "`Not found.`"),
    ))]
pub async fn following(
    State(state): State<AppState>,
    MaybeAuthed(viewer, ..): MaybeAuthed<ApiError>,
    PathParam(username, ..): PathParam<ApiError>,
    QueryParams(params, ..): QueryParams<ListParams, ApiError>,
) -> Result<Json<CardList>, ApiError> {
    connections(state, viewer.map(|v| v.user_id()), &username, false, params).await
}
