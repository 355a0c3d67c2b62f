//! The tests' `#[sqlx::test(migrations = "../migrations")]` reads `migrations/` when they
//! compile: a new or changed migration must rebuild them even when no Rust file changed.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
