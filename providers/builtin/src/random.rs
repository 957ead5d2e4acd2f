//! Provider `random`: `random_id`, `random_string`, `random_password` (sensitive
//! result), `random_integer`, `random_uuid` and `random_pet` (names such as
//! `brave-otter`, from terrane's own word lists). Values are drawn from the operating
//! system's CSPRNG at create time and then kept in state; `keepers` (and every argument)
//! force a new value when changed.

use async_trait::async_trait;
use base64::Engine as _;
use rand::Rng;
use terrane_core::{Type, Value};
use terrane_provider::{AttrSchema, Dispatch, ProviderError, Resource, Result, Schema};

use crate::{set_attr, SimpleFactory};

fn keepers() -> AttrSchema {
    AttrSchema::optional(Type::Map(Box::new(Type::String))).force_new()
}

fn string_schema(sensitive: bool) -> Schema {
    let result = AttrSchema::computed(Type::String);
    let result = if sensitive {
        result.sensitive()
    } else {
        result
    };
    let mut s = Schema::new()
        .attr("length", AttrSchema::required(Type::Number).force_new())
        .attr("keepers", keepers())
        .attr("result", result)
        .attr("id", AttrSchema::computed(Type::String))
        .attr(
            "override_special",
            AttrSchema::optional(Type::String).force_new(),
        );
    for flag in ["special", "upper", "lower", "numeric", "number"] {
        s = s.attr(flag, AttrSchema::optional_computed(Type::Bool).force_new());
    }
    for min in ["min_special", "min_upper", "min_lower", "min_numeric"] {
        s = s.attr(min, AttrSchema::optional_computed(Type::Number).force_new());
    }
    s
}

pub fn factory() -> SimpleFactory {
    SimpleFactory::new("random", provider)
}

/// The `random` provider with every type registered.
pub fn provider() -> Dispatch<()> {
    Dispatch::new(())
        .resource("random_id", Random(Id))
        .resource("random_string", Random(Text { password: false }))
        .resource("random_password", Random(Text { password: true }))
        .resource("random_integer", Random(Integer))
        .resource("random_uuid", Random(Uuid))
        .resource("random_pet", Random(Pet))
}

/// One `random_*` type: its schema, how its value is drawn when it is created, and how
/// an existing value is imported.
pub(crate) trait Draw: Send + Sync + 'static {
    /// The resource type, for messages.
    fn name(&self) -> &'static str;
    fn schema(&self) -> Schema;
    /// Draws the value into `out`, the planned object.
    fn draw(&self, out: &mut Value) -> Result<()>;
    /// The state of an existing value from the ID `terrane import` is given.
    fn import(&self, id: &str) -> Result<Value> {
        let _ = id;
        Err(ProviderError::config(format!(
            "{} does not support import",
            self.name()
        )))
    }
}

/// The [`Resource`] of a [`Draw`] type: values are drawn at create and then kept in
/// state, so read, update and delete only keep or drop what state has.
pub(crate) struct Random<T>(pub(crate) T);

#[async_trait]
impl<T: Draw> Resource<()> for Random<T> {
    fn schema(&self) -> Schema {
        self.0.schema()
    }

    async fn create(&self, _ctx: &(), planned: Value) -> Result<Value> {
        let mut out = planned;
        self.0.draw(&mut out)?;
        Ok(out)
    }

    async fn read(&self, _ctx: &(), state: Value) -> Result<Option<Value>> {
        Ok(Some(state))
    }

    async fn update(&self, _ctx: &(), prior: Value, planned: Value) -> Result<Value> {
        // Only non-force-new attributes can change in place; computed results are kept.
        let mut out = planned;
        if let (Value::Map(o), Some(p)) = (&mut out, prior.as_map()) {
            for (k, v) in p {
                if o.get(k).is_none_or(Value::is_unknown) {
                    o.insert(k.clone(), v.clone());
                }
            }
        }
        Ok(out)
    }

    async fn delete(&self, _ctx: &(), _state: Value) -> Result<()> {
        Ok(())
    }

    async fn import(&self, _ctx: &(), id: &str) -> Result<Value> {
        self.0.import(id)
    }
}

/// `random_id`.
struct Id;

/// `random_string`, or `random_password` (its result is sensitive).
struct Text {
    password: bool,
}

/// `random_integer`.
struct Integer;

/// `random_uuid`.
struct Uuid;

impl Draw for Id {
    fn name(&self) -> &'static str {
        "random_id"
    }

    fn schema(&self) -> Schema {
        Schema::new()
            .attr(
                "byte_length",
                AttrSchema::required(Type::Number).force_new(),
            )
            .attr("prefix", AttrSchema::optional(Type::String).force_new())
            .attr("keepers", keepers())
            .attr("id", AttrSchema::computed(Type::String))
            .attr("b64_url", AttrSchema::computed(Type::String))
            .attr("b64_std", AttrSchema::computed(Type::String))
            .attr("hex", AttrSchema::computed(Type::String))
            .attr("dec", AttrSchema::computed(Type::String))
    }

    fn draw(&self, out: &mut Value) -> Result<()> {
        let n = num(out, "byte_length").unwrap_or(0.0);
        if !(1.0..=1024.0).contains(&n) {
            return Err(ProviderError::config(
                "byte_length must be between 1 and 1024",
            ));
        }
        let mut rng = rand::rng();
        let bytes: Vec<u8> = (0..n as usize).map(|_| rng.random()).collect();
        let prefix = out
            .get("prefix")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes);
        let dec = bytes.iter().fold(String::from("0"), |acc, b| {
            decimal_mul_add(&acc, 256, *b as u32)
        });
        set_attr(out, "id", Value::String(url.clone()));
        set_attr(out, "b64_url", Value::String(format!("{prefix}{url}")));
        set_attr(
            out,
            "b64_std",
            Value::String(format!(
                "{prefix}{}",
                base64::engine::general_purpose::STANDARD.encode(&bytes)
            )),
        );
        set_attr(
            out,
            "hex",
            Value::String(format!("{prefix}{}", hex::encode(&bytes))),
        );
        set_attr(out, "dec", Value::String(format!("{prefix}{dec}")));
        Ok(())
    }
}

impl Draw for Text {
    fn name(&self) -> &'static str {
        if self.password {
            "random_password"
        } else {
            "random_string"
        }
    }

    fn schema(&self) -> Schema {
        string_schema(self.password)
    }

    fn draw(&self, out: &mut Value) -> Result<()> {
        with_defaults(out);
        let s = random_string(out)?;
        set_attr(out, "result", Value::String(s.clone()));
        set_attr(
            out,
            "id",
            Value::String(if self.password { "none".into() } else { s }),
        );
        Ok(())
    }

    /// The ID is the value itself.
    fn import(&self, id: &str) -> Result<Value> {
        let mut v = Value::map([
            ("result", Value::from(id)),
            ("length", Value::from(id.chars().count() as f64)),
            ("id", Value::from(if self.password { "none" } else { id })),
        ]);
        with_defaults(&mut v);
        Ok(v)
    }
}

impl Draw for Integer {
    fn name(&self) -> &'static str {
        "random_integer"
    }

    fn schema(&self) -> Schema {
        Schema::new()
            .attr("min", AttrSchema::required(Type::Number).force_new())
            .attr("max", AttrSchema::required(Type::Number).force_new())
            .attr("seed", AttrSchema::optional(Type::String).force_new())
            .attr("keepers", keepers())
            .attr("result", AttrSchema::computed(Type::Number))
            .attr("id", AttrSchema::computed(Type::String))
    }

    fn draw(&self, out: &mut Value) -> Result<()> {
        let (min, max) = (
            num(out, "min").unwrap_or(0.0) as i64,
            num(out, "max").unwrap_or(0.0) as i64,
        );
        if max < min {
            return Err(ProviderError::config(format!(
                "max ({max}) must be at least min ({min})"
            )));
        }
        let n = rand::rng().random_range(min..=max);
        set_attr(out, "result", Value::from(n as f64));
        set_attr(out, "id", Value::String(n.to_string()));
        Ok(())
    }

    /// The ID is `RESULT,MIN,MAX` (or only `RESULT`).
    fn import(&self, id: &str) -> Result<Value> {
        let parts: Vec<&str> = id.split(',').collect();
        let n: f64 = parts.first().and_then(|p| p.parse().ok()).ok_or_else(|| {
            ProviderError::config("import ID for random_integer is RESULT,MIN,MAX")
        })?;
        let mut v = Value::map([("result", Value::from(n)), ("id", Value::from(parts[0]))]);
        if let (Some(min), Some(max)) = (
            parts.get(1).and_then(|p| p.parse::<f64>().ok()),
            parts.get(2).and_then(|p| p.parse::<f64>().ok()),
        ) {
            set_attr(&mut v, "min", Value::from(min));
            set_attr(&mut v, "max", Value::from(max));
        }
        Ok(v)
    }
}

impl Draw for Uuid {
    fn name(&self) -> &'static str {
        "random_uuid"
    }

    fn schema(&self) -> Schema {
        Schema::new()
            .attr("keepers", keepers())
            .attr("result", AttrSchema::computed(Type::String))
            .attr("id", AttrSchema::computed(Type::String))
    }

    fn draw(&self, out: &mut Value) -> Result<()> {
        let u = uuid::Uuid::new_v4().to_string();
        set_attr(out, "result", Value::String(u.clone()));
        set_attr(out, "id", Value::String(u));
        Ok(())
    }

    /// The ID is the UUID.
    fn import(&self, id: &str) -> Result<Value> {
        Ok(Value::map([
            ("result", Value::from(id)),
            ("id", Value::from(id)),
        ]))
    }
}

/// `random_pet`: `length` words (default 2) joined by `separator` (default `-`), after
/// `prefix`: adverbs, then an adjective, then an animal, as the random provider builds
/// them.
struct Pet;

const ADVERBS: &[&str] = &[
    "amply",
    "boldly",
    "briskly",
    "calmly",
    "cheerfully",
    "closely",
    "deeply",
    "eagerly",
    "evenly",
    "fairly",
    "firmly",
    "freely",
    "gently",
    "gladly",
    "greatly",
    "highly",
    "honestly",
    "jointly",
    "keenly",
    "kindly",
    "lightly",
    "lively",
    "loudly",
    "mainly",
    "merrily",
    "mildly",
    "neatly",
    "newly",
    "nicely",
    "openly",
    "plainly",
    "politely",
    "promptly",
    "proudly",
    "quickly",
    "quietly",
    "rapidly",
    "rarely",
    "really",
    "richly",
    "safely",
    "sharply",
    "simply",
    "slowly",
    "smoothly",
    "softly",
    "solely",
    "steadily",
    "surely",
    "swiftly",
    "tightly",
    "truly",
    "vastly",
    "warmly",
    "widely",
    "wisely",
];

const ADJECTIVES: &[&str] = &[
    "able", "agile", "alert", "amber", "ample", "apt", "azure", "bold", "brave", "bright", "brisk",
    "calm", "candid", "civil", "clean", "clear", "clever", "close", "cosmic", "crisp", "cunning",
    "daring", "dear", "deft", "eager", "early", "easy", "epic", "even", "exact", "fair", "fancy",
    "fast", "fine", "firm", "fit", "fleet", "fond", "frank", "free", "fresh", "game", "gentle",
    "giving", "glad", "golden", "grand", "great", "happy", "hardy", "hearty", "helpful", "heroic",
    "honest", "humble", "ideal", "jolly", "just", "keen", "kind", "large", "lasting", "leading",
    "legal", "liberal", "light", "live", "lively", "loyal", "lucky", "magic", "major", "merry",
    "mighty", "modest", "moral", "neat", "nice", "noble", "open", "patient", "placid", "plain",
    "polite", "prime", "proud", "quick", "quiet", "rapid", "rare", "ready", "regal", "robust",
    "round", "royal", "safe", "sage", "sharp", "shining", "simple", "sincere", "smart", "smooth",
    "solid", "sound", "special", "square", "stable", "steady", "sterling", "still", "stout",
    "strong", "sunny", "super", "sure", "swift", "tender", "tidy", "tough", "true", "trusty",
    "upright", "valid", "vast", "vital", "warm", "wise", "witty", "worthy", "young", "zesty",
];

const ANIMALS: &[&str] = &[
    "aardvark",
    "albatross",
    "alpaca",
    "ant",
    "antelope",
    "badger",
    "bat",
    "bear",
    "beaver",
    "bee",
    "beetle",
    "bison",
    "boar",
    "buffalo",
    "bull",
    "camel",
    "cardinal",
    "caribou",
    "cat",
    "cheetah",
    "chicken",
    "cobra",
    "condor",
    "cougar",
    "cow",
    "coyote",
    "crab",
    "crane",
    "crow",
    "deer",
    "dingo",
    "dog",
    "dolphin",
    "donkey",
    "dove",
    "dragon",
    "duck",
    "eagle",
    "eel",
    "elk",
    "emu",
    "falcon",
    "ferret",
    "finch",
    "fox",
    "frog",
    "gazelle",
    "gecko",
    "gibbon",
    "giraffe",
    "gnu",
    "goat",
    "goose",
    "gopher",
    "gorilla",
    "grouse",
    "gull",
    "hare",
    "hawk",
    "hedgehog",
    "heron",
    "hippo",
    "horse",
    "hound",
    "ibex",
    "ibis",
    "iguana",
    "impala",
    "jackal",
    "jaguar",
    "jay",
    "kangaroo",
    "kid",
    "kingfisher",
    "kite",
    "kiwi",
    "koala",
    "lamb",
    "lark",
    "lemur",
    "leopard",
    "lion",
    "lizard",
    "llama",
    "lobster",
    "lynx",
    "macaw",
    "magpie",
    "mako",
    "marlin",
    "marmot",
    "marten",
    "mink",
    "mole",
    "mongoose",
    "monkey",
    "moose",
    "mouse",
    "mule",
    "newt",
    "ocelot",
    "octopus",
    "orca",
    "osprey",
    "ostrich",
    "otter",
    "owl",
    "ox",
    "panda",
    "panther",
    "parrot",
    "pelican",
    "penguin",
    "pheasant",
    "pig",
    "pika",
    "pony",
    "puffin",
    "puma",
    "quail",
    "rabbit",
    "raccoon",
    "ram",
    "raven",
    "reindeer",
    "robin",
    "salmon",
    "seal",
    "shark",
    "sheep",
    "shrew",
    "skunk",
    "sloth",
    "snail",
    "snake",
    "sparrow",
    "spider",
    "squid",
    "stag",
    "starling",
    "stork",
    "swan",
    "tapir",
    "tiger",
    "toad",
    "trout",
    "tuna",
    "turkey",
    "turtle",
    "viper",
    "vulture",
    "walrus",
    "wasp",
    "weasel",
    "whale",
    "wolf",
    "wombat",
    "wren",
    "yak",
    "zebra",
];

impl Draw for Pet {
    fn name(&self) -> &'static str {
        "random_pet"
    }

    fn schema(&self) -> Schema {
        Schema::new()
            .attr("keepers", keepers())
            .attr("length", AttrSchema::optional(Type::Number).force_new())
            .attr("prefix", AttrSchema::optional(Type::String).force_new())
            .attr("separator", AttrSchema::optional(Type::String).force_new())
            .attr("id", AttrSchema::computed(Type::String))
    }

    fn draw(&self, out: &mut Value) -> Result<()> {
        let length = num(out, "length").unwrap_or(2.0);
        if !(1.0..=64.0).contains(&length) || length.fract() != 0.0 {
            return Err(ProviderError::config(
                "random_pet: length must be a whole number from 1 to 64",
            ));
        }
        let separator = out
            .get("separator")
            .and_then(Value::as_str)
            .unwrap_or("-")
            .to_string();
        let mut rng = rand::rng();
        let mut pick = |words: &[&'static str]| words[rng.random_range(0..words.len())];
        let mut words: Vec<&str> = Vec::new();
        if let Some(prefix) = out.get("prefix").and_then(Value::as_str) {
            words.push(prefix);
        }
        let mut name = Vec::new();
        for _ in 2..length as usize {
            name.push(pick(ADVERBS));
        }
        if length >= 2.0 {
            name.push(pick(ADJECTIVES));
        }
        name.push(pick(ANIMALS));
        words.extend(name);
        let id = words.join(&separator);
        set_attr(out, "id", Value::String(id));
        Ok(())
    }

    /// The ID is the name.
    fn import(&self, id: &str) -> Result<Value> {
        Ok(Value::map([("id", Value::from(id))]))
    }
}

fn num(v: &Value, name: &str) -> Option<f64> {
    v.get(name).and_then(Value::as_f64)
}

fn flag(v: &Value, name: &str) -> bool {
    v.get(name).and_then(Value::as_bool).unwrap_or(true)
}

fn random_string(planned: &Value) -> Result<String> {
    let length = num(planned, "length").unwrap_or(0.0);
    if !(1.0..=4096.0).contains(&length) {
        return Err(ProviderError::config("length must be between 1 and 4096"));
    }
    let length = length as usize;
    let special: String = planned
        .get("override_special")
        .and_then(Value::as_str)
        .unwrap_or("!@#$%&*()-_=+[]{}<>:?")
        .to_string();
    let numeric = flag(planned, "numeric") && flag(planned, "number");
    let classes: Vec<(bool, &str, usize)> = vec![
        (
            flag(planned, "upper"),
            "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
            num(planned, "min_upper").unwrap_or(0.0) as usize,
        ),
        (
            flag(planned, "lower"),
            "abcdefghijklmnopqrstuvwxyz",
            num(planned, "min_lower").unwrap_or(0.0) as usize,
        ),
        (
            numeric,
            "0123456789",
            num(planned, "min_numeric").unwrap_or(0.0) as usize,
        ),
        (
            flag(planned, "special"),
            special.as_str(),
            num(planned, "min_special").unwrap_or(0.0) as usize,
        ),
    ];
    let mut rng = rand::rng();
    let mut out: Vec<char> = Vec::with_capacity(length);
    let mut all = String::new();
    for (enabled, chars, min) in &classes {
        if !enabled || chars.is_empty() {
            continue;
        }
        all.push_str(chars);
        let cs: Vec<char> = chars.chars().collect();
        for _ in 0..*min {
            out.push(cs[rng.random_range(0..cs.len())]);
        }
    }
    if all.is_empty() {
        return Err(ProviderError::config(
            "at least one character class must be enabled",
        ));
    }
    if out.len() > length {
        return Err(ProviderError::config(
            "the min_* counts add up to more than length",
        ));
    }
    let all: Vec<char> = all.chars().collect();
    while out.len() < length {
        out.push(all[rng.random_range(0..all.len())]);
    }
    // Shuffle so the guaranteed characters are not all at the front.
    for i in (1..out.len()).rev() {
        let j = rng.random_range(0..=i);
        out.swap(i, j);
    }
    Ok(out.into_iter().collect())
}

fn with_defaults(planned: &mut Value) {
    for flag in ["special", "upper", "lower", "numeric", "number"] {
        if planned
            .get(flag)
            .is_none_or(|v| v.is_null() || v.is_unknown())
        {
            set_attr(planned, flag, Value::Bool(true));
        }
    }
    for min in ["min_special", "min_upper", "min_lower", "min_numeric"] {
        if planned
            .get(min)
            .is_none_or(|v| v.is_null() || v.is_unknown())
        {
            set_attr(planned, min, Value::from(0.0));
        }
    }
}

/// Multiplies a decimal string by `mul` and adds `add` (for `random_id.dec`).
pub(crate) fn decimal_mul_add(dec: &str, mul: u32, add: u32) -> String {
    let mut digits: Vec<u32> = dec.bytes().rev().map(|b| (b - b'0') as u32).collect();
    let mut carry = add;
    for d in digits.iter_mut() {
        let x = *d * mul + carry;
        *d = x % 10;
        carry = x / 10;
    }
    while carry > 0 {
        digits.push(carry % 10);
        carry /= 10;
    }
    while digits.len() > 1 && digits.last() == Some(&0) {
        digits.pop();
    }
    digits
        .iter()
        .rev()
        .map(|d| char::from(b'0' + *d as u8))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_conversion() {
        assert_eq!(
            [1u8, 0]
                .iter()
                .fold(String::from("0"), |a, b| decimal_mul_add(
                    &a, 256, *b as u32
                )),
            "256"
        );
    }

    #[test]
    fn strings_respect_classes_and_minimums() {
        let mut v = Value::map([
            ("length", Value::from(20.0)),
            ("special", Value::Bool(false)),
            ("upper", Value::Bool(false)),
            ("min_numeric", Value::from(5.0)),
        ]);
        with_defaults(&mut v);
        let s = random_string(&v).unwrap();
        assert_eq!(s.chars().count(), 20);
        assert!(s
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
        assert!(s.chars().filter(char::is_ascii_digit).count() >= 5);
    }

    #[test]
    fn pets_are_adverbs_an_adjective_and_an_animal() {
        let pet = |pairs: Vec<(&str, Value)>| {
            let mut v = Value::map(pairs);
            Pet.draw(&mut v).map(|()| {
                v.get("id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            })
        };
        let two = pet(vec![]).expect("a pet");
        let (adjective, animal) = two.split_once('-').expect("two words");
        assert!(
            ADJECTIVES.contains(&adjective) && ANIMALS.contains(&animal),
            "{two}"
        );
        let four = pet(vec![
            ("length", Value::from(4.0)),
            ("prefix", Value::from("dev")),
            ("separator", Value::from("_")),
        ])
        .expect("a pet");
        let words: Vec<&str> = four.split('_').collect();
        assert_eq!(words.len(), 5, "{four}");
        assert_eq!(words[0], "dev");
        assert!(ADVERBS.contains(&words[1]) && ADVERBS.contains(&words[2]));
        assert!(ADJECTIVES.contains(&words[3]) && ANIMALS.contains(&words[4]));
        let one = pet(vec![("length", Value::from(1.0))]).expect("a pet");
        assert!(ANIMALS.contains(&one.as_str()), "{one}");
        assert!(pet(vec![("length", Value::from(0.0))]).is_err());
    }
}
