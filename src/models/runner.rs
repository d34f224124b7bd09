//! One way to run the rows (token id sequences, with n-gram bags for a model
//! that reads them) of the BERT-like models, the
//! sentence encoder and the token classifier: through the cross-request
//! batcher when batching is on, else in local calls of similar lengths.
//! The choice lives here once, so each model only turns text into rows and
//! outputs back into results.

use std::sync::Arc;

use ort::session::Session;

use super::{
    batcher::{length_groups, one_per_row, Batcher, Batching, RunRows},
    row::Row,
    ModelError, SessionPool,
};
use crate::stop::StopSignal;

pub(crate) enum RowRunner {
    /// Rows share ONNX calls with other requests' rows.
    Batched(Batcher),
    /// Each request runs its own calls.
    Local {
        /// The model's manifest name, for errors.
        name: String,
        run: Arc<RunRows>,
        /// Padded tokens per call at most.
        max_tokens: usize,
        /// Rows per call at most.
        max_rows: usize,
    },
}

impl RowRunner {
    /// A runner over `pool` (`sessions` sessions) for the model `name`,
    /// `run` making one padded call on a session. `max_rows` caps the rows
    /// of one call; 1 (dynamically quantized models, whose activation scales
    /// span the call) keeps every row in a call of its own, so such a model
    /// never joins the batcher.
    pub(crate) fn start(
        name: &str,
        pool: SessionPool,
        sessions: usize,
        batching: &Batching,
        max_rows: usize,
        run: impl Fn(&mut Session, &[&Row]) -> Result<Vec<Vec<f32>>, ModelError> + Send + Sync + 'static,
    ) -> Result<Self, ModelError> {
        let run = move |rows: &[&Row], stop: &StopSignal| {
            pool.with_session(stop, |session| run(session, rows))?
        };
        Self::new(name, sessions, batching, max_rows, Arc::new(run))
    }

    /// [`RowRunner::start`] with the call given whole (a fake in tests).
    fn new(
        name: &str,
        sessions: usize,
        batching: &Batching,
        max_rows: usize,
        run: Arc<RunRows>,
    ) -> Result<Self, ModelError> {
        let max_rows = max_rows.max(1);
        if batching.config.enabled && max_rows > 1 {
            return Ok(RowRunner::Batched(batching.start(name, sessions, run)?));
        }
        Ok(RowRunner::Local {
            name: name.to_owned(),
            run,
            max_tokens: batching.config.max_tokens,
            max_rows,
        })
    }

    /// One output per row, in row order. Blocking; stops between calls (or
    /// while waiting for the batcher) when `stop` fires.
    pub(crate) fn run(
        &self,
        rows: Vec<Row>,
        stop: &StopSignal,
    ) -> Result<Vec<Vec<f32>>, ModelError> {
        match self {
            RowRunner::Batched(batcher) => batcher.run(rows, stop),
            RowRunner::Local {
                name,
                run,
                max_tokens,
                max_rows,
            } => run_local(&rows, *max_tokens, *max_rows, stop, name, run.as_ref()),
        }
    }
}

/// Runs one request's rows without the cross-request batcher: in
/// [`length_groups`] of at most `max_rows` rows, checking `stop` between
/// calls. One output per row, in row order.
fn run_local(
    rows: &[Row],
    max_tokens: usize,
    max_rows: usize,
    stop: &StopSignal,
    name: &str,
    run: &RunRows,
) -> Result<Vec<Vec<f32>>, ModelError> {
    let lens: Vec<usize> = rows.iter().map(Row::len).collect();
    let mut out = vec![Vec::new(); rows.len()];
    for group in length_groups(&lens, max_tokens) {
        for call in group.chunks(max_rows.max(1)) {
            stop.check()?;
            let batch: Vec<&Row> = call.iter().map(|&i| &rows[i]).collect();
            let outputs = one_per_row(run(&batch, stop)?, batch.len(), name)?;
            for (&i, output) in call.iter().zip(outputs) {
                out[i] = output;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stop::Stopped;
    use std::sync::Mutex;

    /// A fake model that answers each row with its length and records the
    /// size of every call.
    fn counting() -> (Arc<RunRows>, Arc<Mutex<Vec<usize>>>) {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&calls);
        let run = move |rows: &[&Row], _: &StopSignal| {
            record.lock().unwrap().push(rows.len());
            Ok(rows.iter().map(|r| vec![r.len() as f32]).collect())
        };
        (Arc::new(run), calls)
    }

    #[test]
    fn one_row_models_and_batching_off_run_locally() {
        let (run, _) = counting();
        let on = Batching::default();
        let off = Batching::off();
        let local = |r: &RowRunner| matches!(r, RowRunner::Local { .. });
        assert!(!local(
            &RowRunner::new("m", 1, &on, usize::MAX, Arc::clone(&run)).unwrap()
        ));
        assert!(local(
            &RowRunner::new("m", 1, &on, 1, Arc::clone(&run)).unwrap()
        ));
        assert!(local(
            &RowRunner::new("m", 1, &off, usize::MAX, run).unwrap()
        ));
    }

    #[test]
    fn local_calls_keep_row_order_and_the_row_cap() {
        let (run, calls) = counting();
        let runner = RowRunner::new("m", 1, &Batching::off(), 2, run).unwrap();
        let rows = [9, 3, 9, 9, 3].map(|n| Row::from(vec![1; n])).to_vec();
        let out = runner.run(rows, &StopSignal::never()).unwrap();
        assert_eq!(
            out,
            vec![vec![9.0], vec![3.0], vec![9.0], vec![9.0], vec![3.0]]
        );
        assert!(calls.lock().unwrap().iter().all(|&n| n <= 2));
    }

    #[test]
    fn a_local_call_with_too_few_outputs_is_an_error() {
        let run: Arc<RunRows> = Arc::new(|_: &[&Row], _: &StopSignal| Ok(Vec::new()));
        let runner = RowRunner::new("m", 1, &Batching::off(), 2, run).unwrap();
        let err = runner
            .run(vec![Row::from(vec![1; 4])], &StopSignal::never())
            .unwrap_err();
        assert!(
            matches!(&err, ModelError::Output { name, .. } if name == "m"),
            "{err}"
        );
    }

    #[test]
    fn a_stopped_request_runs_no_local_call() {
        let (run, calls) = counting();
        let runner = RowRunner::new("m", 1, &Batching::off(), 2, run).unwrap();
        let stop = StopSignal::never();
        stop.cancel();
        let err = runner.run(vec![Row::from(vec![1; 4])], &stop).unwrap_err();
        assert!(
            matches!(err, ModelError::Stopped(Stopped::Cancelled)),
            "{err}"
        );
        assert!(calls.lock().unwrap().is_empty());
    }
}
