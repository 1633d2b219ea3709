//! What a database's learning does and when: the `learning` options of
//! `new VectorDB({...})` and `VectorDB.open(path, {...})`, their defaults
//! and limits. Unknown keys are refused like everywhere else.

use super::feedback_log::FeedbackSettings;
use super::trainer::TrainParams;
use crate::error::{Error, Result};
use crate::gnn::gather::RowPrecision;
use crate::options::OptionsReader;
use serde_json::{json, Value};

/// Most sessions the feedback log may hold.
pub const MAX_BUFFER_SESSIONS: usize = 10_000_000;
/// Most candidates a learned ranking may score per search.
pub const MAX_RERANK_DEPTH: usize = 10_000;

/// The keys of the `learning` options object.
pub const LEARNING_OPTION_KEYS: [&str; 13] = [
    "bufferSessions",
    "halfLifeSessions",
    "halfLifeMs",
    "conversionWeight",
    "retentionMs",
    "trainEverySessions",
    "trainEveryMs",
    "minSessions",
    "threads",
    "rerankDepth",
    "explore",
    "background",
    "model",
];

/// The keys of `learning.model`, the trainer's hyperparameters.
pub const MODEL_OPTION_KEYS: [&str; 16] = [
    "epochs",
    "learningRate",
    "shrinkage",
    "propensityExponent",
    "messageWeight",
    "hops",
    "memoryNeighbours",
    "similarityPower",
    "minZ",
    "encodingWeight",
    "memoryWeight",
    "metricWeight",
    "metricRank",
    "metricNeighbours",
    "resolution",
    "messagePrecision",
];

/// How a database learns from feedback. `enabled: false` (`learning:
/// false`) turns off the feedback log, the trainer and the reranker: search
/// is base search and `feedback` is refused.
#[derive(Clone, Debug, PartialEq)]
pub struct LearningSettings {
    pub enabled: bool,
    /// Size of the feedback ring, decay and conversion weight.
    pub feedback: FeedbackSettings,
    /// Feedback older than this is dropped (the log holds query vectors);
    /// `None` keeps it until the ring overwrites it.
    pub retention_ms: Option<u64>,
    /// The background trainer retrains after this many new sessions...
    pub train_every_sessions: usize,
    /// ...or after this long, if any session arrived since the last pass.
    pub train_every_ms: u64,
    /// No model is trained from fewer sessions than this.
    pub min_sessions: usize,
    /// Threads the trainer uses.
    pub threads: usize,
    /// Candidates the learned ranking scores per search (at least `k`).
    pub rerank_depth: usize,
    /// Share of searches served as an interleaving of base and learned
    /// rankings, whose clicks decide whether the model stays.
    pub explore: f64,
    /// Whether a thread trains on its own; `false` trains only on `train()`.
    pub background: bool,
    /// The trainer's hyperparameters.
    pub model: TrainParams,
}

impl Default for LearningSettings {
    fn default() -> LearningSettings {
        LearningSettings {
            enabled: true,
            feedback: FeedbackSettings::default(),
            retention_ms: None,
            train_every_sessions: 200,
            train_every_ms: 30_000,
            min_sessions: 50,
            threads: 1,
            rerank_depth: 100,
            explore: 0.1,
            background: true,
            model: TrainParams::default(),
        }
    }
}

impl LearningSettings {
    /// Learning turned off.
    pub fn disabled() -> LearningSettings {
        LearningSettings {
            enabled: false,
            ..LearningSettings::default()
        }
    }

    /// The `learning` option: `false`, `true`, or an object overriding
    /// `base`'s values; absent keeps `base`.
    pub fn from_options(value: Option<&Value>, base: &LearningSettings) -> Result<Self> {
        const WHAT: &str = "learning options";
        match value {
            None | Some(Value::Null) => return Ok(base.clone()),
            Some(Value::Bool(false)) => return Ok(LearningSettings::disabled()),
            Some(Value::Bool(true)) => {
                return Ok(LearningSettings {
                    enabled: true,
                    ..base.clone()
                })
            }
            _ => {}
        }
        let o = OptionsReader::new(value, WHAT, &LEARNING_OPTION_KEYS)?;
        let mut s = LearningSettings {
            enabled: true,
            ..base.clone()
        };
        let f = &mut s.feedback;
        f.capacity = o.count("bufferSessions")?.unwrap_or(f.capacity);
        f.half_life_sessions = o
            .number("halfLifeSessions")?
            .unwrap_or(f.half_life_sessions);
        if let Some(ms) = o.number("halfLifeMs")? {
            f.half_life_ms = Some(ms);
        }
        f.conversion_weight = o
            .number("conversionWeight")?
            .map_or(f.conversion_weight, |w| w as f32);
        if let Some(ms) = o.number("retentionMs")? {
            s.retention_ms = Some(positive_ms(WHAT, "retentionMs", ms)?);
        }
        s.train_every_sessions = o
            .count("trainEverySessions")?
            .unwrap_or(s.train_every_sessions);
        if let Some(ms) = o.number("trainEveryMs")? {
            s.train_every_ms = positive_ms(WHAT, "trainEveryMs", ms)?;
        }
        s.min_sessions = o.count("minSessions")?.unwrap_or(s.min_sessions);
        s.threads = o.count("threads")?.unwrap_or(s.threads);
        s.rerank_depth = o.count("rerankDepth")?.unwrap_or(s.rerank_depth);
        s.explore = o.number("explore")?.unwrap_or(s.explore);
        s.background = o.flag("background")?.unwrap_or(s.background);
        if let Some(model) = o.get("model") {
            s.model = model_params(model, &s.model)?;
        }
        s.validate()?;
        Ok(s)
    }

    pub fn validate(&self) -> Result<()> {
        let bad = |why: String| Err(Error::invalid_argument(format!("learning options: {why}")));
        let f = &self.feedback;
        if !(1..=MAX_BUFFER_SESSIONS).contains(&f.capacity) {
            return bad(format!(
                "bufferSessions must be between 1 and {MAX_BUFFER_SESSIONS}, got {}",
                f.capacity
            ));
        }
        if !positive(f.half_life_sessions) {
            return bad(format!(
                "halfLifeSessions must be positive, got {}",
                f.half_life_sessions
            ));
        }
        if let Some(ms) = f.half_life_ms.filter(|ms| !positive(*ms)) {
            return bad(format!("halfLifeMs must be positive, got {ms}"));
        }
        if !(1.0..=1000.0).contains(&f.conversion_weight) {
            return bad(format!(
                "conversionWeight must be between 1 and 1000, got {}",
                f.conversion_weight
            ));
        }
        if !(0.0..=1.0).contains(&self.explore) {
            return bad(format!(
                "explore must be between 0 and 1, got {}",
                self.explore
            ));
        }
        if self.rerank_depth > MAX_RERANK_DEPTH {
            return bad(format!(
                "rerankDepth must be at most {MAX_RERANK_DEPTH}, got {}",
                self.rerank_depth
            ));
        }
        let m = &self.model;
        let in_range = (1..=100).contains(&m.epochs)
            && positive(m.learning_rate as f64)
            && m.learning_rate <= 10.0
            && (0.0..=100.0).contains(&m.shrinkage)
            && (0.0..=4.0).contains(&m.propensity_exponent)
            && (0.0..=1.0).contains(&m.message_weight)
            && m.hops <= 2
            && (1..=1000).contains(&m.memory.neighbours)
            && (0.0..=super::model::MAX_SIMILARITY_POWER).contains(&m.memory.similarity_power)
            && (0.0..=10.0).contains(&m.min_z)
            && [m.blend.encoding, m.blend.memory, m.blend.metric]
                .iter()
                .all(|w| (0.0..=100.0).contains(w))
            && m.metric.max_rank <= 1024
            && m.metric_neighbours <= 256
            && m.resolution > 0.0
            && m.resolution <= 100.0;
        if !in_range {
            return bad(format!(
                "model options out of range (epochs 1-100, learningRate (0, 10], shrinkage 0-100, propensityExponent 0-4, messageWeight 0-1, hops 0-2, memoryNeighbours 1-1000, similarityPower 0-100, minZ 0-10, weights 0-100, metricRank 0-1024, metricNeighbours 0-256, resolution (0, 100]): {m:?}"
            ));
        }
        if self.threads > 256 {
            return bad(format!("threads must be at most 256, got {}", self.threads));
        }
        Ok(())
    }

    /// The settings as the options object that would give them (saved with
    /// the feedback log, so a reopened database keeps them).
    pub fn to_options(&self) -> Value {
        if !self.enabled {
            return Value::Bool(false);
        }
        let f = &self.feedback;
        let mut value = json!({
            "bufferSessions": f.capacity,
            "halfLifeSessions": f.half_life_sessions,
            "conversionWeight": f.conversion_weight,
            "trainEverySessions": self.train_every_sessions,
            "trainEveryMs": self.train_every_ms,
            "minSessions": self.min_sessions,
            "threads": self.threads,
            "rerankDepth": self.rerank_depth,
            "explore": self.explore,
            "background": self.background,
        });
        if let Some(ms) = f.half_life_ms {
            value["halfLifeMs"] = json!(ms);
        }
        if let Some(ms) = self.retention_ms {
            value["retentionMs"] = json!(ms);
        }
        let m = &self.model;
        value["model"] = json!({
            "epochs": m.epochs,
            "learningRate": m.learning_rate,
            "shrinkage": m.shrinkage,
            "propensityExponent": m.propensity_exponent,
            "messageWeight": m.message_weight,
            "hops": m.hops,
            "memoryNeighbours": m.memory.neighbours,
            "similarityPower": m.memory.similarity_power,
            "minZ": m.min_z,
            "encodingWeight": m.blend.encoding,
            "memoryWeight": m.blend.memory,
            "metricWeight": m.blend.metric,
            "metricRank": m.metric.max_rank,
            "metricNeighbours": m.metric_neighbours,
            "resolution": m.resolution,
            "messagePrecision": m.message_precision.name(),
        });
        value
    }
}

fn model_params(value: &Value, base: &TrainParams) -> Result<TrainParams> {
    let o = OptionsReader::new(Some(value), "learning.model options", &MODEL_OPTION_KEYS)?;
    let mut m = *base;
    let float = |key: &str, current: f32| -> Result<f32> {
        Ok(o.number(key)?.map_or(current, |v| v as f32))
    };
    m.epochs = o.count("epochs")?.unwrap_or(m.epochs);
    m.learning_rate = float("learningRate", m.learning_rate)?;
    m.shrinkage = float("shrinkage", m.shrinkage)?;
    m.propensity_exponent = float("propensityExponent", m.propensity_exponent)?;
    m.message_weight = float("messageWeight", m.message_weight)?;
    if let Some(hops) = o.number("hops")? {
        if hops.fract() != 0.0 || !(0.0..=2.0).contains(&hops) {
            return Err(o.bad("hops", "0, 1 or 2"));
        }
        m.hops = hops as usize;
    }
    m.memory.neighbours = o.count("memoryNeighbours")?.unwrap_or(m.memory.neighbours);
    m.memory.similarity_power = float("similarityPower", m.memory.similarity_power)?;
    m.min_z = o.number("minZ")?.unwrap_or(m.min_z);
    m.blend.encoding = float("encodingWeight", m.blend.encoding)?;
    m.blend.memory = float("memoryWeight", m.blend.memory)?;
    m.blend.metric = float("metricWeight", m.blend.metric)?;
    if let Some(rank) = o.number("metricRank")? {
        if rank.fract() != 0.0 || !(0.0..=1024.0).contains(&rank) {
            return Err(o.bad("metricRank", "an integer from 0 to 1024"));
        }
        m.metric.max_rank = rank as usize;
    }
    if let Some(n) = o.number("metricNeighbours")? {
        if n.fract() != 0.0 || !(0.0..=256.0).contains(&n) {
            return Err(o.bad("metricNeighbours", "an integer from 0 to 256"));
        }
        m.metric_neighbours = n as usize;
    }
    m.resolution = o.number("resolution")?.unwrap_or(m.resolution);
    if let Some(name) = o.text("messagePrecision")? {
        m.message_precision =
            RowPrecision::parse(name).map_err(|_| o.bad("messagePrecision", "'f32' or 'f16'"))?;
    }
    Ok(m)
}

/// `x > 0`, false for NaN.
fn positive(x: f64) -> bool {
    x > 0.0
}

fn positive_ms(what: &str, key: &str, ms: f64) -> Result<u64> {
    if !(1.0..=1e15).contains(&ms) {
        return Err(Error::invalid_argument(format!(
            "{what}: {key} must be a positive number of milliseconds, got {ms}"
        )));
    }
    Ok(ms as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_override_defaults_and_round_trip() {
        let value = json!({ "bufferSessions": 500, "halfLifeMs": 1000, "explore": 0, "retentionMs": 86400000,
            "model": { "messagePrecision": "f16" } });
        let s = LearningSettings::from_options(Some(&value), &LearningSettings::default()).unwrap();
        assert_eq!(s.model.message_precision, RowPrecision::F16);
        assert_eq!(
            LearningSettings::default().model.message_precision,
            RowPrecision::F32
        );
        assert_eq!(s.feedback.capacity, 500);
        assert_eq!(s.feedback.half_life_ms, Some(1000.0));
        assert_eq!(s.explore, 0.0);
        assert_eq!(s.retention_ms, Some(86_400_000));
        let again =
            LearningSettings::from_options(Some(&s.to_options()), &LearningSettings::default())
                .unwrap();
        assert_eq!(again, s);
        let off = LearningSettings::from_options(Some(&json!(false)), &s).unwrap();
        assert!(!off.enabled);
    }

    #[test]
    fn bad_values_and_unknown_keys_are_refused() {
        for bad in [
            json!({ "explore": 1.5 }),
            json!({ "bufferSessions": 0 }),
            json!({ "halfLifeSessions": -1 }),
            json!({ "conversionWeight": 0.5 }),
            json!({ "retentionMs": 0 }),
            json!({ "rerankDepth": 1e9 }),
            json!({ "buffersessions": 10 }),
            json!({ "model": { "messagePrecision": "bf16" } }),
            json!({ "model": { "messagePrecision": 16 } }),
            json!("yes"),
        ] {
            let e = LearningSettings::from_options(Some(&bad), &LearningSettings::default())
                .unwrap_err();
            assert_eq!(e.code(), "ERR_INVALID_ARGUMENT", "{bad}");
        }
    }
}
