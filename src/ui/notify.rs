//! Desktop notifications when an alert opens, sent on a thread of their own
//! ("fleetdash-notify"): talking to the notification service is IO (D-Bus on Linux) and
//! may hang, so neither a frame nor the reader waits for it.
//!
//! Where the notes go is a [`Notifier`]: the desktop's service in the app, a list in
//! tests. A system without a notification service (no D-Bus session bus: headless, CI)
//! is normal, not an error: the thread notes it once at debug level, drops the notes, and
//! the app says notifications are unavailable.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

/// One notification: a title and the text under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// What and which car, e.g. "Plugged in, not charging: Van 2".
    pub title: String,
    /// What happened and what to do.
    pub body: String,
}

/// Where notes go.
pub trait Notifier: Send + 'static {
    /// Whether notes can be shown on this system; `Err` says why not. Asked on the
    /// notifications thread before the first note (and again now and then while it fails,
    /// since a notification service may start after the app).
    fn probe(&mut self) -> Result<(), String>;
    /// Shows one note.
    fn show(&mut self, note: &Note) -> Result<(), String>;
}

/// The desktop's notification service (the freedesktop.org one over D-Bus on Linux, the
/// system's elsewhere), through `notify-rust`.
#[derive(Debug, Default)]
pub struct Desktop;

impl Notifier for Desktop {
    fn probe(&mut self) -> Result<(), String> {
        #[cfg(all(unix, not(target_os = "macos")))]
        {
            notify_rust::get_server_information()
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
        // Elsewhere there is no service to ask: sending tells.
        #[cfg(not(all(unix, not(target_os = "macos"))))]
        {
            Ok(())
        }
    }

    fn show(&mut self, note: &Note) -> Result<(), String> {
        notify_rust::Notification::new()
            .appname("fleetdash")
            .summary(&note.title)
            .body(&note.body)
            .show()
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// Whether the app can notify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyStatus {
    /// Not asked yet.
    Checking,
    /// Notes are shown.
    Available,
    /// This system has no notification service; notes are dropped.
    Unavailable,
}

impl NotifyStatus {
    fn from_u8(value: u8) -> NotifyStatus {
        match value {
            1 => NotifyStatus::Available,
            2 => NotifyStatus::Unavailable,
            _ => NotifyStatus::Checking,
        }
    }

    fn to_u8(self) -> u8 {
        match self {
            NotifyStatus::Checking => 0,
            NotifyStatus::Available => 1,
            NotifyStatus::Unavailable => 2,
        }
    }
}

/// While the service is missing, it is asked again at most this often (when a note comes).
const REPROBE_AFTER: Duration = Duration::from_secs(300);

/// The app's end of the notifications thread; clones share the thread.
#[derive(Clone)]
pub struct Notifications {
    queue: mpsc::Sender<Note>,
    status: Arc<AtomicU8>,
}

impl Notifications {
    /// Starts the thread with `notifier`; `wake` is called when the status changes.
    /// Without a thread (the system refused one) the status stays unavailable.
    pub fn start(notifier: Box<dyn Notifier>, wake: Arc<dyn Fn() + Send + Sync>) -> Self {
        let (queue, notes) = mpsc::channel::<Note>();
        let status = Arc::new(AtomicU8::new(NotifyStatus::Checking.to_u8()));
        let shared = status.clone();
        let spawned = std::thread::Builder::new()
            .name("fleetdash-notify".into())
            .spawn(move || run(notifier, &notes, &shared, &*wake));
        if let Err(error) = spawned {
            tracing::debug!(%error, "no thread for desktop notifications");
            status.store(NotifyStatus::Unavailable.to_u8(), Ordering::Release);
        }
        Notifications { queue, status }
    }

    /// Queues `notes` (never blocks).
    pub fn send(&self, notes: impl IntoIterator<Item = Note>) {
        for note in notes {
            // The thread ends only with the app: a send that fails has nowhere to go.
            let _ = self.queue.send(note);
        }
    }

    /// Whether notes are shown.
    pub fn status(&self) -> NotifyStatus {
        NotifyStatus::from_u8(self.status.load(Ordering::Acquire))
    }
}

fn run(
    mut notifier: Box<dyn Notifier>,
    notes: &mpsc::Receiver<Note>,
    status: &AtomicU8,
    wake: &(dyn Fn() + Send + Sync),
) {
    let set = |new: NotifyStatus| {
        if status.swap(new.to_u8(), Ordering::AcqRel) != new.to_u8() {
            wake();
        }
    };
    let probe = |notifier: &mut Box<dyn Notifier>| match notifier.probe() {
        Ok(()) => {
            set(NotifyStatus::Available);
            true
        }
        Err(why) => {
            tracing::debug!(%why, "desktop notifications are unavailable");
            set(NotifyStatus::Unavailable);
            false
        }
    };
    let mut available = probe(&mut notifier);
    let mut probed = Instant::now();
    for note in notes {
        if !available && probed.elapsed() >= REPROBE_AFTER {
            available = probe(&mut notifier);
            probed = Instant::now();
        }
        if !available {
            continue;
        }
        if let Err(why) = notifier.show(&note) {
            tracing::debug!(%why, title = %note.title, "a desktop notification failed");
            available = false;
            probed = Instant::now();
            set(NotifyStatus::Unavailable);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Shows notes until `fail_from` of them were shown, then fails.
    struct Flaky {
        shown: Arc<Mutex<Vec<Note>>>,
        fail_from: usize,
    }

    impl Notifier for Flaky {
        fn probe(&mut self) -> Result<(), String> {
            Ok(())
        }

        fn show(&mut self, note: &Note) -> Result<(), String> {
            let mut shown = self.shown.lock().map_err(|e| e.to_string())?;
            if shown.len() >= self.fail_from {
                return Err("the service went away".into());
            }
            shown.push(note.clone());
            Ok(())
        }
    }

    fn wait_for(what: &str, done: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(Instant::now() < deadline, "never: {what}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn note(n: usize) -> Note {
        Note {
            title: format!("title {n}"),
            body: format!("body {n}"),
        }
    }

    #[test]
    fn notes_are_shown_in_order_until_the_service_fails_then_dropped_quietly() {
        let shown = Arc::new(Mutex::new(Vec::new()));
        let notifications = Notifications::start(
            Box::new(Flaky {
                shown: shown.clone(),
                fail_from: 2,
            }),
            Arc::new(|| {}),
        );
        wait_for("the probe", || {
            notifications.status() == NotifyStatus::Available
        });
        notifications.send((0..4).map(note));
        wait_for("the failure", || {
            notifications.status() == NotifyStatus::Unavailable
        });
        assert_eq!(*shown.lock().unwrap(), vec![note(0), note(1)]);
    }
}
