//! Generates the KurrentDB stand-in's gRPC server code (tests/src/kurrentdb_standin.rs) from the
//! vendored `.proto` files in tests/proto/kurrentdb/ (tests/proto/kurrentdb/README.md says where they
//! come from) and from the adapter's own v2 descriptions in
//! infrastructure/proto/kurrentdb/v2/ (the multi-stream append; the adapter compiles the same
//! files into its client, so both sides read one description). `protox` compiles them in pure
//! Rust, so no system `protoc` is needed; `tonic-build` then writes server stubs only, for the tonic
//! version kurrentdb itself uses.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = "proto/kurrentdb";
    let v2 = "../infrastructure/proto/kurrentdb";
    println!("cargo:rerun-if-changed={dir}");
    println!("cargo:rerun-if-changed={v2}/v2");
    let files = protox::compile(
        [
            "streams.proto",
            "serverfeatures.proto",
            "v2/streams.proto",
            "v2/errors.proto",
            "v2/rpc_status.proto",
        ],
        [dir, v2],
    )?;
    tonic_build::configure()
        .build_client(false)
        .build_server(true)
        .extern_path(".event_store.client.Empty", "()")
        .compile_fds(files)?;
    Ok(())
}
