//! A blocking facade over [`Client`](super::Client) for callers without an async runtime.
//! Each call runs on the calling thread through [`block_on`](super::block_on), which waits
//! for the reply on the socket itself when it can; do not call from inside an async task.

use std::time::Duration;

use super::error::Result;
use super::event::SessionState;
use super::multi::{Op, OpResult};
use super::options::ClientOptions;
use crate::proto::{Acl, CreateMode, Stat};

/// The blocking client.
#[derive(Clone)]
pub struct Client {
    inner: super::Client,
}

impl Client {
    pub fn connect(connect_string: &str, options: ClientOptions) -> Result<Client> {
        let connect_string = connect_string.to_owned();
        let inner = super::block_on(&super::runtime::handle(), async move {
            super::Client::connect(&connect_string, options).await
        })?;
        Ok(Client { inner })
    }

    /// The async client behind this one.
    pub fn as_async(&self) -> &super::Client {
        &self.inner
    }

    fn run<T>(&self, future: impl std::future::Future<Output = T>) -> T {
        super::block_on(&super::runtime::handle(), future)
    }

    pub fn state(&self) -> SessionState {
        self.inner.state()
    }

    pub fn session_id(&self) -> i64 {
        self.inner.session_id()
    }

    pub fn create(
        &self,
        path: &str,
        data: &[u8],
        acl: &[Acl],
        mode: CreateMode,
    ) -> Result<(String, Stat)> {
        self.run(self.inner.create(path, data, acl, mode))
    }

    pub fn delete(&self, path: &str, version: i32) -> Result<()> {
        self.run(self.inner.delete(path, version))
    }

    pub fn exists(&self, path: &str) -> Result<Option<Stat>> {
        self.run(self.inner.exists(path))
    }

    pub fn get_data(&self, path: &str) -> Result<(Vec<u8>, Stat)> {
        self.run(self.inner.get_data(path))
    }

    pub fn set_data(&self, path: &str, data: &[u8], version: i32) -> Result<Stat> {
        self.run(self.inner.set_data(path, data, version))
    }

    pub fn get_children(&self, path: &str) -> Result<Vec<String>> {
        self.run(self.inner.get_children(path))
    }

    pub fn get_acl(&self, path: &str) -> Result<(Vec<Acl>, Stat)> {
        self.run(self.inner.get_acl(path))
    }

    pub fn set_acl(&self, path: &str, acl: &[Acl], version: i32) -> Result<Stat> {
        self.run(self.inner.set_acl(path, acl, version))
    }

    pub fn multi(&self, ops: Vec<Op>) -> Result<Vec<OpResult>> {
        self.run(self.inner.multi(ops))
    }

    pub fn sync(&self, path: &str) -> Result<()> {
        self.run(self.inner.sync(path))
    }

    /// See [`super::Client::reconfig`].
    pub fn reconfig(
        &self,
        joining: Option<&str>,
        leaving: Option<&str>,
        new_members: Option<&str>,
        from_config: i64,
    ) -> Result<(Vec<u8>, Stat)> {
        self.run(
            self.inner
                .reconfig(joining, leaving, new_members, from_config),
        )
    }

    pub fn add_auth(&self, scheme: &str, auth: &[u8]) -> Result<()> {
        self.run(self.inner.add_auth(scheme, auth))
    }

    pub fn wait_connected(&self, timeout: Duration) -> Result<()> {
        self.run(self.inner.wait_connected(timeout))
    }

    pub fn close(&self) {
        self.run(self.inner.close())
    }
}
