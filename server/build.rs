//! The demo packs and the migrations are compiled into the binary (`include_dir!`,
//! `sqlx::migrate!`); rebuild when any file under them changes, including new files.
fn main() {
    println!("cargo:rerun-if-changed=../schema-packs");
    println!("cargo:rerun-if-changed=../migrations");
    println!("cargo:rerun-if-changed=../admin-ui");
}
