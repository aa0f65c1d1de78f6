//! Reading what criterion wrote: one `target/criterion/<id>/new/` directory per
//! benchmark, holding benchmark.json (its id) and estimates.json (its times).

use std::fs;
use std::path::Path;
use std::time::SystemTime;

use crate::json::Json;

/// One benchmark's point estimates, in nanoseconds per iteration.
#[derive(Debug, Clone, PartialEq)]
pub struct Measured {
    /// Criterion's full id: `group/function`, or the function alone.
    pub id: String,
    pub mean: f64,
    pub median: f64,
}

/// Every benchmark under `criterion_dir` (`target/criterion`) whose estimates were
/// written at or after `since`, sorted by id. Ids come from criterion's own
/// benchmark.json, so no directory-name mangling has to be undone.
pub fn read_criterion(criterion_dir: &Path, since: SystemTime) -> Vec<Measured> {
    let mut found = Vec::new();
    let mut stack = vec![criterion_dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if !path.is_dir() {
                continue;
            }
            if path.file_name().is_some_and(|n| n == "new") {
                found.extend(read_one(&path, since));
            } else {
                stack.push(path);
            }
        }
    }
    found.sort_by(|a, b| a.id.cmp(&b.id));
    found
}

/// One `target/criterion/<id>/new/` directory: benchmark.json for the id,
/// estimates.json for the times.
fn read_one(new_dir: &Path, since: SystemTime) -> Option<Measured> {
    let estimates = new_dir.join("estimates.json");
    let fresh = fs::metadata(&estimates)
        .and_then(|m| m.modified())
        .is_ok_and(|t| t >= since);
    if !fresh {
        return None;
    }
    let id = Json::parse(&fs::read_to_string(new_dir.join("benchmark.json")).ok()?).ok()?;
    let est = Json::parse(&fs::read_to_string(&estimates).ok()?).ok()?;
    Some(Measured {
        id: id.get("full_id")?.as_str()?.to_owned(),
        mean: est.at(&["mean", "point_estimate"])?.as_f64()?,
        median: est.at(&["median", "point_estimate"])?.as_f64()?,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A criterion output tree as criterion 0.8 lays it out.
    pub fn fake_criterion(dir: &Path, benches: &[(&str, &str, f64, f64)]) {
        for (dir_name, full_id, mean, median) in benches {
            let new = dir.join(dir_name).join("new");
            fs::create_dir_all(&new).unwrap();
            fs::write(
                new.join("benchmark.json"),
                format!(
                    r#"{{"group_id":"g","function_id":null,"value_str":null,"throughput":null,"full_id":"{full_id}","directory_name":"{dir_name}","title":"{full_id}"}}"#
                ),
            )
            .unwrap();
            fs::write(
                new.join("estimates.json"),
                format!(
                    r#"{{"mean":{{"confidence_interval":{{"confidence_level":0.95,"lower_bound":1.0,"upper_bound":2.0}},"point_estimate":{mean},"standard_error":0.1}},"median":{{"confidence_interval":{{"confidence_level":0.95,"lower_bound":1.0,"upper_bound":2.0}},"point_estimate":{median},"standard_error":0.1}},"median_abs_dev":{{"point_estimate":1e-3}},"slope":null,"std_dev":{{"point_estimate":2.5}}}}"#
                ),
            )
            .unwrap();
        }
    }

    #[test]
    fn reads_a_criterion_tree() {
        let dir = crate::testdir::TempDir::new("criterion");
        fake_criterion(
            dir.path(),
            &[
                (
                    "fresh_token/provider_1_thread",
                    "fresh_token/provider/1_thread",
                    31.8,
                    31.2,
                ),
                ("refresh_request", "refresh_request", 969.0, 960.5),
            ],
        );
        // A half-written benchmark (no estimates) is skipped, not an error.
        fs::create_dir_all(dir.path().join("broken/new")).unwrap();
        let got = read_criterion(dir.path(), SystemTime::UNIX_EPOCH);
        assert_eq!(
            got,
            vec![
                Measured {
                    id: "fresh_token/provider/1_thread".into(),
                    mean: 31.8,
                    median: 31.2
                },
                Measured {
                    id: "refresh_request".into(),
                    mean: 969.0,
                    median: 960.5
                },
            ]
        );
        // Estimates older than the run are not this run's.
        let later = SystemTime::now() + std::time::Duration::from_secs(3600);
        assert!(read_criterion(dir.path(), later).is_empty());
    }
}
