//! Reading options objects as JavaScript passes them (JSON, camelCase
//! keys): the one place that turns them into typed values, so every class
//! refuses unknown keys the same way (a typo such as `{ topK: 5 }` is an
//! error naming the key, never a silent default) and reports a bad value
//! with the same words. Defaults are not here: each options type states its
//! own (`impl Default`) and asks this reader only for what was given.

use crate::error::{short_json as describe, Error, Result};
use serde_json::{Map, Value};

/// Fails if any of `keys` is not in `known`, naming the first stranger.
/// `what` names the options in the message ("search options").
pub fn check_keys<'a>(
    what: &str,
    keys: impl IntoIterator<Item = &'a str>,
    known: &[&str],
) -> Result<()> {
    match keys.into_iter().find(|key| !known.contains(key)) {
        None => Ok(()),
        Some(unknown) => Err(Error::invalid_argument(format!(
            "{what} have no option {unknown:?}; the options are {}",
            known.join(", ")
        ))),
    }
}

/// A whole number in `1..=u32::MAX` given as a JS number.
pub fn count(what: &str, key: &str, value: f64) -> Result<usize> {
    if value.fract() != 0.0 || !value.is_finite() || value < 1.0 || value > u32::MAX as f64 {
        return Err(Error::invalid_argument(format!(
            "{what}: {key} must be a positive integer, got {value}"
        )));
    }
    Ok(value as usize)
}

/// A strict reader over one options object.
pub struct OptionsReader<'a> {
    map: Option<&'a Map<String, Value>>,
    what: &'a str,
}

impl<'a> OptionsReader<'a> {
    /// `value` must be an object (or `null`/absent: no options) whose keys
    /// are all in `known`.
    pub fn new(value: Option<&'a Value>, what: &'a str, known: &[&str]) -> Result<Self> {
        let map = match value {
            None | Some(Value::Null) => None,
            Some(Value::Object(map)) => Some(map),
            Some(other) => {
                return Err(Error::invalid_argument(format!(
                    "{what} must be an object, got {}",
                    describe(other)
                )))
            }
        };
        check_keys(
            what,
            map.into_iter().flat_map(|m| m.keys().map(String::as_str)),
            known,
        )?;
        Ok(OptionsReader { map, what })
    }

    /// The value under `key`; `null` counts as absent (as `undefined`).
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.map?.get(key).filter(|v| !v.is_null())
    }

    /// An error about `key`'s value, which should have been `expected`.
    pub fn bad(&self, key: &str, expected: &str) -> Error {
        let got = self.map.and_then(|m| m.get(key)).unwrap_or(&Value::Null);
        Error::invalid_argument(format!(
            "{}: {key} must be {expected}, got {}",
            self.what,
            describe(got)
        ))
    }

    /// A positive whole number, if given.
    pub fn count(&self, key: &str) -> Result<Option<usize>> {
        self.get(key)
            .map(|v| {
                let number = v
                    .as_f64()
                    .ok_or_else(|| self.bad(key, "a positive integer"))?;
                count(self.what, key, number)
            })
            .transpose()
    }

    /// A positive whole number that must be given.
    pub fn required_count(&self, key: &str) -> Result<usize> {
        self.count(key)?
            .ok_or_else(|| self.bad(key, "a positive integer (it is required)"))
    }

    pub fn flag(&self, key: &str) -> Result<Option<bool>> {
        self.get(key)
            .map(|v| v.as_bool().ok_or_else(|| self.bad(key, "a boolean")))
            .transpose()
    }

    /// A finite number.
    pub fn number(&self, key: &str) -> Result<Option<f64>> {
        self.get(key)
            .map(|v| {
                v.as_f64()
                    .filter(|x| x.is_finite())
                    .ok_or_else(|| self.bad(key, "a finite number"))
            })
            .transpose()
    }

    pub fn text(&self, key: &str) -> Result<Option<&'a str>> {
        self.get(key)
            .map(|v| v.as_str().ok_or_else(|| self.bad(key, "a string")))
            .transpose()
    }

    /// A whole number in `0..2^53` (what a JS number holds exactly).
    pub fn seed(&self, key: &str) -> Result<Option<u64>> {
        self.get(key)
            .map(|v| {
                v.as_u64()
                    .filter(|&s| s < 1 << 53)
                    .ok_or_else(|| self.bad(key, "an integer from 0 to 2^53 - 1"))
            })
            .transpose()
    }

    /// An array of positive whole numbers.
    pub fn counts(&self, key: &str) -> Result<Option<Vec<usize>>> {
        let expected = "an array of positive integers";
        self.get(key)
            .map(|v| {
                v.as_array()
                    .ok_or_else(|| self.bad(key, expected))?
                    .iter()
                    .map(|n| {
                        n.as_u64()
                            .filter(|&n| (1..=u32::MAX as u64).contains(&n))
                            .map(|n| n as usize)
                            .ok_or_else(|| self.bad(key, expected))
                    })
                    .collect()
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_keys_are_refused_by_name_and_values_are_checked() {
        let value = json!({ "k": 5, "topK": 5 });
        let error = OptionsReader::new(Some(&value), "search options", &["k", "efSearch"])
            .err()
            .unwrap();
        assert_eq!(error.code(), "ERR_INVALID_ARGUMENT");
        assert!(error.to_string().contains("\"topK\""), "{error}");
        let value = json!({ "k": 5, "ratio": 0.5, "on": true, "name": "x", "sizes": [2, 3], "seed": 7, "none": null });
        let known = [
            "k", "ratio", "on", "name", "sizes", "seed", "none", "absent",
        ];
        let options = OptionsReader::new(Some(&value), "test options", &known).unwrap();
        assert_eq!(options.count("k").unwrap(), Some(5));
        assert_eq!(options.count("absent").unwrap(), None);
        assert_eq!(options.count("none").unwrap(), None);
        assert_eq!(options.number("ratio").unwrap(), Some(0.5));
        assert_eq!(options.flag("on").unwrap(), Some(true));
        assert_eq!(options.text("name").unwrap(), Some("x"));
        assert_eq!(options.counts("sizes").unwrap(), Some(vec![2, 3]));
        assert_eq!(options.seed("seed").unwrap(), Some(7));
        for bad in [
            options.count("ratio").err(),
            options.flag("k").err(),
            options.text("on").err(),
        ] {
            let error = bad.unwrap();
            assert!(
                error
                    .to_string()
                    .starts_with("invalid argument: test options: "),
                "{error}"
            );
        }
        assert!(options.required_count("absent").is_err());
        assert!(OptionsReader::new(Some(&json!(3)), "x", &[]).is_err());
        assert!(OptionsReader::new(None, "x", &[]).is_ok());
        assert_eq!(count("o", "k", 2.0).unwrap(), 2);
        for bad in [0.0, -1.0, 1.5, f64::NAN, f64::INFINITY, 5e9] {
            assert!(count("o", "k", bad).is_err(), "{bad}");
        }
    }
}
