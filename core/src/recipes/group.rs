//! [`GroupMember`] on Curator's `GroupMember` layout: each member is an ephemeral node
//! `<path>/<member id>` whose data is the member's payload; the group is the children.
//! (kazoo's `Party` writes `<uuid>__party__` names with the id as data instead.)

use std::collections::BTreeMap;

use super::lock::{delete_node, spawn_delete};
use super::util;
use crate::client::{Client, Error, Result};
use crate::proto::{Acl, CreateMode, ErrorCode};

/// This process's membership in a group; dropping it leaves the group in the background.
pub struct GroupMember {
    client: Client,
    group: String,
    id: String,
    node: String,
    joined: bool,
}

impl GroupMember {
    /// Joins the group at `group` as `id` with `data`. Fails with `NodeExists` if another
    /// session is a member under the same id.
    pub async fn join(client: &Client, group: &str, id: &str, data: &[u8]) -> Result<GroupMember> {
        if id.is_empty() || id.contains('/') {
            return Err(Error::BadArguments(format!(
                "{id:?}: a member id is one path segment"
            )));
        }
        let acl = Acl::open_unsafe();
        let node = util::join(group, id);
        for _ in 0..5 {
            match util::retry(client, || {
                client.create(&node, data, &acl, CreateMode::Ephemeral)
            })
            .await
            {
                Ok(_) => {
                    return Ok(GroupMember {
                        client: client.clone(),
                        group: group.to_owned(),
                        id: id.to_owned(),
                        node,
                        joined: true,
                    })
                }
                Err(Error::Server(ErrorCode::NoNode)) => {
                    util::ensure_path(client, group, &acl, CreateMode::Container).await?;
                }
                Err(Error::Server(ErrorCode::NodeExists)) => {
                    // Ours if an earlier attempt's reply was lost.
                    let owner = util::retry(client, || client.exists(&node)).await?;
                    match owner {
                        Some(stat) if stat.ephemeral_owner == client.session_id() => {
                            util::retry(client, || client.set_data(&node, data, -1)).await?;
                            return Ok(GroupMember {
                                client: client.clone(),
                                group: group.to_owned(),
                                id: id.to_owned(),
                                node,
                                joined: true,
                            });
                        }
                        Some(_) => return Err(Error::Server(ErrorCode::NodeExists)),
                        None => {}
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Err(Error::Server(ErrorCode::NoNode))
    }

    /// The members of the group at `group` and their data.
    pub async fn members_of(client: &Client, group: &str) -> Result<BTreeMap<String, Vec<u8>>> {
        let mut out = BTreeMap::new();
        for id in util::children_or_empty(client, group).await? {
            let path = util::join(group, &id);
            match util::retry(client, || client.get_data(&path)).await {
                Ok((data, _)) => {
                    out.insert(id, data);
                }
                Err(Error::Server(ErrorCode::NoNode)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// The members of this member's group.
    pub async fn members(&self) -> Result<BTreeMap<String, Vec<u8>>> {
        GroupMember::members_of(&self.client, &self.group).await
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Replaces this member's data.
    pub async fn set_data(&self, data: &[u8]) -> Result<()> {
        util::retry(&self.client, || self.client.set_data(&self.node, data, -1))
            .await
            .map(|_| ())
    }

    /// Leaves the group (deletes our node).
    pub async fn leave(mut self) -> Result<()> {
        self.joined = false;
        delete_node(&self.client, &self.node).await
    }
}

impl Drop for GroupMember {
    fn drop(&mut self) {
        if self.joined {
            spawn_delete(self.client.clone(), std::mem::take(&mut self.node));
        }
    }
}
