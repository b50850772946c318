//! Scans on AWS Lambda: each invocation of the `worker` function scans one batch of files
//! (in S3) and answers with their merged partial. At most `width` invocations are in flight
//! across all queries, shared fairly between them; throttles and server errors are
//! retried with backoff, as are crashed and timed-out invocations (a scan only reads, so
//! running it again is safe); a batch that still fails is reported in its partial's
//! stats, and the query completes.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_sdk_lambda::error::SdkError;
use aws_sdk_lambda::primitives::Blob;
use shared_sketch::{Partial, Query};
use tokio::sync::mpsc;
use workers::{
    FileRollups, FileTask, MAX_PAYLOAD_BYTES, ScanOptions, ScanRequest, ScanResponse, Watch, failed,
};

use super::slots::FairSlots;
use super::task::{Counts, Executor, ExecutorStatus, Running, ScanTask, next_slot};

/// How the gateway uses the worker function.
#[derive(Debug, Clone)]
pub struct LambdaConfig {
    /// The function's name or ARN.
    pub function: String,
    /// Invocations in flight at once, across all queries (Lambda's default account
    /// concurrency is 1,000).
    pub width: usize,
    /// How long one invocation may take before it is abandoned (and retried).
    pub timeout: Duration,
    /// Attempts per batch for a crash, a timeout or a server error.
    pub attempts: u32,
    /// Attempts per batch while Lambda throttles (429): these wait, and do not count as
    /// failures of the batch.
    pub throttled_attempts: u32,
    /// Files smaller than this are batched together, up to this many bytes in one
    /// invocation: a thousand 1 MB files are a few invocations, not a thousand.
    pub batch_bytes: u64,
    /// Where workers write an answer too large for Lambda's response (`s3://…/prefix`).
    pub spill: Option<String>,
    /// The Lambda API's address, instead of the region's (a VPC endpoint, a local
    /// emulator).
    pub endpoint: Option<String>,
}

impl LambdaConfig {
    pub fn new(function: &str) -> LambdaConfig {
        LambdaConfig {
            function: function.to_string(),
            width: 1000,
            timeout: Duration::from_secs(120),
            attempts: 3,
            throttled_attempts: 10,
            batch_bytes: 64 << 20,
            spill: None,
            endpoint: None,
        }
    }
}

pub struct LambdaExecutor {
    client: aws_sdk_lambda::Client,
    config: Arc<LambdaConfig>,
    slots: Arc<FairSlots>,
    counts: Arc<Counts>,
}

impl LambdaExecutor {
    /// The client takes region and credentials from the usual AWS sources (environment,
    /// profile, instance role). The SDK's own retries are off: ours below know which
    /// failures a scan may be run again after.
    pub async fn new(config: LambdaConfig) -> LambdaExecutor {
        let mut loader =
            aws_config::defaults(BehaviorVersion::latest()).retry_config(RetryConfig::disabled());
        if let Some(endpoint) = &config.endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        let client = aws_sdk_lambda::Client::new(&loader.load().await);
        LambdaExecutor {
            client,
            slots: FairSlots::new(config.width),
            config: Arc::new(config),
            counts: Arc::default(),
        }
    }
}

impl LambdaExecutor {
    /// Invokes the worker on `tasks` in batches, each invocation holding a slot: `answer`
    /// makes one batch's answers (its request, its invocation) and they go to the receiver
    /// as each ends. Dropping the receiver stops the waiting.
    fn each_batch<T, A>(
        &self,
        tasks: Vec<ScanTask>,
        answer: impl Fn(Invocation, Vec<FileTask>) -> A + Send + 'static,
    ) -> mpsc::Receiver<T>
    where
        T: Send + 'static,
        A: Future<Output = Vec<T>> + Send + 'static,
    {
        let (tx, rx) = mpsc::channel(64);
        let (client, config) = (self.client.clone(), self.config.clone());
        let (slots, counts) = (self.slots.clone(), self.counts.clone());
        tokio::spawn(async move {
            let share = slots.share();
            for files in batches(tasks, config.batch_bytes) {
                let Some(slot) = next_slot(&share, &tx).await else {
                    return;
                };
                let invocation = Invocation {
                    client: client.clone(),
                    config: config.clone(),
                    counts: counts.clone(),
                };
                let answers = answer(invocation, files);
                let (tx, counts) = (tx.clone(), counts.clone());
                tokio::spawn(async move {
                    let (_slot, _running) = (slot, Running::start(&counts));
                    // Cancelled (the receiver is gone): stop waiting for the invocation.
                    let answers = tokio::select! {
                        answers = answers => answers,
                        () = tx.closed() => return,
                    };
                    for answer in answers {
                        if tx.send(answer).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        rx
    }
}

impl Executor for LambdaExecutor {
    fn execute(
        &self,
        query: Arc<Query>,
        options: Arc<ScanOptions>,
        tasks: Vec<ScanTask>,
    ) -> mpsc::Receiver<Partial> {
        let spill = self.config.spill.clone();
        self.each_batch(tasks, move |invocation, files| {
            let (query, request) = (
                query.clone(),
                ScanRequest::new(&query, &options, files.clone(), spill.clone()),
            );
            async move {
                vec![match request {
                    Ok(request) => invocation.run(&query, &request, &files).await,
                    Err(e) => failed(&query, &files, &e.to_string()),
                }]
            }
        })
    }

    fn detect(
        &self,
        rules: Arc<[Watch]>,
        options: Arc<ScanOptions>,
        tasks: Vec<ScanTask>,
    ) -> mpsc::Receiver<FileRollups> {
        let spill = self.config.spill.clone();
        self.each_batch(tasks, move |invocation, files| {
            let request = ScanRequest::detection(&rules, &options, files.clone(), spill.clone());
            async move {
                match request {
                    Ok(request) => invocation.detect(&request, &files).await,
                    Err(e) => files
                        .iter()
                        .map(|file| FileRollups::failed(&file.url, e.to_string()))
                        .collect(),
                }
            }
        })
    }

    fn status(&self) -> ExecutorStatus {
        self.counts.status("lambda", self.config.width)
    }
}

/// Files in one batch at most: a request stays far under Lambda's payload limit, and one
/// slow invocation holds back few files.
const BATCH_FILES: usize = 100;

/// Groups small files into batches of at most `batch_bytes` and `BATCH_FILES` files; a
/// file as large as that is a batch of its own.
fn batches(tasks: Vec<ScanTask>, batch_bytes: u64) -> Vec<Vec<FileTask>> {
    let mut batches = Vec::new();
    let (mut batch, mut bytes) = (Vec::new(), 0u64);
    for task in tasks {
        if task.bytes >= batch_bytes {
            batches.push(vec![task.file]);
            continue;
        }
        if !batch.is_empty() && (bytes + task.bytes > batch_bytes || batch.len() >= BATCH_FILES) {
            batches.push(std::mem::take(&mut batch));
            bytes = 0;
        }
        bytes += task.bytes;
        batch.push(task.file);
    }
    if !batch.is_empty() {
        batches.push(batch);
    }
    batches
}

/// What went wrong with one attempt, and whether another may be made.
#[derive(Debug)]
enum Failure {
    /// 429: wait and try again.
    Throttled(String),
    /// A crash, a timeout, a 5xx or a lost connection: worth another attempt.
    Transient(String),
    /// Asking again gives the same answer (a 4xx, a refused request).
    Final(String),
}

struct Invocation {
    client: aws_sdk_lambda::Client,
    config: Arc<LambdaConfig>,
    counts: Arc<Counts>,
}

impl Invocation {
    /// The batch's partial, or one reporting why it could not be had.
    async fn run(&self, query: &Query, request: &ScanRequest, files: &[FileTask]) -> Partial {
        let answered = match self.call(request, files.len()).await {
            // Decoding (and reading a spilled answer) is blocking work.
            Ok(response) => {
                tokio::task::spawn_blocking(move || response.into_partial(workers::stores()))
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|decoded| decoded.map_err(|e| e.to_string()))
            }
            Err(why) => Err(why),
        };
        answered.unwrap_or_else(|why| failed(query, files, &why))
    }

    /// The batch's rollups, file by file; each file reports why when they could not be had.
    async fn detect(&self, request: &ScanRequest, files: &[FileTask]) -> Vec<FileRollups> {
        let answered = match self.call(request, files.len()).await {
            Ok(response) => {
                tokio::task::spawn_blocking(move || response.into_rollups(workers::stores()))
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|decoded| decoded.map_err(|e| e.to_string()))
            }
            Err(why) => Err(why),
        };
        answered.unwrap_or_else(|why| {
            files
                .iter()
                .map(|file| FileRollups::failed(&file.url, why.clone()))
                .collect()
        })
    }

    /// The worker's answer to `request` (about `files` files), retried as failures allow;
    /// or why there is none.
    async fn call(&self, request: &ScanRequest, files: usize) -> Result<ScanResponse, String> {
        let payload = match serde_json::to_vec(request) {
            Ok(payload) if payload.len() <= MAX_PAYLOAD_BYTES => payload,
            Ok(payload) => {
                return Err(format!(
                    "the scan request is {} bytes, over Lambda's request limit",
                    payload.len()
                ));
            }
            Err(e) => return Err(e.to_string()),
        };
        let (mut failures, mut throttles, mut attempts) = (0, 0, 0u32);
        loop {
            attempts += 1;
            let failure = match self.attempt(&payload).await {
                Ok(response) => return Ok(response),
                Err(failure) => failure,
            };
            let why = match failure {
                Failure::Throttled(why) => {
                    throttles += 1;
                    if throttles >= self.config.throttled_attempts {
                        why
                    } else {
                        self.counts.retried.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(backoff(throttles)).await;
                        continue;
                    }
                }
                Failure::Transient(why) => {
                    failures += 1;
                    if failures >= self.config.attempts {
                        why
                    } else {
                        tracing::warn!(function = %self.config.function, files, error = %why, "worker failed: retrying");
                        self.counts.retried.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(backoff(failures)).await;
                        continue;
                    }
                }
                Failure::Final(why) => why,
            };
            self.counts.failed.fetch_add(1, Ordering::Relaxed);
            tracing::error!(function = %self.config.function, files, attempts, error = %why, "worker failed");
            return Err(format!(
                "worker {} failed ({attempts} attempts): {why}",
                self.config.function
            ));
        }
    }

    async fn attempt(&self, payload: &[u8]) -> Result<ScanResponse, Failure> {
        let invoke = self
            .client
            .invoke()
            .function_name(&self.config.function)
            .payload(Blob::new(payload))
            .send();
        let output = match tokio::time::timeout(self.config.timeout, invoke).await {
            Err(_) => {
                return Err(Failure::Transient(format!(
                    "no answer within {} s",
                    self.config.timeout.as_secs_f64()
                )));
            }
            Ok(Err(e)) => return Err(classify(&e)),
            Ok(Ok(output)) => output,
        };
        let body = output.payload().map_or(&[][..], |b| b.as_ref());
        if let Some(kind) = output.function_error() {
            // Our worker answers every refusal in its response: a function error is a
            // crash, Lambda's own timeout or running out of memory.
            return Err(Failure::Transient(format!(
                "function error {kind}: {}",
                String::from_utf8_lossy(&body[..body.len().min(1000)])
            )));
        }
        let response: ScanResponse = serde_json::from_slice(body)
            .map_err(|e| Failure::Final(format!("the worker's answer does not decode: {e}")))?;
        if let (ScanResponse::Spilled(url), Some(folder)) = (&response, &self.config.spill)
            && !url.starts_with(folder.as_str())
        {
            return Err(Failure::Final(format!(
                "the worker spilled its answer outside {folder}: {url}"
            )));
        }
        Ok(response)
    }
}

/// Sorts an SDK error by whether to try again.
fn classify<E: std::error::Error + 'static>(
    error: &SdkError<E, aws_sdk_lambda::config::http::HttpResponse>,
) -> Failure {
    let why = aws_sdk_lambda::error::DisplayErrorContext(error).to_string();
    match error.raw_response().map(|r| r.status().as_u16()) {
        Some(429) => Failure::Throttled(why),
        Some(status) if status >= 500 => Failure::Transient(why),
        Some(_) => Failure::Final(why),
        // No response: the connection failed or timed out.
        None => Failure::Transient(why),
    }
}

/// Exponential backoff, 100 ms doubling per attempt up to 10 s, less a random half at
/// most: a thousand throttled invocations must not all come back at the same instant.
fn backoff(attempt: u32) -> Duration {
    let ceiling = 100u64.saturating_mul(1 << attempt.min(7)).min(10_000);
    // Jitter needs spread, not unpredictability: the clock's nanoseconds will do.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::from(d.subsec_nanos()));
    Duration::from_millis(ceiling - nanos % (ceiling / 2 + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(name: &str, bytes: u64) -> ScanTask {
        ScanTask {
            file: FileTask {
                url: format!("s3://b/{name}"),
                name: name.to_string(),
                segment: false,
            },
            bytes,
        }
    }

    #[test]
    fn small_files_are_batched_and_large_ones_alone() {
        let tasks = vec![
            task("a", 10),
            task("b", 10),
            task("big", 100),
            task("c", 50),
            task("d", 50),
        ];
        let names: Vec<Vec<String>> = batches(tasks, 64)
            .into_iter()
            .map(|b| b.into_iter().map(|f| f.name).collect())
            .collect();
        assert_eq!(names, [vec!["big"], vec!["a", "b"], vec!["c"], vec!["d"]]);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert!(backoff(1) <= Duration::from_millis(200));
        assert!(backoff(3) >= Duration::from_millis(400));
        assert!(backoff(30) <= Duration::from_secs(10));
    }
}
