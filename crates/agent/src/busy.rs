//! [`Busy`]: one thing at a time touches the server's service. A job holds it while it runs;
//! the API's start, stop and restart take it only when it is free, so a DBA's restart never
//! lands in the middle of a backup or a reseed (409 naming the job), and a job claimed during
//! the API's restart waits for it to end before it starts.

use std::sync::{Arc, Mutex};

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

/// See the module's documentation. Clones share one lock.
#[derive(Debug, Clone, Default)]
pub(crate) struct Busy {
    lock: Arc<AsyncMutex<()>>,
    /// What holds it, for messages.
    what: Arc<Mutex<Option<String>>>,
}

/// Held while the work runs (it may move into a task of its own); frees [`Busy`] when
/// dropped.
#[derive(Debug)]
pub(crate) struct Held {
    what: Arc<Mutex<Option<String>>>,
    _guard: OwnedMutexGuard<()>,
}

impl Busy {
    /// Waits until free, then holds it for `what` (`mariabackup job 42`).
    pub(crate) async fn hold(&self, what: String) -> Held {
        let guard = Arc::clone(&self.lock).lock_owned().await;
        self.held(guard, what)
    }

    /// Holds it for `what` if it is free; else `Err` with what holds it.
    pub(crate) fn try_hold(&self, what: String) -> Result<Held, String> {
        match Arc::clone(&self.lock).try_lock_owned() {
            Ok(guard) => Ok(self.held(guard, what)),
            Err(_) => Err(self.holder().unwrap_or_else(|| "another action".to_owned())),
        }
    }

    /// What holds it now, if anything.
    pub(crate) fn holder(&self) -> Option<String> {
        self.what.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn held(&self, guard: OwnedMutexGuard<()>, what: String) -> Held {
        *self.what.lock().unwrap_or_else(|p| p.into_inner()) = Some(what);
        Held {
            what: Arc::clone(&self.what),
            _guard: guard,
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        *self.what.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_held_busy_refuses_and_names_its_holder() {
        let busy = Busy::default();
        let held = busy.hold("mariabackup job 42".to_owned()).await;
        assert_eq!(
            busy.try_hold("restart".to_owned()).err().as_deref(),
            Some("mariabackup job 42")
        );
        drop(held);
        assert_eq!(busy.holder(), None);
        let again = busy.try_hold("restart".to_owned()).expect("free");
        assert_eq!(busy.holder().as_deref(), Some("restart"));
        drop(again);
    }
}
