//! Dynamic batching across requests: rows (token id sequences, with their
//! n-gram bags if any) from concurrent requests share one ONNX call.
//!
//! Callers submit all rows of one request at once and block until each row's
//! output is back or their stop signal fires: each row carries a one-shot
//! typed reply into slots the caller owns, and the caller sleeps on its
//! [`StopSignal`], which a reply, a cancel or the deadline wakes (no polling).
//! Worker threads (one per session) take the oldest queued row and the rows
//! closest to it in length, up to a padded token budget, so padding stays
//! small; the rows of a lone request thus spread over every session, and one
//! article uses every core. A worker waits for more rows (at most `wait`)
//! only while other articles are in flight that could still send some; with
//! one article in flight it runs at once, so a lone request pays no wait.
//!
//! Rows must give the same output whatever their batch neighbours: the models
//! batched here are fp32 or quantize activations per row (see
//! `models/tools/rowquant.py`).

use std::{
    collections::VecDeque,
    panic::{self, AssertUnwindSafe},
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Condvar, Mutex, MutexGuard, Weak,
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use super::{metric_names, row::Row, ModelError};
use crate::stop::StopSignal;

/// Padded tokens per intra-op thread that one ONNX call may hold. A row's
/// cost falls with batching only for short rows and rises once a call's
/// activations outgrow the caches; this is about where that turns
/// (BENCHMARKS.md, "Batch shapes", has the measurements).
const TOKENS_PER_THREAD: usize = 256;

/// Padding a batch may hold, as a fraction of its padded size: a padded
/// position costs as much as a real token.
const MAX_PADDING: (usize, usize) = (1, 8);

/// How rows are grouped into ONNX calls (server flags `--batching`,
/// `--batch-max-tokens`, `--batch-wait-ms`). The token budget and padding
/// limit apply to the rows of one article too, with batching off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchConfig {
    /// Rows of different requests share calls.
    pub enabled: bool,
    /// Largest padded batch, rows × longest row, in tokens (a longer single
    /// row still runs, alone).
    pub max_tokens: usize,
    /// Longest a worker holds a partial batch for rows of other articles.
    pub wait: Duration,
}

impl BatchConfig {
    /// The measured budget for sessions of `intra_threads` threads.
    pub fn max_tokens_for(intra_threads: usize) -> usize {
        TOKENS_PER_THREAD * intra_threads.max(1)
    }
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            enabled: true,
            max_tokens: TOKENS_PER_THREAD,
            wait: Duration::ZERO,
        }
    }
}

/// Whether `rows` rows padded to `width` hold `real` tokens with little
/// enough padding and within `max_tokens`. One row always fits.
fn fits(rows: usize, width: usize, real: usize, max_tokens: usize) -> bool {
    let padded = rows * width;
    rows <= 1 || (padded <= max_tokens && (padded - real) * MAX_PADDING.1 <= padded * MAX_PADDING.0)
}

/// The rows of one request grouped into calls: by length, each group as
/// large as the token budget and the padding limit allow. Indices into
/// `lens`; every index appears once.
pub(crate) fn length_groups(lens: &[usize], max_tokens: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lens.len()).collect();
    order.sort_by_key(|&i| (lens[i], i));
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut real = 0;
    for i in order {
        // Sorted ascending: the new row is the widest of its group.
        match groups.last_mut() {
            Some(group) if fits(group.len() + 1, lens[i], real + lens[i], max_tokens) => {
                group.push(i);
                real += lens[i];
            }
            _ => {
                groups.push(vec![i]);
                real = lens[i];
            }
        }
    }
    groups
}

/// The batching settings and the in-flight counter every batcher of one
/// server shares.
#[derive(Debug, Clone, Default)]
pub struct Batching {
    pub config: BatchConfig,
    pub in_flight: Arc<InFlight>,
}

impl Batching {
    /// No cross-request batching: each request runs its own ONNX calls.
    pub fn off() -> Self {
        Batching {
            config: BatchConfig {
                enabled: false,
                ..BatchConfig::default()
            },
            in_flight: Arc::default(),
        }
    }

    pub(crate) fn start(
        &self,
        name: &str,
        sessions: usize,
        run: Arc<RunRows>,
    ) -> Result<Batcher, ModelError> {
        Batcher::start(
            name,
            sessions,
            self.config,
            Arc::clone(&self.in_flight),
            run,
        )
    }
}

/// Runs one padded batch on whichever session is free: one output vector per
/// row, in row order, unless `stop` fires while it waits for a session. What
/// a batch worker and the local path call; tests give a fake.
pub(crate) type RunRows =
    dyn Fn(&[&Row], &StopSignal) -> Result<Vec<Vec<f32>>, ModelError> + Send + Sync;

/// Articles being analyzed right now, shared by every batcher: a worker only
/// waits for rows while more articles are in flight than it has rows from.
#[derive(Debug, Default)]
pub struct InFlight(AtomicUsize);

impl InFlight {
    /// Counts one article until the guard drops (also the in-flight gauge
    /// of the metrics).
    pub fn enter(self: &Arc<Self>) -> InFlightGuard {
        self.0.fetch_add(1, Ordering::SeqCst);
        metrics::gauge!(metric_names::IN_FLIGHT).increment(1.0);
        InFlightGuard(Arc::clone(self))
    }

    fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

pub struct InFlightGuard(Arc<InFlight>);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0 .0.fetch_sub(1, Ordering::SeqCst);
        metrics::gauge!(metric_names::IN_FLIGHT).decrement(1.0);
    }
}

/// Where one request's outputs land. The waiting caller holds the only
/// strong reference: once it has returned (a stop, another row's error),
/// its queued rows' [`Reply`] no longer reaches it and the workers drop them
/// unrun, as TEI drops an entry whose reply channel has closed.
struct Replies {
    /// The model's manifest name, for the error of a lost worker.
    model: String,
    slots: Mutex<Slots>,
}

struct Slots {
    outputs: Vec<Option<Vec<f32>>>,
    missing: usize,
    /// The first error of any of the request's rows: it fails the request.
    error: Option<ModelError>,
}

impl Replies {
    fn new(model: &str, rows: usize) -> Self {
        Replies {
            model: model.to_owned(),
            slots: Mutex::new(Slots {
                outputs: vec![None; rows],
                missing: rows,
                error: None,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every output in row order once all are in, or the first error.
    fn take_finished(&self) -> Option<Result<Vec<Vec<f32>>, ModelError>> {
        let mut slots = self.lock();
        if let Some(e) = slots.error.take() {
            return Some(Err(e));
        }
        (slots.missing == 0).then(|| Ok(slots.outputs.drain(..).flatten().collect()))
    }
}

/// One row's way back to its caller, used at most once: the row's output or
/// its call's error. Dropped unsent while the caller still waits (a worker
/// panicked holding it), it fails the request instead of leaving it waiting.
struct Reply {
    to: Weak<Replies>,
    index: usize,
    /// The caller's signal: woken after every reply.
    stop: StopSignal,
}

impl Reply {
    /// The caller has returned, or its stop signal fired: nobody wants the
    /// output any more.
    fn abandoned(&self) -> bool {
        self.to.strong_count() == 0 || self.stop.is_stopped()
    }

    fn send(mut self, result: Result<Vec<f32>, ModelError>) {
        let to = std::mem::take(&mut self.to);
        self.deliver(&to, result);
    }

    fn deliver(&self, to: &Weak<Replies>, result: Result<Vec<f32>, ModelError>) {
        let Some(replies) = to.upgrade() else {
            return;
        };
        {
            let mut slots = replies.lock();
            match result {
                Ok(output) => {
                    if let Some(slot @ None) = slots.outputs.get_mut(self.index) {
                        *slot = Some(output);
                        slots.missing -= 1;
                    }
                }
                Err(e) => {
                    slots.error.get_or_insert(e);
                }
            }
        }
        self.stop.wake();
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        let to = std::mem::take(&mut self.to);
        if let Some(replies) = to.upgrade().filter(|_| !self.stop.is_stopped()) {
            let lost = ModelError::BatchWorkerStopped(replies.model.clone());
            self.deliver(&to, Err(lost));
        }
    }
}

struct QueuedRow {
    row: Row,
    request: u64,
    reply: Reply,
    queued: Instant,
}

#[derive(Default)]
struct Queue {
    rows: VecDeque<QueuedRow>,
    closed: bool,
    next_request: u64,
}

struct Shared {
    /// The model's manifest name: the `model` label of the batch metrics.
    name: String,
    queue: Mutex<Queue>,
    ready: Condvar,
    config: BatchConfig,
    in_flight: Arc<InFlight>,
    run: Arc<RunRows>,
}

/// A batching front for one model's session pool.
pub(crate) struct Batcher {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
}

impl Batcher {
    /// Starts one worker per session (`sessions` of them), each calling `run`.
    pub(crate) fn start(
        name: &str,
        sessions: usize,
        config: BatchConfig,
        in_flight: Arc<InFlight>,
        run: Arc<RunRows>,
    ) -> Result<Self, ModelError> {
        let shared = Arc::new(Shared {
            name: name.to_owned(),
            queue: Mutex::new(Queue::default()),
            ready: Condvar::new(),
            config,
            in_flight,
            run,
        });
        let workers = (0..sessions.max(1))
            .map(|i| {
                let shared = Arc::clone(&shared);
                std::thread::Builder::new()
                    .name(format!("batch-{name}-{i}"))
                    .spawn(move || work(&shared))
                    .map_err(|e| ModelError::Ort(format!("cannot start batch worker: {e}")))
            })
            .collect::<Result<_, _>>()?;
        Ok(Batcher { shared, workers })
    }

    /// Outputs of `rows`, in order. Blocking until every output is back,
    /// a row fails (its typed error) or `stop` fires: a stopped request's
    /// rows that have not started are dropped from the queue without
    /// disturbing anyone else's batch.
    pub(crate) fn run(
        &self,
        rows: Vec<Row>,
        stop: &StopSignal,
    ) -> Result<Vec<Vec<f32>>, ModelError> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let replies = Arc::new(Replies::new(&self.shared.name, rows.len()));
        {
            let mut queue = self.lock();
            let request = queue.next_request;
            queue.next_request += 1;
            let now = Instant::now();
            for (index, row) in rows.into_iter().enumerate() {
                queue.rows.push_back(QueuedRow {
                    row,
                    request,
                    reply: Reply {
                        to: Arc::downgrade(&replies),
                        index,
                        stop: stop.clone(),
                    },
                    queued: now,
                });
            }
        }
        self.shared.ready.notify_all();
        // Returning drops `replies`: rows still queued are abandoned.
        stop.wait_for(|| replies.take_finished())?
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.shared.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Batcher {
    fn drop(&mut self) {
        self.lock().closed = true;
        self.shared.ready.notify_all();
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

fn work(shared: &Shared) {
    loop {
        let batch = {
            let mut queue = shared.queue.lock().unwrap_or_else(|p| p.into_inner());
            loop {
                queue.rows.retain(|r| !r.reply.abandoned());
                if !queue.rows.is_empty() {
                    break;
                }
                if queue.closed {
                    return;
                }
                queue = shared.ready.wait(queue).unwrap_or_else(|p| p.into_inner());
            }
            // Hold a partial batch briefly while other articles may still send rows.
            let oldest = queue.rows.front().map_or_else(Instant::now, |r| r.queued);
            let deadline = oldest + shared.config.wait;
            loop {
                let picked = pick(&queue.rows, shared.config.max_tokens);
                let full = picked.len() < queue.rows.len()
                    || padded_tokens(&queue.rows, &picked) * 2 > shared.config.max_tokens;
                let now = Instant::now();
                if full || now >= deadline || shared.in_flight.get() <= requests_in(&queue.rows) {
                    break;
                }
                queue = shared
                    .ready
                    .wait_timeout(queue, deadline - now)
                    .map(|(q, _)| q)
                    .unwrap_or_else(|p| p.into_inner().0);
                queue.rows.retain(|r| !r.reply.abandoned());
                if queue.rows.is_empty() {
                    break;
                }
            }
            let mut picked = pick(&queue.rows, shared.config.max_tokens);
            picked.sort_unstable_by(|a, b| b.cmp(a));
            let mut batch: Vec<QueuedRow> = picked
                .into_iter()
                .filter_map(|i| queue.rows.remove(i))
                .collect();
            batch.reverse();
            batch
        };
        if batch.is_empty() {
            continue;
        }
        run_batch(shared, batch);
    }
}

fn run_batch(shared: &Shared, batch: Vec<QueuedRow>) {
    let rows: Vec<&Row> = batch.iter().map(|r| &r.row).collect();
    let width = rows.iter().map(|r| r.len()).max().unwrap_or(0);
    metrics::histogram!(metric_names::BATCH_SIZE, "model" => shared.name.clone())
        .record(rows.len() as f64);
    metrics::histogram!(metric_names::BATCH_TOKENS, "model" => shared.name.clone())
        .record((width * rows.len()) as f64);
    tracing::debug!(
        model = shared.name.as_str(),
        rows = rows.len(),
        tokens = width * rows.len(),
        "batch"
    );
    // A panicking call fails its rows but not the worker: a worker lost for
    // good would leave later requests waiting on a pool with fewer workers.
    // A worker never waits for a session (there are as many sessions as
    // workers) and serves many requests, so no request's signal stops it.
    let never = StopSignal::never();
    let result = match panic::catch_unwind(AssertUnwindSafe(|| (shared.run)(&rows, &never))) {
        Ok(result) => result.and_then(|outputs| one_per_row(outputs, rows.len(), &shared.name)),
        Err(_) => {
            tracing::error!(
                model = shared.name.as_str(),
                "a model call panicked; its rows fail"
            );
            Err(ModelError::CallPanicked(shared.name.clone()))
        }
    };
    match result {
        Ok(outputs) => {
            for (row, output) in batch.into_iter().zip(outputs) {
                row.reply.send(Ok(output));
            }
        }
        Err(e) => {
            for row in batch {
                row.reply.send(Err(e.clone()));
            }
        }
    }
}

/// A call's outputs, checked to hold one per row: a model that answers
/// fewer would leave rows without an output.
pub(crate) fn one_per_row(
    outputs: Vec<Vec<f32>>,
    rows: usize,
    model: &str,
) -> Result<Vec<Vec<f32>>, ModelError> {
    if outputs.len() == rows {
        Ok(outputs)
    } else {
        Err(ModelError::Output {
            name: model.to_owned(),
            reason: format!("{} outputs for a call of {rows} rows", outputs.len()),
        })
    }
}

/// Distinct requests with queued rows.
fn requests_in(rows: &VecDeque<QueuedRow>) -> usize {
    let mut ids: Vec<u64> = rows.iter().map(|r| r.request).collect();
    ids.sort_unstable();
    ids.dedup();
    ids.len()
}

fn padded_tokens(rows: &VecDeque<QueuedRow>, picked: &[usize]) -> usize {
    let width = picked.iter().map(|&i| rows[i].row.len()).max().unwrap_or(0);
    width * picked.len()
}

/// Queue indices of the next batch: the oldest row, then the rows nearest to
/// it in length while the padded size (rows × longest) fits `max_tokens`
/// and the padding stays within `MAX_PADDING`.
fn pick(rows: &VecDeque<QueuedRow>, max_tokens: usize) -> Vec<usize> {
    let lens: Vec<usize> = rows.iter().map(|r| r.row.len()).collect();
    pick_by_length(&lens, max_tokens)
}

fn pick_by_length(lens: &[usize], max_tokens: usize) -> Vec<usize> {
    let Some(&seed) = lens.first() else {
        return Vec::new();
    };
    let mut order: Vec<usize> = (1..lens.len()).collect();
    order.sort_by_key(|&i| (lens[i].abs_diff(seed), i));
    let mut picked = vec![0];
    let mut width = seed;
    let mut real = seed;
    for i in order {
        let w = width.max(lens[i]);
        if !fits(picked.len() + 1, w, real + lens[i], max_tokens) {
            continue;
        }
        width = w;
        real += lens[i];
        picked.push(i);
    }
    picked
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stop::Stopped;
    use std::sync::mpsc;

    /// A batcher over `sessions` workers and a fake model: `model` answers
    /// each call, and every row it is given is recorded in `ran`. Each call
    /// first says it started (`entered`) and then waits until `open` sends
    /// or is dropped.
    struct Fake {
        batcher: Batcher,
        ran: Arc<Mutex<Vec<Vec<u32>>>>,
        entered: mpsc::Receiver<()>,
        open: mpsc::Sender<()>,
    }

    fn fake(
        sessions: usize,
        model: impl Fn(&[&Row]) -> Result<Vec<Vec<f32>>, ModelError> + Send + Sync + 'static,
    ) -> Fake {
        let ran = Arc::new(Mutex::new(Vec::new()));
        let (entered_tx, entered) = mpsc::channel();
        let (open, gate) = mpsc::channel::<()>();
        let (entered_tx, gate) = (Mutex::new(entered_tx), Mutex::new(gate));
        let record = Arc::clone(&ran);
        let run = move |rows: &[&Row], _: &StopSignal| {
            record
                .lock()
                .unwrap()
                .extend(rows.iter().map(|r| r.tokens().to_vec()));
            let _ = entered_tx.lock().unwrap().send(());
            let _ = gate.lock().unwrap().recv();
            model(rows)
        };
        let batcher = Batcher::start(
            "fake",
            sessions,
            BatchConfig::default(),
            Arc::default(),
            Arc::new(run),
        )
        .unwrap();
        Fake {
            batcher,
            ran,
            entered,
            open,
        }
    }

    /// Each row's output is its tokens as floats.
    fn echo(rows: &[&Row]) -> Result<Vec<Vec<f32>>, ModelError> {
        Ok(rows
            .iter()
            .map(|r| r.tokens().iter().map(|&t| t as f32).collect())
            .collect())
    }

    /// Rows of token ids only.
    fn plain(rows: Vec<Vec<u32>>) -> Vec<Row> {
        rows.into_iter().map(Row::from).collect()
    }

    #[test]
    fn outputs_come_back_in_row_order() {
        let f = fake(2, echo);
        drop(f.open);
        let rows = vec![vec![5; 30], vec![1, 2], vec![3; 7], vec![4; 30]];
        let want: Vec<Vec<f32>> = rows
            .iter()
            .map(|r| r.iter().map(|&t| t as f32).collect())
            .collect();
        assert_eq!(
            f.batcher.run(plain(rows), &StopSignal::never()).unwrap(),
            want
        );
    }

    #[test]
    fn a_stopped_waiter_returns_without_a_reply() {
        let f = fake(1, echo);
        // Cancelled while its row runs: the worker never answers in time.
        let stop = StopSignal::never();
        let canceller = stop.clone();
        let entered = f.entered;
        let started = Instant::now();
        std::thread::scope(|s| {
            s.spawn(move || {
                entered.recv().unwrap();
                canceller.cancel();
                entered
            });
            let err = f.batcher.run(plain(vec![vec![1, 2]]), &stop).unwrap_err();
            assert!(
                matches!(err, ModelError::Stopped(Stopped::Cancelled)),
                "{err}"
            );
        });
        // Its deadline passes while the worker is still busy with the row above.
        let late = StopSignal::new(Some(Instant::now() + Duration::from_millis(30)));
        let err = f.batcher.run(plain(vec![vec![3]]), &late).unwrap_err();
        assert!(
            matches!(err, ModelError::Stopped(Stopped::DeadlineExceeded)),
            "{err}"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        drop(f.open);
    }

    #[test]
    fn a_stopped_request_rows_are_not_run() {
        let f = fake(1, echo);
        std::thread::scope(|s| {
            let first = s.spawn(|| f.batcher.run(plain(vec![vec![1; 4]]), &StopSignal::never()));
            // The only worker is busy with the first request; the second
            // queues its rows behind it and is cancelled before they start.
            f.entered.recv().unwrap();
            let stop = StopSignal::never();
            stop.cancel();
            let err = f.batcher.run(plain(vec![vec![7; 4], vec![8; 4]]), &stop);
            assert!(matches!(err, Err(ModelError::Stopped(Stopped::Cancelled))));
            drop(f.open);
            assert_eq!(first.join().unwrap().unwrap(), vec![vec![1.0; 4]]);
        });
        drop(f.batcher); // joins the worker: whatever it would run, it has
        assert_eq!(*f.ran.lock().unwrap(), vec![vec![1; 4]]);
    }

    /// The error one row gets from an ungated fake running `model`.
    fn error_from(
        model: impl Fn(&[&Row]) -> Result<Vec<Vec<f32>>, ModelError> + Send + Sync + 'static,
    ) -> ModelError {
        let f = fake(1, model);
        drop(f.open);
        let result = f.batcher.run(plain(vec![vec![1]]), &StopSignal::never());
        result.expect_err("the fake model fails")
    }

    #[test]
    fn a_failed_call_reaches_the_caller_typed() {
        let err = error_from(|_| {
            Err(ModelError::Output {
                name: "logits".into(),
                reason: "bad shape".into(),
            })
        });
        assert!(
            matches!(&err, ModelError::Output { name, .. } if name == "logits"),
            "{err}"
        );
        // A model that answers too few rows fails the call, typed too.
        let err = error_from(|_| Ok(Vec::new()));
        assert!(
            matches!(&err, ModelError::Output { name, .. } if name == "fake"),
            "{err}"
        );
    }

    #[test]
    fn a_panicking_call_fails_its_rows_and_the_worker_goes_on() {
        let f = fake(1, |rows: &[&Row]| {
            if rows.iter().any(|r| r.tokens() == [13]) {
                panic!("the model blew up");
            }
            echo(rows)
        });
        drop(f.open);
        let err = f
            .batcher
            .run(plain(vec![vec![13]]), &StopSignal::never())
            .unwrap_err();
        assert!(matches!(err, ModelError::CallPanicked(_)), "{err}");
        // The only worker is still there for the next request.
        let out = f.batcher.run(plain(vec![vec![2, 3]]), &StopSignal::never());
        assert_eq!(out.unwrap(), vec![vec![2.0, 3.0]]);
    }

    #[test]
    fn picks_oldest_then_nearest_lengths_within_budget() {
        // Oldest is 10 tokens; budget 40 allows 4 rows of width ≤ 10, or
        // fewer once a longer row joins.
        let lens = [10, 100, 9, 11, 10, 3];
        let picked = pick_by_length(&lens, 40);
        assert_eq!(picked[0], 0);
        assert!(
            !picked.contains(&1),
            "the 100-token row would pad everything"
        );
        let width = picked.iter().map(|&i| lens[i]).max().unwrap();
        assert!(width * picked.len() <= 40);
        assert_eq!(
            picked.len(),
            3,
            "10, 9, 10: an 11 or a 3 would pad too much"
        );
    }

    #[test]
    fn padding_is_limited_to_an_eighth() {
        // 10 + 9 padded to 20: 1 of 20 positions is padding and fits; 10 + 7
        // pads 3 of 20, over an eighth.
        assert_eq!(pick_by_length(&[10, 9], 1000), vec![0, 1]);
        assert_eq!(pick_by_length(&[10, 7], 1000), vec![0]);
    }

    #[test]
    fn length_groups_cover_every_row_once_within_limits() {
        let lens = [86, 10, 39, 45, 50, 65, 69, 70, 74, 81, 82, 82, 83, 300];
        let groups = length_groups(&lens, 512); // budget of 2 threads
        let mut seen: Vec<usize> = groups.iter().flatten().copied().collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..lens.len()).collect::<Vec<_>>());
        for g in &groups {
            let width = g.iter().map(|&i| lens[i]).max().unwrap();
            let real: usize = g.iter().map(|&i| lens[i]).sum();
            assert!(g.len() == 1 || width * g.len() <= 512, "{g:?}");
            assert!((width * g.len() - real) * 8 <= width * g.len(), "{g:?}");
        }
        assert!(groups.contains(&vec![13]), "the 300-token row runs alone");
        assert!(
            groups.len() < lens.len() / 2,
            "similar lengths share calls: {groups:?}"
        );
    }

    #[test]
    fn a_row_over_budget_runs_alone() {
        assert_eq!(pick_by_length(&[500, 10, 10], 256), vec![0]);
        assert!(pick_by_length(&[], 256).is_empty());
    }
}
