//! The background sweep: every `sweep_interval` it closes idle connections that expired or
//! that the server closed (so no socket lingers in CLOSE_WAIT) and forgets hosts with
//! nothing left. One task per pool, holding only a weak reference: it ends when the last
//! client clone is dropped.

use std::sync::Weak;

use super::PoolInner;

/// Runs until the pool is gone.
pub(super) async fn sweep_loop(pool: Weak<PoolInner>) {
    let Some(interval) = pool.upgrade().map(|p| p.config.sweep_interval) else {
        return;
    };
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        match pool.upgrade() {
            Some(pool) => pool.sweep(),
            None => return,
        }
    }
}
