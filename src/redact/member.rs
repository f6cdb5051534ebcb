//! JSON records the program writes itself (the proxy's access records): their member names
//! are known in advance, so what [`Redactor::redact_line`] would decide for each member —
//! the profile's field kind for its path, what its name says (secret, name, label) — is
//! decided once, and each value is redacted as it is written instead of being rendered,
//! parsed again and then redacted.
//!
//! The output is the line `redact_line(…, Format::Json, …)` writes for the same record:
//! every value still goes through the detectors and the profile.

use super::line::KeyClass;
use super::{Redactor, Scratch};
use crate::format::json;
use crate::minimise::profile::FieldKind;

/// How one member of a record is redacted, resolved by [`Redactor::json_member`].
#[derive(Debug, Clone)]
pub struct JsonMember {
    /// The profile's kind for the member's path, when a profile names it.
    kind: Option<FieldKind>,
    /// What the member's name says about its value.
    class: KeyClass,
    /// The member's name (labelled values are scanned as `name=value`).
    key: Box<[u8]>,
    /// The member's path, for its own members.
    path: u64,
}

impl JsonMember {
    /// The path of this member, as the parent of nested members.
    pub fn path(&self) -> u64 {
        self.path
    }
}

impl Redactor {
    /// How the string values of member `key` of the object at `parent` (a path from
    /// [`json::path_extend`]; [`json::ROOT_PATH`] for the top level) are redacted.
    pub fn json_member(&self, parent: u64, key: &str) -> JsonMember {
        let path = json::path_extend(parent, key.as_bytes());
        JsonMember {
            kind: self
                .minimiser
                .as_ref()
                .and_then(|m| m.profile.json_field(path)),
            class: self.key_class(key.as_bytes()),
            key: key.as_bytes().into(),
            path,
        }
    }

    /// Appends the redacted contents (JSON-escaped, without quotes) of `member`'s string
    /// value whose text is `text`: what `redact_line` writes for it in a JSON line.
    pub fn redact_json_member(
        &self,
        member: &JsonMember,
        text: &[u8],
        out: &mut Vec<u8>,
        s: &mut Scratch,
    ) {
        if text.is_empty() {
            return; // the JSON parser makes no field of an empty string: nothing to redact
        }
        let mut buf = std::mem::take(&mut s.member);
        buf.clear();
        match (member.kind, &self.minimiser) {
            (Some(kind), Some(m)) => {
                self.minimise_field(m, kind, text, &mut buf, s);
                json::escape(&buf, out);
            }
            _ => {
                json::escape(text, &mut buf);
                self.redact_json_string_as(member.class, &member.key, &buf, out, s);
            }
        }
        s.member = buf;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::Format;
    use crate::minimise::Minimiser;
    use crate::pseudo::Pseudonymiser;
    use crate::rules::RuleSet;

    fn redactors() -> Vec<Redactor> {
        use crate::config::Config;
        use crate::pseudo::Key;
        let key = Key::from_hex(&"42".repeat(32), "test").unwrap();
        let rules = RuleSet::shipped();
        let redactor = || Redactor::new(&rules, Some(Pseudonymiser::new(&key))).unwrap();
        let mut out = vec![redactor()];
        let shipped = Config::shipped();
        // The analytics profile without GeoIP: every other policy differs from security's.
        let coarse = Config::parse(
            "coarse.toml",
            "[profile.coarse]\npurpose = \"test\"\nlawful_basis = \"test\"\n\
             retention_days = 1\nclient_ip = \"truncate\"\nuser = \"drop\"\n\
             user_agent = \"generalise\"\npath = \"template\"\nquery = \"drop\"\n\
             referrer = \"origin\"\ntime = \"hour\"\n[profile.coarse.json]\n\
             client_ip = [\"client_ip\"]\nuser = [\"user\"]\nuser_agent = [\"user_agent\"]\n\
             target = [\"url\"]\nreferrer = [\"referrer\"]\ntime = [\"time\"]\n",
            None,
        )
        .unwrap();
        let profiles = [
            shipped.profile("security").unwrap().clone(),
            coarse.profile("coarse").unwrap().clone(),
        ];
        for profile in profiles {
            out.push(redactor().with_minimiser(Minimiser::new(profile, Some(&key), None).unwrap()));
        }
        out
    }

    /// `members` as one JSON object, each value appended by `value`.
    fn object(
        members: &[(&str, &str)],
        mut value: impl FnMut(&str, &str, &mut Vec<u8>),
    ) -> Vec<u8> {
        let mut out = b"{".to_vec();
        for (i, (key, text)) in members.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(format!("\"{key}\":\"").as_bytes());
            value(key, text, &mut out);
            out.push(b'"');
        }
        out.push(b'}');
        out
    }

    /// Writes `members` as one JSON object, member by member.
    fn written(r: &Redactor, members: &[(&str, &str)], s: &mut Scratch) -> Vec<u8> {
        object(members, |key, text, out| {
            let member = r.json_member(json::ROOT_PATH, key);
            r.redact_json_member(&member, text.as_bytes(), out, s);
        })
    }

    /// The same object rendered whole and passed through `redact_line`.
    fn reparsed(r: &Redactor, members: &[(&str, &str)], s: &mut Scratch) -> Vec<u8> {
        let line = object(members, |_, text, out| json::escape(text.as_bytes(), out));
        let mut out = Vec::new();
        r.redact_line(&line, Format::Json, &mut out, s);
        out
    }

    #[test]
    fn members_written_one_by_one_redact_as_the_whole_line_does() {
        let record: &[(&str, &str)] = &[
            ("time", "2026-11-30T16:01:41.955Z"),
            ("client_ip", "203.0.113.9"),
            ("user", "jane.doe"),
            ("method", "GET"),
            ("host", "shop.example.com"),
            (
                "url",
                "/account?email=jane@example.com&card=4111111111111111&page=2",
            ),
            (
                "user_agent",
                "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0",
            ),
            (
                "referrer",
                "https://mail.example.org/inbox?u=jane@example.com#top",
            ),
            ("request_id", "call me on +44 7700 900123"),
            ("password", "hunter2"),
            ("cookie", "WHMCSAU=abc123; theme=dark"),
            ("sort_code", "20-32-06"),
            ("note", "quote \" backslash \\ tab \t and 10.1.2.3"),
        ];
        for r in redactors() {
            let mut s = r.scratch();
            let expected = reparsed(&r, record, &mut s);
            s.forget_remembered();
            assert_eq!(
                String::from_utf8_lossy(&written(&r, record, &mut s)),
                String::from_utf8_lossy(&expected),
            );
            assert!(!String::from_utf8_lossy(&expected).contains("jane@example.com"));
        }
    }

    /// Values built from pieces the detectors and profiles react to, joined by arbitrary
    /// text (quotes, backslashes and control characters included).
    fn value() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let piece = prop_oneof![
            Just("jane.doe@example.com".to_string()),
            Just("4111 1111 1111 1111".to_string()),
            Just("203.0.113.9".to_string()),
            Just("2001:db8::7".to_string()),
            Just("+44 7700 900123".to_string()),
            Just("GB82WEST12345698765432".to_string()),
            Just("/u/jane@example.com/orders?token=abc&page=2".to_string()),
            Just("https://mail.example.org/x?email=a@b.co".to_string()),
            Just("2026-11-30T16:01:41.955Z".to_string()),
            Just("Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0".to_string()),
            "[ -~]{0,12}",
            "[\\x00-\\x1f\"\\\\é€]{0,4}",
        ];
        proptest::collection::vec(piece, 0..4).prop_map(|p| p.concat())
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]
        #[test]
        fn any_record_written_by_members_equals_the_redacted_line(
            values in proptest::collection::vec(value(), 9),
        ) {
            let names = [
                "time", "client_ip", "user", "host", "url", "user_agent", "referrer",
                "request_id", "password",
            ];
            let record: Vec<(&str, &str)> =
                names.iter().copied().zip(values.iter().map(String::as_str)).collect();
            static REDACTORS: std::sync::OnceLock<Vec<Redactor>> = std::sync::OnceLock::new();
            for r in REDACTORS.get_or_init(redactors) {
                let mut s = r.scratch();
                let expected = reparsed(r, &record, &mut s);
                s.forget_remembered();
                let got = written(r, &record, &mut s);
                proptest::prop_assert_eq!(
                    String::from_utf8_lossy(&got),
                    String::from_utf8_lossy(&expected)
                );
            }
        }
    }

    #[test]
    fn nested_members_take_the_path_of_their_parent() {
        let r = &redactors()[1];
        let headers = r.json_member(json::ROOT_PATH, "headers");
        let accept = r.json_member(headers.path(), "accept");
        assert_eq!(accept.path(), json::path_hash("headers.accept"));
    }
}
