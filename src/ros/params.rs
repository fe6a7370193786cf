//! ROS parameters <-> [`crate::params`]: only the conversion of r2r's values.
//! Names, types, defaults, ranges, docs and every check are declared once in
//! [`crate::params::PARAMS`]; values come from `--ros-args -p` /
//! `--params-file` (r2r loads those overrides at node creation).

use r2r::ParameterValue;

use crate::params::{Given, Param, Settings, Value};

pub use crate::params::{unknown_names, InputQos, Transport};

/// The given ROS parameter values as plain values (`NotSet` = not given).
pub fn given<'a>(values: impl IntoIterator<Item = (&'a String, &'a ParameterValue)>) -> Given {
    values
        .into_iter()
        .filter_map(|(k, v)| {
            let v = match v {
                ParameterValue::NotSet => return None,
                ParameterValue::Bool(b) => Value::Bool(*b),
                ParameterValue::Integer(i) => Value::Int(*i),
                ParameterValue::Double(d) => Value::Double(*d),
                ParameterValue::String(s) => Value::Str(s.clone()),
                ParameterValue::BoolArray(_) => Value::Other("bool array"),
                ParameterValue::ByteArray(_) => Value::Other("byte array"),
                ParameterValue::IntegerArray(_) => Value::Other("integer array"),
                ParameterValue::DoubleArray(_) => Value::Other("double array"),
                ParameterValue::StringArray(_) => Value::Other("string array"),
            };
            Some((k.clone(), v))
        })
        .collect()
}

fn ros_value(v: Value) -> ParameterValue {
    match v {
        Value::Bool(b) => ParameterValue::Bool(b),
        Value::Int(i) => ParameterValue::Integer(i),
        Value::Double(d) => ParameterValue::Double(d),
        Value::Str(s) => ParameterValue::String(s),
        Value::Other(_) => ParameterValue::NotSet,
    }
}

/// Every declared parameter with its effective value (given or default) and
/// description, for the node's parameter store (`ros2 param list/get/describe`).
/// r2r wants `&'static str` descriptions: they are built once per process
/// (the node calls this once, at start-up) and leaked.
pub fn declarations(given: &Given) -> Vec<(&'static Param, ParameterValue, &'static str)> {
    Settings::effective(given)
        .into_iter()
        .map(|(p, v)| {
            let desc: &'static str = Box::leak(p.description().into_boxed_str());
            (p, ros_value(v), desc)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ros_values_convert_and_not_set_is_not_given() {
        let raw = [
            ("a".to_string(), ParameterValue::Integer(3)),
            ("b".to_string(), ParameterValue::NotSet),
            ("c".to_string(), ParameterValue::DoubleArray(vec![1.0])),
        ];
        let g = given(raw.iter().map(|(k, v)| (k, v)));
        assert_eq!(g.get("a"), Some(&Value::Int(3)));
        assert!(!g.contains_key("b"));
        assert_eq!(g.get("c"), Some(&Value::Other("double array")));
    }

    #[test]
    fn every_parameter_is_declared_with_a_value_and_description() {
        let d = declarations(&Given::new());
        assert_eq!(d.len(), crate::params::PARAMS.len());
        assert!(d
            .iter()
            .all(|(_, v, desc)| !matches!(v, ParameterValue::NotSet) && !desc.is_empty()));
    }

    #[test]
    fn wrong_type_from_ros_names_the_parameter() {
        let raw = [(
            "tracking.enabled".to_string(),
            ParameterValue::StringArray(vec![]),
        )];
        let e = Settings::read(&given(raw.iter().map(|(k, v)| (k, v))))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("tracking.enabled") && e.contains("string array"),
            "{e}"
        );
    }
}
