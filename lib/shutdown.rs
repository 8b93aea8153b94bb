//! Shutdown plumbing: one [`ShutdownSignal`] fired once, any number of [`Shutdown`]
//! receivers that tasks select on.

use tokio::sync::watch;

/// Fires the shutdown of everything that holds a [`Shutdown`] made from it.
#[derive(Debug)]
pub struct ShutdownSignal(watch::Sender<bool>);

/// Waits for shutdown; cheap to clone into every task.
#[derive(Debug, Clone)]
pub struct Shutdown(watch::Receiver<bool>);

impl ShutdownSignal {
    /// A signal not yet fired.
    pub fn new() -> ShutdownSignal {
        ShutdownSignal(watch::channel(false).0)
    }

    /// A receiver.
    pub fn subscribe(&self) -> Shutdown {
        Shutdown(self.0.subscribe())
    }

    /// Fires it.
    pub fn fire(&self) {
        self.0.send_replace(true);
    }
}

impl Default for ShutdownSignal {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    /// Resolves once shutdown has fired (at once if it already has).
    pub async fn wait(&mut self) {
        // An error means the signal was dropped: treat that as shutdown too.
        let _ = self.0.wait_for(|fired| *fired).await;
    }

    /// True if shutdown has fired.
    pub fn is_fired(&self) -> bool {
        *self.0.borrow()
    }
}
