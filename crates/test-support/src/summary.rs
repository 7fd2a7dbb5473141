//! The run's summary (`$CARGO_TARGET_TMPDIR/summary/`), which the test runner reads as flat
//! JSON counters.

use std::collections::BTreeMap;
use std::path::Path;

/// Record in the run's summary that the bad-input case `case` tried `inputs` bad inputs:
/// `TMPDIR/summary/bad-inputs.json` (`TMPDIR` is the test crate's `CARGO_TARGET_TMPDIR`) is
/// one flat JSON object — `{"bad_inputs": N, "cases": M,` then one line per case,
/// `"case/NAME": n`.
///
/// Tests run as parallel processes, so each case leaves its own file and whoever finishes
/// writes the total again (atomically, and again if another case finished meanwhile).
pub fn record_bad_inputs(tmpdir: &Path, case: &str, inputs: u32) {
    let dir = tmpdir.join("summary");
    let cases = dir.join("bad-inputs");
    if std::fs::create_dir_all(&cases).is_err() {
        return;
    }
    let _ = std::fs::write(cases.join(case), inputs.to_string());
    let read = || -> BTreeMap<String, u32> {
        std::fs::read_dir(&cases)
            .map(|rd| {
                rd.flatten()
                    .filter_map(|e| {
                        let n = std::fs::read_to_string(e.path())
                            .ok()?
                            .trim()
                            .parse()
                            .ok()?;
                        Some((e.file_name().to_string_lossy().into_owned(), n))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    for _ in 0..20 {
        let seen = read();
        let lines: Vec<String> = seen
            .iter()
            .map(|(c, n)| format!("\"case/{c}\": {n}"))
            .collect();
        let text = format!(
            "{{\"bad_inputs\": {}, \"cases\": {},\n{}}}\n",
            seen.values().sum::<u32>(),
            seen.len(),
            lines.join(",\n")
        );
        let tmp = dir.join(format!("bad-inputs.json.{}", std::process::id()));
        if std::fs::write(&tmp, text).is_err()
            || std::fs::rename(&tmp, dir.join("bad-inputs.json")).is_err()
        {
            return;
        }
        if read() == seen {
            return;
        }
    }
}

/// Write `json` as the summary file `name` (`TMPDIR/summary/NAME`); a failure is passed over.
pub fn write(tmpdir: &Path, name: &str, json: &str) {
    let dir = tmpdir.join("summary");
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(dir.join(name), json);
}
