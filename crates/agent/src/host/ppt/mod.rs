//! `/host/ppt-status`: the devices bound to the ppt driver and the zones given them, from the
//! devices area's scan.

pub mod routes;
