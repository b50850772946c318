//! The `worker` function for AWS Lambda: one invocation scans the files its `ScanRequest`
//! names (in S3) and answers with their merged `Partial` (see `workers::worker`).

use lambda_runtime::{Error, LambdaEvent, service_fn};
use workers::{ScanRequest, ScanResponse};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .without_time() // CloudWatch stamps each line
        .with_ansi(false)
        .init();
    lambda_runtime::run(service_fn(scan)).await
}

async fn scan(event: LambdaEvent<ScanRequest>) -> Result<ScanResponse, Error> {
    let (request, id) = (event.payload, event.context.request_id);
    let files = request.files.len();
    // The scan is CPU-bound and blocking; object reads inside it are driven on this
    // runtime from the blocking thread. The S3 client is the process's (`workers::stores`):
    // warm invocations reuse its connections.
    let ran = tokio::task::spawn_blocking(move || request.run(workers::stores(), &id)).await?;
    Ok(match ran {
        Ok(response) => {
            tracing::info!(files, "scanned");
            response
        }
        Err(e) => {
            tracing::warn!(files, error = %e, "refused");
            ScanResponse::Failed(e.to_string())
        }
    })
}
