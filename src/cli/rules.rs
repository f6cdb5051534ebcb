//! `redactd rules list|check`.

use std::io::Write;
use std::path::PathBuf;

use clap::Subcommand;
use redactd::pseudo::{Key, Pseudonymiser};
use redactd::redact::Redactor;
use redactd::rules::{Matcher, RuleSet};

use super::setup::{load_config, load_rules, CommonArgs};
use super::{Failure, EXIT_CONFIG};

/// Rule file commands.
#[derive(Subcommand)]
pub enum RulesCommand {
    /// List the rules in load order: id, category, matcher, action, origin.
    List(CommonArgs),
    /// Validate rule files; errors name file, line, column and rule. Exit 64 on error.
    Check {
        /// Rule files to check.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
}

/// Runs a rules command.
pub fn run(command: RulesCommand) -> Result<(), Failure> {
    match command {
        RulesCommand::List(args) => list(args),
        RulesCommand::Check { files } => check(files),
    }
}

fn list(args: CommonArgs) -> Result<(), Failure> {
    let config = load_config(args.config.as_deref())?;
    let set = load_rules(&config, &args)?;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "{:<20} {:<10} {:<28} {:<13} ORIGIN",
        "ID", "CATEGORY", "MATCHER", "ACTION"
    );
    for r in set.rules() {
        let matcher = match &r.matcher {
            Matcher::Builtin(b) => format!("detector:{}", b.name),
            Matcher::Regex(_) => "regex".to_string(),
            Matcher::Words(w) => format!("words:{}", w.len()),
            Matcher::Field(f) => format!("field:{f}"),
        };
        let action = if r.enabled {
            r.action.as_str()
        } else {
            "(disabled)"
        };
        let _ = writeln!(
            out,
            "{:<20} {:<10} {:<28} {:<13} {}",
            r.id,
            r.category.as_str(),
            matcher,
            action,
            r.origin
        );
    }
    Ok(())
}

fn check(files: Vec<PathBuf>) -> Result<(), Failure> {
    let mut set = RuleSet::shipped();
    let mut errors = 0;
    for file in &files {
        match set.add_file(file) {
            Ok(()) => println!("{}: ok", file.display()),
            Err(e) => {
                eprintln!("{e}");
                errors += 1;
            }
        }
    }
    if errors > 0 {
        return Err(Failure(
            EXIT_CONFIG,
            anyhow::anyhow!("{errors} rule file(s) with errors"),
        ));
    }
    Redactor::new(&set, Some(Pseudonymiser::new(&Key::from_bytes([0; 32]))))
        .map_err(|e| Failure(EXIT_CONFIG, e.into()))?;
    Ok(())
}
