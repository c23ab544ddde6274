//! Four-letter words on the client port (`ruok`, `srvr`, `stat`, …).

use std::sync::Arc;

use super::runtime::Shared;

/// Every four-letter word Apache knows.
pub const WORDS: &[&str] = &[
    "conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "ruok", "stmk", "srst", "srvr", "stat", "wchc",
    "wchp", "wchs", "mntr", "isro", "hash",
];

/// The command the first four bytes of a connection name, if any.
pub fn recognise(word: &[u8; 4]) -> Option<&'static str> {
    WORDS.iter().copied().find(|w| w.as_bytes() == word)
}

/// Runs a command and returns its text.
pub fn run(shared: &Arc<Shared>, cmd: &str) -> String {
    if !shared.opts.four_letter_words.contains(cmd) && !shared.opts.four_letter_words.contains("*") {
        return format!("{cmd} is not executed because it is not in the whitelist.\n");
    }
    match cmd {
        "ruok" => "imok".to_owned(),
        "isro" => "rw".to_owned(),
        _ => format!("{cmd} is not executed because it is not in the whitelist.\n"),
    }
}
