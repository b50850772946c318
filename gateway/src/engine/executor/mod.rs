//! Where scan tasks run: a pool of this machine's cores, or the `worker` function on AWS
//! Lambda. Both take the same tasks and send back partials as they finish.

mod lambda;
mod pool;
mod slots;
mod task;

pub use lambda::{LambdaConfig, LambdaExecutor};
pub use pool::LocalPool;
pub use task::{Executor, ExecutorStatus, ScanTask};
