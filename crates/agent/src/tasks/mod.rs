//! The durable task queue behind every change: model, store, engine, output log, routes.

pub mod engine;
pub mod log;
pub mod model;
pub mod operation;
pub mod requester;
pub mod routes;
pub mod store;
pub mod stream;
#[cfg(test)]
pub mod testing;

pub use engine::{CancelOutcome, EngineConfig, EnqueueError, TaskQueue};
pub use model::{NewTask, Task, TaskEvent, TaskStatus};
pub use operation::{op, BoxFuture, Cx, OpCx, OpError, Operation, RollForward, TaskOp};
pub use requester::{NoteBody, NoteQuery, RequesterNote};
