//! The answer cache every page shares. An answer is kept under a key made of the module, the
//! request's normalised parameters and the data generation it was computed from; concurrent
//! misses for one key wait for one computation, different keys never wait for each other.
//!
//! Storage sits behind [`AnswerStore`], so a shared cache (Redis, say) can replace the in-memory
//! one without touching a handler.

use axum::body::Bytes;
use schemars::JsonSchema;
use serde::Serialize;
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
    /// Answers held now and their bytes (keys included), with the bound on those bytes.
    fn usage(&self) -> StoreUsage;
}

/// What a store holds, for `/healthz`.
#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
pub struct StoreUsage {
    pub entries: usize,
    pub bytes: usize,
    pub max_bytes: usize,
}

/// The cache's state, for `/healthz`.
#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
pub struct CacheReport {
    #[serde(flatten)]
    pub store: StoreUsage,
    /// Answers being computed now, and how many may be at once.
    pub computing: usize,
    pub max_computing: usize,
}

/// No answer larger than this share of the in-memory store is kept.
const LARGEST_SHARE: usize = 16;

/// The in-memory store: bounded by bytes, oldest answers dropped first; answers larger than a
/// sixteenth of it are not kept.
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
}

fn size(key: &str, value: &Stored) -> usize {
    key.len() + value.answer.body.len()
}

impl AnswerStore for MemoryStore {
    fn get(&self, key: &str) -> Option<Stored> {
        self.inner.lock().ok()?.entries.get(key).cloned()
    }

    fn usage(&self) -> StoreUsage {
        let (entries, bytes) = self
            .inner
            .lock()
            .map_or((0, 0), |i| (i.entries.len(), i.bytes));
        StoreUsage {
            entries,
            bytes,
            max_bytes: self.max_bytes,
        }
    }

    fn put(&self, key: String, value: Stored) {
        let bytes = size(&key, &value);
        // A large answer would push out many small ones that are asked for more often.
        if bytes > self.max_bytes / LARGEST_SHARE {
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
    /// Computations that may run at once (the memory budget's share for them).
    computing: tokio::sync::Semaphore,
    max_computing: usize,
}

impl Answers {
    pub fn new(
        store: Box<dyn AnswerStore>,
        database_ttl: Duration,
        computations: usize,
    ) -> Answers {
        Answers {
            store,
            database_ttl,
            inflight: Mutex::default(),
            computing: tokio::sync::Semaphore::new(computations.max(1)),
            max_computing: computations.max(1),
        }
    }

    /// What the cache holds and computes now.
    pub fn report(&self) -> CacheReport {
        CacheReport {
            store: self.store.usage(),
            computing: self.max_computing - self.computing.available_permits(),
            max_computing: self.max_computing,
        }
    }

    /// A computation slot: held while an answer is computed, so that the answers in progress
    /// stay within the memory budget. Waits while every slot is busy.
    pub async fn computation_slot(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        // The semaphore is never closed, so this always gets a slot.
        self.computing.acquire().await.ok()
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
        let answers = Answers::new(Box::new(MemoryStore::new(1 << 20)), Duration::ZERO, 4);
        answers.put("a".into(), answer("x"), Basis::Index(3));
        assert!(answers.get("a", Some(3)).is_some());
        assert!(answers.get("a", Some(4)).is_none());
        // With no database time-to-live, database answers are not kept at all.
        answers.put("b".into(), answer("y"), Basis::Database);
        assert!(answers.get("b", Some(3)).is_none());
    }

    #[test]
    fn database_answers_live_for_the_ttl() {
        let answers = Answers::new(
            Box::new(MemoryStore::new(1 << 20)),
            Duration::from_secs(60),
            4,
        );
        answers.put("b".into(), answer("y"), Basis::Database);
        assert_eq!(&answers.get("b", None).unwrap().body[..], b"y");
    }

    #[test]
    fn the_store_is_bounded_by_bytes_and_drops_the_oldest() {
        let store = MemoryStore::new(16 * 30);
        let stored = |t: &str| Stored {
            answer: answer(t),
            basis: Basis::Database,
            at: Instant::now(),
        };
        let ten = "x".repeat(27); // with its 3-byte key, 30 bytes: 16 fit
        for k in 1..=16 {
            store.put(format!("k{k:02}"), stored(&ten));
        }
        assert!(store.get("k01").is_some());
        store.put("k17".into(), stored(&ten));
        assert!(store.get("k01").is_none(), "the oldest answer goes first");
        assert!(store.get("k02").is_some() && store.get("k17").is_some());
        assert!(store.usage().bytes <= 16 * 30);
        store.put("big".into(), stored(&"x".repeat(40)));
        assert!(
            store.get("big").is_none(),
            "an answer larger than a sixteenth of the cache is not kept"
        );
        assert!(store.get("k17").is_some(), "and pushes nothing out");
    }

    #[tokio::test]
    async fn concurrent_misses_of_one_key_share_one_computation() {
        let answers = Arc::new(Answers::new(
            Box::new(MemoryStore::new(1 << 20)),
            Duration::ZERO,
            4,
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
