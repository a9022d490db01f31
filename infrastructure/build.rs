//! Generates the gRPC client the KurrentDB adapter uses beside the `kurrentdb` crate
//! (src/kurrentdb/multi.rs): KurrentDB's v2 multi-stream append, the v1 server-features list and
//! the v1 cluster gossip (to find the leader), from the descriptions in proto/kurrentdb/
//! (proto/kurrentdb/README.md says where they come from). `protox` compiles them in pure Rust, so
//! no system `protoc` is needed; `tonic-build` writes client stubs only, for the tonic 0.13 that
//! `kurrentdb` itself runs on.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = "proto/kurrentdb";
    println!("cargo:rerun-if-changed={dir}");
    let files = protox::compile(
        [
            "v2/streams.proto",
            "v2/errors.proto",
            "v2/rpc_status.proto",
            "v1/serverfeatures.proto",
            "v1/gossip.proto",
        ],
        [dir],
    )?;
    tonic_build::configure()
        .build_client(true)
        .build_server(false)
        .compile_fds(files)?;
    Ok(())
}
