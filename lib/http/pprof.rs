//! Profiling over the HTTP API (`pprof-enable: true`, `--pprof-enable`): the original serves
//! Go's `net/http/pprof` on `:6060`; here the API's port serves
//!
//! - `GET /debug/pprof/profile?seconds=N` — a CPU profile of the whole process for N seconds
//!   (default 30, at most 300) in pprof's protobuf format, gzipped as Go serves it (`go tool
//!   pprof` and `pprof` read it); `&format=svg` answers a flame graph instead, `&frequency=F`
//!   samples F times a second (default 99, at most 1000);
//! - `GET /debug/pprof/heap` — the allocator's own summary (glibc `mallinfo2`) and the
//!   process's resident memory, as JSON.
//!
//! Both need the bearer token (`Authorization: Bearer <token>`, 401 otherwise; 403 when no
//! token is configured), GET included: a profile shows what the broker runs. One CPU
//! profile at a time (409 while one runs). Nothing is installed until a profile is asked
//! for: the sampling timer and its signal handler exist only while a profile runs, so the
//! switch costs nothing when no one profiles (and the routes do not exist when it is off).

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::extract::Query;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use pprof::protos::Message as _;
use serde::Deserialize;

use super::error::ApiError;

/// Longest profile a request may ask for.
const MAX_SECONDS: u64 = 300;
/// Highest sampling frequency a request may ask for.
const MAX_FREQUENCY: i32 = 1000;

/// Set while a CPU profile runs (the profiler is one per process).
static RUNNING: AtomicBool = AtomicBool::new(false);

/// `?seconds=&format=&frequency=`.
#[derive(Debug, Deserialize)]
pub struct ProfileQuery {
    seconds: Option<u64>,
    format: Option<String>,
    frequency: Option<i32>,
}

/// Clears [`RUNNING`] however the request ends (a client that hangs up drops the handler).
struct Running;

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.store(false, Ordering::Release);
    }
}

/// `GET /debug/pprof/profile`.
pub async fn profile(Query(q): Query<ProfileQuery>) -> Result<Response, ApiError> {
    let seconds = q.seconds.unwrap_or(30);
    if seconds == 0 || seconds > MAX_SECONDS {
        return Err(ApiError::BadRequest(format!(
            "seconds must be 1 to {MAX_SECONDS}"
        )));
    }
    let frequency = q.frequency.unwrap_or(99);
    if !(1..=MAX_FREQUENCY).contains(&frequency) {
        return Err(ApiError::BadRequest(format!(
            "frequency must be 1 to {MAX_FREQUENCY}"
        )));
    }
    let svg = match q.format.as_deref() {
        None | Some("pprof") | Some("proto") => false,
        Some("svg") => true,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "format {other:?}: pprof (default) or svg"
            )));
        }
    };
    if RUNNING
        .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        return Err(ApiError::Conflict(
            "a CPU profile is already running".into(),
        ));
    }
    let _running = Running;
    let guard = pprof::ProfilerGuardBuilder::default()
        .frequency(frequency)
        // Unwinding through these from a signal handler can deadlock or read bad frames.
        .blocklist(&["libc", "libgcc", "pthread", "vdso"])
        .build()
        .map_err(|e| ApiError::Internal(format!("the profiler did not start: {e}")))?;
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    // Symbolising takes a while for a big profile: off the runtime's workers.
    let body = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, String> {
        let report = guard.report().build().map_err(|e| e.to_string())?;
        drop(guard);
        if svg {
            let mut out = Vec::new();
            report.flamegraph(&mut out).map_err(|e| e.to_string())?;
            return Ok(out);
        }
        let profile = report.pprof().map_err(|e| e.to_string())?;
        let mut raw = Vec::new();
        profile.encode(&mut raw).map_err(|e| e.to_string())?;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&raw).map_err(|e| e.to_string())?;
        gz.finish().map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
    .map_err(|e| ApiError::Internal(format!("the profile could not be built: {e}")))?;
    let (content_type, disposition) = if svg {
        ("image/svg+xml", "inline")
    } else {
        (
            "application/octet-stream",
            "attachment; filename=\"profile\"",
        )
    };
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

/// The allocator's summary, as `GET /debug/pprof/heap` answers it.
#[derive(Debug, serde::Serialize)]
pub struct Heap {
    /// Resident memory of the process (bytes, from /proc/self/statm).
    resident_bytes: u64,
    /// Bytes in use by allocations (mallinfo2 `uordblks` + `hblkhd`).
    allocated_bytes: u64,
    /// Bytes the allocator holds free (mallinfo2 `fordblks`).
    free_bytes: u64,
    /// Bytes obtained with sbrk (mallinfo2 `arena`).
    arena_bytes: u64,
    /// Bytes in mmap'ed blocks (mallinfo2 `hblkhd`).
    mmap_bytes: u64,
}

/// `GET /debug/pprof/heap`.
pub async fn heap() -> Result<axum::Json<Heap>, ApiError> {
    // SAFETY: mallinfo2 only reads the allocator's counters.
    let m = unsafe { libc::mallinfo2() };
    Ok(axum::Json(Heap {
        resident_bytes: crate::broker::sys::resident_bytes(),
        allocated_bytes: (m.uordblks + m.hblkhd) as u64,
        free_bytes: m.fordblks as u64,
        arena_bytes: m.arena as u64,
        mmap_bytes: m.hblkhd as u64,
    }))
}
