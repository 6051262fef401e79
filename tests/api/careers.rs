//! Document 003: `/careers/users/`: username accounts, profiles, the directory (search,
//! filters, ordering, batches, hostile parameters) and the follow graph, across surfaces.

use reqwest::{Response, StatusCode, header};
use serde_json::{Value, json};

use crate::{both_backends, helpers::*};

const BASE: &str = "/careers/users";

async fn register(app: &TestApp, username: &str, first: &str, last: &str, bio: &str) -> Value {
    let body = json!({"username": username, "email": format!("{username}@example.com"), "password": PASSWORD,
        "password_confirm": PASSWORD, "first_name": first, "last_name": last, "bio": bio});
    json_of(app.post_json(&format!("{BASE}/register/"), &body, None).await, StatusCode::CREATED).await
}

/// Registers and returns `(id, access, refresh)`.
async fn user(app: &TestApp, username: &str) -> (i64, String, String) {
    let body = register(app, username, "First", "Last", "").await;
    let token = |k: &str| body[k].as_str().expect("token").to_string();
    (body["user"]["id"].as_i64().expect("id"), token("access"), token("refresh"))
}

async fn get(app: &TestApp, path: &str, token: Option<&str>) -> Response {
    app.get(&format!("{BASE}{path}"), token).await
}

async fn follow(app: &TestApp, token: &str, target: Value) -> Response {
    app.post_json(&format!("{BASE}/follow/"), &json!({"following": target}), Some(token)).await
}

async fn dir(app: &TestApp, query: &str) -> Value {
    json_of(get(app, &format!("/?{query}"), None).await, StatusCode::OK).await
}

fn usernames(page: &Value) -> Vec<String> {
    page["users"].as_array().expect("users").iter().map(|u| u["username"].as_str().expect("name").to_string()).collect()
}

both_backends! {
    async fn register_login_refresh_and_logout_answer_as_documented(app) {
        let body = register(&app, "alice", "Alice", "Smith", "Software developer passionate about APIs").await;
        let user = &body["user"];
        let keys: Vec<&str> = user.as_object().expect("object").keys().map(String::as_str).collect();
        assert_eq!(keys, ["id", "username", "email", "first_name", "last_name", "bio", "created_at"]);
        assert!(user["id"].is_i64() && user["created_at"].as_str().is_some_and(|t| t.ends_with('Z')));
        assert!(body["access"].is_string() && body["refresh"].is_string());

        let res = app.post_json(&format!("{BASE}/login/"), &json!({"username": "ALICE", "password": PASSWORD}), None).await;
        let login = json_of(res, StatusCode::OK).await;
        assert_eq!(login["user"], json!({"id": user["id"], "username": "alice", "email": "alice@example.com", "first_name": "Alice", "last_name": "Smith"}));
        let (access, refresh) = (login["access"].as_str().expect("a").to_string(), login["refresh"].as_str().expect("r").to_string());

        let res = app.post_json(&format!("{BASE}/token/refresh/"), &json!({"refresh": refresh}), None).await;
        assert!(json_of(res, StatusCode::OK).await["access"].is_string());
        let res = app.post_json(&format!("{BASE}/logout/"), &json!({"refresh": refresh}), Some(&access)).await;
        assert_eq!(json_of(res, StatusCode::OK).await, json!({"message": "Successfully logged out"}));
        assert_eq!(get(&app, "/me/", Some(&access)).await.status(), StatusCode::UNAUTHORIZED, "that login's access token is dead");
        // The refresh token is refused on document 002 too.
        let res = app.post_json("/api/users/refresh-token/", &json!({"refresh": refresh}), None).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        let res = app.post_json(&format!("{BASE}/token/refresh/"), &json!({"refresh": refresh}), None).await;
        assert_eq!(json_of(res, StatusCode::UNAUTHORIZED).await, json!({"detail": "Token is invalid or expired", "code": "token_not_valid"}));
    }
}

both_backends! {
    async fn one_user_signs_in_on_every_surface(app) {
        register(&app, "carol", "Carol", "Chen", "").await;
        assert_eq!(app.login("carol@example.com", PASSWORD).await.status(), StatusCode::OK, "003 user on 002 by e-mail");
        app.register("dave.jones@example.com").await;
        let res = app.post_json(&format!("{BASE}/login/"), &json!({"username": "dave.jones", "password": PASSWORD}), None).await;
        assert_eq!(json_of(res, StatusCode::OK).await["user"]["email"], "dave.jones@example.com", "002 user on 003 by its generated username");
        // A logout on 002 refuses that refresh token here.
        let (access, refresh) = app.register_tokens("erin@example.com").await;
        let res = app.post_json("/api/users/logout/", &json!({"refresh": refresh}), Some(&access)).await;
        assert_eq!(res.status(), StatusCode::OK);
        let res = app.post_json(&format!("{BASE}/token/refresh/"), &json!({"refresh": refresh}), None).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
}

both_backends! {
    async fn refused_input_gets_drf_shapes(app) {
        register(&app, "taken", "T", "U", "").await;
        let res = app.post_json(&format!("{BASE}/register/"), &json!({"username": "TAKEN", "email": "TAKEN@example.com", "password": PASSWORD, "password_confirm": PASSWORD}), None).await;
        let body = json_of(res, StatusCode::BAD_REQUEST).await;
        assert!(body["username"] == json!(["A user with that username already exists."]) || body["email"] == json!(["user with this email already exists."]), "{body}");
        let res = app.post_json(&format!("{BASE}/register/"), &json!({"username": "bad name!", "email": "x", "password": "short", "password_confirm": "other"}), None).await;
        let body = json_of(res, StatusCode::BAD_REQUEST).await;
        for field in ["username", "email", "password", "password_confirm"] {
            assert!(body[field].is_array(), "{field}: {body}");
        }
        for reserved in ["me", "follow", "following", "login"] {
            let res = app.post_json(&format!("{BASE}/register/"), &json!({"username": reserved, "email": format!("{reserved}@x.example.com"), "password": PASSWORD, "password_confirm": PASSWORD}), None).await;
            assert_eq!(json_of(res, StatusCode::BAD_REQUEST).await["username"], json!(["This username is reserved."]), "{reserved}");
        }
        let res = app.post_json(&format!("{BASE}/register/"), &json!({"username": "u".repeat(151), "email": "long@example.com", "password": PASSWORD, "password_confirm": PASSWORD}), None).await;
        assert!(json_of(res, StatusCode::BAD_REQUEST).await["username"].is_array());
        let res = app.post_json(&format!("{BASE}/login/"), &json!({"username": "taken", "password": "wrong-password"}), None).await;
        assert_eq!(json_of(res, StatusCode::UNAUTHORIZED).await, json!({"detail": "No active account found with the given credentials"}));
        let res = app.post_json(&format!("{BASE}/login/"), &json!({"username": "nobody", "password": "wrong-password"}), None).await;
        assert_eq!(json_of(res, StatusCode::UNAUTHORIZED).await, json!({"detail": "No active account found with the given credentials"}));
        assert_eq!(json_of(get(&app, "/me/", None).await, StatusCode::UNAUTHORIZED).await, json!({"detail": "Authentication credentials were not provided."}));
        assert_eq!(json_of(get(&app, "/nobody/", None).await, StatusCode::NOT_FOUND).await, json!({"detail": "Not found."}));
        let res = app.post_json(&format!("{BASE}/token/refresh/"), &json!({}), None).await;
        assert_eq!(json_of(res, StatusCode::BAD_REQUEST).await, json!({"refresh": ["This field is required."]}));
        // DRF's habits: a form registers too.
        let form = [("username", "formy"), ("email", "formy@example.com"), ("password", PASSWORD), ("password_confirm", PASSWORD)];
        let res = app.client.post(app.url(&format!("{BASE}/register/"))).form(&form).send().await.expect("send");
        assert_eq!(res.status(), StatusCode::CREATED);
    }
}

both_backends! {
    async fn profiles_me_and_updates(app) {
        let (_, access, _) = user(&app, "frank").await;
        register(&app, "other", "O", "P", "").await;
        let me = json_of(get(&app, "/me/", Some(&access)).await, StatusCode::OK).await;
        let keys: Vec<&str> = me.as_object().expect("object").keys().map(String::as_str).collect();
        assert_eq!(keys, ["id", "username", "email", "first_name", "last_name", "bio", "avatar", "created_at", "updated_at", "posts_count", "followers_count", "following_count"]);
        let public = json_of(get(&app, "/FRANK/", None).await, StatusCode::OK).await;
        assert!(public.get("email").is_none(), "the e-mail is never shown to others");
        assert_eq!(public["username"], "frank");

        app.clock.advance(std::time::Duration::from_secs(90));
        let update = json!({"bio": "Updated bio", "avatar": "https://example.com/new-avatar.jpg", "email": "frank.new@example.com"});
        let res = app.client.patch(app.url(&format!("{BASE}/me/update/"))).bearer_auth(&access).json(&update).send().await.expect("send");
        let updated = json_of(res, StatusCode::OK).await;
        assert_eq!((&updated["bio"], &updated["avatar"], &updated["email"], &updated["first_name"]),
            (&json!("Updated bio"), &json!("https://example.com/new-avatar.jpg"), &json!("frank.new@example.com"), &json!("First")));
        assert_ne!(updated["updated_at"], me["updated_at"], "updated_at moves");
        // The avatar set here is document 004's profile_pic.
        let res = app.client.get(app.url("/api/user/me/")).header(header::AUTHORIZATION, format!("JWT {access}")).send().await.expect("send");
        assert_eq!(json_of(res, StatusCode::OK).await["profile_pic"], "https://example.com/new-avatar.jpg");
        for bad in [json!({"email": "other@example.com"}), json!({"avatar": "javascript:alert(1)"}), json!({"first_name": "x".repeat(151)})] {
            let res = app.client.patch(app.url(&format!("{BASE}/me/update/"))).bearer_auth(&access).json(&bad).send().await.expect("send");
            assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{bad}");
        }
        let stats = json_of(get(&app, "/me/stats/", Some(&access)).await, StatusCode::OK).await;
        assert_eq!(stats, json!({"posts_count": 0, "followers_count": 0, "following_count": 0, "likes_received": 0, "comments_received": 0}));
    }
}

both_backends! {
    async fn follows_answer_as_documented_and_refuse_what_makes_no_sense(app) {
        let (alice, a_token, _) = user(&app, "alice").await;
        let (bob, b_token, _) = user(&app, "bob").await;
        let (carol, _, _) = user(&app, "carol").await;
        let res = follow(&app, &a_token, json!(bob)).await;
        let f = json_of(res, StatusCode::CREATED).await;
        assert_eq!((&f["follower"], &f["following"], &f["follower_username"], &f["following_username"]), (&json!(alice), &json!(bob), &json!("alice"), &json!("bob")));
        assert!(f["id"].is_i64() && f["created_at"].is_string());
        assert_eq!(json_of(follow(&app, &a_token, json!(bob)).await, StatusCode::BAD_REQUEST).await, json!({"following": ["You are already following this user."]}));
        assert_eq!(json_of(follow(&app, &a_token, json!(alice)).await, StatusCode::BAD_REQUEST).await, json!({"following": ["You cannot follow yourself."]}));
        assert_eq!(json_of(follow(&app, &a_token, json!(999_999)).await, StatusCode::BAD_REQUEST).await, json!({"following": ["Invalid pk \"999999\" - object does not exist."]}));
        assert_eq!(json_of(follow(&app, &a_token, json!("abc")).await, StatusCode::BAD_REQUEST).await, json!({"following": ["A valid integer is required."]}));
        assert_eq!(follow(&app, &a_token, json!(null)).await.status(), StatusCode::BAD_REQUEST);
        json_of(follow(&app, &a_token, json!(carol.to_string())).await, StatusCode::CREATED).await;
        json_of(follow(&app, &b_token, json!(carol)).await, StatusCode::CREATED).await;

        let mine = json_of(get(&app, "/following/", Some(&a_token)).await, StatusCode::OK).await;
        assert_eq!(mine["count"], 2);
        assert_eq!(mine["results"][0]["following_username"], "carol", "newest first");
        let followers = json_of(get(&app, "/carol/followers/", Some(&a_token)).await, StatusCode::OK).await;
        assert_eq!(followers["count"], 2);
        let seen: Vec<(Value, Value)> = followers["results"].as_array().expect("r").iter().map(|c| (c["username"].clone(), c["is_following"].clone())).collect();
        assert_eq!(seen, vec![(json!("bob"), json!(true)), (json!("alice"), json!(false))], "relative to the caller (alice follows bob)");
        let anonymous = json_of(get(&app, "/carol/followers/", None).await, StatusCode::OK).await;
        assert!(anonymous["results"].as_array().expect("r").iter().all(|c| c["is_following"] == json!(false)));
        let following = json_of(get(&app, "/alice/following/?batch_size=1&batch_number=1", None).await, StatusCode::OK).await;
        assert_eq!((following["count"].clone(), following["results"].as_array().map(Vec::len)), (json!(2), Some(1)), "paged, count of all");
        assert_eq!(json_of(get(&app, "/carol/", None).await, StatusCode::OK).await["followers_count"], 2);

        let res = app.client.delete(app.url(&format!("{BASE}/bob/unfollow/"))).bearer_auth(&a_token).send().await.expect("send");
        assert_eq!(json_of(res, StatusCode::OK).await, json!({"message": "Stopped following bob"}));
        let res = app.client.delete(app.url(&format!("{BASE}/bob/unfollow/"))).bearer_auth(&a_token).send().await.expect("send");
        assert_eq!(json_of(res, StatusCode::BAD_REQUEST).await, json!({"following": ["You are not following this user."]}));
        let res = app.client.delete(app.url(&format!("{BASE}/nobody/unfollow/"))).bearer_auth(&a_token).send().await.expect("send");
        assert_eq!(res.status(), StatusCode::NOT_FOUND);

        // A deactivated user disappears: from lists, counts, profiles and the directory.
        app.db.execute(&format!("UPDATE users SET is_active = FALSE WHERE id = {bob}")).await;
        assert_eq!(json_of(get(&app, "/carol/", None).await, StatusCode::OK).await["followers_count"], 1);
        assert_eq!(json_of(get(&app, "/carol/followers/", None).await, StatusCode::OK).await["count"], 1);
        assert_eq!(get(&app, "/bob/", None).await.status(), StatusCode::NOT_FOUND);
        let all = json_of(get(&app, "/", None).await, StatusCode::OK).await;
        assert_eq!(all["batch_info"]["total_users"], 2);
        assert!(!usernames(&all).contains(&"bob".to_string()));
    }
}

both_backends! {
    async fn counts_stay_exact_under_concurrent_follows(app) {
        let (target, _, _) = user(&app, "popular").await;
        let mut tokens = Vec::new();
        for i in 0..12 {
            tokens.push(user(&app, &format!("fan{i}")).await.1);
        }
        let follows = tokens.iter().map(|t| follow(&app, t, json!(target)));
        let results = futures_util::future::join_all(follows).await;
        assert!(results.iter().all(|r| r.status() == StatusCode::CREATED));
        // Each fan races a second follow and an unfollow of the same pair.
        let again = tokens.iter().map(|t| follow(&app, t, json!(target)));
        let unfollow = tokens.iter().take(5).map(|t| app.client.delete(app.url(&format!("{BASE}/popular/unfollow/"))).bearer_auth(t).send());
        let (_, _) = futures_util::future::join(futures_util::future::join_all(again), futures_util::future::join_all(unfollow)).await;
        let profile = json_of(get(&app, "/popular/", None).await, StatusCode::OK).await;
        let rows = app.db.count(&format!("SELECT COUNT(*) FROM follows WHERE following_id = {target}")).await;
        assert_eq!(profile["followers_count"].as_i64(), Some(rows), "the count is the rows");
        assert!((7..=12).contains(&rows), "{rows}");
    }
}

both_backends! {
    async fn staff_set_the_counters_of_a_posts_service(app) {
        let (id, token, _) = user(&app, "writer").await;
        let path = format!("/api/staff/users/{id}/counters/");
        let body = json!({"posts_count": 15, "likes_received": 156, "comments_received": 89});
        let res = app.client.patch(app.url(&path)).bearer_auth(&token).json(&body).send().await.expect("send");
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "not staff");
        app.db.execute(&format!("UPDATE users SET is_staff = TRUE WHERE id = {id}")).await;
        app.until_status("/api/staff/users/", Some(&token), StatusCode::OK).await;
        let res = app.client.patch(app.url(&path)).bearer_auth(&token).json(&body).send().await.expect("send");
        assert_eq!(json_of(res, StatusCode::OK).await["data"]["posts_count"], 15);
        let res = app.client.patch(app.url(&path)).bearer_auth(&token).json(&json!({"posts_count": -1})).send().await.expect("send");
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        let stats = json_of(get(&app, "/me/stats/", Some(&token)).await, StatusCode::OK).await;
        assert_eq!(stats, json!({"posts_count": 15, "followers_count": 0, "following_count": 0, "likes_received": 156, "comments_received": 89}));
        assert_eq!(json_of(get(&app, "/writer/", None).await, StatusCode::OK).await["posts_count"], 15);
    }
}

/// 25 users: names and bios chosen so every search rule has a case.
async fn directory_fixture(app: &TestApp) {
    let people = [
        ("ada", "Ada", "Lovelace", "Mathematician and writer"),
        ("grace", "Grace", "Hopper", "Compiler pioneer, Navy admiral"),
        ("linus", "Linus", "Torvalds", "Kernel developer"),
        ("barbara", "Barbara", "Liskov", "Developer of CLU; substitution"),
        ("ken", "Ken", "Thompson", "Unix and Go developer"),
        ("pct", "Percent", "Sign", "Discount: 100% off_today"),
        ("under", "Under", "Score", "snake_case fan"),
        ("back", "Back", "Slash", "paths like C:\\Users"),
    ];
    for (u, f, l, b) in people {
        register(app, u, f, l, b).await;
    }
    for i in 0..17 {
        register(app, &format!("user{i:02}"), "Anon", &format!("Member{i:02}"), "Just here").await;
    }
}

both_backends! {
    async fn the_directory_searches_filters_orders_and_batches(app) {
        directory_fixture(&app).await;
        let all = dir(&app, "").await;
        assert_eq!(all["message"], "Users retrieved successfully");
        assert_eq!(all["batch_info"], json!({"current_batch": 0, "batch_size": 10, "total_users": 25, "total_batches": 3, "users_in_current_batch": 10}));
        assert_eq!(usernames(&all)[..3], ["ada", "back", "barbara"], "by username by default");
        let card = &all["users"][0];
        let keys: Vec<&str> = card.as_object().expect("card").keys().map(String::as_str).collect();
        assert_eq!(keys, ["id", "username", "first_name", "last_name", "avatar", "is_following"]);

        // search: username, names and bio, case-insensitive substring; never the e-mail
        assert_eq!(usernames(&dir(&app, "search=DEVELOPER").await), ["barbara", "ken", "linus"]);
        assert_eq!(usernames(&dir(&app, "search=ovela").await), ["ada"]);
        assert_eq!(usernames(&dir(&app, "search=example.com").await), Vec::<String>::new(), "e-mails are not searched");
        assert_eq!(dir(&app, "search=member").await["batch_info"]["total_users"], 17);
        // %, _ and \ are literal
        assert_eq!(usernames(&dir(&app, "search=100%25").await), ["pct"]);
        assert_eq!(usernames(&dir(&app, "search=e_c").await), ["under"]);
        assert_eq!(usernames(&dir(&app, "search=%25").await), Vec::<String>::new(), "a lone % is a character, not a wildcard");
        assert_eq!(usernames(&dir(&app, "search=C%3A%5CU").await), ["back"]);
        // under three characters: the start of a username or name
        assert_eq!(usernames(&dir(&app, "search=gr").await), ["grace"]);
        assert_eq!(usernames(&dir(&app, "search=Ho").await), ["grace"]);
        // filters
        assert_eq!(usernames(&dir(&app, "first_name=ARB").await), ["barbara"]);
        assert_eq!(usernames(&dir(&app, "last_name=ompso").await), ["ken"]);
        assert_eq!(usernames(&dir(&app, "first_name=anon&last_name=member1&batch_size=100").await).len(), 7);
        // ordering, each way; unknown values are ignored
        assert_eq!(usernames(&dir(&app, "ordering=-username").await)[0], "user16");
        assert_eq!(usernames(&dir(&app, "ordering=last_name").await)[0], "grace", "Hopper comes first");
        assert_eq!(usernames(&dir(&app, "ordering=-created_at").await)[0], "user16", "newest first");
        assert_eq!(usernames(&dir(&app, "ordering=nonsense").await), usernames(&all), "ignored");
    }
}

both_backends! {
    async fn directory_batches_and_hostile_parameters(app) {
        directory_fixture(&app).await;
        let every: Vec<String> = usernames(&dir(&app, "batch_size=100").await);
        assert_eq!(every.len(), 25);
        // Each batch is its slice of the whole order, the far ones (read from the other end) too.
        for ordering in ["username", "-username", "created_at", "-created_at", "first_name", "-first_name", "last_name", "-last_name"] {
            let whole = usernames(&dir(&app, &format!("ordering={ordering}&batch_size=100")).await);
            let mut joined = Vec::new();
            for n in 0..4 {
                let p = dir(&app, &format!("ordering={ordering}&batch_size=7&batch_number={n}")).await;
                assert_eq!(p["batch_info"]["users_in_current_batch"].as_u64(), Some(usernames(&p).len() as u64));
                joined.extend(usernames(&p));
            }
            assert_eq!(joined, whole, "{ordering}");
        }
        let past = dir(&app, "batch_number=99").await;
        assert_eq!((past["users"].clone(), past["batch_info"]["users_in_current_batch"].clone()), (json!([]), json!(0)));
        assert_eq!(dir(&app, "batch_size=1000").await["batch_info"]["batch_size"], 100, "capped");
        for bad in ["batch_size=0", "batch_size=-5", "batch_size=abc", "batch_number=-1", "batch_number=x", "batch_size=99999999999999999999999"] {
            let res = get(&app, &format!("/?{bad}"), None).await;
            assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{bad}");
        }
        let hostile = [
            "ordering=username;DROP TABLE users",
            "ordering=password_hash",
            "ordering=(SELECT 1)",
            "search=' OR 1=1 --",
            "search=%22) OR 1=1 --",
            "search=*",
            "search=NEAR(a b)",
            "first_name=%22%22%22",
        ];
        for q in hostile {
            let res = get(&app, &format!("/?{q}"), None).await;
            assert_eq!(res.status(), StatusCode::OK, "{q}");
        }
        let long = "x".repeat(5000);
        assert_eq!(get(&app, &format!("/?search={long}"), None).await.status(), StatusCode::OK);
        assert_eq!(app.db.count("SELECT COUNT(*) FROM users").await, 25, "nothing dropped");
    }
}

both_backends! {
    async fn the_directory_never_serves_a_cached_page_after_a_change(app) {
        let (_, alice, _) = user(&app, "alice").await;
        let (bob, _, _) = user(&app, "bob").await;
        let (_, carol, _) = user(&app, "carol").await;
        let search = |q: &'static str| dir(&app, q);
        // Read twice (the second may come from the cache), then change what it shows.
        for _ in 0..2 {
            assert_eq!(search("search=first").await["batch_info"]["total_users"], 3);
        }
        let update = json!({"first_name": "Zed"});
        let res = app.client.patch(app.url(&format!("{BASE}/me/update/"))).bearer_auth(&carol).json(&update).send().await.expect("send");
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(search("search=first").await["batch_info"]["total_users"], 2, "a new name is seen at once");
        assert_eq!(usernames(&search("search=zed").await), ["carol"]);
        let page = search("ordering=first_name").await;
        assert_eq!(page["users"][2]["first_name"], "Zed");
        // A registration and a bio change move the count too.
        register(&app, "dave", "First", "Last", "rustacean").await;
        assert_eq!(search("search=first").await["batch_info"]["total_users"], 3);
        assert_eq!(search("search=rustacean").await["batch_info"]["total_users"], 1);
        let res = app.client.patch(app.url(&format!("{BASE}/me/update/"))).bearer_auth(&alice).json(&json!({"bio": "rustacean too"})).send().await.expect("send");
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(search("search=rustacean").await["batch_info"]["total_users"], 2);
        // `is_following` is the viewer's own, never another's cached answer.
        assert_eq!(follow(&app, &alice, json!(bob)).await.status(), StatusCode::CREATED);
        let seen_by = |token: String| {
            let app = &app;
            async move {
                let page = json_of(get(app, "/?search=bob", Some(&token)).await, StatusCode::OK).await;
                page["users"][0]["is_following"].clone()
            }
        };
        assert_eq!(seen_by(alice.clone()).await, true);
        assert_eq!(seen_by(carol.clone()).await, false);
        assert_eq!(search("search=bob").await["users"][0]["is_following"], false);
    }
}

/// Two nodes on one PostgreSQL database: a change made through one is seen at once by the
/// other's directory, whatever it has cached.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_cached_on_one_node_sees_a_change_made_on_another() {
    let Some(db) = TestDb::new(Backend::Postgres).await else { return };
    let nodes = crate::cli::Nodes::start(&db.url, 2, &[]);
    let (a, b) = (&nodes.urls[0], &nodes.urls[1]);
    let client = reqwest::Client::new();
    let total = |url: String| {
        let client = client.clone();
        async move {
            let v: Value = client
                .get(format!("{url}{BASE}/?search=wanderer"))
                .send()
                .await
                .expect("send")
                .json()
                .await
                .expect("json");
            v["batch_info"]["total_users"].as_u64().expect("total")
        }
    };
    let reg = |url: String, name: &'static str| {
        let body = json!({"username": name, "email": format!("{name}@example.com"), "password": PASSWORD,
            "password_confirm": PASSWORD, "bio": "a wanderer"});
        let client = client.clone();
        async move { client.post(format!("{url}{BASE}/register/")).json(&body).send().await.expect("send").status() }
    };
    assert_eq!(reg(a.clone(), "one").await, StatusCode::CREATED);
    assert_eq!(total(a.clone()).await, 1);
    assert_eq!(total(a.clone()).await, 1);
    assert_eq!(reg(b.clone(), "two").await, StatusCode::CREATED);
    assert_eq!(total(a.clone()).await, 2, "node A sees node B's registration at once");
}
