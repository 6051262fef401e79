//! Document 004: `/api/user/` with `Authorization: JWT`, DRF's error shapes, `full_name`,
//! profile pictures (real images of each format, and hostile files), and a password
//! change that ends the user's other sessions on every node.

use std::io::Cursor;

use base64::{Engine, engine::general_purpose::STANDARD};
use image::{DynamicImage, ImageFormat, RgbaImage};
use reqwest::{
    Response, StatusCode, header,
    multipart::{Form, Part},
};
use serde_json::{Value, json};

use crate::{both_backends, helpers::*};

/// A real picture in `format`, `width` × `height`, with varied pixels.
fn picture(format: ImageFormat, width: u32, height: u32) -> Vec<u8> {
    let pixels = RgbaImage::from_fn(width, height, |x, y| image::Rgba([(x % 251) as u8, (y % 241) as u8, 90, 255]));
    let image = match format {
        ImageFormat::Jpeg => DynamicImage::ImageRgb8(DynamicImage::ImageRgba8(pixels).to_rgb8()),
        _ => DynamicImage::ImageRgba8(pixels),
    };
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, format).expect("encode");
    out.into_inner()
}

/// CRC-32 as PNG chunks carry it (the test forges a header, so it must be valid).
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// A small PNG whose header claims 50,000 × 50,000 pixels (10 GB decoded).
fn png_bomb() -> Vec<u8> {
    let mut png = picture(ImageFormat::Png, 1, 1);
    // Signature (8), then IHDR: length (4), type (4), width (4), height (4), …, CRC.
    png[16..20].copy_from_slice(&50_000u32.to_be_bytes());
    png[20..24].copy_from_slice(&50_000u32.to_be_bytes());
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    png
}

/// A small JPEG whose frame header claims 50,000 × 50,000 pixels.
fn jpeg_bomb() -> Vec<u8> {
    let mut jpeg = picture(ImageFormat::Jpeg, 8, 8);
    let sof = jpeg.windows(2).position(|w| w == [0xff, 0xc0]).expect("baseline frame header");
    // Marker (2), length (2), precision (1), height (2), width (2).
    jpeg[sof + 5..sof + 7].copy_from_slice(&50_000u16.to_be_bytes());
    jpeg[sof + 7..sof + 9].copy_from_slice(&50_000u16.to_be_bytes());
    jpeg
}

/// A JPEG carrying an EXIF segment with a GPS position.
fn jpeg_with_gps() -> Vec<u8> {
    let jpeg = picture(ImageFormat::Jpeg, 32, 32);
    let mut payload = b"Exif\0\0MM\0*\0\0\0\x08GPSLatitude 48.8584 N GPSLongitude 2.2945 E".to_vec();
    payload.resize(64, 0);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xff, 0xe1]);
    out.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&payload);
    out.extend_from_slice(&jpeg[2..]);
    out
}

const SCRIPT: &[u8] = b"<html><script>alert(document.cookie)</script></html>";

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

async fn register_json(app: &TestApp, body: Value) -> Response {
    app.post_json("/api/user/register/", &body, None).await
}

async fn register_with_picture(app: &TestApp, email: &str, bytes: Vec<u8>, file_name: &str) -> Response {
    let form = Form::new()
        .text("email", email.to_string())
        .text("full_name", "Ada Lovelace")
        .text("password", PASSWORD)
        .part("profile_pic", Part::bytes(bytes).file_name(file_name.to_string()));
    app.client.post(app.url("/api/user/register/")).multipart(form).send().await.expect("send")
}

/// `(access, refresh)` from document 004's login.
async fn login(app: &TestApp, email: &str, password: &str) -> (String, String) {
    let res = app.post_json("/api/user/login/", &json!({"email": email, "password": password}), None).await;
    let body = json_of(res, StatusCode::OK).await;
    let t = &body["tokens"];
    (t["access"].as_str().expect("access").into(), t["refresh"].as_str().expect("refresh").into())
}

async fn me(app: &TestApp, access: &str) -> Response {
    app.client
        .get(app.url("/api/user/me/"))
        .header(header::AUTHORIZATION, format!("JWT {access}"))
        .send()
        .await
        .expect("send")
}

fn stored_pictures(app: &TestApp) -> usize {
    std::fs::read_dir(app.data_dir.join("files").join("pictures")).map_or(0, |d| d.count())
}

/// The picture a `profile_pic` URL serves: its content type and bytes.
async fn fetch_picture(app: &TestApp, url: &str) -> (String, Vec<u8>) {
    let res = app.client.get(url).send().await.expect("send");
    assert_eq!(res.status(), StatusCode::OK, "{url}");
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert!(res.headers()[header::CACHE_CONTROL].to_str().expect("ascii").contains("max-age=31536000"));
    let content_type = res.headers()[header::CONTENT_TYPE].to_str().expect("ascii").to_string();
    (content_type, res.bytes().await.expect("body").to_vec())
}

both_backends! {
    async fn register_login_me_and_refresh_answer_as_documented(app) {
        let res = register_json(&app, json!({"email": "ada@example.com", "full_name": "Ada Lovelace", "password": PASSWORD, "profile_pic": null})).await;
        let user = json_of(res, StatusCode::CREATED).await;
        let keys: Vec<&str> = user.as_object().expect("object").keys().map(String::as_str).collect();
        assert_eq!(keys, ["id", "full_name", "email", "profile_pic"]);
        assert!(user["id"].is_string(), "id is a string: {user}");
        assert_eq!((&user["full_name"], &user["email"], &user["profile_pic"]), (&json!("Ada Lovelace"), &json!("ada@example.com"), &Value::Null));

        let res = app.post_json("/api/user/login/", &json!({"email": "ada@example.com", "password": PASSWORD}), None).await;
        let body = json_of(res, StatusCode::OK).await;
        assert_eq!(body["data"], user, "login shows the same user");
        let access = body["tokens"]["access"].as_str().expect("access").to_string();
        let refresh = body["tokens"]["refresh"].as_str().expect("refresh").to_string();

        assert_eq!(json_of(me(&app, &access).await, StatusCode::OK).await, user);
        assert_eq!(json_of(app.get("/api/user/me/", Some(&access)).await, StatusCode::OK).await, user, "Bearer works too");

        let res = app.post_json("/api/user/refresh/", &json!({"refresh": refresh}), None).await;
        let fresh = json_of(res, StatusCode::OK).await;
        assert!(fresh["access"].is_string());
        assert_eq!(me(&app, fresh["access"].as_str().expect("access")).await.status(), StatusCode::OK);
    }
}

both_backends! {
    async fn errors_use_drf_and_simplejwt_shapes(app) {
        app.register("err@example.com").await;
        let res = app.get("/api/user/me/", None).await;
        assert_eq!(json_of(res, StatusCode::UNAUTHORIZED).await, json!({"detail": "Authentication credentials were not provided.", "code": "token_not_valid"}));
        let res = me(&app, "not.a.token").await;
        let body = json_of(res, StatusCode::UNAUTHORIZED).await;
        assert_eq!(body["code"], "token_not_valid");
        assert!(body["detail"].is_string());

        let res = app.get("/api/user/refresh/", None).await;
        assert_eq!(json_of(res, StatusCode::METHOD_NOT_ALLOWED).await, json!({"detail": "Method \"GET\" not allowed."}));
        let res = app.post_json("/api/user/refresh/", &json!({}), None).await;
        assert_eq!(json_of(res, StatusCode::BAD_REQUEST).await, json!({"refresh": ["This field is required."]}));
        let res = app.post_json("/api/user/refresh/", &json!({"refresh": "garbage"}), None).await;
        assert_eq!(json_of(res, StatusCode::UNAUTHORIZED).await, json!({"detail": "Token is invalid or expired", "code": "token_not_valid"}));

        let res = app.post_json("/api/user/login/", &json!({}), None).await;
        assert_eq!(json_of(res, StatusCode::BAD_REQUEST).await, json!({"email": ["This field is required."], "password": ["This field is required."]}));
        // A wrong password and an unknown account get the same answer.
        let wrong = json_of(app.post_json("/api/user/login/", &json!({"email": "err@example.com", "password": "wrong-password"}), None).await, StatusCode::BAD_REQUEST).await;
        let unknown = json_of(app.post_json("/api/user/login/", &json!({"email": "nobody@example.com", "password": "wrong-password"}), None).await, StatusCode::BAD_REQUEST).await;
        assert_eq!(wrong, json!({"non_field_errors": ["Unable to log in with provided credentials."]}));
        assert_eq!(wrong, unknown);

        let res = register_json(&app, json!({"email": "nope", "password": "123", "profile_pic": "bm90IGFuIGltYWdl"})).await;
        let body = json_of(res, StatusCode::BAD_REQUEST).await;
        assert_eq!(body["email"], json!(["Enter a valid email address."]));
        assert_eq!(body["password"].as_array().map(Vec::len), Some(3), "every password rule: {body}");
        assert_eq!(body["profile_pic"], json!(["Upload a valid image. The file you uploaded was either not an image or a corrupted image."]));
        let res = register_json(&app, json!({"email": "ERR@example.com", "password": PASSWORD})).await;
        assert_eq!(json_of(res, StatusCode::BAD_REQUEST).await, json!({"email": ["user with this email already exists."]}));
        let res = app.get("/api/user/nothing/", None).await;
        assert_eq!(json_of(res, StatusCode::NOT_FOUND).await, json!({"detail": "Not found."}));
    }
}

both_backends! {
    async fn full_name_is_first_and_last_name_on_every_surface(app) {
        let res = register_json(&app, json!({"email": "ada@example.com", "full_name": "  Ada King Lovelace ", "password": PASSWORD})).await;
        assert_eq!(json_of(res, StatusCode::CREATED).await["full_name"], "Ada King Lovelace");
        // Registered here, signed in through document 002: split on the first space.
        let res = app.login("ada@example.com", PASSWORD).await;
        let user = &json_of(res, StatusCode::OK).await["data"]["user"];
        assert_eq!((&user["first_name"], &user["last_name"]), (&json!("Ada"), &json!("King Lovelace")));
        // Registered through document 002 (John Doe), read here.
        app.register("john@example.com").await;
        let (access, _) = login(&app, "john@example.com", PASSWORD).await;
        assert_eq!(json_of(me(&app, &access).await, StatusCode::OK).await["full_name"], "John Doe");
        // One word is a first name; a name part over 150 characters is refused on full_name.
        let res = app.client.put(app.url("/api/user/update/")).bearer_auth(&access).json(&json!({"full_name": "Prince"})).send().await.expect("send");
        assert_eq!(json_of(res, StatusCode::OK).await["full_name"], "Prince");
        let profile = json_of(app.get("/api/users/profile/", Some(&access)).await, StatusCode::OK).await;
        assert_eq!((&profile["data"]["first_name"], &profile["data"]["last_name"]), (&json!("Prince"), &json!("")));
        let res = app.client.put(app.url("/api/user/update/")).bearer_auth(&access).json(&json!({"full_name": "x".repeat(151)})).send().await.expect("send");
        assert_eq!(json_of(res, StatusCode::BAD_REQUEST).await, json!({"full_name": ["Ensure this field has no more than 150 characters."]}));
    }
}

both_backends! {
    async fn forms_and_multipart_are_read_as_drf_reads_them(app) {
        let form = [("email", "form@example.com"), ("full_name", "Form User"), ("password", PASSWORD)];
        let res = app.client.post(app.url("/api/user/register/")).form(&form).send().await.expect("send");
        assert_eq!(json_of(res, StatusCode::CREATED).await["full_name"], "Form User");
        let res = app.client.post(app.url("/api/user/login/")).form(&[("email", "form@example.com"), ("password", PASSWORD)]).send().await.expect("send");
        let body = json_of(res, StatusCode::OK).await;
        let refresh = body["tokens"]["refresh"].as_str().expect("refresh").to_string();
        let res = app.client.post(app.url("/api/user/refresh/")).multipart(Form::new().text("refresh", refresh)).send().await.expect("send");
        assert!(json_of(res, StatusCode::OK).await["access"].is_string());
        let res = app.client.post(app.url("/api/user/login/")).header(header::CONTENT_TYPE, "text/plain").body("x").send().await.expect("send");
        assert_eq!(json_of(res, StatusCode::UNSUPPORTED_MEDIA_TYPE).await, json!({"detail": "Unsupported media type \"text/plain\" in request."}));
    }
}

both_backends! {
    async fn pictures_of_every_format_are_kept_re_encoded_and_served(app) {
        let cases = [
            (ImageFormat::Png, "a.png", "image/png"),
            (ImageFormat::Jpeg, "b.jpg", "image/jpeg"),
            (ImageFormat::WebP, "c.webp", "image/png"),
            (ImageFormat::Gif, "d.gif", "image/png"),
        ];
        for (i, (format, file_name, served_as)) in cases.into_iter().enumerate() {
            let email = format!("pic{i}@example.com");
            let res = register_with_picture(&app, &email, picture(format, 64, 48), file_name).await;
            let user = json_of(res, StatusCode::CREATED).await;
            let url = user["profile_pic"].as_str().expect("a picture URL").to_string();
            assert!(url.starts_with(&format!("{}/api/user/media/", app.address)), "absolute, from the public URL: {url}");
            let (content_type, bytes) = fetch_picture(&app, &url).await;
            assert_eq!(content_type, served_as, "{format:?}");
            let kept = image::load_from_memory(&bytes).expect("a picture");
            assert_eq!((kept.width(), kept.height()), (64, 48), "{format:?}");
        }
        // A large picture is scaled to 1024 pixels on its longest edge.
        let res = register_with_picture(&app, "big@example.com", picture(ImageFormat::Png, 2048, 1024), "big.png").await;
        let url = json_of(res, StatusCode::CREATED).await["profile_pic"].as_str().expect("url").to_string();
        let kept = image::load_from_memory(&fetch_picture(&app, &url).await.1).expect("a picture");
        assert_eq!((kept.width(), kept.height()), (1024, 512));
        // Base64 in JSON, bare or as a data: URL.
        let png = STANDARD.encode(picture(ImageFormat::Png, 10, 10));
        for (i, data) in [png.clone(), format!("data:image/png;base64,{png}")].into_iter().enumerate() {
            let res = register_json(&app, json!({"email": format!("b64-{i}@example.com"), "password": PASSWORD, "profile_pic": data})).await;
            assert!(json_of(res, StatusCode::CREATED).await["profile_pic"].is_string());
        }
    }
}

both_backends! {
    async fn hostile_files_are_refused_or_defused(app) {
        let too_large = "Ensure this image is at most 5242880 bytes.";
        let not_an_image = "Upload a valid image. The file you uploaded was either not an image or a corrupted image.";
        let too_wide = "Ensure this image is at most 8192 × 8192 pixels.";
        let mut truncated = picture(ImageFormat::Png, 200, 200);
        truncated.truncate(truncated.len() / 2);
        let mut gif_bomb = picture(ImageFormat::Gif, 1, 1);
        gif_bomb[6..8].copy_from_slice(&50_000u16.to_le_bytes());
        gif_bomb[8..10].copy_from_slice(&50_000u16.to_le_bytes());
        let refused: Vec<(&str, Vec<u8>, &str, &str)> = vec![
            ("PNG decompression bomb", png_bomb(), "bomb.png", too_wide),
            ("JPEG decompression bomb", jpeg_bomb(), "bomb.jpg", too_wide),
            ("GIF decompression bomb", gif_bomb, "bomb.gif", too_wide),
            ("truncated PNG", truncated, "half.png", not_an_image),
            ("SVG", b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>".to_vec(), "x.svg", not_an_image),
            ("text named .png", b"just some text, not a picture".to_vec(), "photo.png", not_an_image),
            ("HTML named .jpg", SCRIPT.to_vec(), "photo.jpg", not_an_image),
            ("over 5 MiB", vec![0u8; 5 * 1024 * 1024 + 1], "huge.png", too_large),
        ];
        for (i, (case, bytes, file_name, message)) in refused.into_iter().enumerate() {
            let res = register_with_picture(&app, &format!("hostile{i}@example.com"), bytes, file_name).await;
            assert_eq!(json_of(res, StatusCode::BAD_REQUEST).await, json!({"profile_pic": [message]}), "{case}");
        }
        assert_eq!(app.db.count("SELECT COUNT(*) FROM users").await, 0, "no account for a refused registration");
        assert_eq!(stored_pictures(&app), 0, "nothing stored");

        // A PNG with an HTML page after it: kept as its pixels only.
        let mut polyglot = picture(ImageFormat::Png, 16, 16);
        polyglot.extend_from_slice(SCRIPT);
        let res = register_with_picture(&app, "polyglot@example.com", polyglot, "poly.png").await;
        let url = json_of(res, StatusCode::CREATED).await["profile_pic"].as_str().expect("url").to_string();
        let (_, bytes) = fetch_picture(&app, &url).await;
        assert!(!contains(&bytes, b"<script"), "the second payload is gone");
        // A JPEG with a GPS position: kept without it.
        let gps = jpeg_with_gps();
        assert!(image::load_from_memory(&gps).is_ok(), "the fixture is a valid JPEG");
        let res = register_with_picture(&app, "gps@example.com", gps, "holiday.jpg").await;
        let url = json_of(res, StatusCode::CREATED).await["profile_pic"].as_str().expect("url").to_string();
        let (_, bytes) = fetch_picture(&app, &url).await;
        assert!(!contains(&bytes, b"Exif") && !contains(&bytes, b"GPSLatitude"), "metadata is gone");
    }
}

both_backends! {
    async fn media_serves_only_names_userd_generated(app) {
        for name in ["..", "..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd", "a%00.png", "AAAAAAAAAAAAAAAAAAAAAA.png", "AAAAAAAAAAAAAAAAAAAAAA.gif", "x.png"] {
            let res = app.get(&format!("/api/user/media/{name}"), None).await;
            assert_eq!(json_of(res, StatusCode::NOT_FOUND).await, json!({"detail": "Not found."}), "{name}");
        }
        let res = app.get("/api/user/media/../../secret.key", None).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "a normalised path is no route");
    }
}

both_backends! {
    async fn update_replaces_what_is_sent_and_removes_replaced_pictures(app) {
        let res = register_with_picture(&app, "up@example.com", picture(ImageFormat::Png, 20, 20), "a.png").await;
        let first = json_of(res, StatusCode::CREATED).await["profile_pic"].as_str().expect("url").to_string();
        app.register("taken@example.com").await;
        let (access, _) = login(&app, "up@example.com", PASSWORD).await;
        let put = |body: reqwest::RequestBuilder| body.header(header::AUTHORIZATION, format!("JWT {access}"));

        let form = Form::new()
            .text("email", "new@example.com")
            .text("full_name", "New Name")
            .part("profile_pic", Part::bytes(picture(ImageFormat::Jpeg, 30, 30)).file_name("b.jpg"));
        let res = put(app.client.put(app.url("/api/user/update/"))).multipart(form).send().await.expect("send");
        let user = json_of(res, StatusCode::OK).await;
        assert_eq!((&user["email"], &user["full_name"]), (&json!("new@example.com"), &json!("New Name")));
        let second = user["profile_pic"].as_str().expect("url").to_string();
        assert!(second.ends_with(".jpg") && second != first);
        assert_eq!(app.get(first.trim_start_matches(&app.address), None).await.status(), StatusCode::NOT_FOUND, "the old bytes are gone");
        assert_eq!(stored_pictures(&app), 1);

        let res = put(app.client.put(app.url("/api/user/update/"))).json(&json!({"email": "TAKEN@example.com"})).send().await.expect("send");
        assert_eq!(json_of(res, StatusCode::BAD_REQUEST).await, json!({"email": ["user with this email already exists."]}));
        let res = put(app.client.put(app.url("/api/user/update/"))).json(&json!({"profile_pic": null})).send().await.expect("send");
        let user = json_of(res, StatusCode::OK).await;
        assert_eq!((&user["profile_pic"], &user["full_name"]), (&Value::Null, &json!("New Name")), "absent fields stay");
        assert_eq!(stored_pictures(&app), 0, "a deleted picture's bytes are gone");
        // The e-mail changed: the new one logs in, on every surface.
        assert_eq!(app.login("new@example.com", PASSWORD).await.status(), StatusCode::OK);
    }
}

both_backends! {
    async fn a_new_password_ends_every_other_session_but_the_callers(app) {
        app.register("pw@example.com").await;
        let (mine, my_refresh) = login(&app, "pw@example.com", PASSWORD).await;
        let (other, other_refresh) = login(&app, "pw@example.com", PASSWORD).await;
        let res = app.client.put(app.url("/api/user/update/")).header(header::AUTHORIZATION, format!("JWT {mine}"))
            .json(&json!({"password": "short"})).send().await.expect("send");
        let body = json_of(res, StatusCode::BAD_REQUEST).await;
        assert!(body["password"].is_array(), "the registration policy applies: {body}");
        let res = app.client.put(app.url("/api/user/update/")).header(header::AUTHORIZATION, format!("JWT {mine}"))
            .json(&json!({"password": "a-new-long-passphrase"})).send().await.expect("send");
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(me(&app, &mine).await.status(), StatusCode::OK, "the caller's login stays");
        assert_eq!(app.post_json("/api/user/refresh/", &json!({"refresh": my_refresh}), None).await.status(), StatusCode::OK);
        assert_eq!(me(&app, &other).await.status(), StatusCode::UNAUTHORIZED, "another login's access token ends");
        let res = app.post_json("/api/user/refresh/", &json!({"refresh": other_refresh}), None).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "and its refresh token");
        let wrong = app.post_json("/api/user/login/", &json!({"email": "pw@example.com", "password": PASSWORD}), None).await;
        assert_eq!(wrong.status(), StatusCode::BAD_REQUEST, "the old password is gone");
        login(&app, "pw@example.com", "a-new-long-passphrase").await;
    }
}

/// Two userd processes on one PostgreSQL database: a password changed through the first
/// ends the user's other logins on the second at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_change_on_one_process_holds_on_another_at_once() {
    let Some(db) = TestDb::new(Backend::Postgres).await else { return };
    let nodes = crate::cli::Nodes::start(&db.url, 2, &[]);
    let (a_url, b_url) = (&nodes.urls[0], &nodes.urls[1]);
    let client = reqwest::Client::new();
    let post = |url: String, body: Value| client.post(url).json(&body).send();
    let res = post(format!("{a_url}/api/user/register/"), json!({"email": "nodes@example.com", "password": PASSWORD}))
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::CREATED);
    let login_at =
        |url: &str| post(format!("{url}/api/user/login/"), json!({"email": "nodes@example.com", "password": PASSWORD}));
    let on_a: Value = login_at(a_url).await.expect("send").json().await.expect("json");
    let on_b: Value = login_at(b_url).await.expect("send").json().await.expect("json");
    let token = |v: &Value, which: &str| v["tokens"][which].as_str().expect("token").to_string();
    let me_at = |url: &str, access: String| {
        client.get(format!("{url}/api/user/me/")).header(header::AUTHORIZATION, format!("JWT {access}")).send()
    };
    // B has verified (and cached) its login before the change.
    assert_eq!(me_at(b_url, token(&on_b, "access")).await.expect("send").status(), StatusCode::OK);

    let res = client
        .put(format!("{a_url}/api/user/update/"))
        .header(header::AUTHORIZATION, format!("JWT {}", token(&on_a, "access")))
        .json(&json!({"password": "another-long-passphrase"}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::OK);
    // The announcement is delivered before the answer leaves A; allow B a second to apply it.
    let mut refused = false;
    for _ in 0..20 {
        if me_at(b_url, token(&on_b, "access")).await.expect("send").status() == StatusCode::UNAUTHORIZED {
            refused = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(refused, "B refuses the old access token within a second");
    let res =
        post(format!("{b_url}/api/user/refresh/"), json!({"refresh": token(&on_b, "refresh")})).await.expect("send");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "and the old refresh token");
    assert_eq!(
        me_at(b_url, token(&on_a, "access")).await.expect("send").status(),
        StatusCode::OK,
        "the changing login stays, on B too"
    );
}
