//! [`Flights`]: single flight per token — concurrent requests carrying the same token
//! share one introspection call.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

/// The calls in flight, by the SHA-256 of their token. An entry lives while its call
/// runs; the requests that find it wait for its outcome instead of calling again.
pub(crate) struct Flights<V> {
    map: Mutex<HashMap<[u8; 32], Arc<OnceCell<V>>>>,
}

impl<V> Default for Flights<V> {
    fn default() -> Self {
        Flights {
            map: Mutex::new(HashMap::new()),
        }
    }
}

impl<V: Clone> Flights<V> {
    /// The outcome of `work` for `key`: this caller's own, or that of the call in flight
    /// for the same key. A waiter whose leader is dropped (its request cancelled) takes
    /// over and runs its own `work`.
    pub(crate) async fn run<F, Fut>(&self, key: [u8; 32], work: F) -> V
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = V>,
    {
        let cell = Arc::clone(self.lock().entry(key).or_default());
        let _leave = Leave {
            flights: self,
            key,
            cell: &cell,
        };
        cell.get_or_init(work).await.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Arc<OnceCell<V>>>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    #[cfg(test)]
    fn in_flight(&self) -> usize {
        self.lock().len()
    }
}

/// Removes a finished flight (or one nobody waits for any more) from the map, whether
/// its caller finished or was dropped.
struct Leave<'a, V> {
    flights: &'a Flights<V>,
    key: [u8; 32],
    cell: &'a Arc<OnceCell<V>>,
}

impl<V> Drop for Leave<'_, V> {
    fn drop(&mut self) {
        let mut map = self.flights.map.lock().unwrap_or_else(|p| p.into_inner());
        let ours = map
            .get(&self.key)
            .is_some_and(|c| Arc::ptr_eq(c, self.cell));
        // The map's reference and ours: nobody else waits.
        if ours && (self.cell.initialized() || Arc::strong_count(self.cell) <= 2) {
            map.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn concurrent_callers_share_one_call_and_the_map_empties() {
        let flights = Arc::new(Flights::<u32>::default());
        let calls = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let (flights, calls) = (Arc::clone(&flights), Arc::clone(&calls));
            tasks.push(tokio::spawn(async move {
                flights
                    .run([7; 32], || async {
                        calls.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        42
                    })
                    .await
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap(), 42);
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(flights.in_flight(), 0);
        // Another key, or the same key later: a new call.
        flights.run([7; 32], || async { 1 }).await;
        assert_eq!(flights.in_flight(), 0);
    }

    #[tokio::test]
    async fn a_cancelled_leader_leaves_the_work_to_a_waiter() {
        let flights = Arc::new(Flights::<u32>::default());
        let leader = {
            let flights = Arc::clone(&flights);
            tokio::spawn(async move {
                flights
                    .run([1; 32], || async {
                        tokio::time::sleep(Duration::from_secs(60)).await;
                        0
                    })
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        let waiter = {
            let flights = Arc::clone(&flights);
            tokio::spawn(async move { flights.run([1; 32], || async { 9 }).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        leader.abort();
        assert_eq!(waiter.await.unwrap(), 9);
        assert_eq!(flights.in_flight(), 0);
        // A lone caller dropped before its call ends leaves nothing behind.
        let lone = {
            let flights = Arc::clone(&flights);
            tokio::spawn(async move {
                flights
                    .run([2; 32], || async {
                        tokio::time::sleep(Duration::from_secs(60)).await;
                        0
                    })
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        lone.abort();
        let _ = lone.await;
        assert_eq!(flights.in_flight(), 0);
    }
}
