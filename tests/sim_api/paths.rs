//! Paths: the trailing slash Smartcar's SDKs use, and Smartcar's JSON error for the rest.

use serde_json::Value;

use super::start;

#[tokio::test]
async fn a_trailing_slash_is_the_same_path_and_unknown_paths_get_smartcars_json_error() {
    let sim = start(1).await;
    let (access, _) = sim.login(&sim.ids(1)).await;
    let id = &sim.ids(1)[0];
    // Smartcar's SDKs ask for the attributes with a trailing slash.
    let attributes = sim
        .call(reqwest::Method::GET, &format!("/vehicles/{id}/"), &access)
        .await;
    assert_eq!(attributes.status(), 200);
    assert!(attributes.headers().contains_key("sc-request-id"));
    let body: Value = attributes.json().await.unwrap();
    assert_eq!(body["id"], id.as_str());
    for (method, path) in [
        (reqwest::Method::GET, format!("/vehicles/{id}/odometer")),
        (reqwest::Method::GET, "/nowhere".to_owned()),
        (reqwest::Method::PUT, format!("/vehicles/{id}/battery")),
    ] {
        let answer = sim.call(method.clone(), &path, &access).await;
        assert_eq!(answer.status(), 404, "{method} {path}");
        assert!(
            answer.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json")
        );
        let body: Value = answer.json().await.unwrap();
        assert_eq!(body["type"], "RESOURCE_NOT_FOUND", "{method} {path}");
        assert_eq!(body["code"], "PATH");
        assert_eq!(body["statusCode"], 404);
        assert!(body["docURL"].is_string() && body["requestId"].is_string());
    }
    let bad_paging = sim
        .call(reqwest::Method::GET, "/vehicles?limit=ten", &access)
        .await;
    assert_eq!(bad_paging.status(), 400);
    let body: Value = bad_paging.json().await.unwrap();
    assert_eq!(body["type"], "VALIDATION");
}
