//! Golden bytes: records decoded from frames captured off a real Apache ZooKeeper 3.8
//! server and its Java client, then re-encoded byte for byte.
