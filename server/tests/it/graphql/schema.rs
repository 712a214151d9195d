//! The schema itself: the SDL matches the committed `schema.graphql`, and no type carries a
//! secret (SC-03).

#[tokio::test]
async fn the_sdl_matches_the_committed_schema() {
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../schema.graphql")).unwrap();
    assert!(
        committed == server::graphql::sdl(),
        "the GraphQL schema changed: run `cargo run -p server --bin model-gateway -- schema > schema.graphql` \
         and review the difference"
    );
}

/// SC-03: no object type has a field that could carry a secret; the two payloads that hand
/// out a new secret once are the only exceptions.
#[tokio::test]
async fn sc03_no_type_carries_a_secret() {
    let sdl = server::graphql::sdl();
    let forbidden = ["secret", "password", "apikey", "credential", "hash", "token"];
    let mut current: Option<&str> = None;
    let mut checked = 0;
    let mut in_description = false;
    for line in sdl.lines() {
        let line = line.trim();
        // Descriptions: `"""` on a line of its own opens and closes a block.
        if line == "\"\"\"" {
            in_description = !in_description;
            continue;
        }
        if in_description {
            continue;
        }
        if let Some(rest) = line.strip_prefix("type ") {
            current = rest.split_whitespace().next();
            continue;
        }
        if line == "}" {
            current = None;
            continue;
        }
        let Some(kind) = current else { continue };
        if matches!(kind, "Query" | "Mutation" | "Subscription") || line.starts_with('"') || line.is_empty() {
            continue;
        }
        let field = line.split(['(', ':']).next().unwrap().trim().to_lowercase();
        checked += 1;
        let allowed = matches!(
            (kind, field.as_str()),
            ("CreatedKey" | "CreatedAdminApiToken", "secret")
        ) || (kind == "CreatedAdminApiToken" && field == "token")
            || field == "hascredential"
            || field.ends_with("tokens")
            || field.starts_with("maxtokens");
        if !allowed {
            for word in forbidden {
                assert!(!field.contains(word), "{kind}.{field} may carry a secret");
            }
        }
    }
    assert!(checked > 100, "the SDL was read ({checked} fields)");
    for kind in ["InferenceEndpoint", "GatewayKey", "AdminApiToken", "AdminUser"] {
        assert!(sdl.contains(&format!("type {kind} implements Node")), "{kind}");
    }
}
