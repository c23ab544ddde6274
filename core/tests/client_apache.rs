//! The client suite against a real Apache ZooKeeper 3.8 server.

mod common;

use common::apache::ApacheServer;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

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
