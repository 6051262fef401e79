//! Document 003's follow graph: who follows whom, and the lists of a user's followers and
//! followings, built with the directory's SQL assembly (see [`super::social`]).

use async_trait::async_trait;
use jiff::Timestamp;

use super::{
    SqlStore, db_err, from_micros, is_unique_violation, micros, on_pool,
    social::{Arg, Sql, bound},
};
use crate::domain::{
    Error, Result,
    model::{Follow, ListPage, UserCard, UserId},
    ports::FollowStore,
};

#[derive(sqlx::FromRow)]
struct FollowRow {
    id: i64,
    follower_id: i64,
    following_id: i64,
    follower_username: String,
    following_username: String,
    created_at: i64,
}

impl From<FollowRow> for Follow {
    fn from(r: FollowRow) -> Self {
        Follow {
            id: r.id,
            follower: UserId(r.follower_id),
            following: UserId(r.following_id),
            follower_username: r.follower_username,
            following_username: r.following_username,
            created_at: from_micros(r.created_at),
        }
    }
}

const FOLLOW_COLUMNS: &str = "f.id, f.follower_id, f.following_id, a.username AS follower_username, \
    b.username AS following_username, f.created_at \
    FROM follows f JOIN users a ON a.id = f.follower_id JOIN users b ON b.id = f.following_id";

#[async_trait]
impl FollowStore for SqlStore {
    async fn follow(&self, follower: UserId, following: UserId, now: Timestamp) -> Result<Follow> {
        const INSERT: &str =
            "INSERT INTO follows (follower_id, following_id, created_at) VALUES ($1, $2, $3) RETURNING id";
        let inserted: std::result::Result<i64, sqlx::Error> =
            on_pool!(&self.db, writer, |pool| sqlx::query_scalar(INSERT)
                .bind(follower.0)
                .bind(following.0)
                .bind(micros(now))
                .fetch_one(pool)
                .await);
        let id = match inserted {
            Ok(id) => id,
            Err(e) if is_unique_violation(&e) => return Err(Error::Conflict { field: "following" }),
            Err(e) => return Err(db_err(e)),
        };
        let sql = format!("SELECT {FOLLOW_COLUMNS} WHERE f.id = $1");
        let row: FollowRow = on_pool!(&self.db, writer, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(id)
            .fetch_one(pool)
            .await
            .map_err(db_err)?);
        Ok(row.into())
    }

    async fn unfollow(&self, follower: UserId, following: UserId) -> Result<bool> {
        const SQL: &str = "DELETE FROM follows WHERE follower_id = $1 AND following_id = $2";
        let removed = on_pool!(&self.db, writer, |pool| sqlx::query(SQL)
            .bind(follower.0)
            .bind(following.0)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
            .map_err(db_err)?);
        Ok(removed > 0)
    }

    async fn followed_among(&self, viewer: UserId, users: &[UserId]) -> Result<Vec<UserId>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = Sql::new(self.backend());
        sql.push("SELECT following_id FROM follows WHERE follower_id = ").bind(Arg::Int(viewer.0));
        sql.push(" AND following_id IN (");
        for (i, user) in users.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.bind(Arg::Int(user.0));
        }
        sql.push(")");
        let ids: Vec<i64> = on_pool!(&self.db, reader, |pool| {
            bound!(sqlx::query_scalar(sqlx::AssertSqlSafe(sql.text.as_str())), &sql.args)
                .fetch_all(pool)
                .await
                .map_err(db_err)?
        });
        Ok(ids.into_iter().map(UserId).collect())
    }

    async fn follows_of(&self, follower: UserId, page: ListPage) -> Result<(Vec<Follow>, u64)> {
        let mut sql = Sql::new(self.backend());
        sql.push("SELECT ").push(FOLLOW_COLUMNS).push(" WHERE f.follower_id = ");
        sql.bind(Arg::Int(follower.0)).push(" AND b.is_active ORDER BY f.id DESC LIMIT ");
        sql.bind(Arg::Int(i64::from(page.size))).push(" OFFSET ");
        sql.bind(Arg::Int(i64::try_from(page.offset()).unwrap_or(i64::MAX)));
        let rows: Vec<FollowRow> = on_pool!(&self.db, reader, |pool| {
            bound!(sqlx::query_as(sqlx::AssertSqlSafe(sql.text.as_str())), &sql.args)
                .fetch_all(pool)
                .await
                .map_err(db_err)?
        });
        let mut count = Sql::new(self.backend());
        count.push("SELECT COUNT(*) FROM follows f JOIN users b ON b.id = f.following_id WHERE f.follower_id = ");
        count.bind(Arg::Int(follower.0)).push(" AND b.is_active");
        let total = u64::try_from(self.scalar(count).await?).unwrap_or(0);
        Ok((rows.into_iter().map(Into::into).collect(), total))
    }

    async fn connections(
        &self,
        user: UserId,
        followers: bool,
        viewer: Option<UserId>,
        page: ListPage,
    ) -> Result<(Vec<UserCard>, u64)> {
        // Followers: the follows whose `following` is the user, showing each `follower`.
        let (shown, anchor) =
            if followers { ("f.follower_id", "f.following_id") } else { ("f.following_id", "f.follower_id") };
        let mut sql = Sql::new(self.backend());
        sql.push("SELECT u.id, u.username, u.first_name, u.last_name, u.avatar, ");
        sql.is_following(viewer);
        sql.push(" FROM follows f JOIN users u ON u.id = ").push(shown).push(" WHERE ").push(anchor).push(" = ");
        sql.bind(Arg::Int(user.0)).push(" AND u.is_active ORDER BY f.id DESC LIMIT ");
        sql.bind(Arg::Int(i64::from(page.size))).push(" OFFSET ");
        sql.bind(Arg::Int(i64::try_from(page.offset()).unwrap_or(i64::MAX)));
        let cards = self.cards(sql).await?;
        let mut count = Sql::new(self.backend());
        count.push("SELECT COUNT(*) FROM follows f JOIN users u ON u.id = ").push(shown).push(" WHERE ").push(anchor);
        count.push(" = ").bind(Arg::Int(user.0)).push(" AND u.is_active");
        let total = u64::try_from(self.scalar(count).await?).unwrap_or(0);
        Ok((cards, total))
    }
}
