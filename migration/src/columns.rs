//! Column helpers that pick the right type on every backend.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

/// A 64-bit auto-increment primary key. SQLite only auto-increments an `integer` primary key
/// (which is 64-bit there), so it gets that type.
pub fn id(backend: DatabaseBackend, name: impl IntoIden) -> ColumnDef {
    let mut col = ColumnDef::new(name);
    match backend {
        DatabaseBackend::Sqlite => col.integer(),
        _ => col.big_integer(),
    };
    col.not_null().auto_increment().primary_key();
    col
}

/// A reference to another table's [`id`].
pub fn reference(name: impl IntoIden) -> ColumnDef {
    let mut col = ColumnDef::new(name);
    col.big_integer().not_null();
    col
}

pub fn reference_null(name: impl IntoIden) -> ColumnDef {
    let mut col = ColumnDef::new(name);
    col.big_integer().null();
    col
}

/// A UTC timestamp. MySQL's plain `datetime` drops fractions of a second, so it gets `(6)`.
fn timestamp_column(backend: DatabaseBackend, name: impl IntoIden) -> ColumnDef {
    let mut col = ColumnDef::new(name);
    match backend {
        DatabaseBackend::MySql => col.custom(Alias::new("datetime(6)")),
        _ => col.date_time(),
    };
    col
}

pub fn timestamp(backend: DatabaseBackend, name: impl IntoIden) -> ColumnDef {
    let mut col = timestamp_column(backend, name);
    col.not_null();
    col
}

pub fn timestamp_null(backend: DatabaseBackend, name: impl IntoIden) -> ColumnDef {
    let mut col = timestamp_column(backend, name);
    col.null();
    col
}

pub fn string(name: impl IntoIden, len: u32) -> ColumnDef {
    let mut col = ColumnDef::new(name);
    col.string_len(len).not_null();
    col
}

pub fn string_null(name: impl IntoIden, len: u32) -> ColumnDef {
    let mut col = ColumnDef::new(name);
    col.string_len(len).null();
    col
}

pub fn text(name: impl IntoIden) -> ColumnDef {
    let mut col = ColumnDef::new(name);
    col.text().not_null();
    col
}

pub fn text_null(name: impl IntoIden) -> ColumnDef {
    let mut col = ColumnDef::new(name);
    col.text().null();
    col
}

pub fn boolean(name: impl IntoIden) -> ColumnDef {
    let mut col = ColumnDef::new(name);
    col.boolean().not_null();
    col
}

/// Bytes up to 16 MiB: MySQL's plain `blob` stops at 64 KiB, too little for an image.
pub fn bytes(backend: DatabaseBackend, name: impl IntoIden) -> ColumnDef {
    let mut col = ColumnDef::new(name);
    match backend {
        DatabaseBackend::MySql => col.custom(Alias::new("mediumblob")),
        _ => col.blob(),
    };
    col.not_null();
    col
}
