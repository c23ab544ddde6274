//! The client suite against a real Apache ZooKeeper 3.8 server.

mod common;

use common::apache::ApacheServer;
use common::runtime;

#[test]
fn client_suite_against_apache() {
    let Some(server) = ApacheServer::start("extendedTypesEnabled=true\n") else {
        return;
    };
    let addr = server.addr.to_string();
    let rt = runtime();
    rt.block_on(common::suite::operations(&addr, "/ops"));
    rt.block_on(common::suite::chroot(&addr, "/app"));
}

/// The fault cases need short sessions: tickTime 200 allows 400 ms and up.
fn fast_apache() -> Option<ApacheServer> {
    ApacheServer::start("tickTime=200\n")
}

#[test]
fn fault_cases_against_apache() {
    let Some(server) = fast_apache() else {
        return;
    };
    let rt = runtime();
    rt.block_on(async {
        common::suite::connect_when_up(&server.addr.to_string())
            .await
            .close()
            .await;
        common::faults::reconnect_keeps_the_session_and_every_watch(server.addr).await;
        common::faults::a_partition_longer_than_the_session_timeout_is_reported_as_expired(
            server.addr,
        )
        .await;
        common::faults::requests_fail_with_timeout_instead_of_hanging(server.addr).await;
        common::faults::close_from_inside_a_watch_handler_does_not_deadlock(server.addr).await;
    });
}
