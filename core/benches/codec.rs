//! Codec micro-benchmarks: encode and decode of the requests a loaded server sees most.
//! Run with `cargo bench -p zk-core --bench codec`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use zk_core::proto::{
    Acl, CreateKind, CreateRequest, Decode, Encode, OpCode, PathWatchRequest, Reader, Request,
    RequestHeader, SetDataRequest, Stat,
};

fn encoded(header: &RequestHeader, request: &Request) -> Vec<u8> {
    let mut buf = Vec::with_capacity(256);
    header.encode(&mut buf);
    request.encode(&mut buf);
    buf
}

fn decode(buf: &[u8]) -> Request {
    let mut r = Reader::new(buf);
    let header = RequestHeader::decode(&mut r).expect("header");
    Request::decode(header.op, r.rest()).expect("body")
}

fn requests() -> Vec<(&'static str, RequestHeader, Request)> {
    let path = "/bench/k0000042".to_string();
    vec![
        (
            "getData",
            RequestHeader {
                xid: 7,
                op: OpCode::GetData as i32,
            },
            Request::GetData(PathWatchRequest {
                path: path.clone(),
                watch: false,
            }),
        ),
        (
            "setData_100B",
            RequestHeader {
                xid: 8,
                op: OpCode::SetData as i32,
            },
            Request::SetData(SetDataRequest {
                path: path.clone(),
                data: Some(vec![0x5a; 100]),
                version: -1,
            }),
        ),
        (
            "create2_100B",
            RequestHeader {
                xid: 9,
                op: OpCode::Create2 as i32,
            },
            Request::Create(
                CreateKind::Create2,
                CreateRequest {
                    path,
                    data: Some(vec![0x5a; 100]),
                    acl: Acl::open_unsafe(),
                    flags: 3,
                },
            ),
        ),
    ]
}

fn bench_requests(c: &mut Criterion) {
    let mut group = c.benchmark_group("request");
    for (name, header, request) in requests() {
        let bytes = encoded(&header, &request);
        assert_eq!(decode(&bytes), request);
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(format!("encode/{name}"), |b| {
            let mut buf = Vec::with_capacity(256);
            b.iter(|| {
                buf.clear();
                black_box(&header).encode(&mut buf);
                black_box(&request).encode(&mut buf);
                black_box(buf.len())
            })
        });
        group.bench_function(format!("decode/{name}"), |b| {
            b.iter(|| decode(black_box(&bytes)))
        });
    }
    group.finish();
}

fn bench_stat(c: &mut Criterion) {
    let stat = Stat {
        czxid: 0x1_0000_0001,
        mzxid: 0x1_0000_0002,
        ctime: 1_700_000_000_000,
        mtime: 1_700_000_000_001,
        version: 3,
        data_length: 100,
        pzxid: 0x1_0000_0001,
        ..Stat::default()
    };
    let mut bytes = Vec::new();
    stat.encode(&mut bytes);
    c.bench_function("stat/encode", |b| {
        let mut buf = Vec::with_capacity(128);
        b.iter(|| {
            buf.clear();
            black_box(&stat).encode(&mut buf);
            black_box(buf.len())
        })
    });
    c.bench_function("stat/decode", |b| {
        b.iter(|| Stat::decode(&mut Reader::new(black_box(&bytes))).expect("stat"))
    });
}

criterion_group!(benches, bench_requests, bench_stat);
criterion_main!(benches);
