//! `--config haochaping.toml`: settings from a file, under the environment (`HCP_*`) and the flags. Each key is a
//! flag's name with `_` for `-` (`listen`, `public_url`, `respond_days`, …); a key the command does not take is
//! an error, so a typo does not pass silently. `haochaping.example.toml` in the repository lists them all.

use std::ffi::OsString;
use std::path::Path;

use anyhow::{Context, bail};
use clap::parser::ValueSource;

/// The command line with the file's settings added: a setting given as a flag or in the environment is left
/// alone; the others are appended as flags, so clap then checks and converts them like any other.
pub fn merge(cmd: &clap::Command, argv: Vec<OsString>, matches: &clap::ArgMatches, path: &Path) -> anyhow::Result<Vec<OsString>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("无法读取配置文件 {}", path.display()))?;
    let table: toml::Table = text.parse().with_context(|| format!("配置文件 {} 不是合法的 TOML", path.display()))?;
    // The arguments of the command being run: the global ones and its subcommand's.
    let (sub, sub_matches) = match matches.subcommand() {
        Some((name, m)) => (cmd.find_subcommand(name), Some(m)),
        None => (None, None),
    };
    let mut argv = argv;
    for (key, value) in table {
        // By the flag's name (`respond_days` for `--respond-days`) or the setting's (`trusted_proxies`).
        let dashed = key.replace('_', "-");
        let is_it = |a: &&clap::Arg| a.get_long() == Some(dashed.as_str()) || a.get_id().as_str() == key;
        let found = cmd
            .get_arguments()
            .find(is_it)
            .map(|a| (a, matches))
            .or_else(|| sub.and_then(|s| s.get_arguments().find(is_it)).zip(sub_matches));
        let Some((arg, m)) = found else {
            // A setting of another command (`listen` while running `migrate`) is not this one's business.
            if cmd.get_subcommands().any(|s| s.get_arguments().any(|a| is_it(&a))) {
                continue;
            }
            bail!("配置文件 {} 中有未知的设置“{key}”（可用的设置见 haochaping.example.toml）", path.display());
        };
        if matches!(m.value_source(arg.get_id().as_str()), Some(ValueSource::CommandLine | ValueSource::EnvVariable)) {
            continue;
        }
        let text = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Array(items) => items
                .into_iter()
                .map(|v| match v {
                    toml::Value::String(s) => s,
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(","),
            other => bail!("配置项“{key}”的值不能是 {other}"),
        };
        let long = arg.get_long().unwrap_or(dashed.as_str());
        if arg.get_action().takes_values() {
            argv.push(format!("--{long}").into());
            argv.push(text.into());
        } else if text == "true" {
            argv.push(format!("--{long}").into());
        }
    }
    Ok(argv)
}
