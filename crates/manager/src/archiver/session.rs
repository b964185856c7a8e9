//! One archiver session: the spool opened, the primary's binlog followed into it, segments
//! cut, until the primary changes, the server goes silent or fails, or shutdown.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ferryman_binlog::{Spool, SyncTicket};
use ferryman_db::binlog::HEARTBEAT_PERIOD;
use ferryman_db::Endpoint;
use ferryman_repo::Timestamp;
use tokio::task::{JoinError, JoinHandle};
use tokio_util::sync::CancellationToken;

use super::store::Durable;
use super::{emit, spool_dir, start, store, ArchiveError, SPOOL};
use crate::events::{EventKind, Severity};
use crate::Services;

/// The server's error for a dump it cannot serve from the position asked (purged, diverged).
const ER_MASTER_FATAL_ERROR_READING_BINLOG: u16 = 1236;
/// A server silent this many heartbeat periods is gone, whatever the connection says.
const SILENT_PERIODS: u32 = 5;

/// Follows `cluster`'s primary until the session ends; `on_following` is called once the
/// server serves the dump. `Ok` means go on at once (shutdown, a new primary, a gap skipped).
pub(super) async fn follow(
    services: &Arc<Services>,
    cluster: &str,
    cancel: &CancellationToken,
    on_following: &mut (dyn FnMut() + Send),
) -> Result<(), ArchiveError> {
    let config = services.cluster(cluster)?;
    let archive = config.binlog_archive;
    let primary = primary_of(services, cluster)?;
    let server = crate::Services::server(config, &primary)?;
    let endpoint = Endpoint::from_config(server, &config.db_servers_credential);
    let dir = spool_dir(&services.config, cluster);
    let start = if Spool::exists(&dir, SPOOL) {
        Default::default()
    } else {
        start::initial(services, config, &endpoint).await?
    };
    let (mut spool, recovered) = Spool::open(&dir, SPOOL, &start)?;
    if recovered.dropped > 0 {
        tracing::info!(bytes = recovered.dropped, damage = ?recovered.damage, "the spool's unfinished tail was dropped: the server sends it again");
    }
    let previous = spool.source().map(str::to_owned);
    if previous.as_deref() != Some(primary.as_str()) {
        if let Some(previous) = &previous {
            store::segment(services, config, previous, &mut spool).await?;
        }
        let position = spool.position();
        spool.restart(&position, &primary)?;
        if let Some(previous) = previous {
            emit(services, cluster, EventKind::ArchiveSourceChanged, Severity::Info,
                format!("the binlog archiver follows `{primary}` (the monitor's primary) from GTID position {position}, after `{previous}`"));
        }
    }
    services.archives.update(cluster, |s| {
        s.source = Some(primary.clone());
        s.position = spool.position().to_string();
    });
    // A spool over its bound is stored first: following on would only grow it (the
    // repositories refuse segments, or a backlog outran them).
    let spool_max = u64::from(archive.spool_max_mib) << 20;
    if spool.len() > spool_max {
        tracing::warn!(
            held_mib = spool.len() >> 20,
            max_mib = archive.spool_max_mib,
            "the spool holds more than binlog-archive-spool-max: storing it before following again"
        );
        store::segment(services, config, &primary, &mut spool).await?;
    }
    let position = spool.position().to_string();
    tracing::info!(server = %primary, %position, "following the primary's binlog");
    let mut follower = endpoint.follow_binlog(archive.server_id, &position).await?;
    // Twice per flush interval: a transaction waits at most about one interval to be durable
    // (a sync with nothing new is free).
    let mut tick = tokio::time::interval(archive.flush / 2);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let silent_limit = HEARTBEAT_PERIOD * SILENT_PERIODS;
    let segment_bytes = u64::from(archive.segment_size_mib) << 20;
    let mut served = false;
    let mut storing: Option<store::Storing> = None;
    // A sync runs on a blocking thread while the follower reads on (`spool/durable.rs`).
    let mut syncing: Option<JoinHandle<Synced>> = None;
    let ended: Result<(), ArchiveError> = loop {
        tokio::select! {
            _ = cancel.cancelled() => break Ok(()),
            synced = synced(&mut syncing), if syncing.is_some() => {
                syncing = None;
                match synced {
                    Ok((ticket, Ok(()))) => {
                        spool.end_sync(ticket);
                        durable(services, cluster, &spool);
                    }
                    Ok((_, Err(e))) => break Err(e.into()),
                    Err(e) => break Err(ArchiveError::Worker(format!("the spool's sync task failed: {e}"))),
                }
            }
            joined = store::stored(&mut storing), if storing.is_some() => {
                if let Some(done) = storing.take() {
                    if let Err(e) = store::cut_after(services, cluster, joined, &done.cut, &mut spool) {
                        break Err(e);
                    }
                }
            }
            event = follower.next_event() => match event {
                Ok(Some(bytes)) => {
                    if !served {
                        served = true;
                        services.archives.update(cluster, |s| {
                            s.following = true;
                            s.error = None;
                        });
                        on_following();
                    }
                    if let Err(e) = spool.append(bytes) {
                        break Err(e.into());
                    }
                    if storing.is_none() && spool.len() >= segment_bytes {
                        match store::start(services, config, &primary, &mut spool, Durable::Already) {
                            Ok(started) => storing = started,
                            Err(e) => break Err(e),
                        }
                    }
                    // Over its bound the spool takes nothing more until what it holds is
                    // stored: the follower waits (the server's dump waits with it).
                    if spool.len() > spool_max {
                        let inflight = match storing.take() {
                            Some(inflight) => Some(inflight),
                            None => match store::start(services, config, &primary, &mut spool, Durable::Now) {
                                Ok(started) => started,
                                Err(e) => break Err(e),
                            },
                        };
                        if let Some(done) = inflight {
                            if let Err(e) = store::finish(services, cluster, done, &mut spool).await {
                                break Err(e);
                            }
                        }
                    }
                }
                Ok(None) => {
                    break Err(ArchiveError::Lost { server: primary.clone(), what: "ended the binlog dump".to_owned() });
                }
                Err(e) if e.server_code() == Some(ER_MASTER_FATAL_ERROR_READING_BINLOG) => {
                    if let Some(done) = storing.take() {
                        store::finish(services, cluster, done, &mut spool).await?;
                    }
                    spool.sync()?;
                    return start::after_refusal(services, config, &primary, &endpoint, &mut spool, e).await;
                }
                Err(e) => break Err(e.into()),
            },
            _ = tick.tick() => {
                if syncing.is_none() {
                    match spool.begin_sync() {
                        Ok(Some(ticket)) => {
                            syncing = Some(tokio::task::spawn_blocking(move || {
                                let ran = ticket.run();
                                (ticket, ran)
                            }));
                        }
                        Ok(None) => durable(services, cluster, &spool),
                        Err(e) => break Err(e.into()),
                    }
                }
                if storing.is_none() && is_due(&spool, archive.segment_age) {
                    match store::start(services, config, &primary, &mut spool, Durable::Already) {
                        Ok(started) => storing = started,
                        Err(e) => break Err(e),
                    }
                }
                if follower.silent_for() > silent_limit {
                    break Err(ArchiveError::Lost {
                        server: primary.clone(),
                        what: format!("sent nothing for {} s, not even a heartbeat", follower.silent_for().as_secs()),
                    });
                }
                if primary_of(services, cluster).is_ok_and(|now| now != primary) {
                    break Ok(());
                }
            }
        }
    };
    // A segment being stored is waited for (never abandoned half-written), and what was
    // appended is made durable, however the session ended.
    if let Some(running) = syncing.take() {
        if let Ok((ticket, Ok(()))) = running.await {
            spool.end_sync(ticket);
        }
    }
    let finished = match storing.take() {
        Some(done) => store::finish(services, cluster, done, &mut spool).await,
        None => Ok(()),
    };
    let synced = spool.sync();
    durable(services, cluster, &spool);
    ended?;
    finished?;
    synced?;
    Ok(())
}

/// The one primary the monitor sees in `cluster`.
fn primary_of(services: &Services, cluster: &str) -> Result<String, ArchiveError> {
    let view = services
        .topology
        .cluster(cluster)
        .ok_or_else(|| ArchiveError::NoPrimary {
            detail: "the monitor has not read the cluster yet".to_owned(),
        })?;
    if let Some(primary) = view.primary() {
        return Ok(primary.name.clone());
    }
    let primaries: Vec<&str> = view.primaries().iter().map(|s| s.name.as_str()).collect();
    let detail = if primaries.is_empty() {
        "no server answers as the primary (one that replicates from no one)".to_owned()
    } else {
        format!(
            "{} replicate from no one (a split topology: which one is the primary cannot be told)",
            primaries.join(", ")
        )
    };
    Err(ArchiveError::NoPrimary { detail })
}

/// True when the spool's first event is older than `age` (the primary's clock).
fn is_due(spool: &Spool, age: Duration) -> bool {
    let Some(first) = spool.summary().first_time else {
        return false;
    };
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    spool.summary().transactions > 0 && now.saturating_sub(u64::from(first)) >= age.as_secs()
}

/// A spool sync that ran: its ticket, and how it went.
type Synced = (SyncTicket, Result<(), ferryman_binlog::Error>);

/// The end of the sync in flight, if any (never, without one).
async fn synced(syncing: &mut Option<JoinHandle<Synced>>) -> Result<Synced, JoinError> {
    match syncing {
        Some(running) => running.await,
        None => std::future::pending().await,
    }
}

/// Records the spool's durable position.
fn durable(services: &Services, cluster: &str, spool: &Spool) {
    let position = spool.durable_position().to_string();
    let last = spool.durable_time();
    services.archives.update(cluster, |s| {
        s.position = position;
        s.durable_at = Some(Timestamp::now());
        if let Some(last) = last {
            s.last_event_at = Some(Timestamp::from_unix(i64::from(last)));
        }
    });
}
