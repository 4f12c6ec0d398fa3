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
                    .replace("{loginId}", "ql_x")
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
