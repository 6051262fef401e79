//! The integration suite: every test runs against a real userd on SQLite and on PostgreSQL.

mod helpers;

mod account;
mod careers;
mod cli;
mod copy_data;
mod crash;
mod defences;
mod directory;
mod drf;
mod examples;
mod files;
mod fuzz;
mod hostile;
mod house;
mod import_django;
mod janitor;
mod jwt_surface;
mod lifecycle;
mod logs;
mod lookalike;
mod microservice;
mod openapi_client;
mod openapi_document;
mod operations;
mod outage;
mod schemathesis;
mod sessions;
mod social;
mod startup;
mod store;
mod stripe;
mod web;
