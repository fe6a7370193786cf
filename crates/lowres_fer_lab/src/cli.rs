//! The flags the lab binaries share, defined once as clap `Args` structs that
//! each binary flattens into its own `Parser` (`#[command(flatten)]`), and the
//! value parsers that take their choices from the one parameter table
//! (`lowres_fer::settings::params::PARAMS`), so a binary's `--help` lists what
//! the node accepts.
//!
//! Every lab command also sets [`clap::Command::args_override_self`]: a flag
//! given twice keeps its last value, as the hand-written parsers did.

use std::path::PathBuf;

use anyhow::Context;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::Args;
use lowres_fer::models::ModelStore;
use lowres_fer::settings::params::{self, Given, Kind, Value};
use serde::de::DeserializeOwned;

use crate::detect_eval;

/// `--models-dir DIR` (also spelt `--models`, as detect_bench, detect_recall
/// and gate_study always accepted).
#[derive(Args, Debug, Clone)]
pub struct ModelsDir {
    /// ONNX models and their manifest.json
    #[arg(
        long = "models-dir",
        alias = "models",
        value_name = "DIR",
        default_value = "models"
    )]
    pub models_dir: PathBuf,
}

/// `--shared DIR`: the shared data, by default `$LOWRES_FER_SHARED`, else the
/// `shared` directory beside the repository ([`detect_eval::default_shared_dir`]).
#[derive(Args, Debug, Clone)]
pub struct Shared {
    /// Shared data directory [default: $LOWRES_FER_SHARED, else ../shared beside the repository]
    #[arg(long = "shared", value_name = "DIR")]
    shared: Option<PathBuf>,
}

impl Shared {
    /// The directory given, or the default.
    pub fn dir(&self) -> PathBuf {
        self.shared
            .clone()
            .unwrap_or_else(detect_eval::default_shared_dir)
    }
}

/// `--shared DIR`, by default `../shared` of the working directory (detect_bench
/// and gate_study have always resolved it so).
#[derive(Args, Debug, Clone)]
pub struct SharedFromCwd {
    /// Shared data directory
    #[arg(long = "shared", value_name = "DIR", default_value = "../shared")]
    pub shared: PathBuf,
}

/// `--data TAR|DIR`: the FER+ data set (ferplus_eval, routing_bench).
#[derive(Args, Debug, Clone)]
pub struct FerplusData {
    /// FER+ data: the .tar.gz (unpacked once into the cache) or an unpacked directory
    #[arg(
        long = "data",
        value_name = "TAR|DIR",
        default_value = "../shared/data/ferplus.tar.gz"
    )]
    pub data: PathBuf,
}

/// `--threads N`: inference threads.
#[derive(Args, Debug, Clone)]
pub struct Threads {
    /// Inference (intra-op) threads
    #[arg(long = "threads", value_name = "N", default_value_t = 1)]
    pub threads: u32,
}

/// `--model FILE.onnx`: a classifier of the models directory.
#[derive(Args, Debug, Clone)]
pub struct ClassifierModel {
    /// Classifier model file in the models directory [default: the manifest's classifier, the node's default]
    #[arg(long = "model", value_name = "FILE.onnx")]
    pub model: Option<String>,
}

impl ClassifierModel {
    /// The file given, or the manifest's classifier (role "classifier").
    pub fn resolve(&self, store: &ModelStore) -> anyhow::Result<String> {
        match &self.model {
            Some(m) => Ok(m.clone()),
            None => Ok(store.manifest().classifier()?.to_owned()),
        }
    }
}

/// `--draw DIR`: write annotated images there.
#[derive(Args, Debug, Clone)]
pub struct Draw {
    /// Write the images with their boxes drawn into DIR
    #[arg(long = "draw", value_name = "DIR")]
    pub draw: Option<PathBuf>,
}

/// `--set NAME=VALUE`...: node parameters, typed and checked by the parameter table.
#[derive(Args, Debug, Clone)]
pub struct ParamSet {
    /// Set a node parameter (crates/lowres_fer/src/settings/params.rs), e.g. detector.model=back; repeatable
    #[arg(long = "set", value_name = "NAME=VALUE", value_parser = param_assignment)]
    pub set: Vec<(String, Value)>,
}

impl ParamSet {
    /// The assignments as parameter values (a later one of the same name wins),
    /// for `Settings::read`, which checks ranges and cross-checks.
    pub fn given(&self) -> Given {
        self.set.iter().cloned().collect()
    }
}

/// `NAME=VALUE`, `VALUE` typed by the declaration of `NAME` (what a params file
/// would give).
pub fn param_assignment(text: &str) -> anyhow::Result<(String, Value)> {
    let (name, value) = text.split_once('=').context("--set takes NAME=VALUE")?;
    let p = params::find(name).with_context(|| format!("--set: unknown parameter {name:?}"))?;
    let v = match p.kind {
        Kind::Bool => Value::Bool(value.parse().with_context(|| format!("{name}: bool"))?),
        Kind::Int { .. } => Value::Int(value.parse().with_context(|| format!("{name}: integer"))?),
        Kind::Double { .. } => {
            Value::Double(value.parse().with_context(|| format!("{name}: number"))?)
        }
        Kind::Str | Kind::Choice(_) => Value::Str(value.to_string()),
    };
    Ok((name.to_string(), v))
}

/// A value parser for the config enum behind the choice parameter `param`: its
/// possible values are the parameter table's (`params::enum_choices`), parsed
/// into `T` by serde (the same snake_case names).
///
/// Panics when `param` is not a choice parameter (the binaries' `debug_assert`
/// tests build every command).
pub fn choice<T>(param: &'static str) -> impl TypedValueParser<Value = T>
where
    T: DeserializeOwned + Clone + Send + Sync + 'static,
{
    let names = params::enum_choices(param)
        .unwrap_or_else(|| panic!("{param} is not a choice parameter of the table"));
    PossibleValuesParser::new(names.iter().copied())
        .try_map(|s| serde_json::from_value::<T>(serde_json::Value::String(s)))
}

/// A comma-separated list (`0,1,5,10`; blanks around items allowed): one value,
/// so a repeated flag replaces the list. Use with a `::std::vec::Vec<T>` field
/// (the full path keeps clap from treating it as a repeated flag).
pub fn comma_list<T>(text: &str) -> anyhow::Result<Vec<T>>
where
    T: std::str::FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    text.split(',')
        .map(|s| {
            s.trim()
                .parse::<T>()
                .with_context(|| format!("bad item {s:?}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use lowres_fer::settings::config::{DetectorModel, ExecutionProvider, Precision, TilingMode};

    #[test]
    fn every_table_choice_parses_into_its_enum() {
        fn all<T: DeserializeOwned + Clone + Send + Sync + 'static>(param: &'static str) {
            let cmd =
                clap::Command::new("t").arg(clap::Arg::new("v").value_parser(choice::<T>(param)));
            for name in params::enum_choices(param).unwrap() {
                cmd.clone()
                    .try_get_matches_from(["t", name])
                    .unwrap_or_else(|e| panic!("{param} = {name}: {e}"));
            }
            assert!(cmd.try_get_matches_from(["t", "nonsense"]).is_err());
        }
        all::<Precision>("classifier.precision");
        all::<DetectorModel>("detector.model");
        all::<TilingMode>("detector.tiling");
        all::<ExecutionProvider>("detector.execution_provider");
    }

    #[test]
    fn set_is_typed_by_the_table() {
        assert_eq!(
            param_assignment("detector.threads=3").unwrap(),
            ("detector.threads".into(), Value::Int(3))
        );
        assert_eq!(
            param_assignment("detector.model=back").unwrap().1,
            Value::Str("back".into())
        );
        assert!(param_assignment("detector.threads=x").is_err());
        assert!(param_assignment("no.such=1").is_err());
        assert!(param_assignment("detector.model").is_err());
    }

    #[test]
    fn comma_lists_trim_items() {
        assert_eq!(comma_list::<usize>("0, 1,5").unwrap(), vec![0, 1, 5]);
        assert!(comma_list::<usize>("1,x").is_err());
    }
}
