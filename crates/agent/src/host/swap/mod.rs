//! `GET /system/swap/summary`: the swap areas (`swap -l`) and virtual swap totals (`swap -s`)
//! in the original's shape (figures in GB as two-decimal strings, as the UI reads them).

pub mod routes;
pub mod view;
