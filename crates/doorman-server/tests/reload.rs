//! Reloads: a broken file never replaces a working one; a good one takes effect without a restart,
//! through the admin API and through the file watcher.

use std::time::Duration;

use doorman_test_support::client::*;
use doorman_test_support::gateway::*;

async fn admin_post(env: &Env, path: &str, token: Option<&str>) -> (u16, String) {
    let mut b = http::Request::post(format!(
        "http://{}{}",
        env.gateway.admin_addr.unwrap(),
        path
    ));
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    let (resp, body) = send(
        b.body(http_body_util::Full::new(bytes::Bytes::new()))
            .unwrap(),
    )
    .await;
    (
        resp.status().as_u16(),
        String::from_utf8_lossy(&body).into_owned(),
    )
}

fn token(env: &Env) -> String {
    std::fs::read_to_string(env.data_dir().join("admin.token"))
        .unwrap()
        .trim()
        .to_string()
}

#[tokio::test]
async fn broken_reload_keeps_the_running_policy_and_a_good_one_applies() {
    let env = start("").await;
    let good = std::fs::read_to_string(&env.config_path).unwrap();
    let (resp, _) = get(&env.url("/healthz"), &[]).await;
    assert_eq!(resp.status(), 200);

    // Admin API needs the token.
    let (status, _) = admin_post(&env, "/admin/reload", None).await;
    assert_eq!(status, 401);
    let (status, _) = admin_post(&env, "/admin/reload", Some("wrong-token-wrong-token")).await;
    assert_eq!(status, 401);

    // A broken file: rejected with file:line:col, old policy still serves.
    std::fs::write(
        &env.config_path,
        format!("{good}\n[[routes]]\nname = \"health\"\npath_prefx = \"/healthz\"\n"),
    )
    .unwrap();
    let (status, body) = admin_post(&env, "/admin/reload", Some(&token(&env))).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("doorman.toml:"), "{body}");
    assert!(body.contains("path_prefx"), "{body}");
    let (resp, _) = get(&env.url("/healthz"), &[]).await;
    assert_eq!(resp.status(), 200);

    // A good file closing /healthz: applied.
    let closed = format!(
        "{good}\n[[routes]]\nname = \"health\"\npath_prefix = \"/healthz\"\nupstream = \"chat\"\naccess = \"closed\"\nreason = \"Closed for the test.\"\n"
    );
    std::fs::write(&env.config_path, closed).unwrap();
    let (status, body) = admin_post(&env, "/admin/reload", Some(&token(&env))).await;
    assert_eq!(status, 200, "{body}");
    let (resp, _) = get(&env.url("/healthz"), &[]).await;
    assert_eq!(resp.status(), 403);
    env.stop().await;
}

#[tokio::test]
async fn the_file_watcher_reloads_on_save() {
    let env = start("").await;
    let good = std::fs::read_to_string(&env.config_path).unwrap();
    std::fs::write(
        &env.config_path,
        format!("{good}\n[[routes]]\nname = \"gone\"\npath_prefix = \"/gone\"\nupstream = \"chat\"\naccess = \"closed\"\nreason = \"Gone.\"\n"),
    )
    .unwrap();
    let mut status = 0;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (resp, _) = get(&env.url("/gone"), &[]).await;
        status = resp.status().as_u16();
        if status == 403 {
            break;
        }
    }
    assert_eq!(status, 403, "the watcher did not pick up the change");
    env.stop().await;
}

#[tokio::test]
async fn metrics_need_the_token_and_count_requests_and_decisions() {
    let env = start("[[routes]]\nname = \"shut\"\npath_prefix = \"/shut\"\nupstream = \"chat\"\naccess = \"closed\"\nreason = \"x\"\n").await;
    let _ = get(&env.url("/plugins/weather?city=a"), &[]).await;
    let _ = get(&env.url("/shut"), &[]).await;
    let url = format!("http://{}/metrics", env.gateway.admin_addr.unwrap());
    let (resp, _) = get(&url, &[]).await;
    assert_eq!(resp.status(), 401);
    let auth = format!("Bearer {}", token(&env));
    let (resp, body) = get(&url, &[("authorization", auth.as_str())]).await;
    assert_eq!(resp.status(), 200);
    let text = String::from_utf8_lossy(&body);
    assert!(
        text.contains("doorman_requests_total{route=\"chat\",status=\"200\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("doorman_decisions_total{code=\"ROUTE_CLOSED\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("doorman_upstream_response_seconds_bucket"),
        "{text}"
    );
    assert!(text.contains("doorman_event_log_dropped"), "{text}");
    // The token file is private.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(env.data_dir().join("admin.token"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o077,
            0,
            "admin.token is readable by others: {mode:o}"
        );
    }
    env.stop().await;
}
