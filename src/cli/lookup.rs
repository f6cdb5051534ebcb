//! `redactd lookup VALUE`: the pseudonyms of a value under every live key, exactly as
//! `filter` writes them, so a subject-access or erasure request can be run with grep or a
//! SQL `WHERE` over stored logs.

use std::io::Write;

use redactd::minimise::{ipcrypt_key, ipcrypt_pfx_key};
use redactd::pseudo::ipcrypt::{IpCryptDeterministic, IpCryptPfx};
use redactd::pseudo::Pseudonymiser;
use redactd::redact::action::{normalise, parse_ip};
use redactd::redact::Redactor;
use redactd::rules::Action;

use super::setup::{build_redactor, load_config, load_keys, load_rules, CommonArgs};
use super::{Failure, EXIT_CONFIG, EXIT_IO};

/// Arguments of `lookup`.
#[derive(clap::Args)]
pub struct LookupArgs {
    /// The value: an e-mail address, IP address, phone number, name, …
    value: String,
    /// Its type, as tokens name it (email, ip, phone, name, user, card, iban, …); found by
    /// the detectors when not given.
    #[arg(long = "type", value_name = "TYPE")]
    kind: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    common: CommonArgs,
}

/// Runs `lookup`.
pub fn run(args: LookupArgs) -> Result<(), Failure> {
    let config = load_config(args.common.config.as_deref())?;
    let rules = load_rules(&config, &args.common)?;
    let ring = load_keys(&config, args.common.key_file.as_deref())?;
    let redactor = build_redactor(&config, &rules, args.common.key_file.as_deref(), None)?;
    let value = args.value.trim();
    let rule = find_rule(&redactor, value, args.kind.as_deref())?;
    let rule = &redactor.rules()[rule];
    let mut normalised = Vec::new();
    normalise(rule.kind, value.as_bytes(), &mut normalised);
    let ip = parse_ip(value.as_bytes());
    let mut rows = Vec::new();
    for (id, created, status, key) in &ring.live {
        let mut token = Vec::new();
        Pseudonymiser::new(key).token(&rule.token, &normalised, &mut token);
        let mut forms = vec![("hmac", String::from_utf8_lossy(&token).into_owned())];
        if let Some(ip) = ip {
            forms.push((
                "ipcrypt",
                IpCryptDeterministic::new(&ipcrypt_key(key))
                    .encrypt(ip)
                    .to_string(),
            ));
            if let Ok(pfx) = IpCryptPfx::new(&ipcrypt_pfx_key(key)) {
                forms.push(("ipcrypt-pfx", pfx.encrypt(ip).to_string()));
            }
        }
        rows.push((id.clone(), created.clone(), *status, forms));
    }
    let mut out = std::io::stdout().lock();
    let io = |e: std::io::Error| Failure(EXIT_IO, e.into());
    if args.json {
        let json: Vec<String> = rows
            .iter()
            .map(|(id, created, status, forms)| {
                let forms: Vec<String> = forms.iter().map(|(k, v)| format!("{}:{}", json_str(k), json_str(v))).collect();
                format!("{{\"key_id\":{},\"created\":{},\"status\":{},\"type\":{},\"pseudonyms\":{{{}}}}}", json_str(id), json_str(created), json_str(status), json_str(&rule.token), forms.join(","))
            })
            .collect();
        writeln!(out, "[{}]", json.join(",")).map_err(io)?;
    } else {
        for (id, _created, status, forms) in &rows {
            for (form, value) in forms {
                writeln!(out, "{id}\t{status}\t{form}\t{value}").map_err(io)?;
            }
        }
    }
    Ok(())
}

/// The rule whose pseudonyms the value gets: by token type when given, else the rule of
/// the detector that finds the whole value.
fn find_rule(redactor: &Redactor, value: &str, kind: Option<&str>) -> Result<usize, Failure> {
    let pseudonymising = |i: usize| redactor.rules()[i].action == Action::Pseudonymise;
    if let Some(kind) = kind {
        return redactor
            .rules()
            .iter()
            .position(|r| r.token == kind && r.action == Action::Pseudonymise)
            .ok_or_else(|| {
                Failure(
                    EXIT_CONFIG,
                    anyhow::anyhow!("no pseudonymising rule makes `{kind}` tokens"),
                )
            });
    }
    if parse_ip(value.as_bytes()).is_some() {
        if let Some(i) = redactor
            .rules()
            .iter()
            .position(|r| r.token == "ip" && r.action == Action::Pseudonymise)
        {
            return Ok(i);
        }
    }
    let mut scratch = redactor.scratch();
    let hits = redactor.find(value.as_bytes(), &mut scratch);
    match hits.first() {
        Some(h) if pseudonymising(h.rule) => Ok(h.rule),
        Some(h) => Err(Failure(
            EXIT_CONFIG,
            anyhow::anyhow!(
                "values like this are not pseudonymised (rule `{}` does {})",
                redactor.rules()[h.rule].id,
                redactor.rules()[h.rule].action.as_str()
            ),
        )),
        None => Err(Failure(
            EXIT_CONFIG,
            anyhow::anyhow!(
                "no detector recognises this value; give --type (email, ip, phone, name, user, …)"
            ),
        )),
    }
}

fn json_str(s: &str) -> String {
    let mut out = Vec::new();
    redactd::format::json::escape(s.as_bytes(), &mut out);
    format!("\"{}\"", String::from_utf8_lossy(&out))
}
