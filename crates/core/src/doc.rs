//! [`Doc`]: a JSON-like value model that documents are built in.
//!
//! The machine-readable plan is written once, generically, and built in two value
//! models: `serde_json` for what terrane prints, and a policy engine's own values for
//! what policies read. Building the engine's values directly skips a JSON tree that
//! would only be converted and thrown away, which on a large plan costs as much as
//! evaluating the policies.

/// A value model a document can be built in.
pub trait Doc: Sized {
    fn null() -> Self;
    fn bool(b: bool) -> Self;
    /// A number, with every digit it prints with.
    fn number(n: &crate::Number) -> Self;
    fn string(s: &str) -> Self;
    fn array(items: Vec<Self>) -> Self;
    /// An object of `entries`, in their order (for models that keep one).
    fn object(entries: Vec<(&str, Self)>) -> Self;
}

impl Doc for serde_json::Value {
    fn null() -> Self {
        serde_json::Value::Null
    }

    fn bool(b: bool) -> Self {
        serde_json::Value::Bool(b)
    }

    fn number(n: &crate::Number) -> Self {
        if n.is_infinite() {
            serde_json::Value::Null
        } else {
            serde_json::Value::Number(n.to_json())
        }
    }

    fn string(s: &str) -> Self {
        serde_json::Value::String(s.to_string())
    }

    fn array(items: Vec<Self>) -> Self {
        serde_json::Value::Array(items)
    }

    fn object(entries: Vec<(&str, Self)>) -> Self {
        serde_json::Value::Object(
            entries
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        )
    }
}

/// The part of a document its readers can reach: every field (`all`), or some named
/// fields, each with the part of it they reach. Building only that part of a large
/// document changes nothing a reader that follows these paths can observe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Projection(Option<std::collections::BTreeMap<String, Projection>>);

static ALL: Projection = Projection(None);

impl Projection {
    /// Everything.
    pub fn all() -> Projection {
        Projection(None)
    }

    /// Nothing (until paths are added).
    pub fn none() -> Projection {
        Projection(Some(Default::default()))
    }

    pub fn is_all(&self) -> bool {
        self.0.is_none()
    }

    /// What is reached of field `name`; `None` when nothing is.
    pub fn field(&self, name: &str) -> Option<&Projection> {
        match &self.0 {
            None => Some(&ALL),
            Some(fields) => fields.get(name),
        }
    }

    /// Adds a path and everything below it; the empty path is the whole document.
    pub fn add(&mut self, path: &[&str]) {
        let Some(fields) = &mut self.0 else { return };
        match path.split_first() {
            None => self.0 = None,
            Some((first, rest)) => fields
                .entry(first.to_string())
                .or_insert_with(Projection::none)
                .add(rest),
        }
    }

    /// Everything either reaches.
    pub fn union(&mut self, other: &Projection) {
        let (Some(mine), Some(theirs)) = (&mut self.0, &other.0) else {
            self.0 = None;
            return;
        };
        for (k, p) in theirs {
            match mine.get_mut(k) {
                Some(m) => m.union(p),
                None => {
                    mine.insert(k.clone(), p.clone());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Projection;

    #[test]
    fn paths_widen_to_what_is_below_them_and_the_empty_path_to_everything() {
        let mut p = Projection::none();
        assert!(p.field("change").is_none());
        p.add(&["change", "after", "tags"]);
        p.add(&["type"]);
        let after = p.field("change").and_then(|c| c.field("after")).unwrap();
        assert!(after.field("tags").unwrap().is_all());
        assert!(after.field("id").is_none());
        assert!(p.field("type").unwrap().field("anything").is_some());
        let mut q = Projection::none();
        q.add(&["change", "after"]);
        p.union(&q);
        assert!(p.field("change").unwrap().field("after").unwrap().is_all());
        assert!(p.field("change").unwrap().field("before").is_none());
        p.add(&[]);
        assert!(p.is_all());
        let mut r = Projection::none();
        r.union(&Projection::all());
        assert!(r.is_all());
    }
}
