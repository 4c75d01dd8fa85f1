//! `fleetdash alerts`: what needs attention (open now, at T, or opened since T), the rules,
//! and changing them.

use std::path::Path;

use anyhow::bail;

use crate::domain::alerts::Rule;
use crate::domain::time::{TimeBound, format_ms, now_ms};
use crate::store::alerts::Listed;
use crate::store::owner::{self, OwnerWrite};
use crate::store::{self, StoreOptions};

/// How `alerts` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns for reading.
    #[default]
    Table,
    /// RFC 4180 with a header row.
    Csv,
    /// An array of objects.
    Json,
}

/// `alerts rules` and `alerts set`.
#[derive(Debug, clap::Subcommand)]
pub enum AlertsCommand {
    /// Lists the rules: on or off, and their settings.
    Rules,
    /// Changes a rule: `alerts set plugged_not_charging minutes=30`, `--off`, `--on`.
    Set {
        /// The rule (see `alerts rules`).
        rule: String,
        /// KEY=VALUE settings.
        settings: Vec<String>,
        /// Turn the rule off.
        #[arg(long, conflicts_with = "on")]
        off: bool,
        /// Turn the rule on.
        #[arg(long)]
        on: bool,
    },
}

/// What `alerts` lists.
#[derive(Debug, clap::Args)]
pub struct AlertsArgs {
    /// The database file [default: fleetdash.sqlite3 in the platform's data directory].
    #[arg(long, env = "FLEETDASH_DB", global = true)]
    pub db: Option<std::path::PathBuf>,
    /// The alerts open at T (RFC 3339 or a date) [default: now].
    #[arg(long, value_name = "T", value_parser = TimeBound::parse)]
    pub at: Option<TimeBound>,
    /// Every alert that opened from T to --at, instead of those open.
    #[arg(long, value_name = "T", value_parser = TimeBound::parse)]
    pub since: Option<TimeBound>,
    /// table, csv or json.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    #[command(subcommand)]
    pub command: Option<AlertsCommand>,
}

/// The listing's columns.
pub const COLUMNS: [&str; 7] = [
    "id",
    "rule",
    "vehicle_id",
    "vehicle_name",
    "opened_at",
    "resolved_at",
    "message",
];

fn row(l: &Listed) -> [String; 7] {
    let a = &l.alert;
    [
        a.id(),
        a.rule.as_str().to_owned(),
        a.vehicle_id.clone().unwrap_or_default(),
        l.vehicle_name.clone(),
        format_ms(a.opened_at_ms),
        a.resolved_at_ms.map(format_ms).unwrap_or_default(),
        a.message.clone(),
    ]
}

/// Runs `alerts`; returns what to print.
pub fn run(args: AlertsArgs, db: &Path) -> anyhow::Result<String> {
    let mut conn = store::open(
        db,
        &StoreOptions {
            create: false,
            ..StoreOptions::default()
        },
    )?;
    match args.command {
        Some(AlertsCommand::Rules) => return rules_text(&conn),
        Some(AlertsCommand::Set {
            rule,
            settings,
            off,
            on,
        }) => {
            let rule = Rule::parse(&rule).map_err(anyhow::Error::msg)?;
            let pairs = settings
                .iter()
                .map(|s| match s.split_once('=') {
                    Some((k, v)) => Ok((k.trim().to_owned(), v.trim().to_owned())),
                    None => bail!("{s:?} is not KEY=VALUE: e.g. minutes=30"),
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            if pairs.is_empty() && !off && !on {
                bail!(
                    "nothing to change: give KEY=VALUE settings, --off or --on (`fleetdash alerts rules` shows them)"
                );
            }
            let on = (off || on).then_some(on);
            owner::apply(
                &mut conn,
                &OwnerWrite::AlertRule {
                    rule,
                    on,
                    settings: pairs,
                },
            )?;
            return rules_text(&conn);
        }
        None => {}
    }
    let at_ms = args.at.map_or_else(now_ms, TimeBound::until_ms);
    let since_ms = args.since.map(TimeBound::since_ms);
    if since_ms.is_some_and(|s| s > at_ms) {
        bail!("--since is after --at: nothing can have opened in between; swap them");
    }
    let listed = store::alerts::alerts(&conn, at_ms, since_ms)?;
    Ok(match args.format {
        Format::Csv => {
            let mut csv = csv::Writer::from_writer(Vec::new());
            csv.write_record(COLUMNS)?;
            for l in &listed {
                csv.write_record(
                    row(l)
                        .iter()
                        .map(|c| store::export::formula_safe(c).into_owned()),
                )?;
            }
            String::from_utf8(csv.into_inner()?)?
        }
        Format::Json => {
            let objects: Vec<serde_json::Value> = listed
                .iter()
                .map(|l| {
                    let cells = row(l);
                    let mut object = serde_json::Map::new();
                    for (key, value) in COLUMNS.iter().zip(cells) {
                        let value = if value.is_empty()
                            && (*key == "resolved_at" || *key == "vehicle_id")
                        {
                            serde_json::Value::Null
                        } else {
                            serde_json::Value::String(value)
                        };
                        object.insert((*key).to_owned(), value);
                    }
                    serde_json::Value::Object(object)
                })
                .collect();
            format!("{}\n", serde_json::to_string_pretty(&objects)?)
        }
        Format::Table if listed.is_empty() => match since_ms {
            Some(_) => "no alert opened in that time\n".to_owned(),
            None => "nothing needs attention\n".to_owned(),
        },
        Format::Table => {
            let mut text = String::new();
            for l in &listed {
                let a = &l.alert;
                let who = if l.vehicle_name.is_empty() {
                    "fleet"
                } else {
                    &l.vehicle_name
                };
                text.push_str(&format!(
                    "{}  {}  {}  since {}{}\n    {}\n",
                    a.id(),
                    a.rule.as_str(),
                    who,
                    format_ms(a.opened_at_ms),
                    a.resolved_at_ms
                        .map_or(String::new(), |r| format!(", resolved {}", format_ms(r))),
                    a.message
                ));
            }
            text
        }
    })
}

fn rules_text(conn: &rusqlite::Connection) -> anyhow::Result<String> {
    let rules = store::alerts::rules(conn)?;
    let mut text = String::new();
    for rule in Rule::ALL {
        let s = rules.settings(rule);
        text.push_str(&format!(
            "{:<26} {:<3} {}\n",
            rule.as_str(),
            if s.on { "on" } else { "off" },
            s.text
        ));
    }
    Ok(text)
}
