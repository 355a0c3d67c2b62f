//! `sqlx::migrate!` reads `migrations/` when the crate compiles: a new or changed migration
//! must rebuild it even when no Rust file changed.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
