//! config.toml has several writers (the daemon or app, the CLI, another `Service` in the same
//! process): each change is made to what the file holds at that moment, under a lock, and
//! written whole — so no writer's change is lost to another's save.

use nuvosync_api::config::Config;
use nuvosync_api::service::AddPair;
use nuvosync_api::{Paths, Service};
use std::os::unix::fs::PermissionsExt;

fn add(name: &str, local: std::path::PathBuf) -> AddPair {
    AddPair {
        local,
        organization: "Acme".into(),
        space: "Research".into(),
        instance: name.into(),
        name: Some(name.into()),
        watch: true,
        rescan_interval_secs: None,
        excluded: vec![],
    }
}

#[test]
fn a_change_by_one_writer_survives_the_next_save_of_another() {
    let dir = tempfile::tempdir().unwrap();
    let paths = Paths::under(dir.path());
    // Two services on one profile, as the daemon and the CLI are (each read the file once).
    let daemon = Service::open(paths.clone()).unwrap();
    let cli = Service::open(paths.clone()).unwrap();
    cli.add_pair(add("lab", dir.path().join("lab"))).unwrap();
    daemon
        .update_config(|c| {
            c.upload_limit = 1234;
            Ok(())
        })
        .unwrap();
    let on_disk = Config::load(&paths).unwrap();
    assert_eq!(on_disk.upload_limit, 1234);
    assert!(
        on_disk.pair("lab").is_some(),
        "the pair added by the other writer was lost: {on_disk:?}"
    );
    // The writer that saved last also knows it now.
    assert!(daemon.config().pair("lab").is_some());
    let mode = std::fs::metadata(paths.config_file())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "config.toml is private");
}

#[test]
fn writers_at_the_same_time_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let paths = Paths::under(dir.path());
    std::thread::scope(|s| {
        for i in 0..8 {
            let (paths, root) = (paths.clone(), dir.path().to_path_buf());
            s.spawn(move || {
                let svc = Service::open(paths).unwrap();
                svc.add_pair(add(&format!("p{i}"), root.join(format!("p{i}"))))
                    .unwrap();
            });
        }
    });
    let on_disk = Config::load(&paths).unwrap();
    let mut names: Vec<_> = on_disk.pairs.iter().map(|p| p.name.clone()).collect();
    names.sort();
    assert_eq!(names, (0..8).map(|i| format!("p{i}")).collect::<Vec<_>>());
    // Nothing half-written or left over beside it.
    let left: Vec<_> = std::fs::read_dir(&paths.config_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
