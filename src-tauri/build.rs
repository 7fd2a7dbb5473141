//! Tauri's build step: embeds the configuration, the capabilities and the built UI.
fn main() {
    tauri_build::build()
}
