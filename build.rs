//! Rebuilds the binary when a migration is added: `sqlx::migrate!` embeds the `migrations/`
//! folder at compile time, and without this a new file alone would not trigger a rebuild.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
