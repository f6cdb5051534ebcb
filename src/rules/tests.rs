use super::*;

fn load(text: &str) -> Result<RuleSet, RuleError> {
    let mut set = RuleSet::shipped();
    set.add_str("custom.toml", text, None)?;
    Ok(set)
}

#[test]
fn shipped_rules_load_and_every_rule_has_a_category() {
    let set = RuleSet::shipped();
    assert!(set.rules().len() >= 15, "{}", set.rules().len());
    let ids: Vec<&str> = set.rules().iter().map(|r| r.id.as_str()).collect();
    for id in [
        "email",
        "ipv4",
        "ipv6",
        "card",
        "iban",
        "nino",
        "jwt",
        "session-cookie",
    ] {
        assert!(ids.contains(&id), "missing {id}");
    }
}

#[test]
fn custom_regex_and_word_rules_are_added_after_the_shipped_ones() {
    let set = load(
        r#"
[[rule]]
id = "ticket"
category = "usage"
regex = 'TCK-[0-9]{6}'
action = "redact"
placeholder = "[TICKET]"

[[rule]]
id = "customers"
category = "identity"
words = ["Alice Smith", "Bob Jones"]
case_insensitive = true
action = "pseudonymise"
"#,
    )
    .unwrap();
    let n = set.rules().len();
    assert_eq!(set.rules()[n - 2].id, "ticket");
    assert_eq!(set.rules()[n - 2].placeholder, "[TICKET]");
    assert!(matches!(set.rules()[n - 1].matcher, Matcher::Words(ref w) if w.len() == 2));
}

#[test]
fn a_rule_with_a_shipped_id_overrides_its_action_in_place() {
    let before = RuleSet::shipped();
    let pos = before.rules().iter().position(|r| r.id == "email").unwrap();
    let set = load("[[rule]]\nid = \"email\"\naction = \"redact\"\n").unwrap();
    assert_eq!(set.rules().len(), before.rules().len());
    assert_eq!(set.rules()[pos].action, Action::Redact);
    assert_eq!(set.rules()[pos].category, Category::Contact);
}

#[test]
fn bad_regex_error_names_file_line_column_and_rule() {
    let err = load("[[rule]]\nid = \"bad\"\ncategory = \"usage\"\nregex = 'a(b'\n").unwrap_err();
    assert_eq!(
        (err.file.as_str(), err.line, err.column),
        ("custom.toml", 4, 9)
    );
    assert_eq!(err.rule.as_deref(), Some("bad"));
    assert!(
        err.to_string()
            .starts_with("custom.toml:4:9: rule `bad`: invalid regex"),
        "{err}"
    );
}

#[test]
fn unknown_key_is_rejected_with_its_position() {
    let err = load("[[rule]]\nid = \"x\"\ncategory = \"usage\"\nregex = 'x'\nactoin = \"drop\"\n")
        .unwrap_err();
    assert_eq!(err.line, 5, "{err}");
    assert!(err.message.contains("actoin"), "{err}");
}

#[test]
fn unknown_detector_lists_the_known_ones() {
    let err =
        load("[[rule]]\nid = \"x\"\ncategory = \"usage\"\ndetector = \"emial\"\n").unwrap_err();
    assert_eq!((err.line, err.column), (4, 12));
    assert!(err.message.contains("email"), "{err}");
}

#[test]
fn unknown_category_action_and_missing_matcher_are_errors() {
    assert!(
        load("[[rule]]\nid = \"x\"\ncategory = \"health\"\nregex = 'x'\n")
            .unwrap_err()
            .message
            .contains("health")
    );
    assert!(
        load("[[rule]]\nid = \"x\"\ncategory = \"usage\"\nregex = 'x'\naction = \"hide\"\n")
            .is_err()
    );
    assert!(load("[[rule]]\nid = \"x\"\ncategory = \"usage\"\n")
        .unwrap_err()
        .message
        .contains("needs one of"));
    assert!(
        load("[[rule]]\nid = \"x\"\ncategory = \"usage\"\nregex = 'x'\nwords = ['y']\n").is_err()
    );
}

#[test]
fn truncate_needs_an_ip_or_postcode_kind() {
    let err =
        load("[[rule]]\nid = \"x\"\ncategory = \"usage\"\nregex = 'x'\naction = \"truncate\"\n")
            .unwrap_err();
    assert!(err.message.contains("truncate"), "{err}");
    load("[[rule]]\nid = \"x\"\ncategory = \"technical\"\nregex = '10\\.[0-9.]+'\nkind = \"ip\"\naction = \"truncate\"\n").unwrap();
}

#[test]
fn duplicate_ids_in_one_file_are_rejected() {
    let err = load("[[rule]]\nid = \"x\"\ncategory = \"usage\"\nregex = 'x'\n[[rule]]\nid = \"x\"\ncategory = \"usage\"\nregex = 'y'\n").unwrap_err();
    assert_eq!(err.line, 6);
    assert!(err.message.contains("duplicate"));
}

#[test]
fn words_file_is_read_relative_to_the_rule_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("names.txt"),
        "# customers\nAlice Smith\n\nBob Jones\n",
    )
    .unwrap();
    let rules = dir.path().join("custom.toml");
    std::fs::write(
        &rules,
        "[[rule]]\nid = \"customers\"\ncategory = \"identity\"\nwords_file = \"names.txt\"\n",
    )
    .unwrap();
    let mut set = RuleSet::shipped();
    set.add_file(&rules).unwrap();
    assert!(
        matches!(&set.rules().last().unwrap().matcher, Matcher::Words(w) if w == &["Alice Smith", "Bob Jones"])
    );
}
