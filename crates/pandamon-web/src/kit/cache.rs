//! The answer cache every page shares. An answer is kept under a key made of the module, the
//! request's normalised parameters and the data generation it was computed from; concurrent
//! misses for one key wait for one computation, different keys never wait for each other.
//!
//! Storage sits behind [`AnswerStore`], so a shared cache (Redis, say) can replace the in-memory
//! one without touching a handler.

use axum::body::Bytes;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What an answer was computed from, which decides how long it stays valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// Only the live index, at this generation: valid until the index changes.
    Index(u64),
    /// The database (at least in part): valid for the cache's database time-to-live.
    Database,
}

/// A rendered answer: the body and its content type.
#[derive(Debug, Clone)]
pub struct Answer {
    pub body: Bytes,
    pub content_type: &'static str,
}

/// A stored answer with what it was computed from.
#[derive(Debug, Clone)]
pub struct Stored {
    pub answer: Answer,
    pub basis: Basis,
    pub at: Instant,
}

/// Where answers are kept. Implementations bound their own size.
pub trait AnswerStore: Send + Sync {
    fn get(&self, key: &str) -> Option<Stored>;
    fn put(&self, key: String, value: Stored);
}

/// The in-memory store: bounded by bytes, oldest answers dropped first.
pub struct MemoryStore {
    max_bytes: usize,
    inner: Mutex<MemoryInner>,
}

#[derive(Default)]
struct MemoryInner {
    entries: HashMap<String, Stored>,
    order: VecDeque<String>,
    bytes: usize,
}

impl MemoryStore {
    pub fn new(max_bytes: usize) -> MemoryStore {
        MemoryStore {
            max_bytes,
            inner: Mutex::default(),
        }
    }

    /// Bytes held now (bodies and keys).
    pub fn bytes(&self) -> usize {
        self.inner.lock().map_or(0, |i| i.bytes)
    }
}

fn size(key: &str, value: &Stored) -> usize {
    key.len() + value.answer.body.len()
}

impl AnswerStore for MemoryStore {
    fn get(&self, key: &str) -> Option<Stored> {
        self.inner.lock().ok()?.entries.get(key).cloned()
    }

    fn put(&self, key: String, value: Stored) {
        let bytes = size(&key, &value);
        if bytes > self.max_bytes {
            return;
        }
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if let Some(old) = inner.entries.remove(&key) {
            inner.bytes -= size(&key, &old);
            inner.order.retain(|k| k != &key);
        }
        while inner.bytes + bytes > self.max_bytes {
            let Some(oldest) = inner.order.pop_front() else {
                break;
            };
            if let Some(old) = inner.entries.remove(&oldest) {
                inner.bytes -= size(&oldest, &old);
            }
        }
        inner.bytes += bytes;
        inner.order.push_back(key.clone());
        inner.entries.insert(key, value);
    }
}

/// The cache pages use: a store plus single flight per key.
pub struct Answers {
    store: Box<dyn AnswerStore>,
    /// How long an answer read from the database stays valid.
    database_ttl: Duration,
    inflight: Mutex<HashMap<String, Arc<tokio::sync::OnceCell<Answer>>>>,
}

impl Answers {
    pub fn new(store: Box<dyn AnswerStore>, database_ttl: Duration) -> Answers {
        Answers {
            store,
            database_ttl,
            inflight: Mutex::default(),
        }
    }

    /// The stored answer for `key` if it is still valid at index generation `generation`.
    pub fn get(&self, key: &str, generation: Option<u64>) -> Option<Answer> {
        let stored = self.store.get(key)?;
        let valid = match stored.basis {
            Basis::Index(g) => Some(g) == generation,
            Basis::Database => stored.at.elapsed() < self.database_ttl,
        };
        valid.then_some(stored.answer)
    }

    pub fn put(&self, key: String, answer: Answer, basis: Basis) {
        if matches!(basis, Basis::Database) && self.database_ttl.is_zero() {
            return;
        }
        self.store.put(
            key,
            Stored {
                answer,
                basis,
                at: Instant::now(),
            },
        );
    }

    /// The computation slot of `key`: whoever asks for the same key while it is computed
    /// waits for that one computation and gets its answer.
    pub fn flight(&self, key: &str) -> Flight<'_> {
        let cell = self
            .inflight
            .lock()
            .map(|mut m| m.entry(key.to_string()).or_default().clone())
            .unwrap_or_default();
        Flight {
            answers: self,
            key: key.to_string(),
            cell,
        }
    }
}

/// One key's computation slot; dropping the last one forgets the key.
pub struct Flight<'a> {
    answers: &'a Answers,
    key: String,
    cell: Arc<tokio::sync::OnceCell<Answer>>,
}

impl Flight<'_> {
    /// The answer of the computation in flight, or `compute`'s when there is none (a failed
    /// computation leaves the slot to the next waiter).
    pub async fn share<F, Fut, E>(&self, compute: F) -> Result<Answer, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Answer, E>>,
    {
        self.cell.get_or_try_init(compute).await.cloned()
    }
}

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        if let Ok(mut map) = self.answers.inflight.lock() {
            // Two references: the map's and ours. Then nobody else waits on this key.
            if Arc::strong_count(&self.cell) <= 2 {
                map.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(text: &str) -> Answer {
        Answer {
            body: Bytes::from(text.to_string()),
            content_type: "text/plain",
        }
    }

    #[test]
    fn index_answers_live_for_their_generation_only() {
        let answers = Answers::new(Box::new(MemoryStore::new(1 << 20)), Duration::ZERO);
        answers.put("a".into(), answer("x"), Basis::Index(3));
        assert!(answers.get("a", Some(3)).is_some());
        assert!(answers.get("a", Some(4)).is_none());
        // With no database time-to-live, database answers are not kept at all.
        answers.put("b".into(), answer("y"), Basis::Database);
        assert!(answers.get("b", Some(3)).is_none());
    }

    #[test]
    fn database_answers_live_for_the_ttl() {
        let answers = Answers::new(Box::new(MemoryStore::new(1 << 20)), Duration::from_secs(60));
        answers.put("b".into(), answer("y"), Basis::Database);
        assert_eq!(&answers.get("b", None).unwrap().body[..], b"y");
    }

    #[test]
    fn the_store_is_bounded_by_bytes_and_drops_the_oldest() {
        let store = MemoryStore::new(30);
        let stored = |t: &str| Stored {
            answer: answer(t),
            basis: Basis::Database,
            at: Instant::now(),
        };
        store.put("k1".into(), stored("0123456789"));
        store.put("k2".into(), stored("0123456789"));
        assert!(store.get("k1").is_some());
        store.put("k3".into(), stored("0123456789"));
        assert!(store.get("k1").is_none(), "the oldest answer goes first");
        assert!(store.get("k2").is_some() && store.get("k3").is_some());
        assert!(store.bytes() <= 30);
        store.put("big".into(), stored(&"x".repeat(100)));
        assert!(
            store.get("big").is_none(),
            "an answer larger than the cache is not kept"
        );
    }

    #[tokio::test]
    async fn concurrent_misses_of_one_key_share_one_computation() {
        let answers = Arc::new(Answers::new(
            Box::new(MemoryStore::new(1 << 20)),
            Duration::ZERO,
        ));
        let runs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let ask = |key: &'static str| {
            let (answers, runs) = (answers.clone(), runs.clone());
            tokio::spawn(async move {
                let flight = answers.flight(key);
                flight
                    .share(|| async {
                        runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        Ok::<_, ()>(answer(key))
                    })
                    .await
            })
        };
        let tasks: Vec<_> = ["a", "a", "a", "b"].into_iter().map(ask).collect();
        for (task, key) in tasks.into_iter().zip(["a", "a", "a", "b"]) {
            assert_eq!(&task.await.unwrap().unwrap().body[..], key.as_bytes());
        }
        // One computation for the three "a" requests, one for "b".
        assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 2);
        assert!(
            answers.inflight.lock().unwrap().is_empty(),
            "slots are forgotten"
        );
    }
}
