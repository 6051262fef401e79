//! Property-based fuzzing (proptest) of what reads hostile bytes: the `Authorization`
//! credential parser, JWT verification, the JSON, form and multipart body readers, and the
//! picture decoder, each alone and, for uploads, through HTTP. Random and mutated inputs must
//! never panic, never be accepted when forged, and always end in a documented refusal.
//!
//! A normal `cargo test` runs a bounded number of cases (about 10 s in all on a debug build);
//! `PROPTEST_CASES=N` runs N cases per property instead (see docs/testing.md). A failing
//! case is shrunk and its seed saved under `proptest-regressions/`, which is replayed first
//! on every later run; what it finds becomes a case in `regressions` below.

use std::{
    io::Cursor,
    sync::{Arc, Mutex},
    time::Duration,
};

use async_trait::async_trait;
use axum::{
    extract::{FromRequest, Request},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use image::{DynamicImage, ImageFormat, RgbaImage};
use proptest::{prelude::*, strategy::ValueTree, test_runner::TestRunner};
use serde_json::{Map, Value, json};
use userd::{
    domain::{
        Error, Invalid, Result,
        clock::SystemClock,
        crypto::{Purpose, Sealer},
        model::{JwtAlg, SessionId, StoredKey, UserId},
        pictures::{PictureLimits, prepare},
        ports::KeyStore,
        sessions::tokens::{TokenSettings, TokenType, Tokens},
    },
    http::{
        auth::{Credential, credential},
        body::{Body, BodyError, FilePart, WithFiles, read_fields},
        problem::{ApiError, Detail},
    },
};

use crate::helpers::*;

/// `PROPTEST_CASES` when set, else `default` cases.
fn config(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    ProptestConfig { cases, ..ProptestConfig::default() }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

/// Byte-level damage: flip, overwrite, insert, cut.
#[derive(Debug, Clone)]
enum Damage {
    Flip(usize, u8),
    Set(usize, u8),
    Insert(usize, u8),
    Truncate(usize),
    Remove(usize, usize),
}

fn damage() -> impl Strategy<Value = Vec<Damage>> {
    let one = prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(i, b)| Damage::Flip(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Damage::Set(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Damage::Insert(i, b)),
        any::<usize>().prop_map(Damage::Truncate),
        (any::<usize>(), 1usize..64).prop_map(|(i, n)| Damage::Remove(i, n)),
    ];
    proptest::collection::vec(one, 1..6)
}

fn apply(original: &[u8], damage: &[Damage]) -> Vec<u8> {
    let mut bytes = original.to_vec();
    for d in damage {
        let len = bytes.len().max(1);
        match *d {
            Damage::Flip(i, b) if !bytes.is_empty() => bytes[i % len] ^= b,
            Damage::Set(i, b) if !bytes.is_empty() => bytes[i % len] = b,
            Damage::Insert(i, b) => bytes.insert(i % (bytes.len() + 1), b),
            Damage::Truncate(i) => bytes.truncate(i % len),
            Damage::Remove(i, n) if !bytes.is_empty() => {
                let start = i % len;
                let end = (start + n).min(bytes.len());
                bytes.drain(start..end);
            }
            _ => {}
        }
    }
    bytes
}

// --- The credential parser -----------------------------------------------------------------

fn check_credential(value: &[u8]) -> std::result::Result<(), TestCaseError> {
    let Ok(value) = HeaderValue::from_bytes(value) else { return Ok(()) };
    let mut headers = HeaderMap::new();
    headers.insert(header::AUTHORIZATION, value);
    match credential(&headers) {
        None => prop_assert!(false, "a header that is there is never read as no credential"),
        Some(Ok(Credential::Jwt(t))) => {
            prop_assert!(!t.is_empty() && t == t.trim() && t.split('.').count() == 3, "{t:?}");
        }
        Some(Ok(Credential::Opaque(t))) => prop_assert!(!t.is_empty() && t == t.trim(), "{t:?}"),
        Some(Err(e)) => prop_assert!(matches!(e, Error::Unauthenticated(_)), "{e:?}"),
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn the_credential_parser_never_panics_on_any_header_bytes(value in proptest::collection::vec(any::<u8>(), 0..300)) {
        check_credential(&value)?;
    }

    #[test]
    fn the_credential_parser_reads_only_trimmed_non_empty_tokens_of_known_schemes(
        scheme in prop_oneof![Just("Bearer".to_string()), Just("bearer".to_string()), Just("JWT".to_string()), Just("jwt".to_string()), Just("Token".to_string()), Just("Basic".to_string()), Just(String::new()), "[A-Za-z]{1,8}"],
        gap in "[ \t]{0,3}",
        token in "[ -~\t]{0,120}",
    ) {
        let value = format!("{scheme}{gap}{token}");
        check_credential(value.as_bytes())?;
        if let Ok(v) = HeaderValue::from_str(&value) {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, v);
            if let Some(Ok(_)) = credential(&headers) {
                let sent = value.trim().split_once(' ').map(|(s, _)| s.to_ascii_lowercase());
                prop_assert!(
                    sent.as_deref().is_some_and(|s| ["bearer", "jwt", "token"].contains(&s)),
                    "only the three schemes are read: {value:?}"
                );
            }
        }
    }
}

// --- JWT verification -----------------------------------------------------------------------

/// Signing keys in memory.
#[derive(Default)]
struct Keys(Mutex<Vec<StoredKey>>);

#[async_trait]
impl KeyStore for Keys {
    async fn signing_keys(&self) -> Result<Vec<StoredKey>> {
        Ok(self.0.lock().expect("lock").clone())
    }
    async fn insert_signing_key(&self, key: &StoredKey) -> Result<()> {
        self.0.lock().expect("lock").push(key.clone());
        Ok(())
    }
}

fn tokens(rt: &tokio::runtime::Runtime, alg: JwtAlg) -> (Tokens, Arc<Keys>) {
    let keys = Arc::new(Keys::default());
    let sealer =
        Arc::new(Sealer::derive(b"a master key for the fuzz tests only", Purpose::SigningKeys).expect("sealer"));
    let settings =
        TokenSettings { alg, access_ttl: Duration::from_secs(3600), refresh_ttl: Duration::from_secs(86_400) };
    let tokens = rt.block_on(Tokens::load(keys.clone(), sealer, settings, Arc::new(SystemClock))).expect("keys");
    (tokens, keys)
}

fn segment(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).expect("json"))
}

/// Tokens an attacker writes by hand from a real one: no signature, `alg: none`, the other
/// algorithm keyed with the public key (key confusion), claims changed without re-signing,
/// the refresh token's claims under the access token's signature.
fn forgeries(real: &str, public_key: &[u8]) -> Vec<(String, &'static str)> {
    let parts: Vec<&str> = real.split('.').collect();
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).expect("b64")).expect("json");
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("b64")).expect("json");
    let mut other_user = claims.clone();
    other_user["user_id"] = json!(2);
    other_user["sub"] = json!("2");
    let mut refresh = claims.clone();
    refresh["token_type"] = json!("refresh");
    let mut none = header.clone();
    none["alg"] = json!("none");
    let mut hs = header.clone();
    hs["alg"] = json!("HS256");
    let hs_input = format!("{}.{}", segment(&hs), parts[1]);
    let hs_sig = {
        use aws_lc_rs::hmac;
        let key = hmac::Key::new(hmac::HMAC_SHA256, public_key);
        URL_SAFE_NO_PAD.encode(hmac::sign(&key, hs_input.as_bytes()).as_ref())
    };
    let mut no_kid = header.clone();
    no_kid.as_object_mut().expect("object").remove("kid");
    let mut foreign_kid = header;
    foreign_kid["kid"] = json!("not-a-key-of-ours");
    vec![
        (format!("{}.{}.", parts[0], parts[1]), "no signature"),
        (format!("{}.{}.", segment(&none), parts[1]), "alg none"),
        (format!("{}.{}.{}", segment(&none), parts[1], parts[2]), "alg none with the old signature"),
        (format!("{hs_input}.{hs_sig}"), "HS256 keyed with the public key"),
        (format!("{}.{}.{}", parts[0], segment(&other_user), parts[2]), "another user's claims"),
        (format!("{}.{}.{}", parts[0], segment(&refresh), parts[2]), "the type changed"),
        (format!("{}.{}.{}", segment(&no_kid), parts[1], parts[2]), "no kid"),
        (format!("{}.{}.{}", segment(&foreign_kid), parts[1], parts[2]), "an unknown kid"),
        (format!("{}.{}.{}.{}", parts[0], parts[1], parts[2], parts[2]), "four segments"),
        (format!("{}.{}", parts[0], parts[1]), "two segments"),
        (real.to_uppercase(), "case changed"),
        (format!(" {real}"), "a leading space"),
    ]
}

#[test]
fn forged_random_and_mutated_tokens_are_never_accepted_and_never_panic() {
    let rt = runtime();
    for alg in [JwtAlg::EdDsa, JwtAlg::Hs256] {
        let (tokens, keys) = tokens(&rt, alg);
        let session = SessionId("fuzz-session".into());
        let real = tokens.issue_access(UserId(1), &session).expect("issue");
        let claims = rt.block_on(tokens.verify(&real, TokenType::Access)).expect("the real token verifies");
        assert_eq!(claims.user(), UserId(1));
        let refresh = tokens.issue_pair(UserId(1), &session).expect("pair").refresh;
        assert!(rt.block_on(tokens.verify(&refresh, TokenType::Access)).is_err(), "{alg:?}: refresh is not access");

        let public = keys.0.lock().expect("lock")[0].public.clone();
        for (forged, why) in forgeries(&real, &public) {
            let verdict = rt.block_on(tokens.verify(&forged, TokenType::Access));
            assert!(verdict.is_err(), "{alg:?}: a forgery was accepted: {why}");
        }

        let mut runner = TestRunner::new(config(1000));
        runner
            .run(&damage(), |d| {
                let mutated = apply(real.as_bytes(), &d);
                if mutated == real.as_bytes() {
                    return Ok(());
                }
                let text = String::from_utf8_lossy(&mutated);
                prop_assert!(rt.block_on(tokens.verify(&text, TokenType::Access)).is_err(), "{alg:?}: {text}");
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{alg:?}: a mutated token: {e}"));
        let mut runner = TestRunner::new(config(1000));
        runner
            .run(&"[A-Za-z0-9_\\-.=+/ ]{0,400}|\\PC{0,200}", |t| {
                prop_assert!(rt.block_on(tokens.verify(&t, TokenType::Access)).is_err(), "{alg:?}: {t}");
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{alg:?}: a random token: {e}"));
    }
}

// --- The body readers -----------------------------------------------------------------------

fn request(content_type: &str, body: Vec<u8>) -> Request {
    let mut req = Request::new(axum::body::Body::from(body));
    *req.method_mut() = Method::POST;
    if let Ok(v) = HeaderValue::from_str(content_type) {
        req.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    req
}

fn check_read(result: std::result::Result<Map<String, Value>, BodyError>) -> std::result::Result<(), TestCaseError> {
    match result {
        Ok(fields) => {
            for (k, v) in &fields {
                prop_assert!(!matches!(v, Value::String(s) if s.contains('\0')), "{k} holds U+0000");
            }
        }
        Err(e) => prop_assert!(
            matches!(
                e.status(),
                StatusCode::BAD_REQUEST | StatusCode::PAYLOAD_TOO_LARGE | StatusCode::UNSUPPORTED_MEDIA_TYPE
            ),
            "{e:?}"
        ),
    }
    Ok(())
}

/// A JSON value of some depth, as a client could send.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| json!(f)),
        "\\PC{0,40}".prop_map(Value::String),
        "[\\x00-\\x1f]{0,4}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z_]{1,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A multipart body of text and file parts, valid until damaged.
fn multipart_body(boundary: &str, parts: &[(String, Option<String>, Vec<u8>)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, file, bytes) in parts {
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"").as_bytes());
        if let Some(file) = file {
            body.extend_from_slice(
                format!("; filename=\"{file}\"\r\nContent-Type: application/octet-stream").as_bytes(),
            );
        }
        body.extend_from_slice(b"\r\n\r\n");
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    body
}

fn parts() -> impl Strategy<Value = Vec<(String, Option<String>, Vec<u8>)>> {
    proptest::collection::vec(
        (
            "[a-z_]{1,10}",
            proptest::option::of("[a-zA-Z0-9 ._\\-]{0,20}"),
            proptest::collection::vec(any::<u8>(), 0..64),
        ),
        0..5,
    )
}

proptest! {
    #![proptest_config(config(1000))]

    #[test]
    fn the_body_reader_never_panics_on_any_bytes_of_any_type(
        content_type in prop_oneof![
            Just("application/json".to_string()), Just("application/x-www-form-urlencoded".to_string()),
            Just("multipart/form-data; boundary=XyZ".to_string()), Just("multipart/form-data".to_string()),
            Just("text/plain".to_string()), Just(String::new()), "[ -~]{0,40}",
        ],
        body in proptest::collection::vec(any::<u8>(), 0..400),
    ) {
        let rt = runtime();
        check_read(rt.block_on(read_fields(request(&content_type, body), &())))?;
    }

    #[test]
    fn the_json_reader_takes_any_json_and_any_damage_to_it(value in json_value(), d in damage(), damaged in any::<bool>()) {
        let rt = runtime();
        let original = serde_json::to_vec(&value).expect("json");
        let bytes = if damaged { apply(&original, &d) } else { original };
        check_read(rt.block_on(read_fields(request("application/json", bytes.clone()), &())))?;
        // The typed reader of a surface answers in its shape, never panics.
        let typed = rt.block_on(Body::<Map<String, Value>, ApiError<Detail>>::from_request(request("application/json", bytes), &()));
        if let Err(e) = typed {
            prop_assert!(e.status().is_client_error(), "{e:?}");
        }
    }

    #[test]
    fn the_form_reader_takes_any_form_and_any_damage_to_it(
        fields in proptest::collection::vec(("\\PC{0,10}", "\\PC{0,20}"), 0..6),
        d in damage(),
    ) {
        let rt = runtime();
        let form: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
        check_read(rt.block_on(read_fields(request("application/x-www-form-urlencoded", form.clone().into_bytes()), &())))?;
        let damaged = apply(form.as_bytes(), &d);
        check_read(rt.block_on(read_fields(request("application/x-www-form-urlencoded", damaged), &())))?;
    }

    #[test]
    fn the_multipart_readers_take_any_parts_and_any_damage_to_them(
        boundary in "[A-Za-z0-9'()+_,\\-./:=?]{1,70}",
        parts in parts(),
        d in damage(),
        damaged in any::<bool>(),
        max_file in 0u64..128,
    ) {
        let rt = runtime();
        let original = multipart_body(&boundary, &parts);
        let bytes = if damaged { apply(&original, &d) } else { original };
        let content_type = format!("multipart/form-data; boundary={boundary}");
        check_read(rt.block_on(read_fields(request(&content_type, bytes.clone()), &())))?;
        match rt.block_on(WithFiles::<Map<String, Value>>::read(request(&content_type, bytes), &(), max_file)) {
            Ok(read) => {
                for part in read.files.values() {
                    if let FilePart::Bytes(b) = part {
                        prop_assert!(b.len() as u64 <= max_file, "a file part over the limit was kept");
                    }
                }
            }
            Err(e) => prop_assert!(matches!(e.status(), StatusCode::BAD_REQUEST | StatusCode::PAYLOAD_TOO_LARGE), "{e:?}"),
        }
    }
}

// --- The picture decoder --------------------------------------------------------------------

/// Small valid pictures of each format userd takes, to damage.
fn seeds() -> Vec<(ImageFormat, Vec<u8>)> {
    let image =
        DynamicImage::ImageRgba8(RgbaImage::from_fn(9, 7, |x, y| image::Rgba([x as u8 * 20, y as u8 * 30, 90, 255])));
    [ImageFormat::Png, ImageFormat::Jpeg, ImageFormat::Gif, ImageFormat::WebP]
        .into_iter()
        .map(|format| {
            let mut bytes = Vec::new();
            let img =
                if format == ImageFormat::Jpeg { DynamicImage::ImageRgb8(image.to_rgb8()) } else { image.clone() };
            img.write_to(&mut Cursor::new(&mut bytes), format).expect("encode a seed");
            (format, bytes)
        })
        .collect()
}

/// Limits as served, but a smaller allocation, so a damaged header claiming a huge picture
/// costs milliseconds rather than a quarter of a gigabyte each case.
fn limits() -> PictureLimits {
    PictureLimits { max_alloc: 16 * 1024 * 1024, ..PictureLimits::default() }
}

fn check_picture(bytes: &[u8]) -> std::result::Result<(), TestCaseError> {
    match prepare(bytes, limits()) {
        Ok(prepared) => {
            // What is kept is a picture userd itself can read back.
            let again = prepare(&prepared.bytes, limits());
            prop_assert!(again.is_ok(), "the re-encoded picture does not decode");
        }
        Err(why) => prop_assert!(
            matches!(why, Invalid::NotAnImage | Invalid::ImageTooLarge { .. } | Invalid::ImageDimensions { .. }),
            "{why:?}"
        ),
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(1000))]

    #[test]
    fn the_picture_decoder_never_panics_on_damaged_pictures(seed in 0usize..4, d in damage()) {
        let seeds = seeds();
        let (_, original) = &seeds[seed % seeds.len()];
        check_picture(&apply(original, &d))?;
    }

    #[test]
    fn the_picture_decoder_never_panics_on_random_bytes(
        magic in prop_oneof![
            Just(b"\x89PNG\r\n\x1a\n".to_vec()), Just(b"\xff\xd8\xff".to_vec()), Just(b"GIF89a".to_vec()),
            Just(b"RIFF\0\0\0\0WEBPVP8 ".to_vec()), Just(Vec::new()),
        ],
        rest in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        let mut bytes = magic;
        bytes.extend(rest);
        check_picture(&bytes)?;
    }
}

// --- Through HTTP ---------------------------------------------------------------------------

/// Damaged pictures through document 004's update and damaged multipart bodies through
/// `/api/files/`: a documented refusal or success, never a 5xx. Few cases: each is a request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_pictures_and_uploads_through_http_get_a_documented_answer() {
    let app = TestApp::spawn_with(Backend::Sqlite, &[]).await.expect("SQLite is always available");
    let (access, _) = app.register_tokens("fuzz@example.com").await;
    let seeds = seeds();
    let mut runner = TestRunner::new(config(24));
    let strategy = (0usize..4, damage(), "[A-Za-z0-9]{1,20}", parts());
    for _ in 0..runner.config().cases {
        let (seed, d, boundary, parts) = strategy.new_tree(&mut runner).expect("a case").current();
        let picture = apply(&seeds[seed].1, &d);
        let form = reqwest::multipart::Form::new().part(
            "profile_pic",
            reqwest::multipart::Part::bytes(picture).file_name("p.png").mime_str("image/png").expect("mime"),
        );
        let res = app
            .client
            .put(app.url("/api/user/update/"))
            .header("authorization", format!("JWT {access}"))
            .multipart(form)
            .send()
            .await
            .expect("send");
        let status = res.status();
        let body = res.text().await.expect("body");
        assert!(
            status == StatusCode::OK || status == StatusCode::BAD_REQUEST,
            "update with a damaged picture: {status} {body}"
        );

        let res = app
            .client
            .post(app.url("/api/files/"))
            .bearer_auth(&access)
            .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
            .body(multipart_body(&boundary, &parts))
            .send()
            .await
            .expect("send");
        let status = res.status();
        assert!(
            [StatusCode::CREATED, StatusCode::BAD_REQUEST].contains(&status),
            "an upload of parts {parts:?}: {status} {}",
            res.text().await.unwrap_or_default()
        );
    }
    // Every stored file is whole and counted; nothing pending is left.
    assert_eq!(app.db.count("SELECT COUNT(*) FROM files WHERE status = 'pending'").await, 0);
}

// --- What the fuzzing found ------------------------------------------------------------------

/// Each input a fuzz run once failed on, with what it must get now.
#[test]
fn regressions() {
    let rt = runtime();
    // JSON nested past serde_json's recursion limit is malformed, not a stack overflow.
    let deep = format!("{{\"a\":{}1{}}}", "[".repeat(100_000), "]".repeat(100_000));
    assert_eq!(
        rt.block_on(read_fields(request("application/json", deep.into_bytes()), &())),
        Err(BodyError::Malformed(userd::http::body::Format::Json))
    );
    // U+0000 in a JSON, form or multipart text field is refused (PostgreSQL cannot keep it).
    for (ct, body) in [
        ("application/json", br#"{"email": "a\u0000b"}"#.to_vec()),
        ("application/x-www-form-urlencoded", b"email=a%00b".to_vec()),
        (
            "multipart/form-data; boundary=B",
            b"--B\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\na\0b\r\n--B--\r\n".to_vec(),
        ),
    ] {
        assert_eq!(rt.block_on(read_fields(request(ct, body), &())), Err(BodyError::NullCharacter), "{ct}");
    }
}
