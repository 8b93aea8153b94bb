//! The web dashboard in a real browser: Debian's chromium driven by Selenium
//! (`tests/dashboard/browser.py`, scripts/test installs chromium, chromium-driver and selenium)
//! against a real `comqtt serve`, with users made by `comqtt dashboard add-user` and MQTT
//! clients from paho-mqtt: a wrong password refused, login, live overview, a connected client
//! found and kicked, a retained message deleted, a message published, the blacklist, a viewer
//! offered no action and refused by the API, a password change, lockout after repeated
//! failures, and every page at a phone's width. Screenshots of each page are kept under
//! `target/dashboard-screenshots/` when it fails. Also, without a browser: the login and
//! session rules over plain HTTP.

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::BrokerProcess;
use common::http::request;
use common::temp_dir::TempDir;

/// Adds a user with `comqtt dashboard add-user`, the password on standard input.
fn add_user(users_file: &str, name: &str, password: &str, role: &str) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_comqtt"))
        .args([
            "dashboard",
            "add-user",
            name,
            "--role",
            role,
            "--users-file",
            users_file,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("comqtt dashboard add-user");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{password}\n").as_bytes())
        .expect("password");
    let out = child.wait_with_output().expect("add-user output");
    assert!(
        out.status.success(),
        "add-user {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A broker with the dashboard and three users; returns it, the API address and the dir.
fn broker(tag: &str) -> (BrokerProcess, String, TempDir) {
    let dir = TempDir::new(&format!("dashboard-{tag}"));
    let users = dir.path("users.json");
    add_user(&users, "admin", "admin-pass-1", "admin");
    add_user(&users, "watcher", "watcher-pass-1", "viewer");
    add_user(&users, "locky", "locky-pass-1", "viewer");
    let secret = dir.file("secret", "a-secret-of-more-than-16-bytes");
    let conf = dir.file(
        "dashboard.yml",
        &format!(
            "dashboard-enable: true\ndashboard:\n  users-file: {users}\n  secret-file: {secret}\n"
        ),
    );
    let (b, http) = BrokerProcess::start_with_http(&["--conf", &conf]);
    (b, http, dir)
}

#[test]
fn the_dashboard_works_in_a_real_browser() {
    let (b, http, _dir) = broker("browser");
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("..")
        .join("dashboard-screenshots");
    let _ = std::fs::remove_dir_all(&shots);
    std::fs::create_dir_all(&shots).expect("screenshot dir");
    let script = format!("{}/tests/dashboard/browser.py", env!("CARGO_MANIFEST_DIR"));
    let port = b.port.to_string();
    let out = common::run_tool(
        "python3",
        &[&script, &http, &port, shots.to_str().unwrap_or_default()],
        Duration::from_secs(240),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "browser.py failed ({}); screenshots in {}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        out.status,
        shots.display()
    );
    eprintln!("{}", stdout.trim());
    let _ = std::fs::remove_dir_all(&shots);
}

/// The cookie a login answered with.
fn session_cookie(r: &common::http::HttpResponse) -> String {
    let set = r.header("set-cookie").expect("a session cookie");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    set.split(';').next().unwrap_or_default().to_string()
}

#[tokio::test]
async fn sessions_stand_for_the_token_only_for_admins_with_their_csrf_header() {
    let (_b, http, _dir) = broker("http");
    let json = [("Content-Type", "application/json")];
    let login = |user: &'static str, password: &'static str| {
        let http = http.clone();
        async move {
            request(
                &http,
                "POST",
                "/dashboard/login",
                &json,
                Some(format!(r#"{{"username":"{user}","password":"{password}"}}"#).as_bytes()),
            )
            .await
        }
    };
    assert_eq!(login("admin", "nope").await.status, 401);
    let r = login("admin", "admin-pass-1").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let cookie = session_cookie(&r);
    let csrf = r.json()["csrf"].as_str().expect("csrf").to_string();
    let ban = "/api/v1/mqtt/blacklist/http-evil";
    // The cookie alone is not enough (a page of another site could send it)...
    let r = request(&http, "POST", ban, &[("Cookie", &cookie)], None).await;
    assert_eq!(r.status, 403, "{}", r.text());
    // ... with its CSRF token it stands for the token (none is configured here).
    let with = [
        ("Cookie", cookie.as_str()),
        ("X-Comqtt-Csrf", csrf.as_str()),
    ];
    let r = request(&http, "POST", ban, &with, None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    // Not for profiles, and not once logged out.
    let r = request(&http, "POST", "/dashboard/logout", &with, None).await;
    assert_eq!(r.status, 200);
    let r = request(&http, "DELETE", ban, &with, None).await;
    assert_eq!(r.status, 403, "a logged-out session: {}", r.text());
    let r = request(&http, "GET", "/dashboard/me", &with, None).await;
    assert_eq!(r.status, 401);

    // A viewer's session, CSRF header and all, changes nothing.
    let r = login("watcher", "watcher-pass-1").await;
    let cookie = session_cookie(&r);
    let csrf = r.json()["csrf"].as_str().expect("csrf").to_string();
    let with = [
        ("Cookie", cookie.as_str()),
        ("X-Comqtt-Csrf", csrf.as_str()),
    ];
    let r = request(&http, "DELETE", ban, &with, None).await;
    assert_eq!(r.status, 403, "{}", r.text());
    // A forged cookie is nobody.
    let forged = format!("{}x", cookie);
    let r = request(&http, "GET", "/dashboard/me", &[("Cookie", &forged)], None).await;
    assert_eq!(r.status, 401);

    // Five failures lock a user for a while, even with the right password then.
    for _ in 0..4 {
        assert_eq!(login("locky", "wrong").await.status, 401);
    }
    assert_eq!(login("locky", "wrong").await.status, 423);
    let r = login("locky", "locky-pass-1").await;
    assert_eq!(r.status, 423, "{}", r.text());
    assert!(r.text().contains("locked"));
}
