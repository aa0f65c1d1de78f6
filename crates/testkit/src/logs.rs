//! Capturing `tracing` output in memory, so a test can search it for secrets.

use std::io;
use std::sync::{Arc, Mutex, PoisonError};

use tracing::Level;
use tracing_subscriber::fmt::MakeWriter;

/// A buffer that a `tracing_subscriber::fmt` subscriber writes into, shared by its
/// clones: keep one, hand the others to the subscriber, read [`text`](Self::text).
///
/// For one thread, [`subscriber`](Self::subscriber) with
/// `tracing::subscriber::with_default`; for every thread (isahc's agent thread, an
/// executor's workers), [`install_global`](Self::install_global).
///
/// ```
/// use smartling_auth_testkit::logs::LogCapture;
/// let logs = LogCapture::new();
/// tracing::subscriber::with_default(logs.subscriber(tracing::Level::DEBUG), || {
///     tracing::debug!(attempt = 1, "sending");
/// });
/// assert!(logs.text().contains("sending attempt=1"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl LogCapture {
    /// An empty capture.
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything written so far (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        let bytes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// A plain-text (no ANSI colours) subscriber at `level` and above that writes here.
    pub fn subscriber(&self, level: Level) -> impl tracing::Subscriber + Send + Sync + 'static {
        tracing_subscriber::fmt()
            .with_max_level(level)
            .with_ansi(false)
            .with_writer(self.clone())
            .finish()
    }

    /// Makes [`subscriber`](Self::subscriber) the global default, for events from every
    /// thread. Panics if the process has one already: a test binary that needs this
    /// should hold one test.
    ///
    /// ```
    /// let logs = smartling_auth_testkit::logs::LogCapture::new();
    /// logs.install_global(tracing::Level::TRACE);
    /// std::thread::spawn(|| tracing::info!("from another thread")).join().unwrap();
    /// assert!(logs.text().contains("from another thread"));
    /// ```
    pub fn install_global(&self, level: Level) {
        tracing::subscriber::set_global_default(self.subscriber(level))
            .expect("no global subscriber yet in this test binary");
    }
}

impl io::Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogCapture {
    type Writer = LogCapture;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}
