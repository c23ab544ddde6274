//! [`Counter`]: an integer in one node's data, changed by versioned `setData` retried on
//! `BADVERSION` (kazoo `Counter`, Curator `SharedCount`/`DistributedAtomicLong`).
//!
//! The default [`CounterFormat::Text`] is kazoo's: the number as ASCII decimal text, empty
//! data reading as the default (0). Curator's formats are available for interop with it.
//! A change whose reply is lost is resolved with an ephemeral outcome marker
//! `<path>/_c_<uuid>-marker` created in the same multi, so [`Counter::add`] never applies a
//! delta twice nor reports one that did not happen.

use super::util::{self, Outcome};
use crate::client::{Client, Error, Op, Result};
use crate::proto::{CreateMode, ErrorCode};

/// How the number is stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum CounterFormat {
    /// ASCII decimal (kazoo `Counter`, `repr(int)`).
    #[default]
    Text,
    /// 4-byte big-endian (Curator `SharedCount`; kazoo `Counter(support_curator=True)`).
    Int32,
    /// 8-byte big-endian (Curator `DistributedAtomicLong`).
    Int64,
}

/// A shared integer.
#[derive(Clone)]
pub struct Counter {
    client: Client,
    path: String,
    format: CounterFormat,
    default: i64,
}

impl Counter {
    /// A counter at `path` in [`CounterFormat::Text`], reading 0 while unset.
    pub fn new(client: &Client, path: &str) -> Counter {
        Counter {
            client: client.clone(),
            path: path.to_owned(),
            format: CounterFormat::Text,
            default: 0,
        }
    }

    pub fn format(mut self, format: CounterFormat) -> Counter {
        self.format = format;
        self
    }

    /// The value an empty or missing node reads as.
    pub fn default_value(mut self, default: i64) -> Counter {
        self.default = default;
        self
    }

    /// The current value.
    pub async fn get(&self) -> Result<i64> {
        match util::retry(&self.client, || self.client.get_data(&self.path)).await {
            Ok((data, _)) => self.decode(&data),
            Err(Error::Server(ErrorCode::NoNode)) => Ok(self.default),
            Err(e) => Err(e),
        }
    }

    /// Adds `delta` atomically; returns the values before and after.
    pub async fn add(&self, delta: i64) -> Result<(i64, i64)> {
        self.update(|before| {
            before
                .checked_add(delta)
                .ok_or_else(|| Error::BadArguments(format!("{before} + {delta} overflows")))
        })
        .await
    }

    /// Sets the value unconditionally; returns the value it replaced.
    pub async fn set(&self, value: i64) -> Result<i64> {
        Ok(self.update(|_| Ok(value)).await?.0)
    }

    /// Sets `new` only if the value is `expected`; `false` if it was not.
    pub async fn compare_and_set(&self, expected: i64, new: i64) -> Result<bool> {
        let result = self
            .update(|before| {
                if before == expected {
                    Ok(new)
                } else {
                    Err(Error::Server(ErrorCode::BadVersion))
                }
            })
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(Error::Server(ErrorCode::BadVersion)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Read, compute, versioned write; again on a concurrent change.
    async fn update(&self, next: impl Fn(i64) -> Result<i64>) -> Result<(i64, i64)> {
        loop {
            let (data, stat) =
                match util::retry(&self.client, || self.client.get_data(&self.path)).await {
                    Ok(read) => read,
                    Err(Error::Server(ErrorCode::NoNode)) => {
                        self.create().await?;
                        continue;
                    }
                    Err(e) => return Err(e),
                };
            let before = self.decode(&data)?;
            let after = next(before)?;
            let op = Op::set_data(&self.path, &self.encode(after)?, stat.version);
            let marker = util::join(&self.path, &format!("_c_{}-marker", util::uuid_v4()));
            match util::multi_with_marker(&self.client, vec![op], &marker).await {
                Ok(Outcome::Applied) => return Ok((before, after)),
                Ok(Outcome::NotApplied) => {}
                Err(Error::Multi {
                    code: ErrorCode::BadVersion | ErrorCode::NoNode,
                    ..
                }) => {}
                Err(e) => return Err(e),
            }
        }
    }

    async fn create(&self) -> Result<()> {
        util::create_if_absent(&self.client, &self.path, CreateMode::Persistent).await
    }

    fn decode(&self, data: &[u8]) -> Result<i64> {
        if data.is_empty() {
            return Ok(self.default);
        }
        let bad = || {
            Error::BadArguments(format!(
                "counter {} holds {:?}, not a {:?} integer",
                self.path,
                String::from_utf8_lossy(data),
                self.format
            ))
        };
        match self.format {
            CounterFormat::Text => std::str::from_utf8(data)
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .ok_or_else(bad),
            CounterFormat::Int32 => <[u8; 4]>::try_from(data)
                .map(|b| i64::from(i32::from_be_bytes(b)))
                .map_err(|_| bad()),
            CounterFormat::Int64 => <[u8; 8]>::try_from(data)
                .map(i64::from_be_bytes)
                .map_err(|_| bad()),
        }
    }

    fn encode(&self, value: i64) -> Result<Vec<u8>> {
        Ok(match self.format {
            CounterFormat::Text => value.to_string().into_bytes(),
            CounterFormat::Int32 => i32::try_from(value)
                .map_err(|_| Error::BadArguments(format!("{value} does not fit a 32-bit counter")))?
                .to_be_bytes()
                .to_vec(),
            CounterFormat::Int64 => value.to_be_bytes().to_vec(),
        })
    }
}
