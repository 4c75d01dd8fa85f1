//! Counting what callers hold (connections, requests being read, slots), in all and per
//! caller address, so that one address can never take the whole server.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// A bounded resource: at most `total` holders in all, and at most `per_client` of them
/// for one address.
#[derive(Debug)]
pub struct Quota {
    total: usize,
    per_client: usize,
    held: Mutex<Held>,
}

#[derive(Debug, Default)]
struct Held {
    total: usize,
    by_client: HashMap<IpAddr, usize>,
}

/// Why a share was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Every share is taken.
    Full,
    /// This address holds its whole share.
    ClientFull,
}

/// One share of a [`Quota`], given back when dropped.
#[derive(Debug)]
pub struct Share {
    quota: Arc<Quota>,
    client: Option<IpAddr>,
}

impl Quota {
    /// A quota of `total` shares, `per_client` of them at most for one address.
    pub fn new(total: usize, per_client: usize) -> Arc<Self> {
        Arc::new(Quota {
            total: total.max(1),
            per_client: per_client.max(1),
            held: Mutex::new(Held::default()),
        })
    }

    /// Takes a share for `client`; `None` counts only against the total (a trusted proxy
    /// speaks for many clients, whose own shares are counted per request).
    pub fn take(self: &Arc<Self>, client: Option<IpAddr>) -> Result<Share, Refused> {
        // A poisoned lock only means a holder panicked between two counter updates; the
        // counts are still the best there is.
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        // An address over its own share hears so first, whatever the others hold.
        let mine = client.map_or(0, |ip| held.by_client.get(&ip).copied().unwrap_or(0));
        if mine >= self.per_client {
            return Err(Refused::ClientFull);
        }
        if held.total >= self.total {
            return Err(Refused::Full);
        }
        if let Some(ip) = client {
            *held.by_client.entry(ip).or_default() += 1;
        }
        held.total += 1;
        Ok(Share {
            quota: self.clone(),
            client,
        })
    }

    /// Shares held now, in all and by `client`.
    pub fn held(&self, client: IpAddr) -> (usize, usize) {
        let held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        (
            held.total,
            held.by_client.get(&client).copied().unwrap_or(0),
        )
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        let mut held = self.quota.held.lock().unwrap_or_else(|p| p.into_inner());
        held.total = held.total.saturating_sub(1);
        if let Some(ip) = self.client
            && let Some(mine) = held.by_client.get_mut(&ip)
        {
            *mine = mine.saturating_sub(1);
            if *mine == 0 {
                // Forget idle addresses, so the map stays as small as what is held now.
                held.by_client.remove(&ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> Option<IpAddr> {
        Some(IpAddr::from([127, 0, 0, last]))
    }

    #[test]
    fn one_address_gets_its_share_and_others_still_get_theirs() {
        let quota = Quota::new(5, 2);
        let a1 = quota.take(ip(2)).unwrap();
        let _a2 = quota.take(ip(2)).unwrap();
        assert_eq!(quota.take(ip(2)).unwrap_err(), Refused::ClientFull);
        let _b = quota.take(ip(1)).unwrap();
        let _proxy = quota.take(None).unwrap();
        let _c = quota.take(ip(3)).unwrap();
        assert_eq!(quota.take(ip(4)).unwrap_err(), Refused::Full);
        drop(a1);
        assert_eq!(quota.held(IpAddr::from([127, 0, 0, 2])), (4, 1));
        assert!(quota.take(ip(2)).is_ok());
    }

    #[test]
    fn an_address_that_holds_nothing_is_forgotten() {
        let quota = Quota::new(5, 2);
        drop(quota.take(ip(9)).unwrap());
        let held = quota.held.lock().unwrap();
        assert!(held.by_client.is_empty());
        assert_eq!(held.total, 0);
    }
}
