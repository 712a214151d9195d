//! The request-log journal: where finished records go while the database cannot take them, so
//! inference goes on through a database outage without losing or double-counting usage.
//!
//! Invariant: a record is in the database or in the journal, never neither: a batch is
//! appended (and synced) before the writer moves on, and the journal is emptied only after
//! every record in it is stored.
//! Invariant: records reach the database in the order they finished: while the journal holds
//! any, new batches are appended behind them; a replay stores them oldest first.
//! Invariant: a replay cut short is simply replayed again: the store skips records whose
//! request id it already holds, so nothing is counted twice.
//! Invariant: each line carries a CRC-32 of its record; a line that fails it (torn by a crash
//! mid-write: only ever the last) is skipped with an ERROR, never misread.

use crate::store::Finished;
use std::{
    fs::{File, OpenOptions},
    io::{BufRead, BufReader, Write},
    path::PathBuf,
};

/// The journal file and how many records it holds.
pub struct Journal {
    path: PathBuf,
    records: usize,
}

impl Journal {
    /// The journal at `path`, with whatever an earlier run left in it (replayed first).
    pub fn open(path: PathBuf) -> Journal {
        let mut journal = Journal { path, records: 0 };
        journal.records = journal.read().map_or(0, |records| records.len());
        if journal.records > 0 {
            tracing::warn!(
                records = journal.records,
                path = %journal.path.display(),
                "request records journaled during a database outage are waiting to be stored"
            );
        }
        journal
    }

    /// Whether it holds no record.
    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// Records waiting in it.
    pub fn len(&self) -> usize {
        self.records
    }

    /// Appends `batch`, synced to disk before it answers.
    pub fn append(&mut self, batch: &[Finished]) -> std::io::Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut text = String::new();
        for record in batch {
            let json = serde_json::to_string(record).map_err(std::io::Error::other)?;
            text.push_str(&format!("{:08x} {json}\n", crc32fast::hash(json.as_bytes())));
        }
        let mut file = OpenOptions::new().create(true).append(true).open(&self.path)?;
        file.write_all(text.as_bytes())?;
        file.sync_data()?;
        self.records += batch.len();
        Ok(())
    }

    /// Every record in it, oldest first.
    pub fn read(&self) -> std::io::Result<Vec<Finished>> {
        let file = match File::open(&self.path) {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(error),
        };
        let mut records = Vec::new();
        for (n, line) in BufReader::new(file).lines().enumerate() {
            let line = line?;
            let parsed = line.split_once(' ').and_then(|(crc, json)| {
                let crc = u32::from_str_radix(crc, 16).ok()?;
                (crc32fast::hash(json.as_bytes()) == crc).then(|| serde_json::from_str::<Finished>(json).ok())?
            });
            match parsed {
                Some(record) => records.push(record),
                None => tracing::error!(
                    line = n + 1,
                    path = %self.path.display(),
                    "a journaled request record is damaged (torn by a crash?) and is skipped"
                ),
            }
        }
        Ok(records)
    }

    /// Empties it (every record in it is stored).
    pub fn clear(&mut self) -> std::io::Result<()> {
        match std::fs::remove_file(&self.path) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(error),
            _ => {}
        }
        self.records = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str) -> Finished {
        let mut finished = Finished {
            admitted: true,
            saved_micros: 0,
            store_log: true,
            ..Finished::default()
        };
        finished.log.request_id = id.into();
        finished.log.prompt_tokens = 7;
        finished
    }

    #[test]
    fn records_come_back_in_order_and_a_torn_line_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal/requests.journal");
        let mut journal = Journal::open(path.clone());
        assert!(journal.is_empty());
        journal.append(&[record("a"), record("b")]).unwrap();
        journal.append(&[record("c")]).unwrap();
        // A crash mid-write leaves half a line.
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"0badc0de {\"log\":").unwrap();
        let reopened = Journal::open(path);
        let ids: Vec<String> = (reopened.read().unwrap().into_iter())
            .map(|f| f.log.request_id)
            .collect();
        assert_eq!(ids, ["a", "b", "c"]);
        assert_eq!(reopened.len(), 3);
        let mut reopened = reopened;
        reopened.clear().unwrap();
        assert!(reopened.read().unwrap().is_empty() && reopened.is_empty());
    }
}
