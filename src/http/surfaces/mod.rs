//! One module per API document; each parses its dialect, calls the domain and renders the
//! result in its own shape, with its errors mapped in its own `error.rs`.

pub mod account;
pub mod careers;
pub mod files;
pub mod jwt;
pub mod microservice;
pub mod staff;
