use wxauth_testkit::each_backend;

/// Every documented operation, routed: none of them may answer "no route".
#[tokio::test]
async fn every_documented_path_is_served_and_documented_with_examples() {
    each_backend(async |app| {
        let doc: serde_json::Value = app
            .get("/api-docs/openapi.json")
            .await
            .json()
            .await
            .unwrap();
        let paths = doc["paths"].as_object().unwrap();
        assert!(paths.len() >= 15, "{} paths", paths.len());
        for (path, ops) in paths {
            for (method, op) in ops.as_object().unwrap() {
                assert!(
                    op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                    "{method} {path} documents its responses"
                );
                let concrete = path
                    .replace("{app}", "mp")
                    .replace("{id}", "00000000-0000-0000-0000-000000000000")
                    .replace("{identityId}", "1")
                    .replace("{loginId}", "mql_x")
                    .replace("{key}", "mp");
                let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                let res = app.request(method.clone(), &concrete, None, None).await;
                let body = res.text().await.unwrap_or_default();
                assert!(
                    !body.contains("no route for"),
                    "{method} {path} is documented but not routed"
                );
            }
        }
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for name in ["ErrorBody", "TokenResponse", "UserDto"] {
            assert!(schemas.contains_key(name), "schema {name}");
            assert!(
                schemas[name].get("example").is_some(),
                "schema {name} has an example"
            );
        }
    })
    .await;
}

/// Every documented path answers the methods it does not serve with a 405 in the envelope and
/// an `Allow` header naming the ones it does.
#[tokio::test]
async fn a_wrong_method_on_any_route_is_a_405_naming_the_right_ones() {
    each_backend(async |app| {
        let doc: serde_json::Value = app
            .get("/api-docs/openapi.json")
            .await
            .json()
            .await
            .unwrap();
        let all = ["GET", "POST", "PUT", "PATCH", "DELETE"];
        for (path, ops) in doc["paths"].as_object().unwrap() {
            let mut served: Vec<String> = ops
                .as_object()
                .unwrap()
                .keys()
                .map(|m| m.to_uppercase())
                .collect();
            served.sort();
            let concrete = path
                .replace("{app}", "mp")
                .replace("{id}", "00000000-0000-0000-0000-000000000000")
                .replace("{identityId}", "1")
                .replace("{loginId}", "mql_x")
                .replace("{key}", "mp");
            for method in all.iter().filter(|m| !served.iter().any(|s| s == *m)) {
                let res = app
                    .request(method.parse().unwrap(), &concrete, None, None)
                    .await;
                let allow = res
                    .headers()
                    .get("allow")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let body = wxauth_testkit::expect_error(res, 405, "METHOD_NOT_ALLOWED").await;
                let mut allowed: Vec<&str> =
                    allow.as_deref().unwrap_or_default().split(", ").collect();
                allowed.sort();
                assert_eq!(allowed, served, "{method} {path}: {body}");
            }
        }
        // Routes outside the API document answer a wrong method the same way.
        for path in ["/api-docs/openapi.json", "/demo/", "/swagger-ui/index.html"] {
            let res = app.request(reqwest::Method::POST, path, None, None).await;
            assert_eq!(
                res.headers().get("allow").and_then(|v| v.to_str().ok()),
                Some("GET"),
                "{path}"
            );
            wxauth_testkit::expect_error(res, 405, "METHOD_NOT_ALLOWED").await;
        }
    })
    .await;
}

#[tokio::test]
async fn swagger_ui_is_served_offline() {
    each_backend(async |app| {
        let res = app.get("/swagger-ui/").await;
        assert_eq!(res.status(), 200);
        let html = res.text().await.unwrap();
        assert!(html.contains("swagger-ui"), "the vendored Swagger UI page");
        let res = app.get("/swagger-ui/swagger-ui.css").await;
        assert_eq!(res.status(), 200);
        // The UI loads the document from the service's own route.
        let res = app.get("/swagger-ui/swagger-initializer.js").await;
        assert_eq!(res.status(), 200);
        let js = res.text().await.unwrap();
        assert!(js.contains("/api-docs/openapi.json"), "{js}");
    })
    .await;
}
